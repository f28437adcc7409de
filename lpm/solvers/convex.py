"""Convex reformulations solved by cvxpy (Clarabel, SCS as a fallback): ``--method convex``.

Every program is posed on the class means (Jensen: docs/theory.md §1.1, and :mod:`lpm.certify`), so
its size depends on K (and d for a fixed classifier), never on N. Each returns the same
:class:`~lpm.solution.Solution` as every other method: the factors recovered at the problem's
dimension d, per-sample features equal to their class means, and the objective recomputed with
:func:`lpm.objective.objective` at the returned point.

Programs
--------
* ``gram`` — learnable classifier, CE or MSE, energies or weight decay: X ⪰ 0 is the 2K × 2K Gram
  matrix of [h̄_1..h̄_K, w_1..w_K] (Fang et al.'s SDP, docs/theory.md §1.3),

      min Σ_k π_k ℓ(X_{k, K+·} + b, k)  [+ (λ_H/2) Σ_k n_k X_kk + (λ_W/2) Σ_j X_{K+j,K+j}]
      s.t. Σ_k X_kk ≤ K E_H (class-average) or X_kk ≤ E_H (per-sample; r² for spheres),
           Σ_j X_{K+j,K+j} ≤ K E_W,

  exact when an optimal X has rank ≤ d (rank ≤ K − 1 for free features). Spherical features are
  relaxed to balls. ReLU features add X_HH ≥ 0 elementwise: the doubly-nonnegative relaxation
  (exact for K ≤ 4, where doubly-nonnegative = completely positive, and d large enough; a lower
  bound beyond), whose dual multiplier is handed to the certificate.
* ``nuclear`` — learnable classifier, weight decay, free features: with Y = D^{1/2} Z
  (Z[k, j] = h̄_kᵀ w_j, D = diag(n)),

      min_Y Σ_k π_k ℓ(n_k^{-1/2} y_k + b, k) + sqrt(λ_W λ_H) ‖Y‖_*  [+ (λ_b/2)‖b‖²],

  the same program with the factorisation minimised out (docs/theory.md §5.2); exact when
  rank Y ≤ d (always when d ≥ K).
* ``fixed`` — fixed classifier (ETF, random), CE, MSE or DR, energies or decay (or spheres): the
  loss is convex in the class means, so the program is in (h̄, b) directly; spheres relaxed to
  balls.
* ``uf-svm`` — the unregularised model with a learnable classifier (CE, no bias, free
  features): the max-margin program whose solution is SELI (docs/theory.md §4),
  min ½(Σ_k n_k X_kk + Σ_j X_{K+j,K+j}) s.t. X_{k,K+k} − X_{k,K+c} ≥ 1 (c ≠ k), X ⪰ 0.
  Only directions have a limit; the returned (W, H) is the SVM solution (its directions are the
  limit of gradient descent), its ``objective`` is the cross-entropy at that point, as for every
  method, and ``info`` carries ``svm_value`` (= ‖Ẑ‖_*), a certified ``svm_lower_bound`` and
  ``svm_gap``, on which ``residual`` is judged.
* ``fixed-svm`` — unregularised, fixed classifier, CE, free features, no bias: per class,
  min ½ n_k ‖h̄_k‖² s.t. (w_k − w_c)ᵀ h̄_k ≥ 1, the direction gradient descent converges to.

Solvers
-------
Clarabel (interior point) at gap and feasibility tolerances SOLVER_TOL = 1e-10; when it stalls
short of them, Clarabel at its default 1e-8; then SCS at 1e-9. ``info["solver"]`` says which
answered. When the Gram matrix found has rank above d — an interior-point method returns a
maximal-rank point of a non-unique optimal face — the program is solved once more as
min tr X over the face {objective ≤ value + 1e-9·max(1, |value|)} (trace: the convex surrogate of
rank), and the lower-rank point is kept (``info["first_gram_rank"]`` records the first rank).

Status, residual, bound
-----------------------
cvxpy's status is mapped: ``optimal`` → ``"converged"`` only when the residual is below the
tolerance (else ``"inaccurate"``), ``optimal_inaccurate`` → ``"inaccurate"``, ``infeasible`` →
``"infeasible"``, anything else → ``"failed"``. The residual is the larger of the relative
constraint violation at the returned point and |f(returned point) − program value| / max(1, |f|):
it measures both the solver's accuracy and the loss of the recovery (a Gram of rank above d
cannot be factorised at dimension d, and shows here). The program's value is reported as
``info["program_value"]``; it is a lower bound only up to the solver's tolerance, so it is never
put in ``lower_bound``: :func:`lpm.solve` attaches the rigorous certificate of
:mod:`lpm.certify` at the returned point instead, from the point and from this program's dual
variables (``Solution.dual``, a :class:`lpm.certificate.DualPoint`), whichever bound is stronger.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from lpm.certificate import DualPoint, rounding_allowance
from lpm.classifiers import classifier_matrix
from lpm.constraints import feasible_means, violation
from lpm.gram import gram_factor, numerical_rank
from lpm.objective import constant_penalty, objective
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.method import Method, SolveOptions
from lpm.tolerances import default_tol

if TYPE_CHECKING:
    import cvxpy as cp
else:

    class _Cvxpy:
        """cvxpy, imported on first use: it takes about 2 s, which every `lpm` command (and
        `import lpm`) would otherwise pay whether or not it solves a convex program."""

        def __getattr__(self, name: str) -> Any:
            import cvxpy

            return getattr(cvxpy, name)

    cp = _Cvxpy()

__all__ = [
    "GRAM_RANK_RTOL",
    "METHOD",
    "SOLVER_TOL",
    "ConvexResult",
    "fixed_svm_lower_bound",
    "program_kind",
    "solve_convex",
    "supports",
    "svm_lower_bound",
]

#: An eigenvalue of a recovered Gram matrix counts towards its rank when it exceeds this
#: fraction of the largest one (interior-point solutions carry "zero" eigenvalues of ~1e-9).
GRAM_RANK_RTOL = 1e-6

#: Clarabel's stopping tolerances (gap and feasibility): two decades below the default 1e-8, so
#: that the recovered point's certified gap lands near 1e-9 relative.
SOLVER_TOL = 1e-10

#: SCS's tolerance (eps_abs = eps_rel) when it runs as the fallback: on the class-mean programs it
#: reaches 1e-9 in well under a second for K ≤ 10, and its values then agree with Clarabel's to
#: ~1e-10; at 1e-7 they can sit 2e-8 below the optimum.
SCS_TOL = 1e-9

#: Slack of the optimal face {objective ≤ value + ε·max(1, |value|)} over which a Gram solution of
#: too high a rank is re-solved for a lower one: ten times the solver's tolerance.
FACE_SLACK = 1e-9

#: Alternating-projection steps used to rotate a ReLU Gram factor into the nonnegative orthant.
_RELU_ROTATION_STEPS = 500


@dataclass(frozen=True)
class ConvexResult:
    """A convex program's outcome, before it becomes a :class:`Solution`.

    Attributes
    ----------
    W : ndarray, shape=[K, d]
    M : ndarray, shape=[K, d]
        Class means.
    b : ndarray, shape=[K]
    value : float
        The program's optimal value as the solver reports it (nan when it failed).
    cvx_status : str
        cvxpy's status string.
    info : dict
        Program name, solver, Gram rank, multipliers, ...
    dual : DualPoint or None
        The solver's dual variables, for the certificate (None when it has none).
    """

    W: NDArray[np.float64]
    M: NDArray[np.float64]
    b: NDArray[np.float64]
    value: float
    cvx_status: str
    info: dict[str, Any]
    dual: DualPoint | None = None


# ------------------------------------------------------------------------------------ support
def program_kind(problem: Problem) -> str:
    """The program that poses ``problem``: ``"gram"``, ``"nuclear"``, ``"fixed"``, ``"uf-svm"``
    or ``"fixed-svm"``; raises ValueError (one line, with what is allowed) when none does."""
    reason = supports(problem)
    if reason is not None:
        raise ValueError(f"no convex program for this problem: {reason}")
    if problem.regime == "unregularised":
        if problem.fixed_classifier:
            return "fixed" if problem.features == "sphere" else "fixed-svm"
        return "uf-svm"
    if problem.fixed_classifier:
        return "fixed"
    if problem.regime == "decay" and problem.features == "free":
        return "nuclear"
    return "gram"


def supports(problem: Problem) -> str | None:
    """None when a convex program poses the problem, else the reason it does not."""
    if problem.regime != "unregularised":
        return None
    if problem.fixed_classifier:
        if problem.features == "sphere":
            return None
        if problem.loss == "ce" and problem.features == "free" and not problem.has_bias:
            return None
        return (
            "the unregularised model with a fixed classifier has a convex program only for "
            "spherical features, or for CE with free features and no bias (the max-margin "
            "direction); add --energy or --decay"
        )
    if problem.loss == "ce" and problem.features == "free" and not problem.has_bias:
        return None
    return (
        "the unregularised model with a learnable classifier has a convex program (the UF-SVM "
        "of SELI) only for CE with free features and no bias; add --energy or --decay"
    )


# ------------------------------------------------------------------------------------ programs
def _weights(problem: Problem) -> NDArray[np.float64]:
    return np.asarray(problem.counts, dtype=np.float64) / problem.N


def _logits(
    problem: Problem, Z: cp.Expression
) -> tuple[cp.Variable, cp.Constraint, cp.Variable | None]:
    """A logit variable L tied to Z (+ 1bᵀ) by an equality, whose dual is −∂F/∂L: the logit
    gradient the certificate of :mod:`lpm.certify` starts from."""
    K = problem.K
    L = cp.Variable((K, K))
    if not problem.has_bias:
        return L, L == Z, None
    b = cp.Variable(K)
    return L, L == Z + np.ones((K, 1)) @ cp.reshape(b, (1, K), order="C"), b


def _loss(problem: Problem, logits: cp.Expression) -> cp.Expression:
    """Σ_k π_k ℓ(z_k, k) for logits of shape (K, K), row k the logits of class k's mean."""
    pi, K = _weights(problem), problem.K
    if problem.loss == "ce":
        return pi @ cp.log_sum_exp(logits, axis=1) - pi @ cp.diag(logits)
    if problem.loss == "mse":
        weights = np.repeat(pi[:, None], K, 1)
        return 0.5 * cp.sum(cp.multiply(weights, cp.square(logits - np.eye(K))))
    t = problem.dr_target
    return 0.5 * pi @ cp.square(cp.diag(logits) - t)


def _bias_penalty(problem: Problem, b: cp.Variable | None) -> cp.Expression | float:
    if b is not None and problem.bias == "penalised":
        return 0.5 * problem.decay[2] * cp.sum_squares(b)
    return 0.0


def _feature_radius2(problem: Problem) -> float:
    return problem.sphere_radius**2 if problem.features == "sphere" else problem.energy[1]


def _gram_program(problem: Problem) -> tuple[cp.Problem, dict[str, Any]]:
    K = problem.K
    counts = np.asarray(problem.counts, dtype=np.float64)
    X = cp.Variable((2 * K, 2 * K), PSD=True)
    L, link, b = _logits(problem, X[:K, K:])
    obj = _loss(problem, L) + _bias_penalty(problem, b) + constant_penalty(problem)
    cons: list[cp.Constraint] = [link]
    handles: dict[str, Any] = {"X": X, "b": b, "link": link}
    diag = cp.diag(X)
    if problem.features == "sphere" or (problem.energy and problem.budget == "per-sample"):
        handles["feature"] = diag[:K] <= _feature_radius2(problem)
    elif problem.energy is not None:
        handles["feature"] = cp.sum(diag[:K]) <= K * problem.energy[1]
    else:
        obj = obj + 0.5 * problem.decay[1] * (counts @ diag[:K])
    if problem.energy is not None:
        handles["classifier"] = cp.sum(diag[K:]) <= K * problem.energy[0]
    else:
        obj = obj + 0.5 * problem.decay[0] * cp.sum(diag[K:])
    if problem.features == "relu":
        handles["nonneg"] = X[:K, :K] >= 0
    cons += [handles[k] for k in ("feature", "classifier", "nonneg") if k in handles]
    return cp.Problem(cp.Minimize(obj), cons), handles


def _nuclear_program(problem: Problem) -> tuple[cp.Problem, dict[str, Any]]:
    K = problem.K
    lam_W, lam_H = problem.decay[:2]
    Y = cp.Variable((K, K))
    scale = 1.0 / np.sqrt(np.asarray(problem.counts, dtype=np.float64))
    L, link, b = _logits(problem, cp.multiply(np.repeat(scale[:, None], K, 1), Y))
    obj = _loss(problem, L) + math.sqrt(lam_W * lam_H) * cp.normNuc(Y)
    obj = obj + _bias_penalty(problem, b)
    return cp.Problem(cp.Minimize(obj), [link]), {"Y": Y, "b": b, "link": link}


def _fixed_program(problem: Problem) -> tuple[cp.Problem, dict[str, Any]]:
    K, d = problem.K, problem.dim
    W = classifier_matrix(problem)
    counts = np.asarray(problem.counts, dtype=np.float64)
    M = cp.Variable((K, d), nonneg=problem.features == "relu")
    L, link, b = _logits(problem, M @ W.T)
    obj = _loss(problem, L) + _bias_penalty(problem, b) + constant_penalty(problem)
    cons: list[cp.Constraint] = [link]
    if problem.features == "sphere" or (problem.energy and problem.budget == "per-sample"):
        cons.append(cp.norm(M, 2, axis=1) <= math.sqrt(_feature_radius2(problem)))
    elif problem.energy is not None:
        cons.append(cp.sum_squares(M) <= K * problem.energy[1])
    else:
        obj = obj + 0.5 * problem.decay[1] * cp.sum(cp.multiply(counts[:, None], cp.square(M)))
    return cp.Problem(cp.Minimize(obj), cons), {"M": M, "b": b, "W": W, "link": link}


def _margins(Z: cp.Expression, K: int) -> cp.Expression:
    """Z_kk − Z_kc for every (k, c), shape (K, K) (zero on the diagonal)."""
    return cp.reshape(cp.diag(Z), (K, 1), order="C") @ np.ones((1, K)) - Z


def _svm_program(problem: Problem) -> tuple[cp.Problem, dict[str, Any]]:
    K = problem.K
    counts = np.asarray(problem.counts, dtype=np.float64)
    X = cp.Variable((2 * K, 2 * K), PSD=True)
    diag = cp.diag(X)
    margin = _margins(X[:K, K:], K) >= 1 - np.eye(K)
    obj = 0.5 * (counts @ diag[:K] + cp.sum(diag[K:]))
    return cp.Problem(cp.Minimize(obj), [margin]), {"X": X, "margin": margin}


def _fixed_svm_program(problem: Problem) -> tuple[cp.Problem, dict[str, Any]]:
    K, d = problem.K, problem.dim
    W = classifier_matrix(problem)
    counts = np.asarray(problem.counts, dtype=np.float64)
    M = cp.Variable((K, d))
    margin = _margins(M @ W.T, K) >= 1 - np.eye(K)
    obj = 0.5 * cp.sum(cp.multiply(counts[:, None], cp.square(M)))
    return cp.Problem(cp.Minimize(obj), [margin]), {"M": M, "margin": margin, "W": W}


_PROGRAMS = {
    "gram": _gram_program,
    "nuclear": _nuclear_program,
    "fixed": _fixed_program,
    "uf-svm": _svm_program,
    "fixed-svm": _fixed_svm_program,
}


def _solve_with(prob: cp.Problem, solver: str, max_iter: int | None, tight: bool = True) -> str:
    """One solver's status (``"solver_error: ..."`` when it raised)."""
    opts: dict[str, Any] = {}
    if solver == "CLARABEL":
        if tight:
            opts = {
                "tol_gap_abs": SOLVER_TOL,
                "tol_gap_rel": SOLVER_TOL,
                "tol_feas": SOLVER_TOL,
                "tol_ktratio": 1e-8,
            }
        if max_iter is not None:
            opts["max_iter"] = max_iter
    else:
        opts = {"eps_abs": SCS_TOL, "eps_rel": SCS_TOL}
        if max_iter is not None:
            opts["max_iters"] = max_iter
    try:
        with warnings.catch_warnings():
            # cvxpy warns on an inaccurate solve; the status says so and is mapped by the caller.
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=solver, **opts)
    except cp.SolverError as err:
        return f"solver_error: {err}".splitlines()[0]
    return str(prob.status)


def _run_solver(
    build: Callable[[], tuple[cp.Problem, dict[str, Any]]],
    max_iter: int | None,
    solver: str | None,
) -> tuple[str, str, cp.Problem, dict[str, Any]]:
    """Build and solve a program with ``solver``; or (None) with Clarabel at SOLVER_TOL, then at
    its default tolerances (1e-8) when it stalls short of the tight ones, then with SCS. Each
    attempt builds the program afresh (cvxpy keeps a solved problem's solver settings).

    Returns the status, a description of the solvers that ran, and the program and handles
    whose variables hold the values that status describes."""
    if solver is not None:
        prob, handles = build()
        return _solve_with(prob, solver, max_iter), solver, prob, handles
    prob, handles = build()
    tight = _solve_with(prob, "CLARABEL", max_iter)
    if tight in (cp.OPTIMAL, cp.INFEASIBLE, cp.UNBOUNDED):
        return tight, "CLARABEL", prob, handles
    prob, handles = build()
    default = _solve_with(prob, "CLARABEL", max_iter, tight=False)
    if default == cp.OPTIMAL:
        used = f"CLARABEL (default tolerances, after {tight} at {SOLVER_TOL:g})"
        return default, used, prob, handles
    prob, handles = build()
    scs = _solve_with(prob, "SCS", max_iter)
    return scs, f"SCS (after CLARABEL: {tight}, then {default})", prob, handles


def _low_rank_face(
    problem: Problem, value: float, max_iter: int | None
) -> tuple[cp.Variable, cp.Variable | None] | None:
    """Re-solve a Gram program as min tr X over its optimal face {objective ≤ value + ε}: an
    interior-point method returns a solution of maximal rank when the optimum is not unique,
    and the trace is the standard convex surrogate of rank. Returns (X, b), or None when this
    second solve is not optimal."""
    slack = FACE_SLACK * max(1.0, abs(value))

    def build():
        prob, handles = _gram_program(problem)
        cons = [*prob.constraints, prob.objective.expr <= value + slack]
        return cp.Problem(cp.Minimize(cp.trace(handles["X"])), cons), handles

    status, _, _, handles = _run_solver(build, max_iter, None)
    if status != cp.OPTIMAL:
        return None
    return handles["X"], handles["b"]


# ------------------------------------------------------------------------------------ recovery
def _rotate_nonnegative(
    A: NDArray[np.float64], B: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """An orthogonal Q with A Q ≥ 0 (as nearly as alternating projections find), applied to A and
    B: returns (A Q clipped at 0, B Q). Rows of A that are mutually orthogonal give Q exactly."""
    d = A.shape[1]
    norms = np.linalg.norm(A, axis=1)
    big = norms > GRAM_RANK_RTOL * max(float(norms.max(initial=0.0)), 1e-300)
    rows = A[big] / norms[big, None]
    if rows.shape[0] <= d and np.allclose(rows @ rows.T, np.eye(rows.shape[0]), atol=1e-6):
        # Complete the orthonormal rows to a basis: Q's first columns are the rows themselves.
        full, _ = np.linalg.qr(np.vstack([rows, np.eye(d)]).T)
        full[:, : rows.shape[0]] = rows.T
        Q = full
    else:
        Q = np.eye(d)
        for _ in range(_RELU_ROTATION_STEPS):
            target = np.maximum(A @ Q, 0.0)
            u, _, vt = np.linalg.svd(A.T @ target)
            Q = u @ vt
    return np.maximum(A @ Q, 0.0), B @ Q


def _recover(problem: Problem, kind: str, handles: dict[str, Any]) -> tuple:
    """(W, M, b, info, dual) at dimension d from the solved program's variables."""
    K, d = problem.K, problem.dim
    info: dict[str, Any] = {}
    b = np.zeros(K)
    if handles.get("b") is not None and handles["b"].value is not None:
        b = np.asarray(handles["b"].value, dtype=np.float64).reshape(K)
    if kind in ("gram", "uf-svm"):
        X = np.asarray(handles["X"].value, dtype=np.float64)
        V, rank, dropped = gram_factor(X, d, GRAM_RANK_RTOL)
        M, W = V[:K], V[K:]
        if problem.features == "relu":
            M, W = _rotate_nonnegative(M, W)
        info.update(gram_rank=rank, rank_fits=rank <= d, dropped_trace=dropped)
    elif kind == "nuclear":
        Y = np.asarray(handles["Y"].value, dtype=np.float64)
        lam_W, lam_H = problem.decay[:2]
        u, s, vt = np.linalg.svd(Y)
        rank = numerical_rank(s, GRAM_RANK_RTOL)
        keep = min(d, K)
        root = np.sqrt(s[:keep])
        M = np.zeros((K, d))
        W = np.zeros((K, d))
        sqrt_n = np.sqrt(np.asarray(problem.counts, dtype=np.float64))
        M[:, :keep] = (lam_W / lam_H) ** 0.25 * (u[:, :keep] * root) / sqrt_n[:, None]
        W[:, :keep] = (lam_H / lam_W) ** 0.25 * (vt[:keep].T * root)
        dropped = float(s[keep:].sum() / s.sum()) if s.sum() > 0 else 0.0
        info.update(gram_rank=rank, rank_fits=rank <= d, dropped_trace=dropped)
    else:  # fixed, fixed-svm
        M = np.asarray(handles["M"].value, dtype=np.float64)
        W = handles["W"]
        if problem.features == "relu":
            M = np.maximum(M, 0.0)
    dual = _dual_point(problem, handles) if "link" in handles else None
    if kind in ("uf-svm", "fixed-svm"):
        dual = handles["margin"].dual_value
        info["margin_multipliers"] = None if dual is None else np.asarray(dual, np.float64)
    W, M = feasible_means(problem, W, M)
    return W, M, b, info, dual


def _dual_point(problem: Problem, handles: dict[str, Any]) -> DualPoint | None:
    """The solver's dual variables, or None."""
    link = handles["link"].dual_value
    if link is None:
        return None

    def value(name):
        con = handles.get(name)
        if con is None or con.dual_value is None:
            return None
        return np.maximum(np.asarray(con.dual_value, dtype=np.float64), 0.0)

    beta = value("classifier")
    return DualPoint(
        logit_gradient=-np.asarray(link, dtype=np.float64),
        feature=value("feature"),
        classifier=None if beta is None else float(np.ravel(beta)[0]),
        nonneg=value("nonneg"),
    )


def _svm_summary(problem: Problem, kind: str, W, M, info: dict[str, Any]) -> tuple:
    """Scale the SVM point to exact feasibility (every margin ≥ 1) and bound its value.

    Returns (W, M, primal value, certified lower bound)."""
    Z = M @ W.T
    margins = np.diag(Z)[:, None] - Z
    np.fill_diagonal(margins, np.inf)
    least = float(margins.min())
    counts = np.asarray(problem.counts, dtype=np.float64)
    if not least > 0:
        return W, M, math.inf, -math.inf
    multipliers = info.get("margin_multipliers")
    if multipliers is None:
        return W, M, math.inf, -math.inf
    if kind == "uf-svm":
        # Scaling W and M by 1/sqrt(least) scales every margin by 1/least.
        W, M = W / math.sqrt(least), M / math.sqrt(least)
        primal = 0.5 * (float((W * W).sum()) + float(counts @ (M * M).sum(axis=1)))
        bound = svm_lower_bound(problem, multipliers)
    else:
        M = M / least
        primal = 0.5 * float(counts @ (M * M).sum(axis=1))
        bound = fixed_svm_lower_bound(problem, multipliers)
    return W, M, primal, bound


# ------------------------------------------------------------------------- max-margin bounds
def svm_lower_bound(problem: Problem, multipliers: NDArray[np.float64]) -> float:
    """Certified lower bound on the UF-SVM value of SELI (docs/theory.md §4) from multipliers.

    The class-mean UF-SVM min ⟨C, X⟩ s.t. X_{k,K+k} − X_{k,K+c} ≥ 1 (c ≠ k), X ⪰ 0, with
    C = ½ diag(n_1..n_K, 1..1), is equivalent to the per-sample one (Jensen). Its dual is
    max Σ μ_kc s.t. C − Σ μ_kc A_kc ⪰ 0, μ ≥ 0. Any μ ≥ 0, scaled by t = min(1, 1/s) with
    s = ‖C_H^{-1/2} (R/2) C_W^{-1/2}‖_op (R_kk = Σ_c μ_kc, R_kc = −μ_kc), is dual feasible, so

        value ≥ t · Σ μ_kc − (rounding allowance).

    Parameters
    ----------
    multipliers : ndarray, shape=[K, K]
        μ_kc ≥ 0 (the diagonal is ignored), e.g. the duals of the margin constraints.
    """
    K = problem.K
    mu = np.maximum(np.asarray(multipliers, dtype=np.float64), 0.0)
    np.fill_diagonal(mu, 0.0)
    R = -mu.copy()
    np.fill_diagonal(R, mu.sum(axis=1))
    counts = np.asarray(problem.counts, dtype=np.float64)
    scaled = (R / 2) / np.sqrt(0.5 * counts)[:, None] / math.sqrt(0.5)
    s = float(np.linalg.norm(scaled, 2))
    t = 1.0 if s <= 1.0 else 1.0 / s
    total = float(mu.sum())
    return t * total - rounding_allowance(2 * K, total, total * s)


def fixed_svm_lower_bound(problem: Problem, multipliers: NDArray[np.float64]) -> float:
    """Certified lower bound on the max-margin value of a fixed classifier from multipliers.

    The program min Σ_k ½ n_k ‖h̄_k‖² s.t. (w_k − w_c)ᵀ h̄_k ≥ 1 (c ≠ k) has, for any μ ≥ 0, the
    Lagrangian dual value

        Σ_k [ Σ_c μ_kc − ‖Σ_c μ_kc (w_k − w_c)‖² / (2 n_k) ],

    a lower bound by weak duality (minus the rounding allowance).

    Parameters
    ----------
    multipliers : ndarray, shape=[K, K]
        μ_kc ≥ 0 (the diagonal is ignored).
    """
    W = classifier_matrix(problem)
    mu = np.maximum(np.asarray(multipliers, dtype=np.float64), 0.0)
    np.fill_diagonal(mu, 0.0)
    counts = np.asarray(problem.counts, dtype=np.float64)
    # Σ_c μ_kc (w_k − w_c) = (Σ_c μ_kc) w_k − Σ_c μ_kc w_c
    direction = mu.sum(axis=1)[:, None] * W - mu @ W
    quad = float(((direction**2).sum(axis=1) / (2.0 * counts)).sum())
    total = float(mu.sum())
    return total - quad - rounding_allowance(max(problem.K, problem.dim), total, quad)


# ------------------------------------------------------------------------------------ solving
def solve_convex(
    problem: Problem, *, max_iter: int | None = None, solver: str | None = None
) -> ConvexResult:
    """Pose ``problem`` as its convex program, solve it, and recover (W, h̄, b) at dimension d.

    Parameters
    ----------
    problem : Problem
        Any variant :func:`supports` accepts.
    max_iter : int, optional
        Iteration cap handed to the solver.
    solver : "CLARABEL", "SCS" or None
        None: Clarabel at SOLVER_TOL, then at its default tolerances, then SCS (module
        docstring, "Solvers").

    Returns
    -------
    ConvexResult

    Examples
    --------
    >>> r = solve_convex(Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0)))
    >>> r.cvx_status, round(r.value, 7), r.info["gram_rank"]     # docs/theory.md §1.4
    ('optimal', 0.3390531, 2)
    """
    if solver not in (None, "CLARABEL", "SCS"):
        raise ValueError(f"solver {solver!r} is not known; allowed: CLARABEL, SCS (or None)")
    kind = program_kind(problem)
    status, used, prob, handles = _run_solver(lambda: _PROGRAMS[kind](problem), max_iter, solver)
    info: dict[str, Any] = {"program": kind, "solver": used, "cvx_status": status}
    stats = getattr(prob, "solver_stats", None)
    info["solver_iterations"] = int(getattr(stats, "num_iters", 0) or 0)
    value = float(prob.value) if prob.value is not None and np.isfinite(prob.value) else math.nan
    K, d = problem.K, problem.dim
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return ConvexResult(np.zeros((K, d)), np.zeros((K, d)), np.zeros(K), value, status, info)
    W, M, b, more, dual = _recover(problem, kind, handles)
    if kind == "gram" and not more["rank_fits"] and math.isfinite(value):
        face = _low_rank_face(problem, value, max_iter)
        if face is not None:
            # The point from the face, the dual (the certificate's) from the first solve.
            W2, M2, b2, more2, _ = _recover(problem, kind, {**handles, "X": face[0], "b": face[1]})
            more2["first_gram_rank"] = more["gram_rank"]
            if more2["gram_rank"] < more["gram_rank"]:
                W, M, b, more = W2, M2, b2, more2
    info.update(more)
    return ConvexResult(W, M, b, value, status, info, dual)


def _to_solution(problem: Problem, result: ConvexResult, tol: float, seconds: float) -> Solution:
    kind = result.info["program"]
    info = dict(result.info)
    W, M, b = result.W, result.M, result.b
    if problem.fixed_classifier:
        W = classifier_matrix(problem)
    status_map = {cp.INFEASIBLE: "infeasible", cp.INFEASIBLE_INACCURATE: "infeasible"}
    ok = result.cvx_status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
    if ok and kind in ("uf-svm", "fixed-svm"):
        W, M, primal, bound = _svm_summary(problem, kind, W, M, info)
        info.update(svm_value=primal, svm_lower_bound=bound, svm_gap=primal - bound)
    H = M[problem.labels]
    bias = b if problem.has_bias else None
    f = objective(problem, W, H, bias)
    info["program_value"] = result.value
    if not ok:
        status = status_map.get(result.cvx_status, "failed")
        message = f"cvxpy status {result.cvx_status!r} ({info['solver']})"
        residual = math.inf
    else:
        viol = violation(problem, W, H)
        if kind in ("uf-svm", "fixed-svm"):
            primal, bound = info["svm_value"], info["svm_lower_bound"]
            residual = max(viol, (primal - bound) / max(1.0, abs(primal)))
            name = "UF-SVM" if kind == "uf-svm" else "per-class max-margin"
            what = (
                f"{name} value {primal:.10g}, certified gap {primal - bound:.2e}; "
                "the unregularised objective has its infimum at infinity: W, H are the "
                "max-margin solution, whose directions are the limit, and 'objective' is the "
                "loss there"
            )
        else:
            residual = max(viol, abs(f - result.value) / max(1.0, abs(f)))
            what = f"program value {result.value:.12g}, recovered objective {f:.12g}"
            if info.get("rank_fits") is False:
                what += f"; Gram rank {info['gram_rank']} > d = {problem.dim}: not exact at d"
            if problem.features == "sphere" and residual > tol:
                what += "; spheres are relaxed to balls, and an optimal mean lies inside its ball"
        if result.cvx_status == cp.OPTIMAL and residual <= tol:
            status = "converged"
        else:
            status = "inaccurate"
        message = f"{kind} program by {info['solver']}: {what}"
    return Solution(
        problem=problem,
        W=W,
        H=H,
        b=b if problem.has_bias else np.zeros(problem.K),
        objective=f,
        residual=float(residual),
        status=status,
        method="convex",
        device="cpu",
        dtype="float64",
        iterations=info.get("solver_iterations", 0),
        seconds=seconds,
        tol=tol,
        message=message,
        info=info,
        dual=result.dual,
    )


def _run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    """Solve each problem's convex program (cvxpy runs on the CPU in float64 whatever the
    options say; the Solution records that)."""
    tol = options.tol if options.tol is not None else default_tol("convex", "float64")
    out = []
    for p in problems:
        start = time.perf_counter()
        result = solve_convex(p, max_iter=options.max_iter)
        out.append(_to_solution(p, result, tol, time.perf_counter() - start))
    return out


METHOD = Method(
    name="convex",
    run=_run,
    supports=supports,
    description=(
        "convex reformulation by cvxpy (Clarabel, SCS fallback): the layer-peeled Gram SDP, "
        "the nuclear-norm UFM, fixed-classifier programs in the class means, the UF-SVM of SELI; "
        "ReLU features with a learnable classifier by the doubly-nonnegative relaxation"
    ),
)
