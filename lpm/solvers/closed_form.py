"""The closed forms of :mod:`lpm.theory`, presented as a solution method (``method="theory"``).

A prediction fixes the optimum through Gram matrices (W Wᵀ, M Mᵀ, W Mᵀ) and the bias;
:func:`realise` turns them into a point (W, H, b) at the problem's dimension d:

* a learnable classifier: the joint Gram of [W; M] (2K × 2K) is factored by a symmetric
  eigendecomposition, X = V Λ^{1/2}, whose r ≤ d nonzero columns are padded with zeros to d;
* ReLU features: the class means are put on distinct coordinates, h̄_k = ‖h̄_k‖ e_{slot(k)}, and
  column slot(k) of W is (W Mᵀ)[:, k]/‖h̄_k‖, so H ≥ 0 exactly;
* a fixed classifier: W is the problem's own matrix and the means are M = (W⁺ W Mᵀ)ᵀ, the
  least-norm solution, which lies in span(W) as every fixed-classifier optimum does;

and every sample takes its class mean (within-class collapse holds at every optimum here).

The certificate is honest rather than assumed:

* ``objective`` is f at the realised point, by :func:`lpm.objective.objective`;
* ``residual`` is the optimality residual of :mod:`lpm.solvers.gradient` (the norm of the
  projected-gradient mapping, relative to max(1, |f|)) evaluated at that point, so ``converged``
  means the same thing for both methods; for an exact closed form it is round-off, ~1e-16;
* ``lower_bound`` is left to :mod:`lpm.certify` (the predicted value, a paper's, is kept in
  ``info["predicted_objective"]``, not offered as a bound).

The unregularised model (SELI) has no minimiser: the method returns the max-margin point at the
UF-SVM scale, ``lower_bound`` None, and its residual is the UF-SVM's own: the margin violation
max(0, 1 − min margin) plus the relative gap |½(‖W‖² + ‖H‖²) − ‖Ẑ‖_*| / max(1, ‖Ẑ‖_*) to the
dual value that :func:`lpm.theory.seli` certifies.

Computed in float64 on the CPU whatever the options ask; with ``dtype="float32"`` the point is
rounded to float32 (and shrunk back into its budgets if rounding left them) and judged by the
float32 tolerance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from lpm.classifiers import classifier_matrix
from lpm.constraints import violation
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.gradient import residual as kkt_residual
from lpm.solvers.method import Method, SolveOptions
from lpm.theory import Prediction, predict
from lpm.tolerances import EXACT_RANK_RTOL, default_tol

__all__ = ["METHOD", "realise"]


def realise(
    problem: Problem, prediction: Prediction
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """A point (W, H, b) at dimension d with the Grams and bias of a prediction.

    Parameters
    ----------
    problem : Problem
    prediction : Prediction
        With ``wm_gram`` and ``m_gram`` (and ``w_gram`` for a learnable classifier).

    Returns
    -------
    W : ndarray, shape=[K, d]
    H : ndarray, shape=[N, d]
        Row i is the class mean of y_i.
    b : ndarray, shape=[K]
        The predicted bias, zeros when the problem has none.

    Raises
    ------
    ValueError
        When the prediction does not fix the features (a lower bound) or needs more than d
        dimensions.
    """
    if prediction.wm_gram is None or prediction.m_gram is None:
        raise ValueError(
            f"realise: needs a prediction that fixes the features, got a {prediction.kind!r} "
            "prediction without them"
        )
    K, d = problem.K, problem.dim
    if problem.fixed_classifier:
        W = classifier_matrix(problem)
        M = (np.linalg.pinv(W) @ prediction.wm_gram).T
    elif problem.features == "relu":
        W, M = _realise_orthogonal(prediction, d)
    else:
        if prediction.w_gram is None:
            raise ValueError("realise: needs w_gram for a learnable classifier, got None")
        joint = np.block(
            [[prediction.w_gram, prediction.wm_gram], [prediction.wm_gram.T, prediction.m_gram]]
        )
        eig, V = np.linalg.eigh((joint + joint.T) / 2)
        keep = eig > EXACT_RANK_RTOL * max(float(eig.max(initial=0.0)), 0.0)
        rank = int(keep.sum())
        if rank > d:
            raise ValueError(f"realise: needs dim ≥ {rank} (the optimum's rank), got dim {d}")
        X = np.zeros((2 * K, d))
        X[:, :rank] = V[:, keep] * np.sqrt(eig[keep])
        W, M = X[:K], X[K:]
    H = M[problem.labels]
    b = np.zeros(K) if prediction.bias is None else np.array(prediction.bias, dtype=np.float64)
    return W, H, b


def _realise_orthogonal(
    prediction: Prediction, d: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(W, M) with nonnegative means on distinct coordinates (ReLU features)."""
    m_gram = prediction.m_gram
    K = m_gram.shape[0]
    off = m_gram - np.diag(np.diag(m_gram))
    if np.abs(off).max(initial=0.0) > EXACT_RANK_RTOL * max(float(np.abs(m_gram).max()), 1.0):
        raise ValueError("realise: needs orthogonal class means for ReLU features, got others")
    lengths = np.sqrt(np.clip(np.diag(m_gram), 0.0, None))
    alive = np.flatnonzero(lengths > 0)
    if len(alive) > d:
        raise ValueError(f"realise: needs dim ≥ {len(alive)} (surviving classes), got dim {d}")
    W, M = np.zeros((K, d)), np.zeros((K, d))
    for slot, k in enumerate(alive):
        M[k, slot] = lengths[k]
        W[:, slot] = prediction.wm_gram[:, k] / lengths[k]
    return W, M


def _supports(problem: Problem) -> str | None:
    try:
        prediction = predict(problem)
    except ValueError as exc:
        return str(exc)
    if prediction.kind == "lower_bound":
        return (
            "only a lower bound is known in closed form for this problem "
            f"({prediction.reference}); use the gradient method"
        )
    return None


def _svm_residual(
    problem: Problem, prediction: Prediction, W: NDArray[np.float64], H: NDArray[np.float64]
) -> float:
    """Margin violation plus the relative primal–dual gap of the UF-SVM at (W, H)."""
    Z = H @ W.T
    labels = problem.labels
    true = Z[np.arange(problem.N), labels]
    others = np.where(np.eye(problem.K, dtype=bool)[labels], np.inf, Z)
    margin = float((true - others.min(axis=1)).min())
    value = prediction.extra["svm_value"]
    primal = 0.5 * (float((W * W).sum()) + float((H * H).sum()))
    return max(0.0, 1.0 - margin) + abs(primal - value) / max(1.0, value)


def _solve_one(problem: Problem, options: SolveOptions) -> Solution:
    start = time.perf_counter()
    prediction = predict(problem)
    W, H, b = realise(problem, prediction)
    if options.dtype == "float32":
        W, H, b = (x.astype(np.float32).astype(np.float64) for x in (W, H, b))
        over = violation(problem, W, H)
        if over > 0 and problem.energy is not None and problem.features != "sphere":
            # Rounding pushed the point out of its budgets: shrink it back inside (the budgets
            # are quadratic, so a factor 1/sqrt(1 + v) suffices; 1e-6 more absorbs float32).
            shrink = (1.0 - 1e-6) / math.sqrt(1.0 + over)
            W, H = ((x * shrink).astype(np.float32).astype(np.float64) for x in (W, H))
    tol = options.tol if options.tol is not None else default_tol("theory", options.dtype)
    value = objective(problem, W, H, b if problem.has_bias else None)
    if prediction.kind == "max_margin":
        residual = _svm_residual(problem, prediction, W, H)
        what = (
            "no minimiser exists (the infimum is at infinity); returned the max-margin UF-SVM "
            f"point, of value {prediction.objective:.10g}, whose direction is the limit"
        )
        if not prediction.extra["dual_certificate"]:
            residual = math.inf
            what += "; the dual certificate failed for these counts, so it is not proved"
    else:
        residual = kkt_residual(problem, W, H, b)
        what = "closed-form global optimum"
    # The predicted value is a paper's, not a certificate: lpm.certify attaches the bound.
    infeasible = violation(problem, W, H)
    if infeasible > tol:
        # float32 rounding can push the realised point out of its budgets: not an optimum.
        residual = max(residual, infeasible)
    if residual <= tol:
        status, verdict = "converged", f"residual {residual:.1e} ≤ tol {tol:.1e}"
    else:
        status, verdict = "inaccurate", f"residual {residual:.1e} > tol {tol:.1e}"
    device_note = "" if options.device == "cpu" else " (computed on the CPU)"
    return Solution(
        problem=problem,
        W=W,
        H=H,
        b=b,
        objective=value,
        residual=residual,
        status=status,
        method="theory",
        device="cpu",
        dtype=options.dtype,
        iterations=0,
        seconds=time.perf_counter() - start,
        tol=tol,
        message=f"{what}: {prediction.reference}; {verdict}{device_note}",
        info={
            "kind": prediction.kind,
            "reference": prediction.reference,
            "claim": prediction.claim,
            "predicted_objective": prediction.objective,
            "rank": prediction.rank,
            "violation": infeasible,
        },
    )


def _run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    return [_solve_one(p, options) for p in problems]


METHOD = Method(
    name="theory",
    run=_run,
    supports=_supports,
    description=(
        "closed-form optimum of the papers (exact; certificate: exactly zero gap where the "
        "theorem proves global optimality)"
    ),
)
