"""Limited-memory BFGS on a batch of independent smooth problems, in torch.

Each of B problems has its own iterate x_b ∈ R^n, curvature pairs, step and stopping state; they
share tensor operations only. One step (Nocedal & Wright, Numerical Optimization, 2nd ed.,
Algorithm 7.4 and 7.5)::

    d = −H_k ∇f(x),   H_k from the last m pairs s = x⁺ − x, y = ∇f(x⁺) − ∇f(x) by the two-loop
                      recursion, with H⁰ = γ I, γ = ⟨s, y⟩/⟨y, y⟩ of the newest pair;
    x⁺ = x + t d,     t = 1, 1/2, 1/4, … until f(x⁺) ≤ f(x) + c₁ t ⟨∇f(x), d⟩ (Armijo);

a pair is stored only when ⟨s, y⟩ > 1e-10 ‖s‖‖y‖ (so H_k stays positive definite). Where d is not
a descent direction, or no step is accepted, the memory of that problem is cleared and the next
step is a scaled gradient step.

Coordinates marked ``nonneg`` are kept ≥ 0 by the two-metric projection of Bertsekas (SIAM J.
Control Optim. 20, 1982): coordinates at (within ε of) 0 whose gradient points outward form the
active set and take a scaled gradient step, the others the quasi-Newton step, and the step is
projected, x⁺ = max(x + t d, 0), with Armijo's test on the actual change ⟨∇f, x⁺ − x⟩;
ε = min(1e-8, ‖x − P(x − ∇f)‖), so the active set is identified as the iterates converge.

The function supplies, with f and ∇f, the problem's optimality residual; a problem stops when
that residual is at most ``tol`` (converged), when it has stalled (the limit of the dtype's
precision: neither the residual halves nor f falls by more than rounding for ``patience``
iterations, or three line searches fail in a row), at ``max_iter``, or at the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "CONVERGED",
    "DOMINANCE",
    "DOMINATED",
    "INACCURATE",
    "MAX_ITER",
    "TIME_LIMIT",
    "LBFGSResult",
    "lbfgs",
]

#: Stopping codes of :class:`LBFGSResult`.
CONVERGED, MAX_ITER, INACCURATE, TIME_LIMIT, DOMINATED = 0, 1, 2, 3, 4
#: A start is dominated (and stops) when another start of its group has converged to an objective
#: lower by more than this, relative to max(1, |f|): random restarts exist to find the lowest
#: point, and a start that far above it is in another basin (a dead-class point of the ReLU
#: model converges sublinearly for thousands of steps).
DOMINANCE = 1e-3

_C1 = 1e-4  # Armijo's sufficient-decrease constant
_MAX_BACKTRACK = 50
_FAILS = 3  # consecutive failed line searches that mean a stall


@dataclass(frozen=True)
class LBFGSResult:
    """The end of a batched L-BFGS run.

    Attributes
    ----------
    x : Tensor, shape=[B, n]
    f, residual : Tensor, shape=[B]
    iterations : LongTensor, shape=[B]
    code : LongTensor, shape=[B]
        :data:`CONVERGED`, :data:`MAX_ITER`, :data:`INACCURATE` or :data:`TIME_LIMIT`.
    """

    x: torch.Tensor
    f: torch.Tensor
    residual: torch.Tensor
    iterations: torch.Tensor
    code: torch.Tensor


def _inverse_hessian_times(g, S, Y, SY, YY, valid, gamma, order):
    """H_k g for the stored pairs, by the compact representation of Byrd, Nocedal and Schnabel
    (Math. Program. 63, 1994, eq. 2.6): with the pairs in chronological order,

        H_k = γI + [S γY] [[R⁻ᵀ(D + γYᵀY)R⁻¹, −R⁻ᵀ], [−R⁻¹, 0]] [Sᵀ; γYᵀ],

    R = the upper triangle of SᵀY, D its diagonal: four (m × n) products and an m × m
    triangular solve instead of the two-loop recursion's 4m vector operations. SY[i, j] = ⟨s_i,
    y_j⟩ and YY[i, j] = ⟨y_i, y_j⟩ (slot order) are kept up to date by the caller. Invalid pairs
    (per problem) are masked out (their row of R becomes the identity's).
    """
    idx = torch.as_tensor(order[::-1], device=g.device)  # chronological
    v = valid[:, idx].to(g.dtype)
    both = v.unsqueeze(2) * v.unsqueeze(1)
    SY = SY[:, idx][:, :, idx] * both
    YY = YY[:, idx][:, :, idx] * both
    R = torch.triu(SY) + torch.diag_embed(1.0 - v)
    D = torch.diagonal(SY, dim1=1, dim2=2)
    p1 = torch.bmm(S, g.unsqueeze(2))[:, idx] * v.unsqueeze(2)
    p2 = gamma.view(-1, 1, 1) * torch.bmm(Y, g.unsqueeze(2))[:, idx] * v.unsqueeze(2)
    r1 = torch.linalg.solve_triangular(R, p1, upper=True)
    inner = D.unsqueeze(2) * r1 + gamma.view(-1, 1, 1) * torch.bmm(YY, r1) - p2
    q1 = torch.linalg.solve_triangular(R.transpose(1, 2), inner, upper=False)
    q2 = -r1
    c1, c2 = torch.zeros_like(q1), torch.zeros_like(q2)
    c1[:, idx], c2[:, idx] = q1 * v.unsqueeze(2), q2 * v.unsqueeze(2)
    out = gamma.unsqueeze(1) * g + torch.bmm(S.transpose(1, 2), c1).squeeze(2)
    return out + gamma.unsqueeze(1) * torch.bmm(Y.transpose(1, 2), c2).squeeze(2)


def _dominated(f, converged, groups):
    """Starts whose objective exceeds that of a converged start of their group by more than
    :data:`DOMINANCE` (relative)."""
    best = torch.full_like(f, torch.inf).scatter_reduce(
        0, groups, torch.where(converged, f, torch.inf), reduce="amin"
    )[groups]
    return f > best + DOMINANCE * torch.clamp(best.abs(), min=1.0)


def _update_products(S, Y, SY, YY, slot, store):
    """SY and YY after the pair in ``slot`` changed (for the problems in ``store``)."""
    s_Y = torch.bmm(Y, S[:, slot].unsqueeze(2)).squeeze(2)  # ⟨y_i, s_new⟩
    S_y = torch.bmm(S, Y[:, slot].unsqueeze(2)).squeeze(2)  # ⟨s_i, y_new⟩
    Y_y = torch.bmm(Y, Y[:, slot].unsqueeze(2)).squeeze(2)
    keep = store.view(-1, 1)
    SY, YY = SY.clone(), YY.clone()
    SY[:, slot, :] = torch.where(keep, s_Y, SY[:, slot, :])
    SY[:, :, slot] = torch.where(keep, S_y, SY[:, :, slot])
    YY[:, slot, :] = torch.where(keep, Y_y, YY[:, slot, :])
    YY[:, :, slot] = torch.where(keep, Y_y, YY[:, :, slot])
    return SY, YY


def _two_loop(g, S, Y, rho, valid, gamma, order):
    """H_k g by the two-loop recursion (the reference the compact form is tested against)."""
    q = g.clone()
    alphas = []
    for j in order:
        a = torch.where(valid[:, j], rho[:, j] * (S[:, j] * q).sum(1), torch.zeros_like(gamma))
        q -= a.unsqueeze(1) * Y[:, j]
        alphas.append(a)
    r = gamma.unsqueeze(1) * q
    for j, a in zip(reversed(order), reversed(alphas)):
        beta = torch.where(valid[:, j], rho[:, j] * (Y[:, j] * r).sum(1), torch.zeros_like(gamma))
        r += (a - beta).unsqueeze(1) * S[:, j]
    return r


def _direction(x, g, S, Y, SY, YY, valid, gamma, order, nonneg):
    """The (two-metric) quasi-Newton direction; memories of problems where it is not a descent
    direction are cleared and their direction is the scaled gradient."""
    if nonneg is None:
        d = -_inverse_hessian_times(g, S, Y, SY, YY, valid, gamma, order)
        bound = None
    else:
        mapping = x - _project(x - g, nonneg)
        eps = torch.clamp(mapping.norm(dim=1, keepdim=True), max=1e-8)
        bound = nonneg & (x <= eps) & (g > 0)
        d = -_inverse_hessian_times(torch.where(bound, 0.0, g), S, Y, SY, YY, valid, gamma, order)
        d = torch.where(bound, -gamma.unsqueeze(1) * g, d)
    gd = (g * d).sum(1)
    uphill = ~(gd < 0)
    if bool(uphill.any()):
        valid = valid & ~uphill.unsqueeze(1)
        d = torch.where(uphill.unsqueeze(1), -gamma.unsqueeze(1) * g, d)
    return d, valid


def _project(x, nonneg):
    return x if nonneg is None else torch.where(nonneg, torch.clamp(x, min=0.0), x)


def _line_search(fun, x, f, g, d, active, nonneg):
    """Armijo backtracking along the projected path from t = 1 for every active problem;
    returns the accepted point (the old one where no step was accepted) and the mask of
    problems that moved."""
    slack = 10 * torch.finfo(x.dtype).eps * torch.clamp(f.abs(), min=1.0)
    t = torch.ones_like(f)
    x_new, f_new, g_new = x, f, g
    res_new = None
    pending = active.clone()
    for _ in range(_MAX_BACKTRACK):
        x_t = _project(x + t.unsqueeze(1) * d, nonneg)
        f_t, g_t, r_t = fun(x_t)
        decrease = (g * (x_t - x)).sum(1)
        ok = pending & torch.isfinite(f_t) & (f_t <= f + _C1 * decrease + slack)
        x_new = torch.where(ok.unsqueeze(1), x_t, x_new)
        f_new = torch.where(ok, f_t, f_new)
        g_new = torch.where(ok.unsqueeze(1), g_t, g_new)
        res_new = r_t if res_new is None else torch.where(ok, r_t, res_new)
        pending = pending & ~ok
        if not bool(pending.any()):
            break
        t = torch.where(pending, 0.5 * t, t)
    return x_new, f_new, g_new, res_new, active & ~pending


def lbfgs(
    fun: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    x0: torch.Tensor,
    *,
    tol: float,
    max_iter: int,
    memory: int = 20,
    patience: int = 2000,
    nonneg: torch.Tensor | None = None,
    groups: torch.Tensor | None = None,
    deadline: float | None = None,
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> LBFGSResult:
    """Minimise B independent functions from x0 by L-BFGS with Armijo backtracking.

    Parameters
    ----------
    fun : callable(x) -> (f, grad, residual)
        x, grad shape=[B, n]; f, residual shape=[B] (residual: the optimality measure judged
        against ``tol``).
    x0 : Tensor, shape=[B, n]
    tol : float
    max_iter : int
    memory : int
        Curvature pairs kept (m).
    patience : int
        Iterations without progress after which a problem has stalled.
    nonneg : BoolTensor, shape=[n], optional
        Coordinates constrained to be ≥ 0 (x0 must satisfy it).
    groups : LongTensor, shape=[B], optional
        Starts of one problem share a group; a start :data:`DOMINATED` by a converged one stops.
    deadline : float, optional
        ``time.monotonic()`` after which every running problem stops with :data:`TIME_LIMIT`.
    callback : callable(iteration, residuals), optional
        Called every 100 iterations with the residuals, shape=[B].
    """
    B, n = x0.shape
    x = x0.clone()
    f, g, res = fun(x)
    S, Y = x.new_zeros(B, memory, n), x.new_zeros(B, memory, n)
    rho = x.new_zeros(B, memory)
    SY, YY = x.new_zeros(B, memory, memory), x.new_zeros(B, memory, memory)
    valid = torch.zeros(B, memory, dtype=torch.bool, device=x.device)
    gamma = 1.0 / torch.clamp(g.norm(dim=1), min=1.0)
    code = torch.full((B,), MAX_ITER, dtype=torch.long, device=x.device)
    iterations = torch.zeros(B, dtype=torch.long, device=x.device)
    fails = torch.zeros_like(iterations)
    best_res, best_f, last_gain = res.clone(), f.clone(), torch.zeros_like(iterations)
    active = torch.isfinite(f) & (res > tol)
    eps = torch.finfo(x.dtype).eps
    for it in range(max_iter):
        if not bool(active.any()):
            break
        if deadline is not None and time.monotonic() > deadline:
            code = torch.where(active, TIME_LIMIT, code)
            break
        order = [(it - 1 - j) % memory for j in range(memory)]
        d, valid = _direction(x, g, S, Y, SY, YY, valid, gamma, order, nonneg)
        x_new, f_new, g_new, res_new, moved = _line_search(fun, x, f, g, d, active, nonneg)
        s, y = x_new - x, g_new - g
        sy, ss, yy = (s * y).sum(1), (s * s).sum(1), (y * y).sum(1)
        store = moved & (sy > 1e-10 * torch.sqrt(ss * yy))
        slot = it % memory
        S[:, slot] = torch.where(store.unsqueeze(1), s, S[:, slot])
        Y[:, slot] = torch.where(store.unsqueeze(1), y, Y[:, slot])
        rho[:, slot] = torch.where(store, 1.0 / torch.where(store, sy, 1.0), rho[:, slot])
        if bool(store.any()):
            SY, YY = _update_products(S, Y, SY, YY, slot, store)
        valid[:, slot] = store
        gamma = torch.where(store, sy / torch.where(store, yy, 1.0), gamma)
        failed = active & ~moved
        fails = torch.where(failed, fails + 1, torch.zeros_like(fails))
        valid = valid & ~failed.unsqueeze(1)
        x, f, g = x_new, f_new, g_new
        res = torch.where(moved, res_new, res)
        iterations = torch.where(active, iterations + 1, iterations)
        slack = 10 * eps * torch.clamp(f.abs(), min=1.0)
        gained = (res < 0.5 * best_res) | (f < best_f - slack)
        best_res = torch.where(res < 0.5 * best_res, res, best_res)
        best_f = torch.minimum(best_f, f)
        last_gain = torch.where(gained, iterations, last_gain)
        stalled = active & ((fails >= _FAILS) | (iterations - last_gain > patience))
        code = torch.where(stalled & (res > tol), INACCURATE, code)
        active = active & (res > tol) & ~stalled
        if groups is not None:
            dominated = active & _dominated(f, res <= tol, groups)
            code = torch.where(dominated, DOMINATED, code)
            active = active & ~dominated
        if callback is not None and (it + 1) % 100 == 0:
            callback(it + 1, res.detach().cpu().numpy())
    code = torch.where(res <= tol, CONVERGED, code)
    return LBFGSResult(x=x, f=f, residual=res, iterations=iterations, code=code)
