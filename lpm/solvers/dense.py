"""A NumPy engine for one small reduced problem under weight decay: exact Hessian, Newton.

The reduced problem of :mod:`lpm.solvers.reduced` under weight decay, with free features, is
smooth and unconstrained (with ReLU features, bound-constrained: U ≥ 0) in the flat variables
x = [V (K·d) if the classifier is learnable,
U = diag(√n) M (K·d), b (K) if a bias]:

    f(x) = Σ_k π_k ℓ(z_k, k) + (λ_W/2)‖W‖² + (λ_H/2)‖U‖² + (λ_b/2)‖b‖²,
    z_k = W m_k + b,   m_k = u_k/√n_k,   π_k = n_k/N,

(W = V, or the fixed classifier, whose constant penalty stays in f; λ_b is 0 unless the bias
is penalised). The loss is CE or MSE: dot-regression's target needs energies, so it never meets
weight decay. For K up to a few tens and d alike, x has a few hundred numbers, one evaluation
costs microseconds of arithmetic, and the batched torch L-BFGS spends nearly all its time in
per-call overhead. Here f, ∇f and the exact Hessian are formed in NumPy:

* the gradient: with G_k = π_k ∇ℓ(z_k) (the rows of G, K × K), ∂f/∂W = GᵀM + λ_W W,
  ∂f/∂U = diag(1/√n) G W + λ_H U and ∂f/∂b = Σ_k G_k + λ_b b;
* the Hessian: the Gauss–Newton part Σ_k J_kᵀ S_k J_k, J_k the Jacobian of z_k in x and
  S_k = π_k ∇²ℓ(z_k) (CE: π_k (diag p_k − p_k p_kᵀ), p_k = softmax z_k; MSE: π_k I), plus
  the second-order term of the bilinear logits, ∂²(G_k · z_k)/∂w_j∂u_k =
  G_kj I_d/√n_k, plus the decays. J_k is sparse (z_k depends on W, u_k and b only), so every
  block is one einsum over the classes.

The solve is a quasi-Newton run to a loose tolerance (SciPy's L-BFGS-B) followed by a
regularised Newton polish (Levenberg–Marquardt in the sense of Yamashita and Fukushima, 2001):
the step solves (H + μI) p = −∇f by Cholesky with μ = c‖∇f‖ (c = 0.1). The factorisation
W Mᵀ is invariant under (W, M) → (WQ, MQ) for orthogonal Q, so H is singular at every
optimum (d(d−1)/2 null directions) and the plain Newton system is not solvable; μ ∝ ‖∇f‖
vanishes at the optimum fast enough to keep the convergence quadratic under the local error
bound that such a manifold of minima satisfies. Where H + μI is not positive definite (a saddle
region, or just off the manifold of optima), μ is raised until the factorisation succeeds.
Steps are accepted by Armijo's test (with a round-off slack: near the optimum the decrease of f
is below f's resolution). ReLU features keep U ≥ 0 as L-BFGS-B's bounds, then by Bertsekas'
projected Newton method: the coordinates at the bound whose gradient points outward take a
gradient step, the others the Newton step of their block of H, and the step is projected.

The stopping measure is the residual of :func:`lpm.solvers.reduced.reduced_residual`, which for
this problem (no budget) is sqrt(N‖∂f/∂U‖² + ‖∂f/∂W‖² + ‖∂f/∂b‖²) / max(1, |f|) with free
features, and the projected gradient mapping of the samples with ReLU features (:func:`residual`).
The caller (:func:`lpm.solvers.reduced.solve_reduced`) evaluates the final point again in
torch, which decides the status.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy.optimize import Bounds, minimize
from threadpoolctl import ThreadpoolController

from lpm.classifiers import classifier_matrix
from lpm.problem import Problem
from lpm.solvers.lbfgs import CONVERGED, INACCURATE, MAX_ITER, TIME_LIMIT

__all__ = [
    "DENSE_MAX_VARIABLES",
    "DenseProblem",
    "DenseResult",
    "applies",
    "blas_threadpools",
    "class_losses",
    "hessian",
    "residual",
    "solve_dense",
    "value_and_grad",
]

#: Largest number of reduced variables n (2Kd + K) solved by this engine: the Hessian is n × n
#: and its Cholesky factorisation costs n³/3 flops. Measured on long tails (ratio 10, λ = 1e-3,
#: one thread of a shared two-core machine), this engine against the batched torch L-BFGS:
#: n = 200 4 ms against 38 ms, n = 800 23 ms against 53 ms, n = 1152 43 ms against 62 ms,
#: n = 1800 (K = d = 30) slower.
DENSE_MAX_VARIABLES = 1200
Array = NDArray[np.float64]


def applies(problem: Problem, device: str, dtype: str) -> bool:
    """Whether :func:`solve_dense` solves ``problem``'s reduced problem: CPU, float64, weight
    decay without budgets, free or ReLU features, and at most :data:`DENSE_MAX_VARIABLES`
    variables."""
    return (
        str(device) == "cpu"
        and dtype == "float64"
        and problem.decay is not None
        and problem.energy is None
        and problem.features in ("free", "relu")
        and problem.loss in ("ce", "mse")
        and DenseProblem.size_of(problem) <= DENSE_MAX_VARIABLES
    )


@dataclass(frozen=True)
class DenseProblem:
    """The numbers of one reduced problem under weight decay (see the module docstring)."""

    K: int
    d: int
    loss: str
    learnable: bool
    bias: bool
    weights: Array  # π_k = n_k/N, shape=[K]
    scale: Array  # 1/√n_k, shape=[K]
    N: float
    lam_W: float
    lam_H: float
    lam_b: float
    W_fixed: Array | None
    nonneg: bool = False  # ReLU features: U ≥ 0

    @classmethod
    def of(cls, problem: Problem) -> DenseProblem:
        counts = np.asarray(problem.counts, dtype=np.float64)
        lam_W, lam_H, lam_b = problem.decay
        return cls(
            K=problem.K,
            d=problem.dim,
            loss=problem.loss,
            learnable=not problem.fixed_classifier,
            bias=problem.has_bias,
            weights=counts / problem.N,
            scale=1.0 / np.sqrt(counts),
            N=float(problem.N),
            lam_W=float(lam_W),
            lam_H=float(lam_H),
            lam_b=float(lam_b) if problem.bias == "penalised" else 0.0,
            W_fixed=None if not problem.fixed_classifier else classifier_matrix(problem),
            nonneg=problem.features == "relu",
        )

    @staticmethod
    def size_of(problem: Problem) -> int:
        """The number of flat variables of ``problem``'s reduced problem."""
        K, d = problem.K, problem.dim
        return K * d * (1 if problem.fixed_classifier else 2) + (K if problem.has_bias else 0)

    @property
    def size(self) -> int:
        KD = self.K * self.d
        return KD * (2 if self.learnable else 1) + (self.K if self.bias else 0)

    def split(self, x: Array) -> tuple[Array, Array, Array | None]:
        """(W, U, b) of the flat x (views where possible; W is the fixed matrix if not
        learnable)."""
        KD, shape = self.K * self.d, (self.K, self.d)
        at = 0
        if self.learnable:
            W = x[:KD].reshape(shape)
            at = KD
        else:
            W = self.W_fixed
        U = x[at : at + KD].reshape(shape)
        b = x[at + KD :] if self.bias else None
        return W, U, b

    def bound_mask(self) -> Array:
        """True on the flat coordinates constrained ≥ 0 (U, for ReLU features)."""
        mask = np.zeros(self.size, dtype=bool)
        if self.nonneg:
            at = self.K * self.d if self.learnable else 0
            mask[at : at + self.K * self.d] = True
        return mask

    def project(self, x: Array) -> Array:
        """x with its bounded coordinates clipped at 0 (the identity for free features)."""
        return np.where(self.bound_mask(), np.maximum(x, 0.0), x) if self.nonneg else x

    def join(self, gW: Array, gU: Array, gb: Array | None) -> Array:
        parts = ([gW.ravel()] if self.learnable else []) + [gU.ravel()]
        if self.bias:
            parts.append(gb)
        return np.concatenate(parts)


@dataclass(frozen=True)
class _State:
    """What one evaluation leaves for the Hessian: the means, logits' loss derivatives."""

    W: Array
    M: Array
    G: Array  # π_k ∂ℓ/∂z_k, shape=[K, K]
    P: Array | None  # softmax rows (CE only)


def class_losses(Z: Array, loss: str, target: float = 0.0) -> tuple[Array, Array, Array | None]:
    """Per-class losses ℓ(z_k, k) of the K × K class-mean logits (row k, true class k), their
    gradients (rows) and, for CE, the softmax rows: the NumPy form of
    :func:`lpm.objective.loss_and_dlogits` for the NumPy engines (this one and
    :mod:`lpm.solvers.small`; ``target`` is dot-regression's t)."""
    K = Z.shape[0]
    diag = np.arange(K)
    if loss == "ce":
        top = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - top)
        total = E.sum(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(total[:, 0])
        probs = E / total
        dl = probs.copy()
        dl[diag, diag] -= 1.0
        return lse - Z[diag, diag], dl, probs
    if loss == "mse":
        dl = Z.copy()
        dl[diag, diag] -= 1.0
        return 0.5 * (dl * dl).sum(axis=1), dl, None
    if loss == "dr":
        r = Z[diag, diag] - target
        dl = np.zeros((K, K))
        dl[diag, diag] = r
        return 0.5 * r * r, dl, None
    raise ValueError(f"loss {loss!r} is not known; allowed: ce, mse, dr")


def _evaluate(x: Array, P: DenseProblem) -> tuple[float, Array, _State]:
    W, U, b = P.split(x)
    M = U * P.scale[:, None]
    Z = M @ W.T
    if b is not None:
        Z = Z + b
    losses, dl, probs = class_losses(Z, P.loss)
    G = P.weights[:, None] * dl
    f = float(P.weights @ losses)
    f += 0.5 * P.lam_W * float((W * W).sum()) + 0.5 * P.lam_H * float((U * U).sum())
    gU = (G @ W) * P.scale[:, None] + P.lam_H * U
    gW = G.T @ M + P.lam_W * W if P.learnable else None
    gb = None
    if b is not None:
        f += 0.5 * P.lam_b * float(b @ b)
        gb = G.sum(axis=0) + P.lam_b * b
    return f, P.join(gW, gU, gb), _State(W=W, M=M, G=G, P=probs)


def value_and_grad(x: Array, P: DenseProblem) -> tuple[float, Array]:
    """f and ∂f/∂x at the flat point x."""
    f, g, _ = _evaluate(x, P)
    return f, g


def _curvature(state: _State, P: DenseProblem) -> Array:
    """S_k = π_k ∇²ℓ(z_k), shape=[K, K, K]."""
    K = P.K
    if P.loss == "ce":
        probs = state.P
        S = -probs[:, :, None] * probs[:, None, :]
        S[:, np.arange(K), np.arange(K)] += probs
    else:  # mse
        S = np.broadcast_to(np.eye(K), (K, K, K)).copy()
    return S * P.weights[:, None, None]


def hessian(x: Array, P: DenseProblem, state: _State | None = None) -> Array:
    """The exact Hessian of f at the flat x, shape=[n, n] (see the module docstring)."""
    if state is None:
        state = _evaluate(x, P)[2]
    K, d = P.K, P.d
    KD = K * d
    W, M, G, c = state.W, state.M, state.G, P.scale
    S = _curvature(state, P)
    SW = S @ W  # S_k W, shape=[K, K, d]
    H = np.zeros((P.size, P.size))
    at = KD if P.learnable else 0
    diag = np.arange(K)
    UU = np.zeros((K, d, K, d))  # block diagonal: u_k enters z_k only
    UU[diag, :, diag, :] = np.einsum("al,kam->klm", W, SW) * (c * c)[:, None, None]
    H[at : at + KD, at : at + KD] = UU.reshape(KD, KD) + P.lam_H * np.eye(KD)
    if P.learnable:
        outer = (M[:, :, None] * M[:, None, :]).reshape(K, d * d)  # m_k m_kᵀ
        WW = (S.reshape(K, K * K).T @ outer).reshape(K, K, d, d)  # Σ_k S_k[a, b] m_k m_kᵀ
        H[:KD, :KD] = WW.transpose(0, 2, 1, 3).reshape(KD, KD)
        H[:KD, :KD] += P.lam_W * np.eye(KD)
        Mc, Gc = M * c[:, None], G * c[:, None]
        WU = np.einsum("kl,kjm->jlkm", Mc, SW) + np.einsum("kj,lm->jlkm", Gc, np.eye(d))
        H[:KD, KD : at + KD] = WU.reshape(KD, KD)
        H[KD : at + KD, :KD] = H[:KD, KD : at + KD].T
    if P.bias:
        end = at + KD
        bU = (SW.transpose(1, 0, 2) * c[None, :, None]).reshape(K, KD)
        H[end:, at:end] = bU
        H[at:end, end:] = bU.T
        if P.learnable:
            bW = np.einsum("kaj,kl->ajl", S, M).reshape(K, KD)
            H[end:, :KD] = bW
            H[:KD, end:] = bW.T
        H[end:, end:] = S.sum(axis=0) + P.lam_b * np.eye(K)
    return H


def residual(f: float, g: Array, P: DenseProblem, x: Array | None = None) -> float:
    """The per-sample residual at the lifted point (:func:`lpm.solvers.reduced.reduced_residual`
    for a decay problem): sqrt(N‖g_U‖² + ‖g_W‖² + ‖g_b‖²) / max(1, |f|) with free features.

    With ReLU features (``x`` needed) the U part is the per-sample gradient mapping: a sample of
    class k sits at u = m_k/√N, its gradient step is s_k = √N g_{U,k}/√n_k, and the class adds
    n_k ‖u − max(u − s_k, 0)‖² to the sum.
    """
    KD = P.K * P.d
    at = KD if P.learnable else 0
    gU = g[at : at + KD]
    if P.nonneg:
        c = np.repeat(P.scale, P.d)  # 1/√n_k per coordinate
        root_N = math.sqrt(P.N)
        u = x[at : at + KD] * c / root_N
        mapped = u - np.maximum(u - gU * root_N * c, 0.0)
        U_part = float((mapped * mapped / (c * c)).sum())
    else:
        U_part = P.N * float(gU @ gU)
    total = U_part + float(g[:at] @ g[:at])
    if P.bias:
        gb = g[at + KD :]
        total += float(gb @ gb)
    return math.sqrt(total) / max(1.0, abs(f))


#: Armijo's sufficient-decrease constant (as in :mod:`lpm.solvers.lbfgs`).
_C1 = 1e-4
#: Halvings of a Newton step before its line search fails.
_MAX_BACKTRACK = 30
#: Failed line searches, or accepted steps that lower neither f nor the residual, in a row that
#: mean a stall at the limit of float64 (as in :mod:`lpm.solvers.lbfgs`).
_FAILS = 3
#: The shift μ = _MU · ‖∇f‖ of the Newton system. ‖∇f‖ alone is the textbook choice, but the
#: Hessian's scale here is the decay's (1e-4 … 1e-2), and a shift that large turns the first
#: steps into short gradient steps; measured (mean time of four seeds on eight problems of the
#: benchmarks' kinds): 1.0 → 31 ms in all, 0.1 → 22 ms, 0.03 → 25 ms.
_MU = 0.1
#: Factor by which μ grows while H + μI is not positive definite (near the optimum H has
#: eigenvalues of order −‖∇f‖ off the manifold of optima: one or two growths), and by which the
#: shift of the next step grows after a failed line search.
_MU_GROWTH = 4.0
#: Smallest shift, relative to H's largest diagonal entry (keeps the factorisation defined at an
#: exact stationary point), and the largest growth tried before the step falls back to the
#: gradient.
_MU_FLOOR = 1e-15
_MAX_SHIFTS = 60
#: L-BFGS-B's memory.
_MEMORY = 20
#: Largest distance to the bound U = 0 at which a coordinate with an outward gradient counts as
#: active in the projected Newton step (as in :mod:`lpm.solvers.lbfgs`'s two-metric projection).
_ACTIVE_EPS = 1e-8
#: Residual at which the quasi-Newton phase hands over to Newton, for problems of at most
#: _SMALL_SIZE variables and above. Measured on eight problems of n ≤ 300 (total time, four
#: seeds each): Newton from the start 34 ms, switch at 1e-1 28 ms, 1e-2 22 ms, 1e-3 24 ms, 1e-4
#: 25 ms, 1e-5 31 ms: L-BFGS-B's first steps make the most progress, Newton's shifted steps are
#: short far from the optimum and quadratic near it. On long tails with K = d = 16, 20, 24
#: (n = 512 … 1152) a Newton step costs as much as 50–100 of L-BFGS-B's and the later switch
#: wins: 21 / 45 / 144 ms at 1e-2, 13 / 23 / 43 ms at 1e-6.
_SWITCH, _LATE_SWITCH, _SMALL_SIZE = 1e-2, 1e-6, 300


@dataclass(frozen=True)
class DenseResult:
    """The end of one dense solve: the flat point, the iterations (L-BFGS-B's and Newton's) and
    a stop code of :mod:`lpm.solvers.lbfgs` (CONVERGED, MAX_ITER, INACCURATE or TIME_LIMIT), and
    the residual at x (:func:`residual`)."""

    x: Array
    iterations: int
    code: int
    residual: float


class _Stop(Exception):
    """Raised inside SciPy's run to end it (the deadline passed, or the switch to Newton)."""


def _late(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _quasi_newton(
    x: Array, P: DenseProblem, switch: float, max_iter: int, deadline: float | None
) -> tuple[Array, int, bool]:
    """SciPy's L-BFGS-B from x until the residual is at most ``switch``; (x, iterations, timed
    out). The run is ended from inside the objective, so that the criterion is this module's
    residual, not L-BFGS-B's; its point is the first one below ``switch``, else the lowest."""
    state = {"x": x, "f": math.inf, "iterations": 0, "late": False}

    def fun(y: Array) -> tuple[float, Array]:
        if _late(deadline):
            state["late"] = True
            raise _Stop
        f, g = value_and_grad(y, P)
        if f < state["f"]:
            state["x"], state["f"] = y.copy(), f
        if residual(f, g, P, y) <= switch:
            state["x"] = y.copy()
            raise _Stop
        return f, g

    def count(_) -> None:
        state["iterations"] += 1

    options = {"maxiter": max_iter, "gtol": 0.0, "ftol": 0.0, "maxcor": _MEMORY}
    bounds = None
    if P.nonneg:
        bounds = Bounds(np.where(P.bound_mask(), 0.0, -np.inf), np.inf)
    try:
        minimize(
            fun, x, jac=True, method="L-BFGS-B", bounds=bounds, callback=count, options=options
        )
    except _Stop:
        pass
    return state["x"], state["iterations"], state["late"]


def _newton_step(H: Array, g: Array, boost: float) -> Array:
    """p solving (H + μI) p = −g, μ = boost · _MU‖g‖ grown until H + μI is positive definite
    (H is overwritten); the scaled gradient step where no shift succeeds (a non-finite H)."""
    n = H.shape[0]
    base = H.flat[:: n + 1].copy()
    scale = float(np.abs(base).max())
    mu = max(boost * _MU * float(np.linalg.norm(g)), _MU_FLOOR * scale)
    for _ in range(_MAX_SHIFTS):
        H.flat[:: n + 1] = base + mu
        try:
            factor = scipy.linalg.cho_factor(H, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            mu *= _MU_GROWTH
            continue
        step = scipy.linalg.cho_solve(factor, g, check_finite=False)
        if np.all(np.isfinite(step)):
            return -step
        mu *= _MU_GROWTH
    return -g / max(scale, 1.0)


@functools.cache
def blas_threadpools() -> ThreadpoolController:
    """The BLAS thread pools, looked up once (a lookup costs ~0.4 ms, a limit through the
    controller ~10 µs)."""
    return ThreadpoolController()


def solve_dense(
    problem: Problem,
    x0: Array,
    *,
    tol: float,
    max_iter: int,
    deadline: float | None = None,
    switch: float | None = None,
) -> DenseResult:
    """Minimise ``problem``'s reduced objective from the flat x0: L-BFGS-B, then Newton.

    Parameters
    ----------
    problem : Problem
        One to which :func:`applies` is true.
    x0 : ndarray, shape=[n]
        The start, in the flat variables of :class:`lpm.solvers.reduced.Layout`.
    tol : float
        Residual (:func:`residual`) at which the solve stops, converged.
    max_iter : int
        Iterations of both phases together.
    deadline : float, optional
        ``time.monotonic()`` at which to stop (code TIME_LIMIT).
    switch : float, optional
        Residual at which L-BFGS-B hands over to Newton (inf: Newton from the start); default
        by the size (see :data:`_SWITCH`).

    Returns
    -------
    DenseResult
    """
    # On one BLAS thread: the matrices are at most a few hundred wide, and a second thread
    # (on a shared two-core machine) made a 200 × 200 Cholesky factorisation 5–500× slower.
    with blas_threadpools().limit(limits=1):
        P = DenseProblem.of(problem)
        if switch is None:
            switch = _SWITCH if P.size <= _SMALL_SIZE else _LATE_SWITCH
        x, it, late = np.array(x0, dtype=np.float64), 0, False
        if switch < math.inf and max_iter > 0:
            x, it, late = _quasi_newton(x, P, switch, max_iter, deadline)
        if late:
            return _result(x, P, it, TIME_LIMIT)
        return _newton(x, P, tol, max_iter, deadline, it)


def _newton(
    x: Array, P: DenseProblem, tol: float, max_iter: int, deadline: float | None, it: int
) -> DenseResult:
    """Shifted Newton steps with Armijo backtracking from x until the residual is ≤ tol."""
    f, g, state = _evaluate(x, P)
    res = residual(f, g, P, x)
    fails, boost = 0, 1.0
    while res > tol:
        if it >= max_iter:
            return _result(x, P, it, MAX_ITER)
        if _late(deadline):
            return _result(x, P, it, TIME_LIMIT)
        p = _direction(x, g, hessian(x, P, state), boost, P)
        slack = 10 * np.finfo(np.float64).eps * max(1.0, abs(f))
        accepted = _armijo(x, f, g, p, P, slack)
        if accepted is None:  # no decrease along p: a shorter, more gradient-like step next
            fails, boost = fails + 1, boost * _MU_GROWTH
            if fails >= _FAILS:
                return _result(x, P, it, INACCURATE)
            continue
        y, fy, gy, sy = accepted
        ry = residual(fy, gy, P, y)
        it += 1
        fails = fails + 1 if ry >= res and fy >= f - slack else 0
        x, f, g, state, res, boost = y, fy, gy, sy, ry, 1.0
        if fails >= _FAILS:
            return _result(x, P, it, INACCURATE)
    return _result(x, P, it, CONVERGED)


def _result(x: Array, P: DenseProblem, iterations: int, code: int) -> DenseResult:
    f, g = value_and_grad(x, P)
    return DenseResult(x=x, iterations=iterations, code=code, residual=residual(f, g, P, x))


def _armijo(x: Array, f: float, g: Array, p: Array, P: DenseProblem, slack: float):
    """(y, f(y), ∇f(y), state) of the first t = 1, 1/2, … with y = P(x + tp) (the projection
    onto U ≥ 0 for ReLU features, else y = x + tp) and f(y) ≤ f + c₁⟨g, y − x⟩ + slack (the
    slack: near the optimum the decrease is below f's rounding), or None."""
    t = 1.0
    for _ in range(_MAX_BACKTRACK):
        y = P.project(x + t * p)
        fy, gy, sy = _evaluate(y, P)
        if fy <= f + _C1 * float(g @ (y - x)) + slack:
            return y, fy, gy, sy
        t *= 0.5
    return None


def _direction(x: Array, g: Array, H: Array, boost: float, P: DenseProblem) -> Array:
    """The (projected) Newton direction. With ReLU features, Bertsekas' projected Newton method
    (SIAM J. Control Optim. 20, 1982): the coordinates at (within ε of) U = 0 whose gradient
    points outward form the active set and take the gradient step; the others the shifted
    Newton step of their own block of H; ε = min(_ACTIVE_EPS, ‖x − P(x − ∇f)‖)."""
    if not P.nonneg:
        return _newton_step(H, g, boost)
    bounded = P.bound_mask()
    eps = min(_ACTIVE_EPS, float(np.linalg.norm(x - P.project(x - g))))
    active = bounded & (x <= eps) & (g > 0)
    free = ~active
    p = -g.copy()
    if free.any():
        p[free] = _newton_step(np.ascontiguousarray(H[np.ix_(free, free)]), g[free], boost)
    return p
