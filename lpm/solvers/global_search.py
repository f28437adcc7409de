"""Global search for the nonconvex variants: many good starts, each polished, the best certified.

ReLU (nonnegative) features with a learnable classifier, spherical features and d < K − 1 make the
problem nonconvex: a local method can stop at a stationary point far above the optimum (Dang et
al., ICML 2024, find boundary stationary points with dead minority features for ReLU). Given such
an uncertified solution, :func:`improve` searches for the global optimum within a wall-clock
deadline and certifies it where :mod:`lpm.certify` has a certificate.

Reduction to class means. At a fixed classifier (and bias) the objective separates over samples,
and all samples of a class face the same subproblem, so every variant has an optimum whose
samples sit at their class mean (for the budgets and decays, Jensen's inequality, docs/theory.md
§1.1, says the collapsed point is at least as good). The search therefore runs on the K × d class
means M, and every value and gradient is that of the one objective, :func:`lpm.objective.
value_and_grad`, at the lifted point H = M[labels].

Starts, in order (each one polished, then certified):

1. the closed form of :mod:`lpm.theory` where one applies (realised at dimension d by
   :func:`lpm.solvers.closed_form.realise`);
2. the convex relaxation's solution (:func:`lpm.solvers.convex.solve_convex`: the Gram SDP, the
   doubly-nonnegative program for ReLU features, balls for spheres) rounded to rank d — its top d
   eigenpairs, rotated into the nonnegative orthant for ReLU, projected onto the constraints; its
   dual point rides along so that the certificate can use it;
3. structured starts: orthogonal nonnegative class means with the centred, count-scaled
   classifier of Dang et al. (2024) for ReLU features; a scaled simplex ETF (d ≥ K − 1) or points
   spread evenly on a circle or sphere (d < K − 1); each mean along its own classifier row for a
   fixed classifier;
4. the solution handed in, moved into the feasible set (already a local solver's answer, so
   polished after the starts that can jump to another basin);
5. random starts and perturbations of the best point so far, only while the gap between the best
   value and the convex relaxation's value says that a better point may exist, and at most
   :data:`STALL_STARTS` in a row without improvement.

Polish. A nonmonotone spectral projected gradient (Birgin, Martínez and Raydan, SIAM J. Optim.
2000) on the collapsed point (W, U, b), in the scaled features of :mod:`lpm.constraints`
(h̄_k = s_k u_k) and the metric in which class k counts n_k times: exactly the per-sample method
of :mod:`lpm.solvers.gradient` restricted to collapsed points, with the exact projections of
:mod:`lpm.constraints`. The residual reported is :func:`lpm.solvers.gradient.residual` at the
lifted point, so ``converged`` means what it means for the gradient method.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from lpm.certify import attach
from lpm.classifiers import classifier_matrix, simplex_etf
from lpm.constraints import feasible_means, feasible_set
from lpm.objective import objective, objective_data, value_and_grad
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.closed_form import realise
from lpm.solvers.gradient import cpu_threads
from lpm.solvers.gradient import residual as kkt_residual
from lpm.solvers.method import METHODS, Method, SolveOptions
from lpm.theory import predict
from lpm.tolerances import GAP_TOL, default_tol

__all__ = [
    "METHOD",
    "STALL_STARTS",
    "Start",
    "improve",
    "needs_global_search",
    "polish",
    "structured_starts",
]

#: Consecutive polished starts without a better objective after which the search stops early.
STALL_STARTS = 8
#: Largest K whose convex relaxation is solved for a start (Clarabel: ~1 s at K = 20, ~30 s at 40).
RELAXATION_MAX_K = 30
#: Time that must be left before the relaxation is solved (Clarabel cannot be interrupted; its
#: fallbacks can take tens of seconds on a loaded machine even at K = 7).
RELAXATION_MIN_SECONDS = 10.0
#: Seconds kept back from the deadline for the last certificate and the result.
FINISH_RESERVE = 0.25
#: Iteration cap of one polish (collapsed problems converge in 10²–10⁴ steps).
POLISH_MAX_ITER = 20_000
#: Relative size of the perturbation of the best point that makes a "hop" start.
HOP_SCALE = 0.3

_MEMORY = 10  # nonmonotone window of the line search
_GAMMA = 1e-4  # sufficient decrease
_MAX_BACKTRACK = 60
_PATIENCE = 2000  # iterations without halving the residual or lowering f: stalled


@dataclass(frozen=True)
class Start:
    """A starting point on the class means.

    Attributes
    ----------
    name : str
        Where it comes from (``"given"``, ``"theory"``, ``"relaxation"``, ``"orthogonal"``,
        ``"etf"``, ``"spread"``, ``"aligned"``, ``"random"``, ``"hop"``).
    W : ndarray, shape=[K, d]
        Classifier (the problem's own for a fixed classifier).
    M : ndarray, shape=[K, d]
        Class means.
    b : ndarray, shape=[K]
        Bias (zeros without one).
    """

    name: str
    W: NDArray[np.float64]
    M: NDArray[np.float64]
    b: NDArray[np.float64]


def needs_global_search(problem: Problem) -> bool:
    """True for the nonconvex variants :func:`improve` is for: ReLU features with a learnable
    classifier, spherical features, or a learnable classifier with d < K − 1 (a finite optimum:
    energies or decay)."""
    if problem.regime == "unregularised":
        return False
    learnable = problem.classifier == "learnable"
    relu = problem.features == "relu" and learnable
    low_dim = learnable and problem.dim < problem.K - 1
    return relu or problem.features == "sphere" or low_dim


# ------------------------------------------------------------------------------- the polish
class _Collapsed:
    """The objective on collapsed points x = (W, U, b), U (K, d): h_i = s_{y_i} u_{y_i}.

    Values and gradients come from :func:`lpm.objective.value_and_grad` at the lifted per-sample
    point; the U-gradient returned is the per-sample one of a class's rows (the gradient in the
    metric ⟨U, V⟩ = Σ_k n_k u_kᵀ v_k), so steps and residuals are those of the per-sample method.
    """

    def __init__(self, problem: Problem):
        self.problem = problem
        self.data = objective_data([problem])
        self.fs = feasible_set([problem])
        self.labels = torch.as_tensor(np.array(problem.labels))
        self.first = torch.as_tensor(np.searchsorted(problem.labels, np.arange(problem.K)))
        self.s = self.fs.scale[0, self.first].unsqueeze(-1)
        self.n = torch.as_tensor(problem.counts, dtype=torch.float64).unsqueeze(-1)
        self.learnable = problem.classifier == "learnable"
        self.bias = problem.has_bias

    def lift(self, U: torch.Tensor) -> torch.Tensor:
        return (self.s * U)[self.labels]

    def __call__(self, x, need_grad: bool = True):
        W, U, b = x
        f, gW, gH, gb = value_and_grad(
            None if W is None else W[None],
            self.lift(U)[None],
            None if b is None else b[None],
            self.data,
            need_grad=need_grad,
        )
        if not need_grad:
            return f[0], None
        gU = self.s * gH[0, self.first]
        return f[0], (None if gW is None else gW[0], gU, None if gb is None else gb[0])

    def project(self, x):
        W, U, b = x
        Wp = None if W is None else self.fs.project_W(W[None])[0]
        Up = self.fs.project_U(U[self.labels][None])[0, self.first]
        return Wp, Up, b

    def mapping(self, x, g):
        """x − P(x − g), with the tangent gradient on spheres (the gradient method's residual)."""
        W, U, _ = x
        gW, gU, gb = g
        GW = None if W is None else W - self.project((W - gW, U, None))[0]
        if self.fs.kind == "sphere":
            GU = self.fs.tangent_U(U[None], gU[None])[0]
        else:
            GU = U - self.project((None, U - gU, None))[1]
        return GW, GU, gb

    def dot(self, a, c) -> float:
        total = 0.0
        for i, (x, y) in enumerate(zip(a, c)):
            if x is not None:
                total += float(((self.n * x * y) if i == 1 else x * y).sum())
        return total

    def to_means(self, x) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        W, U, b = x
        Wn = classifier_matrix(self.problem) if W is None else W.numpy().copy()
        bn = np.zeros(self.problem.K) if b is None else b.numpy().copy()
        return Wn, (self.s * U).numpy().copy(), bn

    def from_means(self, W, M, b):
        W = torch.as_tensor(np.asarray(W, dtype=np.float64)) if self.learnable else None
        U = torch.as_tensor(np.asarray(M, dtype=np.float64)) / self.s
        b = torch.as_tensor(np.asarray(b, dtype=np.float64)) if self.bias else None
        return self.project((W, U, b))


def _axpy(x, g, alpha: float):
    return tuple(None if a is None else a - alpha * ga for a, ga in zip(x, g))


def _diff(a, c):
    return tuple(None if x is None else x - y for x, y in zip(a, c))


def _quasi_newton(fun: _Collapsed, x, tol: float, deadline: float, max_iter: int):
    """SciPy's L-BFGS-B on (W, Z, b) with Z_k = sqrt(n_k) u_k (the metric of :class:`_Collapsed`
    made Euclidean) and bounds Z ≥ 0 for ReLU features; returns (x, iterations)."""
    shapes = [None if t is None else t.shape for t in x]
    root = torch.sqrt(fun.n)

    def unpack(z):
        out, at = [], 0
        for i, shape in enumerate(shapes):
            if shape is None:
                out.append(None)
                continue
            size = int(np.prod(shape))
            t = torch.as_tensor(z[at : at + size]).reshape(shape)
            out.append(t / root if i == 1 else t)
            at += size
        return tuple(out)

    def pack(blocks, scale_u):
        parts = []
        for i, t in enumerate(blocks):
            if t is not None:
                parts.append((t * root if scale_u and i == 1 else t).reshape(-1).numpy())
        return np.concatenate(parts)

    def fg(z):
        f, g = fun(unpack(z))
        g = tuple(None if t is None else (t * root if i == 1 else t) for i, t in enumerate(g))
        return float(f), pack(g, False)

    lower = [0.0 if fun.fs.nonneg else -np.inf]
    bounds = [
        (lower[0] if i == 1 else -np.inf, np.inf)
        for i, t in enumerate(x)
        if t is not None
        for _ in range(t.numel())
    ]

    def stop(_):
        if time.monotonic() > deadline:
            raise StopIteration

    z0 = pack(x, True)
    try:
        result = minimize(
            fg,
            z0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=stop,
            options={"maxiter": max_iter, "ftol": 0.0, "gtol": 0.1 * tol, "maxcor": 20},
        )
        z, it = result.x, int(result.nit)
    except StopIteration:
        return x, 0
    return fun.project(unpack(z)), it


def _spg(fun: _Collapsed, x, tol: float, deadline: float, max_iter: int):
    """Nonmonotone spectral projected gradient from x; returns (x, iterations, reason)."""
    with torch.no_grad():
        f, g = fun(x)
        G = fun.mapping(x, g)
        res = math.sqrt(fun.dot(G, G)) / max(1.0, abs(float(f)))
        scale = max(float(t.abs().max()) for t in G if t is not None)
        alpha = min(max(1.0 / max(scale, 1e-12), 1e-20), 1e20)
        history = [float(f)] * _MEMORY
        best_res, best_f, last_gain, it, reason = res, float(f), 0, 0, "max_iter"
        eps = float(np.finfo(np.float64).eps)
        while it < max_iter:
            if res <= tol:
                reason = "tol"
                break
            if time.monotonic() > deadline:
                reason = "deadline"
                break
            it += 1
            f_ref, slack = max(history), 10 * eps * max(1.0, abs(float(f)))
            trial = alpha
            for _ in range(_MAX_BACKTRACK):
                x_t = fun.project(_axpy(x, g, trial))
                f_t, _ = fun(x_t, need_grad=False)
                if math.isfinite(float(f_t)) and float(f_t) <= (
                    f_ref + _GAMMA * fun.dot(g, _diff(x_t, x)) + slack
                ):
                    break
                trial *= 0.5
            else:
                reason = "stalled"
                break
            f_t, g_t = fun(x_t)
            s, y = _diff(x_t, x), _diff(g_t, g)
            sty = fun.dot(s, y)
            alpha = min(max(fun.dot(s, s) / sty if sty > 0 else 1e20, 1e-20), 1e20)
            x, f, g = x_t, f_t, g_t
            history = [*history[1:], float(f)]
            G = fun.mapping(x, g)
            res = math.sqrt(fun.dot(G, G)) / max(1.0, abs(float(f)))
            if res < 0.5 * best_res or float(f) < best_f - slack:
                last_gain = it
            best_res = res if res < 0.5 * best_res else best_res
            best_f = min(best_f, float(f))
            if it - last_gain > _PATIENCE:
                reason = "stalled"
                break
    return x, it, reason


def polish(
    problem: Problem,
    start: Start,
    *,
    tol: float,
    deadline: float = math.inf,
    max_iter: int = POLISH_MAX_ITER,
) -> tuple[Start, int, str]:
    """Polish a start on the collapsed point: L-BFGS-B first where the only constraints are
    bounds (weight decay, free or ReLU features: SciPy's quasi-Newton method converges in far
    fewer steps on ill-conditioned problems), then spectral projected gradient to the tolerance.

    Parameters
    ----------
    problem : Problem
    start : Start
    tol : float
        Residual (relative gradient-mapping norm) at which to stop.
    deadline : float
        ``time.monotonic()`` value at which to stop whatever the residual.
    max_iter : int

    Returns
    -------
    (point, iterations, reason) : the polished point as a :class:`Start` of the same name, the
    iterations taken, and why it stopped (``"tol"``, ``"stalled"``, ``"max_iter"``,
    ``"deadline"``).
    """
    fun = _Collapsed(problem)
    with torch.no_grad(), cpu_threads("cpu", 0), threadpool_limits(limits=1):
        x = fun.from_means(start.W, start.M, start.b)
        steps = 0
        if fun.fs.kind == "none" and problem.energy is None:
            x, steps = _quasi_newton(fun, x, tol, deadline, max_iter)
        x, it, reason = _spg(fun, x, tol, deadline, max_iter - steps)
    W, M, b = fun.to_means(x)
    return Start(start.name, W, M, b), it, reason


# ------------------------------------------------------------------------------- the starts
def _scales(
    problem: Problem, W: NDArray[np.float64], M: NDArray[np.float64]
) -> tuple[float, float]:
    """Root-mean-square row norms of W and M for structured and random starts: the budgets'
    under energies, the sphere's radius, else those of the point handed in (1 where it is 0)."""
    w = math.sqrt(float((W * W).sum()) / problem.K)
    m = math.sqrt(float((M * M).sum()) / problem.K)
    if problem.energy is not None:
        w, m = math.sqrt(problem.energy[0]), math.sqrt(problem.energy[1])
    if problem.features == "sphere":
        m = problem.sphere_radius
    return (w if w > 0 else 1.0), (m if m > 0 else 1.0)


def _rows(X: NDArray[np.float64], norm: float) -> NDArray[np.float64]:
    """X with every nonzero row rescaled to the given norm."""
    lengths = np.linalg.norm(X, axis=1, keepdims=True)
    return np.where(lengths > 0, X / np.where(lengths > 0, lengths, 1.0), 0.0) * norm


def _spread(K: int, d: int, seed: int) -> NDArray[np.float64]:
    """K unit vectors spread over the sphere of R^d: the simplex ETF when d ≥ K − 1, a regular
    K-gon when d = 2, ±1 when d = 1, else the ETF projected onto a seeded d-dimensional subspace."""
    if d >= K - 1:
        return simplex_etf(K, d, seed)
    if d == 1:
        return np.where(np.arange(K)[:, None] % 2 == 0, 1.0, -1.0)
    if d == 2:
        angle = 2 * np.pi * np.arange(K) / K
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    E = simplex_etf(K, K - 1, seed)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((K - 1, d)))
    return _rows(E @ Q, 1.0)


def _orthogonal_means(problem: Problem) -> NDArray[np.float64]:
    """Unit nonnegative means on coordinates k mod d: orthogonal when d ≥ K."""
    M = np.zeros((problem.K, problem.dim))
    M[np.arange(problem.K), np.arange(problem.K) % problem.dim] = 1.0
    return M


def _centred_classifier(problem: Problem, M: NDArray[np.float64]) -> NDArray[np.float64]:
    """w_k = Σ_l (δ_kl − 1/K) sqrt(n_l) h̄_l: the centred, count-scaled class means that Dang et
    al. (2024) find as the ReLU optimum's classifier."""
    scaled = np.sqrt(np.asarray(problem.counts, dtype=np.float64))[:, None] * M
    return scaled - scaled.mean(axis=0, keepdims=True)


def structured_starts(problem: Problem, W: NDArray[np.float64], M: NDArray[np.float64], seed: int):
    """Structured starts (module docstring, item 4) at the scales of :func:`_scales`."""
    K, d = problem.K, problem.dim
    w, m = _scales(problem, W, M)
    b = np.zeros(K)
    out = []
    if problem.classifier != "learnable":
        rows = classifier_matrix(problem)
        if problem.features == "relu":
            rows = np.maximum(rows, 0.0)
        out.append(Start("aligned", W, _rows(rows, m), b))
        return out
    if problem.features == "relu":
        Mo = _orthogonal_means(problem) * m
        out.append(Start("orthogonal", _rows(_centred_classifier(problem, Mo), w), Mo, b))
    else:
        E = _spread(K, d, seed)
        out.append(Start("etf" if d >= K - 1 else "spread", E * w, E * m, b))
    out.append(Start("aligned", W, _rows(W - W.mean(axis=0, keepdims=True), m), b))
    return out


def _random_start(problem: Problem, W, M, rng: np.random.Generator) -> Start:
    K, d = problem.K, problem.dim
    w, m = _scales(problem, W, M)
    Mr = _rows(rng.standard_normal((K, d)), m)
    if problem.features == "relu":
        Mr = np.abs(Mr)
    Wr = _rows(rng.standard_normal((K, d)), w) if problem.classifier == "learnable" else W
    return Start("random", Wr, Mr, np.zeros(K))


def _hop(problem: Problem, best: Start, rng: np.random.Generator) -> Start:
    w, m = _scales(problem, best.W, best.M)
    Mh = best.M + HOP_SCALE * m * rng.standard_normal(best.M.shape)
    Wh = best.W
    if problem.classifier == "learnable":
        Wh = best.W + HOP_SCALE * w * rng.standard_normal(best.W.shape)
    return Start("hop", Wh, Mh, best.b.copy())


def _theory_start(problem: Problem) -> Start | None:
    """The closed form of :mod:`lpm.theory`, realised at dimension d, or None."""
    try:
        W, H, b = realise(problem, predict(problem))
    except ValueError:
        return None
    first = np.searchsorted(problem.labels, np.arange(problem.K))
    return Start("theory", W, H[first], b)


@dataclass(frozen=True)
class _Relaxation:
    """The convex method's answer: its rounded point as a start, as a candidate, its value."""

    start: Start | None = None
    solution: Solution | None = None
    value: float = -math.inf
    dual: dict[str, Any] | None = None
    exact: bool = False


def _relaxation(problem: Problem, options: SolveOptions, deadline: float) -> _Relaxation:
    """The convex relaxation, solved by the convex method where d ≥ K − 1 (:mod:`lpm.solvers.
    convex`: the Gram SDP, the doubly-nonnegative program for ReLU features, balls for spheres),
    its Gram rounded to rank d there (top d eigenpairs, rotated into the orthant for ReLU,
    projected onto the constraints). ``value`` is the program's (a lower bound up to the
    solver's tolerance); ``exact`` when the Gram fits in d dimensions and the features are not
    spherical (then no start can beat the value)."""
    convex = METHODS.get("convex")
    if convex is None or convex.supports(problem) is not None:
        return _Relaxation()
    if problem.K > RELAXATION_MAX_K or problem.dim < problem.K - 1:
        return _Relaxation()  # too large, or certainly not exact at d (its rank is K − 1)
    if time.monotonic() + RELAXATION_MIN_SECONDS + 1e-3 * problem.K**3 > deadline:
        return _Relaxation()  # a conic solve cannot be interrupted: only with time to spare
    try:
        sol = attach(convex.run([problem], replace(options, restarts=1))[0])
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return _Relaxation()
    value = sol.info.get("program_value", math.nan)
    if sol.status in ("failed", "infeasible") or not math.isfinite(value):
        return _Relaxation()
    W = sol.W if problem.classifier == "learnable" else classifier_matrix(problem)
    return _Relaxation(
        start=Start("relaxation", W, sol.means, sol.b),
        solution=sol,
        value=float(value),
        dual=sol.info.get("dual"),
        exact=bool(sol.info.get("rank_fits", False)) and problem.features != "sphere",
    )


# ------------------------------------------------------------------------------- the search
def _better(a: Solution, b: Solution | None) -> bool:
    """Whether a is a better answer than b: certified first, then a lower objective (by more
    than the gap tolerance), then at an equal objective a smaller residual."""
    if b is None:
        return True
    if a.certified != b.certified:
        return a.certified
    margin = GAP_TOL * max(1.0, abs(b.objective))
    if a.objective < b.objective - margin:
        return True
    return a.objective <= b.objective + margin and a.residual < b.residual


class _Search:
    """The best answer so far over polished starts, and the record of every start."""

    def __init__(self, problem: Problem, tol: float, deadline: float):
        self.problem, self.tol, self.deadline = problem, tol, deadline
        self.dual: dict[str, Any] | None = None
        self.best: Solution | None = None
        self.best_start: Start | None = None
        self.record: list[tuple[str, float, str]] = []
        self.iterations = 0

    def solution(self, point: Start, reason: str) -> Solution:
        """The Solution at a polished point, its residual the gradient method's."""
        p = self.problem
        H = point.M[p.labels]
        b = point.b if p.has_bias else None
        r = kkt_residual(p, point.W, H, b)
        if r <= self.tol:
            status, message = "converged", f"residual {r:.2e} ≤ tol {self.tol:.1e}"
        else:
            status = "max_iter" if reason in ("max_iter", "deadline") else "inaccurate"
            message = f"polish stopped ({reason}) at residual {r:.2e} > tol {self.tol:.1e}"
        return Solution(
            problem=p,
            W=point.W,
            H=H,
            b=point.b if p.has_bias else np.zeros(p.K),
            objective=objective(p, point.W, H, b),
            residual=r,
            status=status,
            method="global",
            tol=self.tol,
            message=message,
            info={} if self.dual is None else {"dual": self.dual},
        )

    def consider(self, name: str, sol: Solution, start: Start) -> bool:
        """Record a candidate; True when it is the new best."""
        self.record.append((name, sol.objective, sol.status))
        if not math.isfinite(sol.objective) or not _better(sol, self.best):
            return False
        self.best, self.best_start = sol, start
        return True

    def try_start(self, start: Start | None, share: float = 0.25) -> bool:
        """Polish a start (for at most ``share`` of the time left); True when it is the new best."""
        now, end = time.monotonic(), self.deadline - FINISH_RESERVE
        if start is None or now > end:
            return False
        until = min(end, now + max(2.0, share * (end - now))) if math.isfinite(end) else math.inf
        point, iterations, reason = polish(self.problem, start, tol=self.tol, deadline=until)
        self.iterations += iterations
        sol = self.solution(point, reason)
        if sol.converged and (self.best is None or sol.objective < self.best.objective + 1e-6):
            sol = attach(sol)  # certify only candidates that can matter
        return self.consider(start.name, sol, point)

    @property
    def certified(self) -> bool:
        return self.best is not None and self.best.certified


def _at_relaxation(search: _Search, relax: _Relaxation) -> bool:
    """True when the best value meets an exact relaxation's (up to the solver's tolerance): no
    start can do better, whether or not the rigorous certificate closes."""
    if search.best is None or not relax.exact:
        return False
    return search.best.objective <= relax.value + 1e-7 * max(1.0, abs(relax.value))


def _done(search: _Search, relax: _Relaxation) -> bool:
    return search.certified or _at_relaxation(search, relax)


def improve(
    problem: Problem,
    solution: Solution,
    options: SolveOptions | None = None,
    deadline: float | None = None,
) -> Solution:
    """Search for the global optimum of a nonconvex variant from an uncertified solution.

    Parameters
    ----------
    problem : Problem
        Typically one for which :func:`needs_global_search` is True; any problem with a finite
        optimum (energies or decay) is accepted.
    solution : Solution
        The point found so far (e.g. by the gradient method); its class means are the first start.
    options : SolveOptions, optional
        ``seed`` seeds the random starts; ``tol`` (default: the float64 gradient tolerance) is
        the residual at which a polished start is converged. The search runs in float64.
    deadline : float, optional
        ``time.monotonic()`` value by which to return (default: no limit; the search then stops
        after :data:`STALL_STARTS` starts in a row without improvement).

    Returns
    -------
    Solution
        The better of ``solution`` and the best candidate (method ``"global"`` for a polished
        start, ``"convex"`` when the convex method's rounded point is the certified answer),
        certified where :mod:`lpm.certify` closes the gap; ``restarts`` holds every candidate's
        objective and ``info["starts"]`` their names and statuses.

    Examples
    --------
    >>> from lpm.solvers.gradient import spg
    >>> p = Problem.balanced(3, 2, dim=3, decay=(1e-2, 1e-2), features="relu")
    >>> improve(p, spg([p])[0]).certified
    True
    """
    if problem.regime == "unregularised":
        raise ValueError("improve needs a finite optimum: a problem with energy or decay")
    options = SolveOptions() if options is None else options
    deadline = math.inf if deadline is None else float(deadline)
    # One thread for torch and for BLAS: the collapsed problems are small, and on a loaded
    # machine threads cost far more than they save (L-BFGS-B: 9 ms a step on two BLAS threads,
    # 1 ms on one).
    with cpu_threads("cpu", 0), threadpool_limits(limits=1):
        return _improve(problem, solution, options, deadline)


def _improve(problem: Problem, solution: Solution, options: SolveOptions, deadline: float):
    begin = time.monotonic()
    tol = options.tol if options.tol is not None else default_tol("gradient", "float64")
    rng = np.random.default_rng(options.seed)
    W0 = solution.W if problem.classifier == "learnable" else classifier_matrix(problem)
    W0, M0 = feasible_means(problem, W0, solution.means)
    search = _Search(problem, tol, deadline)
    relax = _Relaxation()
    given = Start("given", W0, M0, np.asarray(solution.b, dtype=np.float64))
    for source in ("theory", "relaxation", "structured", "given"):
        if _done(search, relax):
            break
        if source == "theory":
            search.try_start(_theory_start(problem))
        elif source == "given":
            search.try_start(given)
        elif source == "relaxation":
            relax = _relaxation(problem, options, deadline)
            search.dual = relax.dual
            if relax.solution is not None:
                search.consider("convex", relax.solution, relax.start)
            if not _done(search, relax):
                search.try_start(relax.start)
        else:
            for start in structured_starts(problem, W0, M0, options.seed):
                if not _done(search, relax):
                    search.try_start(start)
    stall, hop = 0, False
    while not _done(search, relax) and stall < STALL_STARTS and time.monotonic() < deadline:
        if hop:
            start = _hop(problem, search.best_start, rng)
        else:
            start = _random_start(problem, W0, M0, rng)
        stall = 0 if search.try_start(start) else stall + 1
        hop = not hop
    return _finish(solution, search, relax, time.monotonic() - begin)


def _finish(solution: Solution, search: _Search, relax: _Relaxation, seconds: float) -> Solution:
    """The better of the given solution and the search's best, with the search's record."""
    best = search.best
    if best is None:  # the deadline had passed before the first start
        return replace(solution, message=f"{solution.message}; no time left for a global search")
    objectives = [f for _, f, _ in search.record]
    origin = search.record[int(np.nanargmin(objectives))][0]
    if best.method == "global" and relax.dual is not None and "dual" not in best.info:
        best = attach(replace(best, info={**best.info, "dual": relax.dual}))
    if _better(best, solution):
        chosen = best
        what = f"global search: best of {len(objectives)} candidates from '{origin}'"
    else:
        chosen = solution
        what = f"global search ({len(objectives)} candidates) found nothing better"
    certified = "certified" if chosen.certified else "not certified"
    return replace(
        chosen,
        message=f"{chosen.message}; {what}, {certified}",
        seconds=solution.seconds + seconds,
        iterations=solution.iterations + search.iterations,
        restarts=tuple(objectives),
        info={
            **chosen.info,
            "starts": [[n, f, s] for n, f, s in search.record],
            "relaxation_value": relax.value if math.isfinite(relax.value) else None,
            "relaxation_exact": relax.exact,
            "global_seconds": seconds,
        },
    )


# ------------------------------------------------------------------------------- as a method
#: Wall-clock budget of ``method="global"`` when the options set no time limit.
DEFAULT_TIME_LIMIT = 60.0


#: Iteration cap of the local solve that ``method="global"`` starts from (the search, not a long
#: local solve, is what finds the optimum of a nonconvex variant).
FIRST_MAX_ITER = 2000


def _supports(problem: Problem) -> str | None:
    if problem.regime == "unregularised":
        return "the global search needs a finite optimum: add --energy or --decay"
    return None


def _run(problems, options: SolveOptions) -> list[Solution]:
    """``method="global"``: the reduced method (for every variant it supports), then
    :func:`improve` when the answer is not certified, within the options' time limit (else
    :data:`DEFAULT_TIME_LIMIT`) for each problem."""
    limit = options.time_limit or DEFAULT_TIME_LIMIT
    local = options
    if options.max_iter is None:  # the search, not a long local solve, is what finds optima
        local = replace(options, max_iter=FIRST_MAX_ITER)
    out = []
    for p in problems:
        deadline = time.monotonic() + limit
        first = "reduced" if METHODS["reduced"].supports(p) is None else "gradient"
        local = replace(local, time_limit=limit)
        sol = attach(METHODS[first].run([p], local)[0])
        if not sol.certified:
            sol = improve(p, sol, options, deadline)
        by = sol.method
        out.append(replace(sol, method="global", info={**sol.info, "answered_by": by}))
    return out


METHOD = Method(
    name="global",
    run=_run,
    supports=_supports,
    description=(
        "gradient method, then a global search for the nonconvex variants (ReLU, spheres, "
        "d < K − 1): closed-form, relaxation-guided, structured and random starts on the class "
        "means, each polished and certified where a certificate exists"
    ),
)
