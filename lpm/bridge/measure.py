"""A trained network's last layer against the certified optimum of the matching model.

Given penultimate features ``H`` (N, d), ``labels`` (N,), the classifier ``W`` (K, d) and
optionally its bias ``b`` (K,), :func:`measure_network` returns

* the collapse geometry of the network (:func:`lpm.geometry.measure`: NC1–NC4, norms, Grams,
  minority separation);
* the certified optimum of the matching model for the same class counts n_k and dimension d;
* the distance of each Gram — classifier W Wᵀ, class means M Mᵀ, cross W Mᵀ — to the optimum's.

The matching model
------------------
* ``decay=(λ_W, λ_H)``: the unconstrained-feature model
  (1/N) Σ_i CE(W h_i, y_i) + (λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F², the loss averaged over the N samples
  and ‖H‖_F² summed over all of them (Zhu et al. 2021; Dang et al. 2024 with ``relu=True``);
* ``energy=(E_W, E_H)``: the layer-peeled model of Fang et al. (2021), (1/K)Σ‖w_k‖² ≤ E_W and
  (1/K)Σ_k (1/n_k)Σ_{y_i=k}‖h_i‖² ≤ E_H; ``energy="auto"`` takes both budgets from the network
  itself (its own classifier energy and class-average feature energy).

With ``classifier="learnable"`` the optimum is :func:`lpm.solve` of that
:class:`~lpm.problem.Problem`. With a fixed classifier (``"etf"`` or ``"random"``: the network's
own W was not trained) the model keeps the network's W: under weight decay the problem separates
into one strongly convex problem per class, min_h CE(W h, k) + (Nλ_H/2)‖h‖², solved by Newton's
method and certified by strong convexity, f − f* ≤ ‖∇f‖²/(2Nλ_H) (:func:`fixed_classifier_optimum`);
under energies a fixed ETF is posed as ``Problem(classifier="etf")``, whose Grams equal the
network's when its W is an ETF of the same energy (Grams are invariant under rotations).

The Gram distance
-----------------
For the network's Gram G and the optimum's G*, the distance after the optimal rescaling is

    dist(G, G*) = min_{c ≥ 0} ‖G − c G*‖_F / ‖G‖_F,

minimised at c* = max(0, ⟨G, G*⟩_F / ‖G*‖_F²), which gives the closed form
dist = sqrt(1 − cos²) when cos = ⟨G, G*⟩_F / (‖G‖_F ‖G*‖_F) > 0 and dist = 1 otherwise
(a number in [0, 1]: 0 when G is a positive multiple of G*; ``nan`` when G = 0). The scale c* and
the unrescaled relative distance ‖G − G*‖_F / ‖G*‖_F are reported too: under weight decay the
optimum fixes the scale as well as the shape.

Examples
--------
>>> import numpy as np
>>> from lpm.bridge.measure import gram_distance
>>> G = np.array([[2.0, -1.0], [-1.0, 2.0]])
>>> round(gram_distance(3.0 * G, G), 12), gram_distance(-G, G)
(0.0, 1.0)

References
----------
Fang, He, Long, Su, PNAS 118 (2021) — the layer-peeled model, minority collapse.
Zhu et al., NeurIPS 2021 — the regularised unconstrained-feature model.
Dang, Tran, Nguyen, Ho, ICML 2024 — unconstrained ReLU features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lpm.certificate import Certificate
from lpm.classifiers import classifier_matrix
from lpm.geometry import GeometryReport, measure
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solution import Solution, jsonable
from lpm.solvers import solve

__all__ = [
    "CLASSIFIER_MODELS",
    "FIXED_TOL",
    "GramComparison",
    "NetworkMeasurement",
    "certified_optimum",
    "class_average_energy",
    "compare_network",
    "fixed_classifier_optimum",
    "gram_distance",
    "load_network",
    "matching_problem",
    "measure_network",
]

ClassifierModel = Literal["learnable", "etf", "random"]
#: The classifier models :func:`measure_network` accepts.
CLASSIFIER_MODELS: tuple[str, ...] = ("learnable", "etf", "random")
#: Gradient norm at which the per-class Newton solve of a fixed classifier stops (the certified
#: gap is then below FIXED_TOL² / (2 N λ_H)).
FIXED_TOL = 1e-10
_NEWTON_MAX_ITER = 100


def gram_distance(G: ArrayLike, G_star: ArrayLike) -> float:
    """min over c ≥ 0 of ‖G − c G*‖_F / ‖G‖_F (closed form in the module docstring).

    Parameters
    ----------
    G, G_star : array_like, shape=[K, K]
        The network's Gram and the optimum's.

    Returns
    -------
    float
        In [0, 1]; ``nan`` when G = 0; 1 when G* = 0 or ⟨G, G*⟩ ≤ 0.
    """
    G = np.asarray(G, dtype=np.float64)
    G_star = np.asarray(G_star, dtype=np.float64)
    norm, norm_star = float(np.linalg.norm(G)), float(np.linalg.norm(G_star))
    if norm == 0.0:
        return math.nan
    if norm_star == 0.0:
        return 1.0
    inner = float(np.sum(G * G_star))
    if inner <= 0.0:
        return 1.0
    # ‖G − c*G*‖ directly, rather than sqrt(1 − cos²), which loses half the digits near 0.
    return float(np.linalg.norm(G - (inner / norm_star**2) * G_star)) / norm


@dataclass(frozen=True)
class GramComparison:
    """One Gram of the network against the optimum's.

    Attributes
    ----------
    distance : float
        min_{c ≥ 0} ‖G − c G*‖_F / ‖G‖_F.
    scale : float
        The minimising c* = max(0, ⟨G, G*⟩/‖G*‖²) (nan when G* = 0).
    raw_distance : float
        ‖G − G*‖_F / ‖G*‖_F without rescaling (nan when G* = 0).
    """

    distance: float
    scale: float
    raw_distance: float

    @classmethod
    def of(cls, G: NDArray[np.float64], G_star: NDArray[np.float64]) -> GramComparison:
        norm_star = float(np.linalg.norm(G_star))
        if norm_star == 0.0:
            return cls(gram_distance(G, G_star), math.nan, math.nan)
        scale = max(0.0, float(np.sum(G * G_star)) / norm_star**2)
        raw = float(np.linalg.norm(G - G_star)) / norm_star
        return cls(gram_distance(G, G_star), scale, raw)


@dataclass(frozen=True, eq=False)
class NetworkMeasurement:
    """The verdict of :func:`measure_network`.

    Attributes
    ----------
    geometry : GeometryReport
        The network's geometry (:func:`lpm.geometry.measure`).
    problem : Problem
        The matching model at the network's counts and dimension.
    optimum : Solution
        Its certified optimum (``optimum.certified`` says whether it is).
    optimum_geometry : GeometryReport
        The optimum's geometry, on the same minority classes.
    grams : dict of str to GramComparison
        ``"classifier"`` (W Wᵀ), ``"means"`` (M Mᵀ, uncentred class means), ``"cross"`` (W Mᵀ).
    objective_excess : float
        f(W, H) − f* of the network's last layer in the model's objective (nan for the energy
        model when the network is outside the budgets it was not measured with).
    budgets : dict
        The network's own E_W = (1/K)Σ‖w_k‖² and class-average feature energy E_H.
    """

    geometry: GeometryReport
    problem: Problem
    optimum: Solution
    optimum_geometry: GeometryReport
    grams: dict[str, GramComparison]
    objective_excess: float
    budgets: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: geometry, model, optimum (status, objective, gap, certified), distances."""
        opt = self.optimum
        return jsonable(
            {
                "geometry": self.geometry.to_dict(),
                "model": self.problem.to_dict(),
                "optimum": {
                    "status": opt.status,
                    "certified": opt.certified,
                    "objective": opt.objective,
                    "gap": opt.gap,
                    "method": opt.method,
                    "message": opt.message,
                    "geometry": self.optimum_geometry.to_dict(),
                },
                "gram_distance": {
                    name: {"distance": g.distance, "scale": g.scale, "raw_distance": g.raw_distance}
                    for name, g in self.grams.items()
                },
                "objective_excess": self.objective_excess,
                "network_budgets": self.budgets,
            }
        )


def class_average_energy(H: NDArray[np.float64], labels: NDArray[np.int64], K: int) -> float:
    """(1/K) Σ_k (1/n_k) Σ_{y_i = k} ‖h_i‖², Fang et al.'s class-average feature energy."""
    counts = np.bincount(labels, minlength=K)
    per_class = np.bincount(labels, weights=np.sum(H**2, axis=1), minlength=K)
    return float(np.mean(per_class / counts))


def matching_problem(
    counts: tuple[int, ...],
    dim: int,
    *,
    decay: tuple[float, float] | None = None,
    energy: tuple[float, float] | None = None,
    classifier: ClassifierModel = "learnable",
    relu: bool = False,
    bias: bool = False,
) -> Problem:
    """The model a network's last layer is compared with: same counts and d, CE loss.

    Exactly one of ``decay`` (λ_W, λ_H) and ``energy`` (E_W, E_H) must be given. ``bias=True``
    gives the model a free (unregularised) bias. Raises ValueError on combinations the model does
    not pose (one line).
    """
    if (decay is None) == (energy is None):
        raise ValueError("give exactly one of decay LW,LH and energy EW,EH (or energy 'auto')")
    if classifier not in CLASSIFIER_MODELS:
        raise ValueError(
            f"classifier model {classifier!r} is not known; allowed: {', '.join(CLASSIFIER_MODELS)}"
        )
    if relu and classifier != "learnable":
        raise ValueError("ReLU features are compared with a learnable classifier only")
    return Problem(
        counts=tuple(int(n) for n in counts),
        dim=int(dim),
        classifier=classifier,
        features="relu" if relu else "free",
        bias="free" if bias else "none",
        decay=None if decay is None else (float(decay[0]), float(decay[1]), 0.0),
        energy=None if energy is None else (float(energy[0]), float(energy[1])),
    )


def fixed_classifier_optimum(W: ArrayLike, problem: Problem) -> Solution:
    """The certified optimum of the weight-decay model with the classifier fixed to ``W``.

    (1/N) Σ_i CE(W h_i, y_i) + (λ_H/2)‖H‖_F² separates into Σ_k (n_k/N) f_k(h) with
    f_k(h) = CE(W h, k) + (μ/2)‖h‖², μ = N λ_H: strongly convex, minimised by Newton's method
    (gradient Wᵀ(p − e_k) + μh, Hessian Wᵀ(diag p − ppᵀ)W + μI). Every sample of class k takes the
    class's minimiser; the certified lower bound is f − Σ_k (n_k/N)‖∇f_k‖²/(2μ).

    Parameters
    ----------
    W : array_like, shape=[K, d]
        The network's fixed classifier (it replaces the problem's own fixed rows).
    problem : Problem
        A fixed-classifier problem under weight decay: its counts and λ_H are used.

    Returns
    -------
    Solution
        ``method="newton-fixed"``, H of shape (N, d) grouped by class; its objective includes the
        constant (λ_W/2)‖W‖² of the fixed classifier, as the package's objective does.
    """
    W = np.asarray(W, dtype=np.float64)
    K, d = W.shape
    counts, N = problem.counts, problem.N
    mu = N * problem.decay[1]
    means = np.zeros((K, d))
    bound_gap, worst = 0.0, 0.0
    for k in range(K):
        h = np.zeros(d)
        for _ in range(_NEWTON_MAX_ITER):
            z = W @ h
            p = np.exp(z - z.max())
            p /= p.sum()
            grad = W.T @ (p - np.eye(K)[k]) + mu * h
            if np.linalg.norm(grad) <= FIXED_TOL:
                break
            hess = W.T @ (np.diag(p) - np.outer(p, p)) @ W + mu * np.eye(d)
            h = h - np.linalg.solve(hess, grad)
        bound_gap += counts[k] / N * float(grad @ grad) / (2 * mu)
        worst = max(worst, float(np.linalg.norm(grad)))
        means[k] = h
    H = np.repeat(means, counts, axis=0)
    value = _objective_at(problem, W, H, None)
    status = "converged" if worst <= FIXED_TOL else "max_iter"
    return Solution(
        problem=problem,
        W=W.copy(),
        H=H,
        b=np.zeros(K),
        objective=value,
        residual=worst,
        status=status,
        method="newton-fixed",
        tol=FIXED_TOL,
        certificate=Certificate(
            lower_bound=value - bound_gap,
            kind="strong-convexity",
            exact=True,
            rounding=0.0,
            details={"gradient_norm": worst},
        ),
        message=f"per-class Newton, largest gradient norm {worst:.2e}",
    )


def _objective_at(problem: Problem, W, H, b) -> float:
    """The model's objective (:func:`lpm.objective.objective`) at the network's own classifier W:
    a fixed classifier under weight decay is W taken as given, its (λ_W/2)‖W‖² included as the
    package's objective states it (under budgets a fixed W is the problem's own)."""
    if problem.fixed_classifier and problem.decay is not None:
        problem = replace(problem, classifier="learnable")
    return objective(problem, W, H, b if problem.has_bias else None)


def _objective_excess(problem: Problem, optimum: Solution, W, H, y, b) -> float:
    """f(W, H, b) − f* in the model's objective; nan where the network is not feasible for it."""
    order = np.argsort(y, kind="stable")
    H_sorted = H[order]
    if problem.features == "relu" and np.any(H < 0):
        return math.nan
    if problem.energy is not None:
        E_W, E_H = problem.energy
        slack = 1e-9
        if problem.budget == "per-sample":
            feature_energy = float(np.max(np.sum(H**2, axis=1)))
        else:
            feature_energy = class_average_energy(H, y, problem.K)
        w_energy = float(np.mean(np.sum(W**2, axis=1)))
        if w_energy > E_W * (1 + slack) or feature_energy > E_H * (1 + slack):
            return math.nan
    fixed_rows = problem.fixed_classifier and problem.decay is None
    if fixed_rows and not np.allclose(W, classifier_matrix(problem), rtol=0, atol=1e-12):
        return math.nan  # the problem's fixed rows and the network's differ (a rotation)
    return _objective_at(problem, W, H_sorted, b) - optimum.objective


def certified_optimum(problem: Problem, W: ArrayLike | None = None, seed: int = 0) -> Solution:
    """The certified optimum of the matching model.

    A fixed classifier under weight decay keeps the network's own ``W``
    (:func:`fixed_classifier_optimum`); everything else is :func:`lpm.solve`.
    """
    if problem.fixed_classifier and problem.decay is not None:
        if W is None:
            W = classifier_matrix(problem)
        return fixed_classifier_optimum(W, problem)
    if problem.classifier == "random":
        raise ValueError(
            "a fixed random classifier is compared under --decay only (its optimum depends on "
            "the network's own W); give --decay LW,LH"
        )
    return solve(problem, seed=seed)


def compare_network(
    H: ArrayLike,
    labels: ArrayLike,
    W: ArrayLike,
    b: ArrayLike | None,
    problem: Problem,
    optimum: Solution,
    minority: tuple[int, ...] = (),
) -> NetworkMeasurement:
    """:func:`measure_network` against a model and optimum already at hand (same counts and d)."""
    geometry = measure(W, H, labels, b, minority=minority)
    if geometry.counts != problem.counts or np.shape(W)[1] != problem.dim:
        raise ValueError(
            f"the network has counts {list(geometry.counts)} and d = {np.shape(W)[1]}; the model "
            f"has {list(problem.counts)} and d = {problem.dim}"
        )
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    budgets = {
        "E_W": float(np.mean(np.sum(W**2, axis=1))),
        "E_H": class_average_energy(H, y, problem.K),
    }
    opt_geometry = measure(optimum.W, optimum.H, problem.labels, optimum.b, minority=minority)
    grams = {
        "classifier": GramComparison.of(geometry.w_gram, opt_geometry.w_gram),
        "means": GramComparison.of(geometry.m_gram, opt_geometry.m_gram),
        "cross": GramComparison.of(geometry.wm_gram, opt_geometry.wm_gram),
    }
    bias = None if b is None else np.asarray(b, dtype=np.float64)
    excess = _objective_excess(problem, optimum, W, H, y, bias)
    return NetworkMeasurement(geometry, problem, optimum, opt_geometry, grams, excess, budgets)


def measure_network(
    H: ArrayLike,
    labels: ArrayLike,
    W: ArrayLike,
    b: ArrayLike | None = None,
    *,
    decay: tuple[float, float] | None = None,
    energy: tuple[float, float] | Literal["auto"] | None = "auto",
    classifier: ClassifierModel = "learnable",
    relu: bool = False,
    minority: tuple[int, ...] | None = None,
    seed: int = 0,
) -> NetworkMeasurement:
    """A network's last layer against the certified optimum of the matching model.

    Parameters
    ----------
    H : array_like, shape=[N, d]
        Penultimate features h_i.
    labels : array_like of int, shape=[N]
        y_i in 0..K−1, every class present.
    W : array_like, shape=[K, d]
        The classifier.
    b : array_like, shape=[K], optional
        The bias; when given, the model has a free bias.
    decay : (λ_W, λ_H), optional
        The weight-decay model; overrides ``energy``.
    energy : (E_W, E_H) or "auto"
        The layer-peeled budgets; "auto" takes the network's own (1/K)Σ‖w_k‖² and class-average
        feature energy.
    classifier : {"learnable", "etf", "random"}
        Whether the network's classifier was trained, or fixed to an ETF or random rows.
    relu : bool
        The model's features are nonnegative (Dang et al. 2024).
    minority : tuple of int, optional
        Classes for the minority separation; default: the classes with the smallest count when
        the counts take two values, else none.
    seed : int
        Seed of the model's solver.

    Returns
    -------
    NetworkMeasurement

    Raises
    ------
    ValueError
        One line, on shapes, non-finite entries, labels out of range, empty classes, or a model
        the combination does not pose.

    Examples
    --------
    >>> import numpy as np, lpm
    >>> p = lpm.Problem.balanced(3, 4, dim=3, decay=(1e-2, 1e-2))
    >>> opt = lpm.solve(p)
    >>> r = measure_network(opt.H, p.labels, opt.W, decay=(1e-2, 1e-2))
    >>> r.optimum.certified, round(r.grams["means"].distance, 6), round(r.objective_excess, 9)
    (True, 0.0, 0.0)
    """
    geometry = measure(W, H, labels, b)  # validates W, H, labels and b
    H = np.asarray(H, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    K, d = W.shape
    if decay is not None:
        energy = None
    elif isinstance(energy, str):
        if energy != "auto":
            raise ValueError(f"energy must be EW,EH or 'auto', got {energy!r}")
        energy = (float(np.mean(np.sum(W**2, axis=1))), class_average_energy(H, y, K))
        if energy[0] == 0.0 or energy[1] == 0.0:
            raise ValueError("energy 'auto' needs a nonzero classifier and nonzero features")
    problem = matching_problem(
        geometry.counts,
        d,
        decay=decay,
        energy=energy,
        classifier=classifier,
        relu=relu,
        bias=b is not None,
    )
    if minority is None:
        minority = problem.minority_classes
    optimum = certified_optimum(problem, W, seed)
    return compare_network(H, y, W, b, problem, optimum, tuple(minority))


#: The arrays of a network file, and the shapes they must have.
_KEYS = {"H": "(N, d)", "labels": "(N,)", "W": "(K, d)"}


def _load_npy(path: str | Path, name: str) -> NDArray[Any]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{name} file {str(path)!r} does not exist")
    with path.open("rb") as handle:
        magic = handle.read(6)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise ValueError(f"{name} file {str(path)!r} is not a NumPy .npy or .npz file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(
            f"{name} file {str(path)!r} is not a NumPy .npy/.npz file without pickles "
            f"({' '.join(str(err).split())})"
        ) from None


def load_network(
    npz: str | Path | None = None,
    *,
    features: str | Path | None = None,
    labels: str | Path | None = None,
    classifier: str | Path | None = None,
    bias: str | Path | None = None,
) -> dict[str, NDArray[Any] | None]:
    """Read H, labels, W (and b) from one ``.npz`` (keys H, labels, W, optional b) or from
    ``.npy`` files; never unpickles. Values are checked by :func:`measure_network`.

    Returns
    -------
    dict with keys ``H``, ``labels``, ``W``, ``b`` (None when absent).
    """
    if npz is not None:
        if any(x is not None for x in (features, labels, classifier, bias)):
            raise ValueError("give either one .npz file or the .npy files, not both")
        data = _load_npy(npz, "network")
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(
                f"network file {str(npz)!r} must be an .npz archive with keys H, labels, W"
            )
        with data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise ValueError(
                    f"network file {str(npz)!r} lacks key(s) {', '.join(missing)}; needed: "
                    f"H {_KEYS['H']}, labels {_KEYS['labels']}, W {_KEYS['W']} (b (K,) optional)"
                )
            out = {k: np.asarray(data[k]) for k in _KEYS}
            out["b"] = np.asarray(data["b"]) if "b" in data.files else None
        return out
    given = {"features": features, "labels": labels, "classifier": classifier}
    missing = [k for k, v in given.items() if v is None]
    if missing:
        raise ValueError(
            f"missing --{', --'.join(missing)}: give --features H.npy --labels y.npy "
            "--classifier W.npy, or one --network FILE.npz"
        )
    out = {
        "H": _load_npy(features, "features"),
        "labels": _load_npy(labels, "labels"),
        "W": _load_npy(classifier, "classifier"),
        "b": None if bias is None else _load_npy(bias, "bias"),
    }
    for key, value in out.items():
        if isinstance(value, np.lib.npyio.NpzFile):
            value.close()
            raise ValueError(f"{key} must be a single .npy array, got an .npz archive")
    return out
