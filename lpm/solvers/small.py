"""A NumPy quasi-Newton run for one small reduced problem under energy budgets.

The reduced problem of :mod:`lpm.solvers.reduced` under the layer-peeled budgets is smooth in its
flat variables x = [V (K·d) and θ_W if the classifier is learnable, U (K·d), θ_H (1, or K per
class), b (K) if a bias], where the budgets are removed by the exact change of variables

    W = R_W sin θ_W · V/‖V‖,   R_W = sqrt(K E_W),
    M = sqrt(K E_H) sin θ_H · U/‖U‖            (class-average budget),
    m_k = sqrt(E_H) sin θ_k · u_k/‖u_k‖         (per-sample budget),

and ReLU features keep U ≥ 0. For K and d up to a few tens an evaluation is microseconds of
arithmetic, and the batched torch L-BFGS spends its ~1 ms a step in per-call overhead. Here the
same function, its gradient (the chain rule through the balls) and the same stopping residual
(:func:`lpm.solvers.reduced.reduced_residual`: the per-sample gradient mapping at the lifted
point, with the projections onto both budgets) are written in NumPy, and SciPy's L-BFGS-B
minimises it (bounds U ≥ 0 for ReLU features) until the residual is at most ``tol``.

L-BFGS-B ends when a line search can no longer lower f, which close to the optimum happens
above ``tol`` (the decrease is below f's rounding: measured, residuals of ~1e-9 against a
tolerance of 1e-10). A short L-BFGS of this module (``_finish``) then goes on with steps
accepted within rounding, judging progress by the residual, as :mod:`lpm.solvers.lbfgs` does;
should it stall too, :func:`lpm.solvers.reduced.solve_reduced` finishes with the torch L-BFGS.
The final point is evaluated in torch like every reduced answer, so the status means the same
whichever engine ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, minimize

from lpm.classifiers import classifier_matrix
from lpm.problem import Problem
from lpm.solvers.dense import DenseResult, blas_threadpools, class_losses
from lpm.solvers.lbfgs import CONVERGED, INACCURATE, MAX_ITER, TIME_LIMIT

__all__ = ["SMALL_MAX_VARIABLES", "BudgetProblem", "applies", "residual", "solve_small"]

Array = NDArray[np.float64]

#: Largest number of flat variables solved by this engine. Measured (one problem, the idle
#: 2-core machine, long tails n_max = 100, ρ = 10, d = K, energies 1, 1, to the same residual):
#: K = 4, 10, 20, 30, 40, 60, 100 (n = 34 … 20,002) take 9, 11, 18, 43, 56, 110, 467 ms here
#: against 36, 60, 78, 118, 135, 166, 451 ms through the batched torch L-BFGS.
SMALL_MAX_VARIABLES = 8000
#: L-BFGS-B's memory.
_MEMORY = 20


def applies(problem: Problem, device: str, dtype: str) -> bool:
    """Whether :func:`solve_small` solves ``problem``: CPU, float64, energy budgets, free or ReLU
    features, and at most :data:`SMALL_MAX_VARIABLES` flat variables."""
    return (
        str(device) == "cpu"
        and dtype == "float64"
        and problem.energy is not None
        and problem.features in ("free", "relu")
        and BudgetProblem.size_of(problem) <= SMALL_MAX_VARIABLES
    )


@dataclass(frozen=True)
class BudgetProblem:
    """The numbers of one reduced problem under energy budgets (see the module docstring)."""

    K: int
    d: int
    loss: str
    learnable: bool
    bias: bool
    relu: bool
    budget: str
    weights: Array  # π_k = n_k/N
    counts: Array  # n_k
    N: float
    R_W: float
    E_H: float
    target: float  # dot-regression's t
    W_fixed: Array | None

    @classmethod
    def of(cls, problem: Problem) -> BudgetProblem:
        counts = np.asarray(problem.counts, dtype=np.float64)
        return cls(
            K=problem.K,
            d=problem.dim,
            loss=problem.loss,
            learnable=not problem.fixed_classifier,
            bias=problem.has_bias,
            relu=problem.features == "relu",
            budget=problem.budget,
            weights=counts / problem.N,
            counts=counts,
            N=float(problem.N),
            R_W=math.sqrt(problem.K * problem.energy[0]),
            E_H=float(problem.energy[1]),
            target=float(problem.dr_target),
            W_fixed=classifier_matrix(problem) if problem.fixed_classifier else None,
        )

    @staticmethod
    def size_of(problem: Problem) -> int:
        K, d = problem.K, problem.dim
        n = K * d + (K if problem.budget == "per-sample" else 1)
        if not problem.fixed_classifier:
            n += K * d + 1
        return n + (K if problem.has_bias else 0)

    def sizes(self) -> list[tuple[str, int]]:
        KD = self.K * self.d
        out = [("V", KD), ("theta_W", 1)] if self.learnable else []
        out += [("U", KD), ("theta_H", self.K if self.budget == "per-sample" else 1)]
        return out + ([("b", self.K)] if self.bias else [])

    def split(self, x: Array) -> dict[str, Array]:
        parts, at = {}, 0
        for name, size in self.sizes():
            parts[name] = x[at : at + size]
            at += size
        return parts

    def lower_bounds(self) -> Array:
        """−inf except 0 on U for ReLU features."""
        parts = [np.full(size, 0.0 if name == "U" and self.relu else -np.inf)
                 for name, size in self.sizes()]  # fmt: skip
        return np.concatenate(parts)


def _ball(theta, V: Array, radius, axis):
    """r sin θ V/‖V‖ and the pieces of its pullback (unit direction, norm)."""
    norm = np.maximum(np.linalg.norm(V, axis=axis, keepdims=True), 1e-300)
    unit = V / norm
    scale = np.reshape(radius * np.sin(theta), np.shape(norm))
    return scale * unit, unit, norm


def _ball_pullback(theta, G: Array, unit: Array, norm: Array, radius, axis):
    """(∂f/∂θ, ∂f/∂V) of X = r sin θ V/‖V‖ from G = ∂f/∂X."""
    along = (G * unit).sum(axis=axis, keepdims=True)
    r = np.reshape(radius * np.ones_like(theta), np.shape(norm))
    g_theta = (r * np.reshape(np.cos(theta), np.shape(norm)) * along).reshape(np.shape(theta))
    g_V = r * np.reshape(np.sin(theta), np.shape(norm)) / norm * (G - along * unit)
    return g_theta, g_V


def _point(x: Array, P: BudgetProblem):
    parts, shape = P.split(x), (P.K, P.d)
    W, wball = P.W_fixed, None
    if P.learnable:
        W, unit, norm = _ball(parts["theta_W"][0], parts["V"].reshape(shape), P.R_W, None)
        wball = (unit, norm)
    U = parts["U"].reshape(shape)
    if P.budget == "class-average":
        M, unit, norm = _ball(parts["theta_H"][0], U, math.sqrt(P.K * P.E_H), None)
    else:
        M, unit, norm = _ball(parts["theta_H"], U, math.sqrt(P.E_H), 1)
    return W, M, parts.get("b"), wball, (unit, norm), parts


def evaluate(x: Array, P: BudgetProblem):
    """f, ∂f/∂x, and (W, M, b, ∂f/∂W, ∂f/∂M, ∂f/∂b) for the residual."""
    W, M, b, wball, hball, parts = _point(x, P)
    Z = M @ W.T
    if b is not None:
        Z = Z + b
    losses, dl, _ = class_losses(Z, P.loss, P.target)
    G = P.weights[:, None] * dl
    f = float(P.weights @ losses)
    gM, gW = G @ W, G.T @ M
    gb = G.sum(axis=0) if b is not None else None
    out = []
    if P.learnable:
        g_theta, g_V = _ball_pullback(parts["theta_W"][0], gW, *wball, P.R_W, None)
        out += [g_V.ravel(), np.atleast_1d(g_theta)]
    if P.budget == "class-average":
        g_theta, g_U = _ball_pullback(parts["theta_H"][0], gM, *hball, math.sqrt(P.K * P.E_H), None)
    else:
        g_theta, g_U = _ball_pullback(parts["theta_H"], gM, *hball, math.sqrt(P.E_H), 1)
    out += [g_U.ravel(), np.atleast_1d(g_theta)]
    if gb is not None:
        out.append(gb)
    return f, np.concatenate(out), (W, M, b, gW, gM, gb)


def residual(f: float, natural, P: BudgetProblem) -> float:
    """:func:`lpm.solvers.reduced.reduced_residual` of one problem, in NumPy: the per-sample
    gradient mapping at the lifted point, with the projections onto both budgets (and U ≥ 0)."""
    W, M, _, gW, gM, gb = natural
    n = P.counts[:, None]
    s = np.sqrt(P.K * n) if P.budget == "class-average" else math.sqrt(P.N)
    u = M / s
    v = u - gM * s / n
    if P.relu:
        v = np.maximum(v, 0.0)
    if P.budget == "class-average":
        norm = math.sqrt(float((n * v * v).sum()))
        v = v * min(math.sqrt(P.E_H) / max(norm, 1e-300), 1.0)
    else:
        radius = math.sqrt(P.E_H / P.N)
        rows = np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
        v = v * np.minimum(radius / rows, 1.0)
    GU = u - v
    total = float((n * GU * GU).sum())
    if P.learnable:
        step = W - gW
        GW = W - step * min(P.R_W / max(float(np.linalg.norm(step)), 1e-300), 1.0)
        total += float((GW * GW).sum())
    if gb is not None:
        total += float(gb @ gb)
    return math.sqrt(total) / max(1.0, abs(f))


class _Stop(Exception):
    """Raised inside SciPy's run to end it (converged, or past the deadline)."""


#: Iterations of the finishing L-BFGS (``_finish``) without a new lowest residual after which
#: it gives up (the caller then hands over to the torch L-BFGS).
_FINISH_PATIENCE = 30
#: Halvings of a finishing step before its line search fails.
_MAX_BACKTRACK = 30


def _finish(x: Array, P: BudgetProblem, tol: float, budget: int, deadline: float | None):
    """L-BFGS from x, with steps accepted within f's rounding (f(y) ≤ f + c₁⟨g, y − x⟩ +
    10 eps |f|), as :mod:`lpm.solvers.lbfgs` does: near the optimum the decrease of f is below its
    resolution and L-BFGS-B's line search stops, while the residual can still fall by a decade
    or two. ReLU features: the two-metric projection (coordinates at 0 with an outward gradient
    take a gradient step). Returns (x, residual, iterations, code)."""
    lower = P.lower_bounds() if P.relu else None

    def project(y: Array) -> Array:
        return y if lower is None else np.maximum(y, lower)

    f, g, natural = evaluate(x, P)
    res = residual(f, natural, P)
    S: list[Array] = []
    Y: list[Array] = []
    best, since = res, 0
    for it in range(budget):
        if res <= tol:
            return x, res, it, CONVERGED
        if deadline is not None and time.monotonic() > deadline:
            return x, res, it, TIME_LIMIT
        if since > _FINISH_PATIENCE:
            return x, res, it, INACCURATE
        bound = None
        if lower is not None:
            eps = min(1e-8, float(np.linalg.norm(x - project(x - g))))
            bound = (lower == 0.0) & (x <= eps) & (g > 0)
        q = np.where(bound, 0.0, g) if bound is not None else g.copy()
        alphas = []
        for s_, y_ in zip(reversed(S), reversed(Y)):
            a = float(s_ @ q) / float(s_ @ y_)
            alphas.append(a)
            q -= a * y_
        gamma = (
            float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1]) if S else 1.0 / max(1.0, np.linalg.norm(g))
        )
        q *= gamma
        for (s_, y_), a in zip(zip(S, Y), reversed(alphas)):
            q += (a - float(y_ @ q) / float(s_ @ y_)) * s_
        d = -q
        if bound is not None:
            d = np.where(bound, -gamma * g, d)
        if not float(g @ d) < 0:
            S, Y, d = [], [], -g / max(1.0, float(np.linalg.norm(g)))
        slack = 10 * np.finfo(np.float64).eps * max(1.0, abs(f))
        t, moved = 1.0, False
        for _ in range(_MAX_BACKTRACK):
            y = project(x + t * d)
            fy, gy, ny = evaluate(y, P)
            if fy <= f + 1e-4 * float(g @ (y - x)) + slack:
                moved = True
                break
            t *= 0.5
        if not moved:
            return x, res, it, INACCURATE
        s_, y_ = y - x, gy - g
        if float(s_ @ y_) > 1e-10 * float(np.linalg.norm(s_) * np.linalg.norm(y_)):
            S, Y = [*S, s_][-_MEMORY:], [*Y, y_][-_MEMORY:]
        x, f, g, res = y, fy, gy, residual(fy, ny, P)
        best, since = (res, 0) if res < 0.5 * best else (best, since + 1)
    return x, res, budget, MAX_ITER


def solve_small(
    problem: Problem, x0: Array, *, tol: float, max_iter: int, deadline: float | None = None
) -> DenseResult:
    """Minimise ``problem``'s reduced objective from the flat x0 by L-BFGS-B until the residual
    is at most ``tol``; the stop code says CONVERGED, MAX_ITER, TIME_LIMIT, or INACCURATE (the
    line search could not go on: the caller finishes with its own L-BFGS)."""
    P = BudgetProblem.of(problem)
    state = {"x": np.array(x0, dtype=np.float64), "f": math.inf, "res": math.inf}
    state.update(iterations=0, code=INACCURATE)

    def fun(y: Array) -> tuple[float, Array]:
        if deadline is not None and time.monotonic() > deadline:
            state["code"] = TIME_LIMIT
            raise _Stop
        f, g, natural = evaluate(y, P)
        res = residual(f, natural, P)
        if f < state["f"] or res <= tol:
            state.update(x=y.copy(), f=f, res=res)
        if res <= tol:
            state["code"] = CONVERGED
            raise _Stop
        return f, g

    def count(_) -> None:
        state["iterations"] += 1

    bounds = Bounds(P.lower_bounds(), np.inf) if P.relu else None
    options = {"maxiter": max_iter, "gtol": 0.0, "ftol": 0.0, "maxcor": _MEMORY}
    with blas_threadpools().limit(limits=1):
        try:
            result = minimize(
                fun, state["x"], jac=True, method="L-BFGS-B", bounds=bounds, callback=count,
                options=options,
            )  # fmt: skip
            if result.nit >= max_iter:
                state["code"] = MAX_ITER
        except _Stop:
            pass
    x, res, iterations, code = state["x"], state["res"], state["iterations"], state["code"]
    if code == INACCURATE and iterations < max_iter:
        with blas_threadpools().limit(limits=1):
            x, res, more, code = _finish(x, P, tol, max_iter - iterations, deadline)
        iterations += more
    return DenseResult(x=x, iterations=iterations, code=code, residual=res)
