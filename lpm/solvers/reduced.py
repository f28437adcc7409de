"""The reduced problem: class means solved by quasi-Newton, then lifted to per-sample features.

The Jensen reduction (docs/theory.md §1.1; Fang et al., PNAS 2021, Lemma 1 of the layer-peeled
model): replacing every feature h_i by its class mean h̄_k keeps the loss, convex in h, from
increasing, and keeps every budget or decay that is convex in the features — the class-average
budget (1/K)Σ_k ‖h̄_k‖² ≤ E_H, the per-sample budget ‖h̄_k‖² ≤ E_H, the decay
(λ_H/2)Σ_i ‖h_i‖² ≥ (λ_H/2)Σ_k n_k ‖h̄_k‖², and ReLU's h̄_k ≥ 0. So some optimum is collapsed,
h_i = m_{y_i}, and the per-sample problem's optimum equals that of the problem in M (K × d)

    min  Σ_k (n_k/N) ℓ(W m_k + b, k) + (λ_W/2)‖W‖² + (λ_H/2) Σ_k n_k ‖m_k‖² + (λ_b/2)‖b‖²

under the collapsed budgets: the one objective of :mod:`lpm.objective` with K "samples" of
weights a_k = n_k/N, plus the collapsed feature penalty. Spherical features (‖h_i‖ = r) reduce
for another reason: their means fill the ball, but for fixed (W, b) the objective is a sum over
samples of terms ℓ(W h_i + b, y_i) (the decay is constant on the sphere), each minimised over
its own sphere and depending on the sample only through its label, so one minimiser per class,
h_i = m_{y_i} with ‖m_k‖ = r, is as good as any per-sample choice. The unregularised model has
no finite optimum.

The constraints are removed by a smooth change of variables that is exact whether a budget is
active or not: a ball ‖X‖ ≤ r becomes X = r sin(θ) V/‖V‖ (θ ∈ R, V ≠ 0), a sphere
m_k = r u_k/‖u_k‖. At a boundary optimum
with a nonzero multiplier the new variables have a nondegenerate minimum
(f ≈ f* + μ r (θ − π/2)²/2), and inside the budget the map is a local diffeomorphism. ReLU's
M ≥ 0 stays a bound, U ≥ 0 on the direction U of M, handled by the two-metric projection. Under
weight decay the means are solved for as U = diag(√n) M, the scale in which the decay's curvature
is λ_H for every class (2–3× fewer steps on imbalanced counts). The
problem is solved by batched L-BFGS (:mod:`lpm.solvers.lbfgs`).

Convergence is judged on the residual of the per-sample method (:func:`lpm.solvers.gradient.
residual`: the gradient mapping ‖x − P(x − ∇f)‖ / max(1, |f|) in the scaled features), evaluated
at the lifted point H = M[labels] without forming it: every sample of class k has the gradient
∂f/∂m_k / n_k and the same projected step, so the sums over samples are sums over classes with
multiplicity n_k. ``converged`` therefore means what it means for the per-sample method.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from lpm.classifiers import classifier_matrix
from lpm.objective import ObjectiveData, objective_data, value_and_grad
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers import dense, small
from lpm.solvers.gradient import cpu_threads
from lpm.solvers.lbfgs import DOMINANCE, DOMINATED, INACCURATE, TIME_LIMIT, lbfgs
from lpm.solvers.method import Method, SolveOptions, best_start
from lpm.tolerances import DEFAULT_MAX_ITER, default_tol

__all__ = [
    "METHOD",
    "Layout",
    "ball",
    "natural_value_and_grad",
    "reduced_residual",
    "solve_reduced",
    "supports",
]

#: Start of every budget's angle θ (sin θ = 0.9: inside the ball, where the map is invertible;
#: exactly on the boundary, θ = π/2, the derivative in θ vanishes and an inactive budget could
#: not be left).
_START_FILL = 0.9
#: A warm start's budget fill is clipped into [_FILL_MIN, _FILL_MAX] for the same reason.
_FILL_MIN, _FILL_MAX = 1e-3, 1.0 - 1e-4
#: Norm of the direction V of a ball-parametrised block X = r sin(θ) V/‖V‖, per row: the
#: L-BFGS step in V moves X by r/‖V‖ times as much, and a small ‖V‖ (which grows as the solve
#: goes, every step being orthogonal to V at first order) lets the first steps explore (measured:
#: 420 → 94 iterations at K = 100 balanced, 402 → 69 on a step profile, 601 → 149 on a long tail,
#: for 0.03 against 1).
_DIRECTION_NORM = 0.03
#: Norm of each row u_k of spherical features m_k = r u_k/‖u_k‖ at the start.
_SPHERE_NORM = 1.0
#: Relative size of the random perturbation added to a warm start.
_WARM_NOISE = 1e-3
#: L-BFGS memory, and the numbers (B·m·n) above which it is cut to keep the history small.
_MEMORY = 20
_HISTORY_NUMBERS = 100_000_000
#: Largest batch, in reduced variables B·n, that the dense engine solves in a loop rather than
#: the batched L-BFGS: the batched solve's cost per problem falls with B, the loop's does not.
#: Measured on 256 problems K = d = 10 (n = 200, counts uniform in 1..50, λ = 5e-3): 1.27 s by
#: the loop against 1.40 s batched, the break-even.
_DENSE_LOOP_NUMBERS = 50_000
#: Iterations without progress (residual halved or f decreased) after which a solve has stalled:
#: L-BFGS either converges superlinearly or stops gaining at the dtype's precision.
_PATIENCE = 300


def supports(problem: Problem) -> str | None:
    """None when the Jensen reduction applies, else the reason it does not."""
    if problem.regime == "unregularised":
        return (
            "the unregularised model has its infimum at infinity (only directions converge); "
            "use --method convex or add --energy or --decay"
        )
    return None


@dataclass(frozen=True)
class Layout:
    """How a batch of same-structured problems is parametrised (see the module docstring).

    The flat variable of one problem is [V (K·d) if learnable, θ_W (1) if W has a budget,
    U (K·d), θ_H (1 class-average, K per-sample) if M has a budget, b (K) if a bias].
    """

    K: int
    d: int
    learnable: bool
    ball_W: bool
    relu: bool
    sphere: bool
    budget: str | None
    bias: bool
    counts: torch.Tensor  # [B, K] n_k
    N: torch.Tensor  # [B]
    R_W: torch.Tensor  # [B] sqrt(K E_W)
    E_H: torch.Tensor  # [B]
    radius: torch.Tensor  # [B] the sphere's radius (spherical features)
    lam_H: torch.Tensor  # [B]

    @classmethod
    def of(cls, problems: Sequence[Problem], device, dtype) -> Layout:
        first = problems[0]

        def t(values):
            return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device)

        energy = first.energy is not None
        return cls(
            K=first.K,
            d=first.dim,
            learnable=not first.fixed_classifier,
            ball_W=energy and not first.fixed_classifier,
            relu=first.features == "relu",
            sphere=first.features == "sphere",
            budget=first.budget if energy and first.features != "sphere" else None,
            bias=first.has_bias,
            counts=t([p.counts for p in problems]),
            N=t([p.N for p in problems]),
            R_W=t([math.sqrt(p.K * p.energy[0]) if energy else math.inf for p in problems]),
            E_H=t([p.energy[1] if energy else math.inf for p in problems]),
            radius=t([p.sphere_radius if p.features == "sphere" else math.inf for p in problems]),
            lam_H=t([p.decay[1] if p.decay is not None else 0.0 for p in problems]),
        )

    def sizes(self) -> dict[str, int]:
        K, d = self.K, self.d
        out = {}
        if self.learnable:
            out["V"] = K * d
            if self.ball_W:
                out["theta_W"] = 1
        out["U"] = K * d
        if self.budget is not None:
            out["theta_H"] = 1 if self.budget == "class-average" else K
        if self.bias:
            out["b"] = K
        return out

    def split(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.sizes(), torch.split(x, list(self.sizes().values()), dim=1)))

    def nonneg(self, device) -> torch.Tensor | None:
        """The flat coordinates constrained ≥ 0 (the direction U of ReLU features), or None."""
        if not self.relu:
            return None
        return torch.cat(
            [torch.full((n,), name == "U", device=device) for name, n in self.sizes().items()]
        )

    def H_radius(self) -> torch.Tensor:
        """Radius of the feature ball: sqrt(K E_H) (class-average) or sqrt(E_H) (per class)."""
        return torch.sqrt(self.E_H * (self.K if self.budget == "class-average" else 1.0))


def ball(theta: torch.Tensor, V: torch.Tensor, radius: torch.Tensor, dims) -> torch.Tensor:
    """radius · sin θ · V / ‖V‖ (norm over ``dims``): the exact reparametrisation of a ball
    (module docstring), shared with :mod:`lpm.solvers.symmetric`."""
    norm = torch.clamp(V.norm(dim=dims, keepdim=True), min=1e-300)
    shape = radius.shape + (1,) * (V.dim() - radius.dim())
    return (radius * torch.sin(theta)).reshape(shape) * V / norm


def point(x: torch.Tensor, lay: Layout):
    """(W, M, b) of the flat variables x, shape=[B, n] (W None for a fixed classifier)."""
    parts, B = lay.split(x), x.shape[0]
    W = None
    if lay.learnable:
        V = parts["V"].reshape(B, lay.K, lay.d)
        W = ball(parts["theta_W"][:, 0], V, lay.R_W, (1, 2)) if lay.ball_W else V
    U = parts["U"].reshape(B, lay.K, lay.d)
    if lay.budget == "class-average":
        M = ball(parts["theta_H"][:, 0], U, lay.H_radius(), (1, 2))
    elif lay.budget == "per-sample":
        M = ball(parts["theta_H"], U, lay.H_radius().unsqueeze(1).expand(B, lay.K), (2,))
    elif lay.sphere:
        M = lay.radius[:, None, None] * U / torch.clamp(U.norm(dim=2, keepdim=True), min=1e-300)
    else:
        M = U / torch.sqrt(lay.counts).unsqueeze(-1)  # U = diag(√n) M: the decay's own scale
    return W, M, parts.get("b")


def reduced_residual(W, M, b, f, gW, gM, gb, lay: Layout) -> torch.Tensor:
    """The per-sample residual of :mod:`lpm.solvers.gradient` at the lifted point H = M[labels].

    In the per-sample method's scaled features u_i = h_i / s_i (s_i = sqrt(K n_{y_i}) under the
    class-average budget, sqrt(N) otherwise; :mod:`lpm.constraints`) every sample of class k has
    u = m_k/s_k and gradient s_k ∂f/∂m_k / n_k; the norms of the per-sample gradient mapping and
    of the ball's projection are sums over classes with multiplicity n_k.
    """
    n = lay.counts
    s = torch.sqrt(lay.K * n) if lay.budget == "class-average" else torch.sqrt(lay.N).unsqueeze(1)
    s = s.expand_as(n).unsqueeze(-1)
    u = M / s
    if lay.sphere:  # the tangent component of each sample's gradient (lpm.constraints)
        g = gM * s / n.unsqueeze(-1)
        unit = u / torch.clamp(u.norm(dim=-1, keepdim=True), min=1e-300)
        v = u - (g - (g * unit).sum(-1, keepdim=True) * unit)
    else:
        v = u - gM * s / n.unsqueeze(-1)
    if lay.relu:
        v = torch.clamp(v, min=0.0)
    if lay.budget == "class-average":
        norm = torch.sqrt((n * (v * v).sum(-1)).sum(-1))
        v = (
            v
            * torch.clamp(torch.sqrt(lay.E_H) / torch.clamp(norm, min=1e-300), max=1.0)[
                :, None, None
            ]
        )
    elif lay.budget == "per-sample":
        radius = torch.sqrt(lay.E_H / lay.N).unsqueeze(1)
        v = v * torch.clamp(radius / torch.clamp(v.norm(dim=-1), min=1e-300), max=1.0).unsqueeze(-1)
    GU = u - v
    total = (n * (GU * GU).sum(-1)).sum(-1)
    if W is not None:
        if lay.ball_W:
            step = W - gW
            norm = torch.clamp(step.flatten(1).norm(dim=1), min=1e-300)
            GW = W - step * torch.clamp(lay.R_W / norm, max=1.0)[:, None, None]
        else:
            GW = gW
        total = total + (GW * GW).sum((1, 2))
    if b is not None:
        total = total + (gb * gb).sum(-1)
    return torch.sqrt(total) / torch.clamp(f.abs(), min=1.0)


def reduced_data(problems: Sequence[Problem], device, dtype) -> ObjectiveData:
    """The objective of the class-mean problems: K samples of weights n_k/N (labels 0..K−1);
    the feature decay is added by :func:`evaluate` with multiplicities n_k."""
    reduced = [replace(p, counts=(1,) * p.K) for p in problems]
    full = objective_data(reduced, device=device, dtype=dtype)
    weights = np.array([np.asarray(p.counts, dtype=np.float64) / p.N for p in problems])
    return replace(
        full,
        weights=torch.as_tensor(weights, dtype=dtype, device=device),
        lam_H=torch.zeros_like(full.lam_H),
    )


def _ball_pullback(theta, V, radius, G, dims):
    """(∂f/∂θ, ∂f/∂V) of X = r sin θ V/‖V‖ from G = ∂f/∂X: r cos θ ⟨G, v̂⟩ and
    (r sin θ/‖V‖)(G − ⟨G, v̂⟩ v̂), v̂ = V/‖V‖ (norms and ⟨·,·⟩ over ``dims``)."""
    norm = torch.clamp(V.norm(dim=dims, keepdim=True), min=1e-300)
    unit = V / norm
    along = (G * unit).sum(dim=dims, keepdim=True)
    shape = radius.shape + (1,) * (V.dim() - radius.dim())
    r = radius.reshape(shape)
    g_theta = (r * torch.cos(theta).reshape(shape) * along).reshape(theta.shape)
    g_V = r * torch.sin(theta).reshape(shape) / norm * (G - along * unit)
    return g_theta, g_V


def _pullback(x, lay: Layout, gW, gM, gb) -> torch.Tensor:
    """∂f/∂x, shape=[B, n], from the gradients in (W, M, b) (the chain rule through
    :func:`point`)."""
    parts, B = lay.split(x), x.shape[0]
    out = {}
    if lay.learnable:
        if lay.ball_W:
            V = parts["V"].reshape(B, lay.K, lay.d)
            out["theta_W"], out["V"] = _ball_pullback(
                parts["theta_W"][:, 0], V, lay.R_W, gW, (1, 2)
            )
            out["theta_W"] = out["theta_W"].unsqueeze(1)
        else:
            out["V"] = gW
    U = parts["U"].reshape(B, lay.K, lay.d)
    if lay.budget == "class-average":
        g_theta, out["U"] = _ball_pullback(parts["theta_H"][:, 0], U, lay.H_radius(), gM, (1, 2))
        out["theta_H"] = g_theta.unsqueeze(1)
    elif lay.budget == "per-sample":
        radius = lay.H_radius().unsqueeze(1).expand(B, lay.K)
        out["theta_H"], out["U"] = _ball_pullback(parts["theta_H"], U, radius, gM, (2,))
    elif lay.sphere:  # m = r u/‖u‖: ∂f/∂u = (r/‖u‖)(g − ⟨g, û⟩û)
        norm = torch.clamp(U.norm(dim=2, keepdim=True), min=1e-300)
        unit = U / norm
        out["U"] = lay.radius[:, None, None] / norm * (gM - (gM * unit).sum(2, keepdim=True) * unit)
    else:
        out["U"] = gM / torch.sqrt(lay.counts).unsqueeze(-1)
    if lay.bias:
        out["b"] = gb
    return torch.cat([out[name].reshape(B, -1) for name in lay.sizes()], dim=1)


def natural_value_and_grad(W, M, b, lay: Layout, data: ObjectiveData):
    """f and ∂f/∂(W, M, b) of the reduced problem at class means M: the objective of
    :func:`lpm.objective.value_and_grad` plus the collapsed feature decay (λ_H/2)Σ_k n_k‖m_k‖²."""
    f, gW, gM, gb = value_and_grad(W, M, b, data)
    weight = (lay.lam_H.unsqueeze(1) * lay.counts).unsqueeze(-1)  # λ_H n_k
    return f + 0.5 * (weight * M * M).sum((1, 2)), gW, gM + weight * M, gb


def evaluate(x: torch.Tensor, lay: Layout, data: ObjectiveData):
    """f, its gradient in the flat variables, and the lifted residual, shape=[B], [B, n], [B]:
    :func:`natural_value_and_grad`, then the chain rule through :func:`point`."""
    W, M, b = point(x, lay)
    f, gW, gM, gb = natural_value_and_grad(W, M, b, lay, data)
    return f, _pullback(x, lay, gW, gM, gb), reduced_residual(W, M, b, f, gW, gM, gb, lay)


def _angle(fill: float) -> float:
    return math.asin(min(max(fill, _FILL_MIN), _FILL_MAX))


def _start(problem: Problem, seed: int, init: Solution | None, lay: Layout) -> np.ndarray:
    """The flat start of one problem: random (seed), or the warm start's W, class means and b
    written in the variables of :func:`point` (fills clipped inside the balls)."""
    K, d = problem.K, problem.dim
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((K, d)) / math.sqrt(d)
    M = rng.standard_normal((K, d)) / math.sqrt(d)
    b = np.zeros(K)
    fill_W, fill_H = _START_FILL, np.full(K, _START_FILL)
    if init is not None:
        if lay.learnable and np.linalg.norm(init.W) > 0:
            V = np.array(init.W, dtype=np.float64)
            fill_W = (
                float(np.linalg.norm(V)) / math.sqrt(K * problem.energy[0]) if lay.ball_W else 1
            )
        M = np.array(init.means, dtype=np.float64)
        b = np.array(init.b, dtype=np.float64) if lay.bias else b
        sq = (M * M).sum(1)
        if lay.budget == "class-average":
            fill_H = np.full(K, math.sqrt(sq.sum() / (K * problem.energy[1])))
        elif lay.budget == "per-sample":
            fill_H = np.sqrt(sq / problem.energy[1])
    if init is not None:
        # Break the warm start's symmetries: an exactly collapsed pair of classes (w_k = w_l) is
        # a stationary point of every neighbouring problem, separated optimum or not.
        for X in (V, M):
            X += _WARM_NOISE * rng.standard_normal(X.shape) * max(float(np.abs(X).max()), 1e-12)
    if lay.relu:
        M = np.maximum(M, 0.0) if init is not None else np.abs(M)
    if lay.sphere:  # only the directions of the rows matter: m_k = r u_k/‖u_k‖
        M = _SPHERE_NORM * M / np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-300)
    elif lay.budget is None:
        M = M * np.sqrt(np.asarray(problem.counts, dtype=np.float64))[:, None]
    if lay.ball_W:
        V = _DIRECTION_NORM * math.sqrt(K) * V / max(float(np.linalg.norm(V)), 1e-300)
    if lay.budget is not None:
        rows = np.maximum(np.linalg.norm(M, axis=1, keepdims=True), 1e-300)
        M = (
            _DIRECTION_NORM
            * M
            / (rows if lay.budget == "per-sample" else np.sqrt((rows**2).sum() / K))
        )
    parts = []
    if lay.learnable:
        parts.append(V.ravel())
        if lay.ball_W:
            parts.append([_angle(fill_W)])
    parts.append(M.ravel())
    if lay.budget == "class-average":
        parts.append([_angle(float(fill_H[0]))])
    elif lay.budget == "per-sample":
        parts.append([_angle(float(v)) for v in fill_H])
    if lay.bias:
        parts.append(b)
    return np.concatenate([np.asarray(v, dtype=np.float64) for v in parts])


def solve_reduced(
    problems: Sequence[Problem],
    *,
    seeds: Sequence[int] | None = None,
    inits: Sequence[Solution | None] | None = None,
    device: str = "cpu",
    dtype: str = "float64",
    tol: float = 1e-10,
    max_iter: int = 20_000,
    deadline: float | None = None,
    callback=None,
    groups: Sequence[int] | None = None,
) -> list[Solution]:
    """Solve same-structured problems through their class means by batched L-BFGS, or, for a
    few small problems under weight decay with free features (CPU, float64), one at a time by
    the NumPy Newton engine of :mod:`lpm.solvers.dense` (``info["engine"]`` says which).

    Parameters
    ----------
    problems : sequence of Problem
        One K, d, loss, kind of classifier, scale regime, budget, kind of features and bias;
        free or ReLU features, energies or weight decay (:func:`supports`).
    seeds : sequence of int, optional
        Seed of each random start (default 0).
    inits : sequence of Solution or None, optional
        Warm starts (a solution of a problem with the same K and d), None for a random start.
    device, dtype : str
        Where and in which precision L-BFGS runs; the final point is evaluated in float64.
    tol : float
        Residual (of the per-sample method, at the lifted point) at which a problem is converged.
    max_iter : int
    deadline : float, optional
        ``time.monotonic()`` at which to stop (status ``"time_limit"``).
    callback : callable(iteration, residuals), optional
    groups : sequence of int, optional
        Problem index of each entry when several are random starts of one problem: a start that
        another has beaten (:data:`lpm.solvers.lbfgs.DOMINANCE`) stops early.

    Returns
    -------
    list of Solution, in the order of ``problems``; H = M[labels] (collapsed per-sample
    features), ``info["formulation"] = "class-means"``.
    """
    problems = list(problems)
    B, first = len(problems), problems[0]
    seeds = [0] * B if seeds is None else list(seeds)
    inits = [None] * B if inits is None else list(inits)
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    start = time.perf_counter()
    work = B * first.K * max(first.K, first.dim)
    numpy_engine = _numpy_engine(problems, device, dtype)
    use_dense = numpy_engine is not None
    # The dense engine works in NumPy on one BLAS thread of its own; toggling torch's thread
    # count for its few small torch operations costs more than it saves: with another job on
    # the two cores, the next small torch operations (the certificate's) then waited ~30 ms for
    # torch's OpenMP workers (lpm.solve, K = d = 10: 35 ms with the toggle, 4.6 ms without).
    with contextlib.nullcontext() if use_dense else cpu_threads(device, work):
        lay = Layout.of(problems, device, tdtype)
        x0 = np.stack([_start(p, s, i, lay) for p, s, i in zip(problems, seeds, inits)])
        if use_dense:
            x, iterations, codes, engine = _optimise_dense(
                problems, x0, tol, max_iter, deadline, callback, numpy_engine
            )
        else:
            x, iterations, codes = _optimise_lbfgs(
                problems, x0, lay, tol, max_iter, deadline, callback, groups
            )
            engine = "lbfgs"
        lay64 = lay if tdtype == torch.float64 else Layout.of(problems, device, torch.float64)
        x = x.to(torch.float64)
        f, _, res = evaluate(x, lay64, reduced_data(problems, device, torch.float64))
        W, M, b = point(x, lay64)
    elapsed = time.perf_counter() - start
    out = []
    for j, p in enumerate(problems):
        status, message = _status(float(res[j]), int(codes[j]), tol, max_iter)
        out.append(
            Solution(
                problem=p,
                W=classifier_matrix(p) if W is None else W[j].cpu().numpy(),
                H=M[j].cpu().numpy()[p.labels],
                b=np.zeros(p.K) if b is None else b[j].cpu().numpy(),
                objective=float(f[j]),
                residual=float(res[j]),
                status=status,
                method="reduced",
                device=str(device),
                dtype=dtype,
                iterations=int(iterations[j]),
                seconds=elapsed,
                tol=tol,
                message=message,
                info={
                    "formulation": "class-means",
                    "seed": int(seeds[j]),
                    "warm_start": inits[j] is not None,
                    "batch_size": B,
                    "engine": engine,
                },
            )
        )
    return out


def _numpy_engine(problems: Sequence[Problem], device: str, dtype: str) -> str | None:
    """The NumPy engine the problems go to, one at a time — ``"dense-newton"``
    (:mod:`lpm.solvers.dense`, weight decay) or ``"numpy-lbfgs-b"`` (:mod:`lpm.solvers.small`,
    energy budgets) — where it applies and the batch is small enough
    (:data:`_DENSE_LOOP_NUMBERS`); None for the batched torch L-BFGS."""
    first = problems[0]
    for name, module, size in (
        ("dense-newton", dense, dense.DenseProblem.size_of),
        ("numpy-lbfgs-b", small, small.BudgetProblem.size_of),
    ):
        if len(problems) * size(first) > _DENSE_LOOP_NUMBERS:
            continue
        if all(module.applies(p, device, dtype) for p in problems):
            return name
    return None


def _optimise_dense(
    problems: Sequence[Problem],
    x0: np.ndarray,
    tol: float,
    max_iter: int,
    deadline: float | None,
    callback,
    engine: str,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray, str]:
    """x, iterations and stop codes of the NumPy ``engine``, one problem at a time (``callback``
    is called once, at the end: a solve takes milliseconds), and the engine's name. Problems on
    which L-BFGS-B stalled above ``tol`` (:mod:`lpm.solvers.small`) are finished by the batched
    torch L-BFGS from where it stopped (the name then says so)."""
    solve = dense.solve_dense if engine == "dense-newton" else small.solve_small
    results = [
        solve(p, x, tol=tol, max_iter=max_iter, deadline=deadline) for p, x in zip(problems, x0)
    ]
    iterations = np.array([r.iterations for r in results])
    codes = np.array([r.code for r in results])
    x = np.stack([r.x for r in results])
    finish = engine != "dense-newton"
    stalled = [j for j, r in enumerate(results) if finish and r.code == INACCURATE]
    if stalled:
        rest = [problems[j] for j in stalled]
        lay = Layout.of(rest, "cpu", torch.float64)
        left = max(max_iter - int(iterations[stalled].max()), 1)
        xs, its, cs = _optimise_lbfgs(rest, x[stalled], lay, tol, left, deadline, None, None)
        x[stalled], codes[stalled] = xs.numpy(), cs
        iterations[stalled] += its
        engine += "+lbfgs"
    if callback is not None:
        callback(int(iterations.max()), np.array([r.residual for r in results]))
    return torch.as_tensor(x), iterations, codes, engine


def _optimise_lbfgs(
    problems: Sequence[Problem],
    x0: np.ndarray,
    lay: Layout,
    tol: float,
    max_iter: int,
    deadline: float | None,
    callback,
    groups: Sequence[int] | None,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """x, iterations and stop codes of the batched torch L-BFGS (:mod:`lpm.solvers.lbfgs`)."""
    device, tdtype = lay.counts.device, lay.counts.dtype
    data = reduced_data(problems, device, tdtype)
    memory = max(3, min(_MEMORY, _HISTORY_NUMBERS // (2 * x0.size)))
    result = lbfgs(
        lambda x: evaluate(x, lay, data),
        torch.as_tensor(x0, dtype=tdtype, device=device),
        tol=tol,
        max_iter=max_iter,
        memory=memory,
        patience=_PATIENCE,
        nonneg=lay.nonneg(device),
        groups=None if groups is None else torch.as_tensor(groups, device=device),
        deadline=deadline,
        callback=callback,
    )
    return result.x, result.iterations.cpu().numpy(), result.code.cpu().numpy()


def _status(residual: float, code: int, tol: float, max_iter: int) -> tuple[str, str]:
    """The status and message of a solve from its residual (float64) and L-BFGS's stop."""
    if residual <= tol:
        return "converged", f"residual {residual:.2e} ≤ tol {tol:.1e}"
    if code == DOMINATED:
        return "inaccurate", (
            f"stopped at residual {residual:.2e}: another start converged to an objective lower "
            f"by more than {DOMINANCE:g} (relative)"
        )
    if code == INACCURATE:
        return "inaccurate", (
            f"stalled at residual {residual:.2e} > tol {tol:.1e}: neither the residual nor the "
            "objective improves any more"
        )
    if code == TIME_LIMIT:
        return "time_limit", f"time limit reached at residual {residual:.2e} > tol {tol:.1e}"
    return "max_iter", f"{max_iter} iterations, residual {residual:.2e} > tol {tol:.1e}"


def _run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    tol = options.tol if options.tol is not None else default_tol("reduced", options.dtype)
    max_iter = options.max_iter if options.max_iter is not None else DEFAULT_MAX_ITER[options.dtype]
    deadline = None
    if options.time_limit is not None:
        deadline = time.monotonic() + options.time_limit
    starts = options.restarts or 1
    batch = [p for p in problems for _ in range(starts)]
    seeds = [options.seed + j for _ in problems for j in range(starts)]
    inits = [
        options.init_for(i, p) if j == 0 else None
        for i, p in enumerate(problems)
        for j in range(starts)
    ]
    sols = solve_reduced(
        batch,
        seeds=seeds,
        inits=inits,
        device=options.device,
        dtype=options.dtype,
        tol=tol,
        max_iter=max_iter,
        deadline=deadline,
        callback=options.callback,
        groups=[i for i in range(len(problems)) for _ in range(starts)] if starts > 1 else None,
    )
    if starts == 1:
        return sols
    return [best_start(sols[i * starts : (i + 1) * starts]) for i in range(len(problems))]


METHOD = Method(
    name="reduced",
    run=_run,
    supports=supports,
    description=(
        "L-BFGS on the class means (the Jensen reduction: free or ReLU features under budgets "
        "or decay; spheres by separability), lifted to collapsed per-sample features (torch, "
        "CPU or CUDA, batched)"
    ),
)
