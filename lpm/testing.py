"""Assertions about optima that read like statements, for your own tests and properties.

Each assertion raises an :class:`AssertionError` whose message says what was claimed, the value
measured, the tolerance, the problem (:meth:`Problem.describe`) and the ``lpm solve`` command line
that reproduces it, so a failing property — and the counterexample Hypothesis shrank — can be
rerun from a shell::

    import lpm
    from lpm.testing import assert_certified_optimum, assert_gram_close

    sol = lpm.solve(lpm.Problem.from_counts((2, 1, 1), dim=3, energy=(1.0, 1.0)))
    assert_certified_optimum(sol)
    assert_gram_close(sol.W @ sol.W.T, "etf", 1e-6, problem=sol.problem)   # fails: not an ETF

Targets of :func:`assert_gram_close`: ``"etf"`` (the simplex ETF, any scale: Zhu et al. 2021's
‖G/‖G‖_F − P_K/sqrt(K−1)‖_F), ``"orthogonal"`` (an orthogonal frame of any norms: the share of
‖G‖_F off the diagonal, as in Dang et al. 2024's ReLU optimum and the bias-free MSE optimum), or a
(K, K) array, e.g. a Gram of :func:`lpm.theory.predict` (relative Frobenius error).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lpm.geometry import etf_distance
from lpm.problem import Problem
from lpm.theory import predict
from lpm.tolerances import CHECK_TOL, GAP_TOL

__all__ = [
    "assert_certified_optimum",
    "assert_equinorm",
    "assert_gram_close",
    "assert_matches_prediction",
    "assert_minority_collapse",
    "assert_within_class_collapse",
    "command_line",
    "gram_distance",
]


def command_line(problem: Problem, *, method: str | None = None) -> str:
    """The ``lpm solve`` command line that poses ``problem`` (floats written to round-trip).

    Parameters
    ----------
    problem : Problem
    method : str, optional
        Adds ``--method METHOD``.

    Examples
    --------
    >>> command_line(Problem.from_counts((2, 1), dim=2, energy=(1.0, 0.5)))
    'lpm solve --counts 2,1 --dim 2 --energy 1.0,0.5'
    """
    words = ["lpm", "solve", "--counts", ",".join(str(n) for n in problem.counts)]
    words += ["--dim", str(problem.dim)]
    defaults = {"loss": "ce", "classifier": "learnable", "features": "free", "bias": "none"}
    for name, default in defaults.items():
        value = getattr(problem, name)
        if value != default:
            words += [f"--{name}", value]
    if problem.energy is not None:
        words += ["--energy", ",".join(repr(v) for v in problem.energy)]
        if problem.budget != "class-average":
            words += ["--budget", problem.budget]
    if problem.decay is not None:
        values = problem.decay if problem.decay[2] > 0 else problem.decay[:2]
        words += ["--decay", ",".join(repr(v) for v in values)]
    if problem.fixed_classifier and problem.classifier_seed != 0:
        words += ["--classifier-seed", str(problem.classifier_seed)]
    if method is not None:
        words += ["--method", method]
    return shlex.join(words)


def _fail(claim: str, measured: str, tol: float, problem: Problem | None) -> None:
    lines = [claim, f"  measured:  {measured}", f"  tolerance: {tol:.3g}"]
    if problem is not None:
        lines += [f"  problem:   {problem.describe()}", f"  reproduce: {command_line(problem)}"]
    raise AssertionError("\n".join(lines))


def _problem_of(solution: Any) -> Problem | None:
    return getattr(solution, "problem", None)


def assert_certified_optimum(solution: Any) -> None:
    """Claim: the solve converged and its duality gap is closed (``solution.certified``).

    The message gives the status, residual against its tolerance, and gap against its tolerance
    (``GAP_TOL`` relative to max(1, |f|)).
    """
    if solution.certified:
        return
    gap = solution.gap
    gap_text = "none (no certificate for this variant)" if gap is None else f"{gap:.3g}"
    measured = (
        f"status {solution.status}, residual {solution.residual:.3g} (tol {solution.tol:.3g}), "
        f"gap {gap_text}, objective {solution.objective:.12g}; {solution.message}"
    )
    gap_tol = GAP_TOL if solution.certificate is None else solution.certificate.gap_tol
    _fail("the solve is not a certified optimum", measured, gap_tol, _problem_of(solution))


def gram_distance(G: ArrayLike, target: str | ArrayLike, *, normalise: bool = False) -> float:
    """The distance of a Gram matrix G (K, K) from a target.

    * ``"etf"``: ‖G/‖G‖_F − P_K/sqrt(K−1)‖_F (Zhu et al. 2021, NC2), scale-free;
    * ``"orthogonal"``: ‖G − diag(G)‖_F / ‖G‖_F, scale-free and blind to the norms;
    * an array T: ‖G − T‖_F / ‖T‖_F (‖G‖_F when T = 0), or with ``normalise`` the same between
      G/‖G‖_F and T/‖T‖_F (for the unregularised model, where only directions have a limit).

    nan when a scale-free distance meets G = 0.
    """
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"a Gram matrix must be square (K, K), got shape {G.shape}")
    size = float(np.linalg.norm(G))
    if isinstance(target, str):
        if target not in ("etf", "orthogonal"):
            raise ValueError(f"target {target!r} is not known; allowed: etf, orthogonal, an array")
        if size == 0.0:
            return math.nan
        if target == "etf":
            return etf_distance(G, gram=True)
        return float(np.linalg.norm(G - np.diag(np.diag(G))) / size)
    T = np.asarray(target, dtype=np.float64)
    if T.shape != G.shape:
        raise ValueError(f"target shape {T.shape} differs from the Gram's {G.shape}")
    if normalise:
        return etf_distance(G, gram=True, target=T)
    scale = float(np.linalg.norm(T))
    diff = float(np.linalg.norm(G - T))
    return diff / scale if scale > 0 else diff


def assert_gram_close(
    G: ArrayLike,
    target: str | ArrayLike,
    tol: float,
    *,
    problem: Problem | None = None,
    what: str = "the Gram matrix",
    normalise: bool = False,
) -> None:
    """Claim: ``gram_distance(G, target) ≤ tol`` (see :func:`gram_distance`).

    Parameters
    ----------
    G : array_like, shape=[K, K]
        E.g. ``W @ W.T`` or ``M @ M.T``.
    target : "etf", "orthogonal" or array_like, shape=[K, K]
    tol : float
    problem : Problem, optional
        Named in the message, with its ``lpm solve`` line.
    what : str
        How the message names G.
    normalise : bool
        Compare directions only (array targets).
    """
    distance = gram_distance(G, target, normalise=normalise)
    if distance <= tol:
        return
    name = target if isinstance(target, str) else "the target Gram"
    formula = {
        "etf": "‖G/‖G‖_F − P_K/√(K−1)‖_F",
        "orthogonal": "‖G − diag G‖_F/‖G‖_F",
    }.get(name, "‖G/‖G‖ − T/‖T‖‖_F" if normalise else "‖G − T‖_F/‖T‖_F")
    _fail(f"{what} is not close to {name}", f"{formula} = {distance:.6g}", tol, problem)


def _features(solution_or_H: Any, labels: ArrayLike | None) -> tuple[NDArray, NDArray, Any]:
    if isinstance(solution_or_H, tuple) and labels is None:
        solution_or_H, labels = solution_or_H
    problem = _problem_of(solution_or_H)
    if problem is not None:
        return np.asarray(solution_or_H.H, dtype=np.float64), problem.labels, problem
    if labels is None:
        raise ValueError("give a solution, or features H with their labels")
    return np.asarray(solution_or_H, dtype=np.float64), np.asarray(labels), None


def assert_within_class_collapse(
    solution_or_H: Any, labels: ArrayLike | None = None, *, tol: float = CHECK_TOL["gram"]
) -> None:
    """Claim: every feature equals its class mean (NC1 of Papyan et al. 2020, exactly).

    Measured: max_i ‖h_i − h̄_{y_i}‖ / max_k ‖h̄_k‖ (relative; the absolute max when every
    mean is 0). Pass a solution, a tuple ``(H, labels)``, or ``H`` and ``labels``.
    """
    H, y, problem = _features(solution_or_H, labels)
    K = int(y.max()) + 1
    counts = np.bincount(y, minlength=K)
    M = np.zeros((K, H.shape[1]))
    np.add.at(M, y, H)
    M /= np.maximum(counts, 1)[:, None]
    spread = float(np.linalg.norm(H - M[y], axis=1).max())
    scale = float(np.linalg.norm(M, axis=1).max())
    value = spread / scale if scale > 0 else spread
    if value <= tol:
        return
    measured = f"max_i ‖h_i − h̄_y‖ / max_k ‖h̄_k‖ = {value:.6g}"
    _fail("the features are not collapsed to their class means", measured, tol, problem)


def assert_minority_collapse(
    solution: Any, *, tol: float = 1e-6, minority: Iterable[int] | None = None
) -> None:
    """Claim: the minority classifiers coincide (Fang et al. 2021, minority collapse).

    Measured: max over minority pairs k < l of ‖w_k − w_l‖² / ((1/K) Σ_k ‖w_k‖²) — at an
    energy-constrained optimum the denominator is E_W, so this is the criterion
    ‖w_k − w_l‖² ≤ tol·E_W of ``lpm threshold`` (tol = 1e-6 there).

    Parameters
    ----------
    minority : iterable of int, optional
        Default: the problem's ``minority_classes`` (a step profile's smaller classes).
    """
    problem = solution.problem
    classes = sorted(problem.minority_classes if minority is None else {int(k) for k in minority})
    if len(classes) < 2:
        raise ValueError(f"minority collapse needs two minority classes, got {classes}")
    W = np.asarray(solution.W, dtype=np.float64)
    scale = float(np.mean(np.sum(W**2, axis=1)))
    separation = max(
        float(np.sum((W[k] - W[l]) ** 2)) for i, k in enumerate(classes) for l in classes[i + 1 :]
    )
    value = separation / scale if scale > 0 else separation
    if value <= tol:
        return
    measured = f"max ‖w_k − w_l‖² / mean_k ‖w_k‖² over minority classes {classes} = {value:.6g}"
    _fail("the minority classifiers have not collapsed", measured, tol, problem)


def assert_equinorm(solution: Any, *, which: str = "means", tol: float = CHECK_TOL["gram"]) -> None:
    """Claim: the class means (``which="means"``, uncentred ‖h̄_k‖) or classifier rows
    (``"classifier"``, ‖w_k‖) all have the same norm. Measured: (max − min) / max of the norms.
    """
    if which not in ("means", "classifier"):
        raise ValueError(f"which {which!r} is not known; allowed: means, classifier")
    X = solution.means if which == "means" else np.asarray(solution.W, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1)
    top = float(norms.max())
    value = float(norms.max() - norms.min()) / top if top > 0 else 0.0
    if value <= tol:
        return
    listed = ", ".join(f"{v:.6g}" for v in norms)
    measured = f"(max − min)/max of the norms [{listed}] = {value:.6g}"
    _fail(f"the {which} are not equinorm", measured, tol, solution.problem)


def assert_matches_prediction(solution: Any, prediction: Any = None) -> None:
    """Claim: the optimum is what the closed form of :func:`lpm.theory.predict` says — the
    objective and every Gram (W Wᵀ, M Mᵀ, W Mᵀ) the prediction fixes.

    Tolerances: ``CHECK_TOL`` (objective 1e-8, Gram 1e-6 relative; 1e-6 and 1e-4 for a convex
    method, whose primal points are accurate to about the square root of its tolerance).
    """
    problem = solution.problem
    prediction = predict(problem) if prediction is None else prediction
    convex = solution.method == "convex"
    obj_tol = CHECK_TOL["convex-objective" if convex else "objective"]
    gram_tol = CHECK_TOL["convex-gram" if convex else "gram"]
    if prediction.objective is not None and prediction.kind == "optimum":
        error = abs(solution.objective - prediction.objective) / max(1.0, abs(prediction.objective))
        if error > obj_tol:
            measured = (
                f"objective {solution.objective:.12g} vs {prediction.objective:.12g} "
                f"({prediction.reference}): relative error {error:.3g}"
            )
            _fail("the objective is not the predicted optimum", measured, obj_tol, problem)
    W, M = np.asarray(solution.W), solution.means
    for key, G in (("w_gram", W @ W.T), ("m_gram", M @ M.T), ("wm_gram", W @ M.T)):
        target = getattr(prediction, key)
        if target is not None:
            assert_gram_close(
                G,
                target,
                gram_tol,
                problem=problem,
                what=f"{key} (predicted by {prediction.reference})",
                normalise=prediction.kind == "max_margin",
            )
