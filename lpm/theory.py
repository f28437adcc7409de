"""Closed-form predictions of the papers, each a function of a :class:`~lpm.problem.Problem`.

Every prediction returns a :class:`Prediction` — the optimal objective and the Gram matrices that
fix the optimum up to a rotation of R^d — and raises ``ValueError("<name>: needs X, got Y")``
outside the hypotheses under which the statement is proved. The statements, their sources and the
worked numbers are collected in docs/theory.md; the section of that page is quoted in each
docstring as "docs/theory.md §x". Constants whose exact form the papers do not give in the
quoted statement were re-derived here (the derivation is summarised in the docstring) and checked
against :func:`lpm.solve` and cvxpy (tests/test_theory.py keeps the checks).

Conventions (the package's, see :mod:`lpm`): the loss is averaged over the N samples; decays add
(λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F² with ‖H‖_F² over all N samples; P_K = I_K − 11ᵀ/K; the unit simplex
ETF has Gram (K/(K−1)) P_K. In a :class:`Prediction`:

* ``w_gram`` = W Wᵀ, ``m_gram`` = M Mᵀ with M the *uncentred* class means h̄_k,
  ``wm_gram[j, k]`` = w_j·h̄_k;
* ``logits[k, j]`` = w_j·h̄_k + b_j: row k holds the logits of (every sample of) class k, so
  ``logits = wm_gram.T + bias``;
* every optimum here has within-class collapse (h_i = h̄_{y_i}), so the class means fix H.

Three kinds of statement, named by ``Prediction.kind``:

* ``"optimum"`` — the global minimum and its minimisers (unique up to rotation unless the
  ``notes`` say otherwise);
* ``"max_margin"`` — the unregularised model has no minimiser; the prediction is the max-margin
  point whose direction gradient descent approaches (SELI);
* ``"lower_bound"`` — a bound on the optimum, attained only in a stated case.

Examples
--------
>>> from lpm.problem import Problem
>>> p = Problem.balanced(4, 5, dim=4, energy=(1.0, 1.0))
>>> pred = predict(p)
>>> round(pred.objective, 10), pred.kind
(0.5826576531, 'optimum')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from lpm.classifiers import classifier_matrix, etf_gram
from lpm.gram import centring, numerical_rank
from lpm.problem import Problem
from lpm.tolerances import EXACT_RANK_RTOL, ROOT_XTOL

__all__ = [
    "PREDICTIONS",
    "Prediction",
    "balanced_lpm_value",
    "dot_regression",
    "fixed_etf",
    "fixed_etf_class_average",
    "lpm_balanced",
    "mse_collapse_threshold",
    "mse_ufm",
    "mse_ufm_free_bias",
    "mse_ufm_no_bias",
    "predict",
    "random_classifier_bound",
    "relu_collapse_threshold",
    "relu_ufm",
    "seli",
    "seli_ratios",
    "zhu_collapse_threshold",
    "zhu_regularised_ce",
]


#: What a prediction's ``objective`` is.
PredictionKind = Literal["optimum", "max_margin", "lower_bound"]


# --------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class Prediction:
    """What a theorem fixes about the optimum of one problem.

    Attributes
    ----------
    objective : float or None
        The optimal value of the problem as stated (``kind == "optimum"``), the
        max-margin value ½(‖W‖² + ‖H‖²) (``"max_margin"``), or the bound (``"lower_bound"``).
    w_gram : ndarray, shape=[K, K], or None
        W Wᵀ.
    m_gram : ndarray, shape=[K, K], or None
        M Mᵀ of the uncentred class means h̄_k.
    wm_gram : ndarray, shape=[K, K], or None
        Entry [j, k] = w_j·h̄_k.
    w_norms, m_norms : ndarray, shape=[K], or None
        ‖w_k‖ and ‖h̄_k‖.
    logits : ndarray, shape=[K, K], or None
        Entry [k, j] = w_j·h̄_k + b_j (row k: the logits of class k's samples).
    bias : ndarray, shape=[K], or None
        The optimal b (a representative when only b up to a constant shift is fixed).
    reference : str
        Paper and theorem (or equation), and the section of docs/theory.md.
    claim : str
        The statement in one sentence.
    notes : str
        Conventions, and what is not unique.
    kind : {"optimum", "max_margin", "lower_bound"}
        What ``objective`` is (see the module docstring).
    rank : int or None
        The rank of the optimum's joint Gram of [W; M] (the least d at which it is realised);
        None when a Gram is not fixed.
    extra : dict
        The statement's own scalars (margins, thresholds, dual certificates, ...).
    """

    objective: float | None
    w_gram: NDArray[np.float64] | None
    m_gram: NDArray[np.float64] | None
    wm_gram: NDArray[np.float64] | None
    w_norms: NDArray[np.float64] | None
    m_norms: NDArray[np.float64] | None
    logits: NDArray[np.float64] | None
    bias: NDArray[np.float64] | None
    reference: str
    claim: str
    notes: str = ""
    kind: PredictionKind = "optimum"
    rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: arrays as nested lists, None kept."""

        def plain(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, (np.floating, np.integer, np.bool_)):
                return v.item()
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        names = (
            "objective",
            "w_gram",
            "m_gram",
            "wm_gram",
            "w_norms",
            "m_norms",
            "logits",
            "bias",
            "reference",
            "claim",
            "notes",
            "kind",
            "rank",
            "extra",
        )
        return {k: plain(getattr(self, k)) for k in names}


def _frozen(X: Any) -> NDArray[np.float64] | None:
    if X is None:
        return None
    Y = np.array(X, dtype=np.float64)
    Y.setflags(write=False)
    return Y


def _prediction(
    *,
    objective: float | None,
    w_gram: Any,
    m_gram: Any,
    wm_gram: Any,
    bias: Any,
    reference: str,
    claim: str,
    notes: str,
    kind: PredictionKind,
    **extra: Any,
) -> Prediction:
    """Assemble a Prediction: norms from the Gram diagonals, logits = wm_gramᵀ + b, the rank."""
    w_gram, m_gram, wm_gram = (
        None if X is None else np.asarray(X, float) for X in (w_gram, m_gram, wm_gram)
    )
    K = next(X.shape[0] for X in (w_gram, m_gram, wm_gram) if X is not None)
    b = np.zeros(K) if bias is None else np.asarray(bias, dtype=np.float64)
    logits = None if wm_gram is None else wm_gram.T + b[None, :]
    rank = None
    if w_gram is not None and m_gram is not None and wm_gram is not None:
        joint = np.block([[w_gram, wm_gram], [wm_gram.T, m_gram]])
        rank = numerical_rank(np.linalg.eigvalsh((joint + joint.T) / 2), EXACT_RANK_RTOL)
    return Prediction(
        objective=None if objective is None else float(objective),
        w_gram=_frozen(w_gram),
        m_gram=_frozen(m_gram),
        wm_gram=_frozen(wm_gram),
        w_norms=_frozen(None if w_gram is None else np.sqrt(np.clip(np.diag(w_gram), 0, None))),
        m_norms=_frozen(None if m_gram is None else np.sqrt(np.clip(np.diag(m_gram), 0, None))),
        logits=_frozen(logits),
        bias=_frozen(None if bias is None else b),
        reference=reference,
        claim=claim,
        notes=notes,
        kind=kind,
        rank=rank,
        extra={k: _frozen(v) if isinstance(v, np.ndarray) else v for k, v in extra.items()},
    )


# --------------------------------------------------------------------------------- hypotheses
def _need(name: str, ok: bool, need: str, got: str) -> None:
    if not ok:
        raise ValueError(f"{name}: needs {need}, got {got}")


def _need_field(name: str, problem: Problem, attr: str, allowed: Sequence[str]) -> None:
    value = getattr(problem, attr)
    allowed_txt = " or ".join(repr(a) for a in allowed)
    _need(name, value in allowed, f"{attr} {allowed_txt}", f"{attr} {value!r}")


def _need_regime(name: str, problem: Problem, regime: str) -> None:
    what = {
        "energy": "energy EW,EH",
        "decay": "decay LW,LH",
        "unregularised": "no energy, no decay",
    }
    _need(name, problem.regime == regime, what[regime], f"the {problem.regime} regime")


def _need_balanced(name: str, problem: Problem) -> None:
    _need(name, problem.is_balanced, "balanced counts", f"counts {list(problem.counts)}")


def _need_dim(name: str, problem: Problem, rank: int, why: str) -> None:
    _need(name, problem.dim >= rank, f"dim ≥ {rank} ({why})", f"dim {problem.dim}")


def _softplus_margin(K: int, t: NDArray[np.float64] | float) -> NDArray[np.float64] | float:
    """log(1 + (K−1) e^{−t}): CE of logits whose true entry exceeds every other one by t."""
    return np.logaddexp(0.0, math.log(K - 1) - np.asarray(t, dtype=np.float64))


# --------------------------------------------------------------------------------- §1.2 Fang
def balanced_lpm_value(K: int, E_W: float, E_H: float) -> float:
    """L* = log(1 + (K−1) exp(−(K/(K−1)) sqrt(E_W E_H))), the balanced layer-peeled optimum.

    The true-class logit of the optimum is sqrt(E_W E_H), every other logit −sqrt(E_W E_H)/(K−1):
    the margin is (K/(K−1)) sqrt(E_W E_H). Fang, He, Long, Su (PNAS 2021), Theorem 3 of
    arXiv 2101.12699 (arXiv numbering); docs/theory.md §1.2.

    Parameters
    ----------
    K : int
        Number of classes, K ≥ 2.
    E_W, E_H : float
        Budgets (1/K)Σ‖w_k‖² ≤ E_W and the feature budget ≤ E_H, both > 0.

    Examples
    --------
    >>> round(balanced_lpm_value(4, 1.0, 1.0), 13)
    0.5826576530618
    """
    if isinstance(K, bool) or int(K) != K or K < 2:
        raise ValueError(f"balanced_lpm_value: needs an integer K ≥ 2, got {K!r}")
    for label, v in (("E_W", E_W), ("E_H", E_H)):
        if not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"balanced_lpm_value: needs a finite {label} > 0, got {v!r}")
    return float(_softplus_margin(int(K), (K / (K - 1)) * math.sqrt(E_W * E_H)))


def lpm_balanced(problem: Problem) -> Prediction:
    """Balanced layer-peeled model: the optimum is a simplex ETF with h_i = sqrt(E_H/E_W) w_{y_i}.

    Statement (Fang, He, Long, Su, PNAS 2021, Theorem 3 of arXiv 2101.12699; docs/theory.md §1.2):
    with n samples per class, d ≥ K − 1 and CE, every global minimiser has W Wᵀ = E_W (K/(K−1)) P_K
    and h_i = sqrt(E_H/E_W) w_{y_i}; the value is :func:`balanced_lpm_value`.

    Derivation (summary; the constant is re-derived here, not copied from the paper). Collapse
    the features to their means (CE is convex in h and the budget is a mean of squares). By Jensen
    on the K − 1 wrong logits, CE(z, k) ≥ log(1 + (K−1) exp(x_k)) with x_k the mean wrong-minus-true
    logit (Σ_j w_j − K w_k)·h̄_k/(K−1); by convexity in x, the class average is
    ≥ log(1 + (K−1) exp(mean_k x_k)); by Cauchy–Schwarz, Σ_k (K w_k − Σ_j w_j)·h̄_k
    ≤ sqrt(Σ_k ‖K w_k − Σ_j w_j‖²) sqrt(Σ_k ‖h̄_k‖²) ≤ sqrt(K³ E_W) sqrt(K E_H). So the value
    is ≥ L*, with equality exactly for the ETF above.

    Budgets and features. Both the class-average and the per-sample budget give this optimum: the
    per-sample set lies inside the class-average one and contains the optimum (every
    ‖h_i‖² = E_H). For the same reason spherical features ‖h_i‖² = E_H give it too.

    Parameters
    ----------
    problem : Problem
        Learnable classifier, CE, energy (either budget), balanced counts, bias none, features
        free or sphere, d ≥ K − 1.

    Returns
    -------
    Prediction
        objective L*; w_gram E_W (K/(K−1)) P_K; m_gram E_H (K/(K−1)) P_K;
        wm_gram sqrt(E_W E_H) (K/(K−1)) P_K; ``extra``: ``C`` = sqrt(E_H/E_W), ``margin``.
    """
    name = "lpm_balanced"
    _need_field(name, problem, "classifier", ("learnable",))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "energy")
    _need_balanced(name, problem)
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free", "sphere"))
    K = problem.K
    _need_dim(name, problem, K - 1, "the simplex ETF has rank K − 1")
    E_W, E_H = problem.energy
    G = etf_gram(K)
    return _prediction(
        objective=balanced_lpm_value(K, E_W, E_H),
        w_gram=E_W * G,
        m_gram=E_H * G,
        wm_gram=math.sqrt(E_W * E_H) * G,
        bias=None,
        reference=(
            "Fang, He, Long, Su, PNAS 118 (2021), arXiv 2101.12699 Theorem 3; docs/theory.md §1.2"
        ),
        claim=(
            "With balanced classes, every global minimiser of the layer-peeled model is a simplex "
            "ETF with ‖w_k‖² = E_W and h_i = sqrt(E_H/E_W) w_{y_i}."
        ),
        notes=(
            "Either feature budget, or spherical features of radius sqrt(E_H): the same optimum. "
            "Unique up to a rotation of R^d."
        ),
        kind="optimum",
        C=math.sqrt(E_H / E_W),
        margin=(K / (K - 1)) * math.sqrt(E_W * E_H),
    )


# --------------------------------------------------------------------------------- §2 Yang
def _fixed_classifier_gram(problem: Problem) -> NDArray[np.float64]:
    """W Wᵀ of a fixed classifier: exact for the ETF, from the seeded matrix for a random one."""
    if problem.classifier == "etf":
        return problem.classifier_norm**2 * etf_gram(problem.K)
    W = classifier_matrix(problem)
    return W @ W.T


def fixed_etf(problem: Problem) -> Prediction:
    """Fixed ETF classifier, per-sample budget: h_i = sqrt(E_H/E_W) w_{y_i} for any counts.

    Statement (Yang, Xie, Chen, Li, Lin, Tao, NeurIPS 2022, arXiv 2203.09081, Theorem 1 — numbering
    recalled; docs/theory.md §2.2): with W fixed to a simplex ETF with ‖w_k‖² = E_W and ‖h_i‖² ≤
    E_H for every sample, the unique minimiser is h_i = sqrt(E_H/E_W) w_{y_i}, whatever the counts;
    the value is the balanced L* of :func:`balanced_lpm_value`.

    Derivation (summary): the problem splits into one convex problem per sample,
    min CE(W h, k) s.t. ‖h‖² ≤ E_H. The permutations of the classes other than k act on span(W)
    as isometries that fix w_k and leave the problem invariant; averaging a minimiser over them
    (convexity) gives a minimiser in span(w_k) ⊕ span(W)^⊥, and the span(W)^⊥ part only spends
    budget. On h = a w_k/‖w_k‖ the loss is log(1 + (K−1) exp(−a sqrt(E_W) K/(K−1))), decreasing
    in a, so a = sqrt(E_H).

    Parameters
    ----------
    problem : Problem
        Classifier ``etf``, CE, energy with budget ``per-sample`` (or spherical features of radius
        sqrt(E_H), any budget), any counts, bias none.

    Notes
    -----
    The class-average budget is refused: it changes the optimum (docs/theory.md §2.4); see
    :func:`fixed_etf_class_average`.
    """
    name = "fixed_etf"
    _need_field(name, problem, "classifier", ("etf",))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "energy")
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free", "sphere"))
    if problem.features == "free":
        _need(
            name,
            problem.budget == "per-sample",
            "budget 'per-sample' (the class-average budget has another optimum: "
            "fixed_etf_class_average)",
            f"budget {problem.budget!r}",
        )
    K = problem.K
    E_W, E_H = problem.energy
    G = etf_gram(K)
    return _prediction(
        objective=balanced_lpm_value(K, E_W, E_H),
        w_gram=E_W * G,
        m_gram=E_H * G,
        wm_gram=math.sqrt(E_W * E_H) * G,
        bias=None,
        reference=(
            "Yang, Xie, Chen, Li, Lin, Tao, NeurIPS 2022, arXiv 2203.09081 Theorem 1; "
            "docs/theory.md §2.2"
        ),
        claim=(
            "With the classifier fixed to a simplex ETF and a per-sample feature budget, every "
            "sample's optimal feature is sqrt(E_H/E_W) w_{y_i}, for any class counts."
        ),
        notes="The value equals the balanced L* and does not depend on the counts.",
        kind="optimum",
        C=math.sqrt(E_H / E_W),
    )


def _class_average_lengths(
    weights: NDArray[np.float64], K: int, E_W: float, E_H: float
) -> NDArray[np.float64]:
    """Lengths a_k ≥ 0 minimising Σ π_k φ(a_k) s.t. Σ a_k² = K E_H, φ(a) = log(1+(K−1)e^{−ca}).

    KKT: π_k c σ(a_k) = 2 μ a_k with σ(a) = (K−1)e^{−ca}/(1+(K−1)e^{−ca}); for each μ > 0 the left
    side decreases and the right side increases in a, so a_k(μ) is one root in (0, π_k c/(2μ)];
    Σ a_k(μ)² decreases in μ, and one outer root gives the budget. Both are solved by Brent's
    method to :data:`ROOT_XTOL`.
    """
    c = math.sqrt(E_W) * K / (K - 1)
    logk1 = math.log(K - 1)

    def sigma(a: float) -> float:
        return 1.0 / (1.0 + math.exp(min(c * a - logk1, 700.0)))

    def lengths(mu: float) -> NDArray[np.float64]:
        out = np.empty(len(weights))
        for k, pi in enumerate(weights):
            hi = pi * c / (2 * mu)
            out[k] = brentq(
                lambda a, pi=pi: pi * c * sigma(a) - 2 * mu * a,
                0.0,
                hi,
                xtol=1e-300,
                rtol=ROOT_XTOL,
                maxiter=500,
            )
        return out

    target = K * E_H

    def excess(log_mu: float) -> float:
        return float((lengths(math.exp(log_mu)) ** 2).sum()) / target - 1.0

    lo, hi = -1.0, 1.0
    while excess(lo) < 0:
        lo *= 2
    while excess(hi) > 0:
        hi *= 2
    log_mu = brentq(excess, lo, hi, xtol=1e-15, rtol=ROOT_XTOL, maxiter=500)
    a = lengths(math.exp(log_mu))
    # Land exactly on the budget (the root leaves a ~1e-15 relative excess).
    return a * math.sqrt(target / float((a**2).sum()))


def fixed_etf_class_average(problem: Problem) -> Prediction:
    """Fixed ETF classifier under Fang's class-average budget: h̄_k = a_k w_k/‖w_k‖, unequal a_k.

    Statement (derived here; docs/theory.md §2.4): with W fixed to a simplex ETF (‖w_k‖² = E_W) and
    the budget (1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H, the minimiser is h_i = a_{y_i} w_{y_i}/sqrt(E_W)
    where (a_k) minimises Σ_k (n_k/N) log(1 + (K−1) exp(−c a_k)), c = sqrt(E_W) K/(K−1), subject to
    Σ_k a_k² = K E_H. Majority classes get longer features; with balanced counts a_k = sqrt(E_H).

    Derivation: the problem is convex in the features (W is fixed). Collapse to the class means
    (strictly convex budget), then the argument of :func:`fixed_etf` per class gives h̄_k ∥ w_k
    with a length a_k ≥ 0. The remaining problem in a is convex and separable apart from the
    budget: its KKT system reduces to one multiplier μ, found by a scalar root (see
    ``_class_average_lengths``). For K=4, n=(100,100,10,10), E_W=E_H=1 this gives
    a = (1.38436, 1.38436, 0.28904, 0.28904) and the value 0.45361, as docs/theory.md §2.4 quotes.

    Parameters
    ----------
    problem : Problem
        Classifier ``etf``, CE, energy with budget ``class-average``, free features, bias none,
        any counts.
    """
    name = "fixed_etf_class_average"
    _need_field(name, problem, "classifier", ("etf",))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "energy")
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free",))
    _need_field(name, problem, "budget", ("class-average",))
    K = problem.K
    E_W, E_H = problem.energy
    counts = np.asarray(problem.counts, dtype=np.float64)
    weights = counts / counts.sum()
    a = _class_average_lengths(weights, K, E_W, E_H)
    c = math.sqrt(E_W) * K / (K - 1)
    value = float((weights * _softplus_margin(K, c * a)).sum())
    G = etf_gram(K)
    return _prediction(
        objective=value,
        w_gram=E_W * G,
        m_gram=a[:, None] * G * a[None, :],
        wm_gram=math.sqrt(E_W) * G * a[None, :],
        bias=None,
        reference=(
            "Yang et al., NeurIPS 2022 (model) with Fang et al.'s class-average budget, "
            "PNAS 2021; derived (KKT), docs/theory.md §2.4"
        ),
        claim=(
            "With a fixed ETF classifier and the class-average budget, each class mean points "
            "along its classifier row but with a count-dependent length; NC2 of the means fails "
            "under imbalance."
        ),
        notes="Lengths solve one scalar root; unique (the problem is strictly convex in them).",
        kind="optimum",
        lengths=a,
    )


def dot_regression(problem: Problem) -> Prediction:
    """Dot-regression loss with a fixed classifier: value 0 at h_i = sqrt(E_H/E_W) w_{y_i}.

    Statement (Yang et al., NeurIPS 2022, arXiv 2203.09081, the DR loss; docs/theory.md §2.3): with
    ℓ(h) = ½(w_yᵀh − sqrt(E_W E_H))², ‖w_y‖² = E_W and ‖h‖² ≤ E_H, Cauchy–Schwarz gives
    w_yᵀh ≤ sqrt(E_W E_H), with equality iff h = sqrt(E_H/E_W) w_y: the minimum is 0 and the
    minimiser is the same as for CE with a fixed ETF.

    The argument uses only the row w_y, so it holds for a fixed random classifier with rows of
    norm sqrt(E_W) as well (DR has no push away from the other classes). Under the class-average
    budget the same point is still the unique minimiser: zero loss needs ‖h_i‖² ≥ E_H for every
    sample, and the class-average budget then forces equality everywhere.

    Parameters
    ----------
    problem : Problem
        Loss ``dr``, fixed classifier (``etf`` or ``random``), energy (either budget) or
        spherical features, bias none.
    """
    name = "dot_regression"
    _need_field(name, problem, "loss", ("dr",))
    _need_field(name, problem, "classifier", ("etf", "random"))
    _need_regime(name, problem, "energy")
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free", "sphere"))
    E_W, E_H = problem.energy
    Gw = _fixed_classifier_gram(problem)
    C = math.sqrt(E_H / E_W)
    return _prediction(
        objective=0.0,
        w_gram=Gw,
        m_gram=C * C * Gw,
        wm_gram=C * Gw,
        bias=None,
        reference=(
            "Yang et al., NeurIPS 2022, arXiv 2203.09081 (dot-regression loss); docs/theory.md §2.3"
        ),
        claim=(
            "The dot-regression loss with a fixed classifier reaches 0 exactly at "
            "h_i = sqrt(E_H/E_W) w_{y_i}, the same minimiser as CE with a fixed ETF."
        ),
        notes=(
            "Either budget; also a fixed random classifier (the loss sees only w_y). "
            "Unique minimiser."
        ),
        kind="optimum",
        C=C,
    )


# --------------------------------------------------------------------------------- §3 Dang (ReLU)
def relu_collapse_threshold(
    counts: Sequence[int], k: int | None = None
) -> float | NDArray[np.float64]:
    """λ_W λ_H at and above which class k's features are 0 at the ReLU-UFM optimum.

    τ_k = n_k (K−1) / (K N²)  (docs/theory.md §3; derived: q_k = N sqrt(λ_Wλ_H (K−1)/(K n_k))
    reaches (K−1)/K). Minority classes collapse first; every class is 0 once λ_Wλ_H ≥ max_k τ_k.

    Parameters
    ----------
    counts : sequence of int, shape=[K]
    k : int, optional
        0-based class; None returns every class's threshold.

    Examples
    --------
    >>> [f"{t:.3g}" for t in relu_collapse_threshold((100, 100, 10, 10))]
    ['0.00155', '0.00155', '0.000155', '0.000155']
    """
    n = _counts("relu_collapse_threshold", counts)
    K, N = len(n), float(n.sum())
    tau = n * (K - 1) / (K * N * N)
    return _pick("relu_collapse_threshold", tau, k)


def _counts(name: str, counts: Sequence[int]) -> NDArray[np.float64]:
    try:
        n = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: needs a list of positive counts, got {counts!r}") from None
    ok = n.ndim == 1 and n.size >= 2 and bool(np.all(np.isfinite(n))) and bool(np.all(n > 0))
    _need(name, ok, "at least 2 positive counts", repr(counts))
    return n


def _pick(name: str, values: NDArray[np.float64], k: int | None) -> float | NDArray[np.float64]:
    if k is None:
        return _frozen(values)
    ok = not isinstance(k, bool) and isinstance(k, (int, np.integer)) and 0 <= k < len(values)
    _need(name, ok, f"a class index k in 0..{len(values) - 1}", repr(k))
    return float(values[k])


def relu_ufm(problem: Problem) -> Prediction:
    """Imbalanced CE with ReLU features under weight decay: orthogonal means, centred classifier.

    Statement (Dang, Tran, Nguyen, Ho, ICML 2024, arXiv 2401.02058; docs/theory.md §3 — the
    formulas are re-derived for this package's convention (1/N)ΣCE + (λ_W/2)‖W‖² + (λ_H/2)‖H‖²,
    which differs from the authors' code by CE/2; docs/theory.md §9): every minimiser has h_i =
    h̄_{y_i}, h̄_k = a_k e_{π(k)} (disjoint supports, so the means are orthogonal),
    W h̄_k = t_k (e_k − 1/K), and w_k = Σ_l (δ_kl − 1/K) (c_l/a_l) h̄_l.

    Derivation (summary). Put column π(l) of W equal to c_l (e_l − 1/K) and h̄_l = a_l e_{π(l)}:
    class k's logits are t_k (e_k − 1/K) with t_k = a_k c_k, its CE is log(1 + (K−1)e^{−t_k}),
    and the penalty is Σ_k (λ_W/2)((K−1)/K) c_k² + (λ_H/2) n_k a_k² ≥ Σ_k s_k t_k (AM–GM) with
    s_k = sqrt(λ_Wλ_H n_k (K−1)/K), equal when c_k/a_k = sqrt(λ_H n_k K/(λ_W (K−1))). Each class
    minimises (n_k/N) log(1+(K−1)e^{−t}) + s_k t over t ≥ 0 (convex): with
    q_k = s_k N/n_k = N sqrt(λ_Wλ_H (K−1)/(K n_k)),
    t_k = log((K−1)(1−q_k)/q_k) if q_k < (K−1)/K, else 0 (the class's features and classifier
    column are 0 and its samples pay log K). The value is Σ_k [(n_k/N) log(1+(K−1)e^{−t_k})
    + s_k t_k]. Then ‖h̄_k‖² = a_k² = t_k sqrt(λ_W (K−1)/(λ_H n_k K)),
    W Wᵀ = P_K diag(c²) P_K with c_k² = t_k sqrt(λ_H n_k K/(λ_W (K−1))), W Mᵀ = P_K diag(t).

    Dimension: the optimum lives in as many coordinates as there are surviving classes, so d ≥
    that number suffices (the theorem states d ≥ K): the problem in dimension d embeds in any
    larger one, so a point of the large-d optimum's value that fits in d is optimal there.

    Parameters
    ----------
    problem : Problem
        Learnable classifier, CE, decay, bias none, features ``relu``, any counts.

    Returns
    -------
    Prediction
        ``extra``: ``t`` (margins), ``q``, ``thresholds`` (:func:`relu_collapse_threshold`),
        ``alive`` (classes with t_k > 0), ``a`` = ‖h̄_k‖, ``c`` = column scales.
    """
    name = "relu_ufm"
    _need_field(name, problem, "classifier", ("learnable",))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "decay")
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("relu",))
    K, N = problem.K, float(problem.N)
    lam_W, lam_H, _ = problem.decay
    n = np.asarray(problem.counts, dtype=np.float64)
    lam = lam_W * lam_H
    s = np.sqrt(lam * n * (K - 1) / K)
    q = s * N / n
    alive = q < (K - 1) / K
    t = np.log(np.where(alive, (K - 1) * (1 - q) / q, 1.0))
    a2 = t * np.sqrt(lam_W * (K - 1) / (lam_H * n * K))
    c2 = t * np.sqrt(lam_H * n * K / (lam_W * (K - 1)))
    value = float((n / N * _softplus_margin(K, t) + s * t).sum())
    P = centring(K)
    n_alive = int(alive.sum())
    _need_dim(name, problem, n_alive, "the surviving class means are orthogonal and nonnegative")
    return _prediction(
        objective=value,
        w_gram=P @ np.diag(c2) @ P,
        m_gram=np.diag(a2),
        wm_gram=P @ np.diag(t),
        bias=None,
        reference=(
            "Dang, Tran, Nguyen, Ho, ICML 2024, arXiv 2401.02058 (ReLU UFM); constants "
            "re-derived for (1/N)ΣCE + (λ_W/2)‖W‖² + (λ_H/2)‖H‖², docs/theory.md §3"
        ),
        claim=(
            "With ReLU features the class means are orthogonal with count-dependent lengths "
            "(minority means longer), the classifier is the centred means scaled by sqrt(n_k), "
            "and class k is 0 once λ_Wλ_H ≥ n_k(K−1)/(K N²)."
        ),
        notes=(
            "Unique up to a permutation of coordinates (the supports) and, beyond the support, "
            "rotations of the orthogonal complement; the Grams are unique."
        ),
        kind="optimum",
        t=t,
        q=q,
        thresholds=n * (K - 1) / (K * N * N),
        alive=alive,
        a=np.sqrt(a2),
        c=np.sqrt(c2),
    )


# --------------------------------------------------------------------------------- §4 SELI
def _psd_sqrt(A: NDArray[np.float64], *, inverse: bool = False) -> NDArray[np.float64]:
    """A^{1/2} (or the pseudo-inverse square root) of a symmetric PSD matrix."""
    eig, V = np.linalg.eigh((A + A.T) / 2)
    keep = eig > EXACT_RANK_RTOL * max(float(eig.max(initial=0.0)), 0.0)
    root = np.sqrt(np.where(keep, eig, 0.0))
    if inverse:
        root = np.where(keep, 1.0 / np.where(keep, root, 1.0), 0.0)
    return (V * root) @ V.T


def _seli_grams(
    n: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, bool]:
    """(W Wᵀ, M Mᵀ, W Mᵀ, ‖Ẑ‖_*, dual certificate holds) of the UF-SVM for counts n."""
    K = len(n)
    P = centring(K)
    PDP = P @ np.diag(n) @ P
    w_gram = _psd_sqrt(PDP)
    d_half = np.sqrt(n)
    B_root = _psd_sqrt(d_half[:, None] * P * d_half[None, :])
    m_gram = B_root / (d_half[:, None] * d_half[None, :])
    value = float(np.trace(w_gram))
    S = _psd_sqrt(PDP, inverse=True)
    off = S[~np.eye(K, dtype=bool)]
    certified = bool(np.all(np.diag(S) > 0) and np.all(off <= EXACT_RANK_RTOL * np.abs(S).max()))
    return w_gram, m_gram, P.copy(), value, certified


def seli(problem: Problem) -> Prediction:
    """Unregularised imbalanced CE: the max-margin (UF-SVM) point, whose direction is SELI.

    Statement (Thrampoulidis, Kini, Vakilian, Behnia, NeurIPS 2022, arXiv 2208.05512;
    docs/theory.md §4): without regularisation CE has no minimiser; gradient descent's direction
    approaches the solution of the UF-SVM min ½(‖W‖² + ‖H‖²) s.t. (w_{y_i} − w_c)ᵀh_i ≥ 1, which has
    logits W Hᵀ = Ẑ = P_K Y (the "SEL" matrix, Y one-hot K × N), W Wᵀ = (P_K D P_K)^{1/2},
    class-mean Gram D^{−1/2}(D^{1/2} P_K D^{1/2})^{1/2} D^{−1/2}, W Mᵀ = P_K (every margin exactly
    1), and value ‖Ẑ‖_* = Σ sqrt(eig(P_K D P_K)), D = diag(n).

    Derivation and certificate (summary). min ½(‖W‖² + ‖H‖²) over W Hᵀ = Z equals ‖Z‖_*, so the
    SVM is min ‖Z‖_* over margin-feasible Z. Ẑ is feasible with all margins tight. Its polar
    factor A = U Vᵀ = S Y with S = (P_K D P_K)^{+1/2} has ‖A‖_2 = 1, and its column for a
    class-k sample is S e_k; when S has a positive diagonal and nonpositive off-diagonal (checked
    here, ``extra["dual_certificate"]``; it held on every count vector tried), these columns are
    Σ_c λ_c (e_k − e_c) with λ ≥ 0, a dual feasible point of value ⟨A, Y⟩ = tr(D S) = ‖Ẑ‖_*. So
    ‖Ẑ‖_* is the SVM's optimum, proved by weak duality.

    Only directions are meaningful for the CE problem: the Grams are returned at the SVM scale,
    and normalised copies (each divided by its Frobenius norm) are in ``extra``.

    Parameters
    ----------
    problem : Problem
        Unregularised (no energy, no decay), learnable classifier, CE, bias none, free features,
        d ≥ K − 1, any counts.
    """
    name = "seli"
    _need_regime(name, problem, "unregularised")
    _need_field(name, problem, "classifier", ("learnable",))
    _need_field(name, problem, "loss", ("ce",))
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free",))
    K = problem.K
    _need_dim(name, problem, K - 1, "the SEL matrix has rank K − 1")
    n = np.asarray(problem.counts, dtype=np.float64)
    w_gram, m_gram, wm_gram, value, certified = _seli_grams(n)
    return _prediction(
        objective=value,
        w_gram=w_gram,
        m_gram=m_gram,
        wm_gram=wm_gram,
        bias=None,
        reference=(
            "Thrampoulidis, Kini, Vakilian, Behnia, NeurIPS 2022, arXiv 2208.05512 (SELI); "
            "docs/theory.md §4"
        ),
        claim=(
            "Without regularisation the CE iterates diverge in norm and their direction "
            "approaches the UF-SVM solution: logits P_K Y, W Wᵀ = (P_K D P_K)^{1/2}."
        ),
        notes=(
            "objective is the UF-SVM value ½(‖W‖² + ‖H‖²) = ‖P_K Y‖_*, not a CE value; only the "
            "directions (normalised Grams) are meaningful for CE. Balanced: the ETF."
        ),
        kind="max_margin",
        svm_value=value,
        dual_certificate=certified,
        w_gram_normalised=w_gram / np.linalg.norm(w_gram),
        m_gram_normalised=m_gram / np.linalg.norm(m_gram),
    )


def seli_ratios(KA: int, KB: int, R: float) -> dict[str, float]:
    """SELI geometry of the (R)-STEP imbalance: K_A classes of R samples, K_B classes of 1.

    Parameters
    ----------
    KA, KB : int
        Numbers of majority and minority classes (≥ 1 each).
    R : float
        Imbalance ratio ≥ 1 (the formulas are continuous in the counts, so any real R).

    Returns
    -------
    dict
        ``w_norm_ratio`` ‖w_maj‖/‖w_min‖, ``h_norm_ratio`` ‖h̄_maj‖/‖h̄_min‖, ``cos_w_minority``
        (between two minority rows; nan with K_B = 1), ``cos_w_majority``, ``cos_w_cross``,
        ``cos_h_minority``, ``cos_h_majority``, ``cos_h_cross`` (nan where undefined).

    Examples
    --------
    >>> r = seli_ratios(2, 2, 10)
    >>> round(r["w_norm_ratio"], 4), round(r["h_norm_ratio"], 4), round(r["cos_w_minority"], 4)
    (1.4125, 0.6606, 0.0794)
    """
    for label, v in (("KA", KA), ("KB", KB)):
        ok = not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= 1
        _need("seli_ratios", ok, f"an integer {label} ≥ 1", repr(v))
    ok = not isinstance(R, bool) and math.isfinite(float(R)) and float(R) >= 1
    _need("seli_ratios", ok, "a finite ratio R ≥ 1", repr(R))
    n = np.array([float(R)] * KA + [1.0] * KB)
    w_gram, m_gram, _, _, _ = _seli_grams(n)

    def cos(G: NDArray[np.float64], i: int, j: int) -> float:
        return float(G[i, j] / math.sqrt(G[i, i] * G[j, j]))

    maj, mino = 0, KA
    nan = math.nan
    return {
        "w_norm_ratio": math.sqrt(w_gram[maj, maj] / w_gram[mino, mino]),
        "h_norm_ratio": math.sqrt(m_gram[maj, maj] / m_gram[mino, mino]),
        "cos_w_minority": cos(w_gram, mino, mino + 1) if KB > 1 else nan,
        "cos_w_majority": cos(w_gram, 0, 1) if KA > 1 else nan,
        "cos_w_cross": cos(w_gram, maj, mino),
        "cos_h_minority": cos(m_gram, mino, mino + 1) if KB > 1 else nan,
        "cos_h_majority": cos(m_gram, 0, 1) if KA > 1 else nan,
        "cos_h_cross": cos(m_gram, maj, mino),
    }


# --------------------------------------------------------------------------------- §5.1 Zhu
def zhu_collapse_threshold(n: int, K: int) -> float:
    """λ_W λ_H at and above which the balanced regularised CE optimum is W = H = 0: 1/(n K²).

    Zhu et al. 2021 (docs/theory.md §5.1): the ETF optimum exists iff sqrt(n λ_W λ_H) < 1/K.
    """
    ok = all(not isinstance(v, bool) and int(v) == v for v in (n, K)) and n >= 1 and K >= 2
    _need("zhu_collapse_threshold", ok, "integers n ≥ 1 and K ≥ 2", f"n={n!r}, K={K!r}")
    return 1.0 / (n * K * K)


def zhu_regularised_ce(problem: Problem) -> Prediction:
    """Balanced CE under weight decay (Zhu et al. 2021): a scaled simplex ETF, or W = H = 0.

    Statement (Zhu, Ding, Zhou, Li, You, Sulam, Qu, NeurIPS 2021, arXiv 2105.02375, Theorem 3.1 —
    arXiv numbering; docs/theory.md §5.1): with n samples per class and d ≥ K − 1, every global
    minimiser of (1/N)ΣCE(W h_i + b, y_i) + (λ_W/2)‖W‖² + (λ_H/2)‖H‖² (+ (λ_b/2)‖b‖²) has
    h_i = h̄_{y_i} = α w_{y_i}, α = sqrt(λ_W/(λ_H n)), W Wᵀ = ρ (K/(K−1)) P_K, and b = b 1
    (b = 0 when λ_b > 0; any constant with a free bias).

    ρ [derived]: on that family the true logit is αρ and the others −αρ/(K−1), the margin is βρ
    with β = αK/(K−1), and the penalty is λ_W K ρ, so the value is
    g(ρ) = log(1 + (K−1)e^{−βρ}) + λ_W K ρ. g'(ρ) = 0 gives, with p = (K−1) sqrt(n λ_W λ_H),
    βρ = log((K−1)(1−p)/p) when sqrt(n λ_W λ_H) < 1/K; otherwise ρ = 0 (W = H = 0, value log K).
    The worked instance K=4, n=25, λ=5e-3 gives ρ = 13.540942, f* = 0.348780384918.

    Parameters
    ----------
    problem : Problem
        Balanced, learnable classifier, CE, decay, bias none/free/penalised, free features,
        d ≥ K − 1 (any d when the optimum is 0).

    Returns
    -------
    Prediction
        ``extra``: ``rho`` = ‖w_k‖², ``alpha``, ``margin`` βρ, ``threshold`` λ_Wλ_H of
        :func:`zhu_collapse_threshold`, ``collapsed``.
    """
    name = "zhu_regularised_ce"
    _need_field(name, problem, "classifier", ("learnable",))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "decay")
    _need_balanced(name, problem)
    _need_field(name, problem, "features", ("free",))
    K, n = problem.K, problem.counts[0]
    lam_W, lam_H, _ = problem.decay
    alpha = math.sqrt(lam_W / (lam_H * n))
    beta = alpha * K / (K - 1)
    root = math.sqrt(n * lam_W * lam_H)
    collapsed = root >= 1.0 / K
    if collapsed:
        rho, value = 0.0, math.log(K)
    else:
        p = (K - 1) * root
        margin = math.log((K - 1) * (1 - p) / p)
        rho = margin / beta
        value = float(_softplus_margin(K, margin)) + lam_W * K * rho
    if not collapsed:
        _need_dim(name, problem, K - 1, "the simplex ETF has rank K − 1")
    G = etf_gram(K)
    bias_note = {
        "none": "No bias.",
        "penalised": "Penalised bias: b = 0.",
        "free": "Free bias: b is any constant vector b·1 (b = 0 is returned).",
    }[problem.bias]
    return _prediction(
        objective=value,
        w_gram=rho * G,
        m_gram=alpha * alpha * rho * G,
        wm_gram=alpha * rho * G,
        bias=np.zeros(K) if problem.has_bias else None,
        reference=(
            "Zhu, Ding, Zhou, Li, You, Sulam, Qu, NeurIPS 2021, arXiv 2105.02375 Theorem 3.1; "
            "ρ re-derived, docs/theory.md §5.1"
        ),
        claim=(
            "With balanced classes and weight decay, the CE optimum is a simplex ETF with "
            "h_i = sqrt(λ_W/(λ_H n)) w_{y_i}, or exactly 0 once n λ_W λ_H ≥ 1/K²."
        ),
        notes=bias_note + " Unique up to rotation otherwise.",
        kind="optimum",
        rho=rho,
        alpha=alpha,
        margin=beta * rho,
        threshold=zhu_collapse_threshold(n, K),
        collapsed=collapsed,
    )


# --------------------------------------------------------------------------------- §5.2–5.3 MSE
def mse_collapse_threshold(
    counts: Sequence[int], k: int | None = None
) -> float | NDArray[np.float64]:
    """λ_W λ_H at and above which class k vanishes from the bias-free MSE optimum: n_k / N².

    From z_k = (sqrt(n_k) − N sqrt(λ_Wλ_H))_+ (docs/theory.md §5.2).

    Parameters
    ----------
    counts : sequence of int, shape=[K]
    k : int, optional
        0-based class; None returns every class's threshold.
    """
    n = _counts("mse_collapse_threshold", counts)
    return _pick("mse_collapse_threshold", n / n.sum() ** 2, k)


def _mse_ufm_setting(name: str, problem: Problem, biases: tuple[str, ...]) -> None:
    _need_field(name, problem, "classifier", ("learnable",))
    _need_field(name, problem, "loss", ("mse",))
    _need_regime(name, problem, "decay")
    _need_field(name, problem, "features", ("free",))
    _need_field(name, problem, "bias", biases)


def mse_ufm_no_bias(problem: Problem) -> Prediction:
    """Bias-free MSE under weight decay, any counts: classifiers and means form an orthogonal frame.

    Statement (Dang, Tran, Osher, Tran-The, Ho, Nguyen, ICML 2023, arXiv 2301.00437, one-layer
    case; derived and checked here, docs/theory.md §5.2): the optimum collapses to the class means;
    with G = Mᵀ D^{1/2} (columns sqrt(n_k) h̄_k) the objective is
    (1/(2N))‖W G − D^{1/2}‖² + (λ_W/2)‖W‖² + (λ_H/2)‖G‖², and minimising the penalty over the
    factorisations of Z = W G gives sqrt(λ_Wλ_H)‖Z‖_*. The proximal step of the nuclear norm on
    the diagonal target D^{1/2} soft-thresholds it: Z = diag(z), z_k = (sqrt(n_k) − N
    sqrt(λ_Wλ_H))_+. So W h̄_k = (z_k/sqrt(n_k)) e_k, W Wᵀ = sqrt(λ_H/λ_W) diag(z),
    M Mᵀ = sqrt(λ_W/λ_H) diag(z_k/n_k), and the value is
    Σ_k (sqrt(n_k) − z_k)²/(2N) + sqrt(λ_Wλ_H) Σ_k z_k.

    A class whose z_k is 0 has h̄_k = 0 and w_k = 0; d ≥ the number of surviving classes
    suffices, by the embedding argument of :func:`relu_ufm`.

    Parameters
    ----------
    problem : Problem
        Learnable classifier, MSE, decay, free features, no bias; any counts.
    """
    name = "mse_ufm_no_bias"
    _mse_ufm_setting(name, problem, ("none",))
    N = float(problem.N)
    lam_W, lam_H, _ = problem.decay
    root = math.sqrt(lam_W * lam_H)
    n = np.asarray(problem.counts, dtype=np.float64)
    ratio = math.sqrt(lam_H / lam_W)
    z = np.maximum(np.sqrt(n) - N * root, 0.0)
    value = float(((np.sqrt(n) - z) ** 2).sum() / (2 * N) + root * z.sum())
    alive = int((z > 0).sum())
    _need_dim(name, problem, alive, "the surviving classes are orthogonal")
    return _prediction(
        objective=value,
        w_gram=ratio * np.diag(z),
        m_gram=np.diag(z / n) / ratio,
        wm_gram=np.diag(z / np.sqrt(n)),
        bias=None,
        reference=(
            "Dang, Tran, Osher, Tran-The, Ho, Nguyen, ICML 2023, arXiv 2301.00437 (MSE, "
            "imbalanced, bias-free); derived, docs/theory.md §5.2"
        ),
        claim=(
            "Bias-free MSE with weight decay: classifiers and class means are orthogonal, "
            "with W h̄_k = (z_k/sqrt(n_k)) e_k and z_k = (sqrt(n_k) − N sqrt(λ_Wλ_H))_+."
        ),
        notes="Grams unique; class k is 0 once λ_Wλ_H ≥ n_k/N².",
        kind="optimum",
        z=z,
        thresholds=n / (N * N),
    )


def mse_ufm_free_bias(problem: Problem) -> Prediction:
    """Balanced MSE under weight decay with an unregularised bias: a simplex ETF and b = 1/K.

    Statement (Tirer and Bruna, ICML 2022, balanced case; derived and checked here, docs/theory.md
    §5.3): the optimal bias is b = 1/K − W μ with μ the mean feature; the loss depends only on
    the centred means, and the penalty is smallest when μ = 0. The target becomes sqrt(n) P_K
    (singular value sqrt(n), K − 1 times), so W h̄_k = (1 − K sqrt(n λ_Wλ_H))_+ (e_k − 1/K) and
    b = 1/K; d ≥ K − 1 suffices.

    Parameters
    ----------
    problem : Problem
        Learnable classifier, MSE, decay, free features, free bias (λ_b = 0); balanced counts.
    """
    name = "mse_ufm_free_bias"
    _mse_ufm_setting(name, problem, ("free",))
    _need(
        name,
        problem.is_balanced,
        "balanced counts with a free bias",
        f"counts {list(problem.counts)}",
    )
    K, N = problem.K, float(problem.N)
    lam_W, lam_H, _ = problem.decay
    root = math.sqrt(lam_W * lam_H)
    ratio = math.sqrt(lam_H / lam_W)
    n0 = float(problem.counts[0])
    factor = max(1.0 - K * math.sqrt(n0) * root, 0.0)
    z = math.sqrt(n0) * factor
    value = (K - 1) * (math.sqrt(n0) - z) ** 2 / (2 * N) + root * (K - 1) * z
    if factor > 0:
        _need_dim(name, problem, K - 1, "the centred frame has rank K − 1")
    P = centring(K)
    return _prediction(
        objective=value,
        w_gram=ratio * z * P,
        m_gram=(z / n0) * P / ratio,
        wm_gram=factor * P,
        bias=np.full(K, 1.0 / K),
        reference=(
            "Tirer and Bruna, ICML 2022 (MSE, balanced, free bias); derived, docs/theory.md §5.3"
        ),
        claim=(
            "Balanced MSE with an unregularised bias: W h̄_k = (1 − K sqrt(n λ_Wλ_H))_+ "
            "(e_k − 1/K) and b = 1/K, a simplex ETF."
        ),
        notes="Grams and b unique.",
        kind="optimum",
        factor=factor,
        threshold=1.0 / (n0 * K * K),
    )


def mse_ufm(problem: Problem) -> Prediction:
    """MSE under weight decay: :func:`mse_ufm_no_bias` or :func:`mse_ufm_free_bias`, by the bias.

    Parameters
    ----------
    problem : Problem
        Learnable classifier, MSE, decay, free features; bias none (any counts) or free
        (balanced counts).
    """
    _mse_ufm_setting("mse_ufm", problem, ("none", "free"))
    if not problem.has_bias:
        return mse_ufm_no_bias(problem)
    return mse_ufm_free_bias(problem)


# --------------------------------------------------------------------------------- §6 Shalev
def random_classifier_bound(problem: Problem) -> Prediction:
    """Fixed classifier, balanced CE: optimum ≥ log(1 + (K−1) exp(−sK/(K−1))), s = sqrt(E_W E_H).

    Statement (Shalev, Shalev, Keshet, arXiv 2011.08704, fixed random class vectors with cosine
    logits of scale s; docs/theory.md §6 — bound derived): with rows ‖w_k‖² = E_W and features of
    norm at most sqrt(E_H) (a sphere, or either budget), the balanced optimum is at least the ETF
    value, with equality iff the fixed rows form a simplex ETF.

    Derivation: the argument of :func:`lpm_balanced` uses only (1/K)Σ‖w_k‖² ≤ E_W, so it bounds
    the optimum for any fixed W (Jensen on the wrong logits, convexity in the mean margin,
    Cauchy–Schwarz). Equality forces equal wrong logits and Σ_k w_k = 0 with equal
    ‖K w_k − Σ_j w_j‖: the ETF. The bound is on the class average; a single class can do better.

    Parameters
    ----------
    problem : Problem
        Classifier ``random`` (or ``etf``, where the bound is attained), CE, energy, balanced,
        bias none, features free or sphere.

    Returns
    -------
    Prediction
        objective = the bound, ``kind = "lower_bound"``, w_gram of the problem's fixed
        matrix; the feature Grams are not fixed by the bound (None).
    """
    name = "random_classifier_bound"
    _need_field(name, problem, "classifier", ("random", "etf"))
    _need_field(name, problem, "loss", ("ce",))
    _need_regime(name, problem, "energy")
    _need_balanced(name, problem)
    _need_field(name, problem, "bias", ("none",))
    _need_field(name, problem, "features", ("free", "sphere"))
    K = problem.K
    E_W, E_H = problem.energy
    scale = math.sqrt(E_W * E_H)
    return _prediction(
        objective=balanced_lpm_value(K, E_W, E_H),
        w_gram=_fixed_classifier_gram(problem),
        m_gram=None,
        wm_gram=None,
        bias=None,
        reference=(
            "Shalev, Shalev, Keshet, arXiv 2011.08704 (fixed random classifier); bound derived, "
            "docs/theory.md §6"
        ),
        claim=(
            "For any fixed classifier with rows of norm sqrt(E_W) and features of norm at most "
            "sqrt(E_H), the balanced CE optimum is at least log(1 + (K−1) exp(−sK/(K−1))), "
            "s = sqrt(E_W E_H), with equality iff the rows form a simplex ETF."
        ),
        notes="A lower bound on the class-averaged optimum, not the optimum; not class by class.",
        kind="lower_bound",
        scale=scale,
        attained=problem.classifier == "etf",
    )


# --------------------------------------------------------------------------------- dispatch
#: The predictions, in the order :func:`predict` tries them (optima before bounds).
PREDICTIONS: tuple[Callable[[Problem], Prediction], ...] = (
    lpm_balanced,
    fixed_etf,
    fixed_etf_class_average,
    dot_regression,
    relu_ufm,
    zhu_regularised_ce,
    mse_ufm,
    seli,
    random_classifier_bound,
)


def predict(problem: Problem) -> Prediction:
    """The first prediction of :data:`PREDICTIONS` whose hypotheses the problem meets.

    Raises
    ------
    ValueError
        When none applies; the one-line message gives each prediction's reason.
    """
    reasons = []
    for fn in PREDICTIONS:
        try:
            return fn(problem)
        except ValueError as exc:
            reasons.append(str(exc))
    raise ValueError("no closed form applies to this problem: " + "; ".join(reasons))
