"""Spectral projected gradient on per-sample features, batched over problems, in torch.

The method is the nonmonotone spectral projected gradient of Birgin, Martínez and Raydan
(SIAM J. Optim. 2000) with a projected arc search: from x = (W, U, b) with gradient g,

    x(α) = P(x − α g),   accepted when f(x(α)) ≤ max_{j<M} f_{t−j} + γ ⟨g, x(α) − x⟩,

α halved until accepted, and the next trial step the Barzilai–Borwein ratio ⟨s, s⟩/⟨s, y⟩ of the
last step s and gradient change y. P is the exact projection of :mod:`lpm.constraints` (in the
scaled features U, H = s ⊙ U). Every problem of the batch carries its own step, history and
stopping state, so a batch is B independent solves that share tensor operations.

The residual of a point is the norm of the gradient mapping with unit step,

    r(x) = ‖x − P(x − ∇f(x))‖ / max(1, |f(x)|),

(for spherical features the component of the U-gradient tangent to the spheres), which is zero
exactly at the KKT points of the constrained problem: for a ball constraint it is the distance
between −∇f and the normal cone, i.e. the smallest KKT violation over nonnegative multipliers.
Features are per sample and start from a random point: within-class collapse is never assumed.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import NamedTuple

import numpy as np
import torch

from lpm.constraints import FeasibleSet, feasible_set
from lpm.objective import ObjectiveData, objective, objective_data, value_and_grad
from lpm.problem import Problem
from lpm.solution import Solution

__all__ = ["cpu_threads", "residual", "spg"]

_MEMORY = 10  # nonmonotone window M
_GAMMA = 1e-4  # sufficient decrease
_MAX_BACKTRACK = 60
_STEP_BOUNDS = (1e-20, 1e20)
#: A problem has stalled when, for this many iterations, neither its best residual has halved nor
#: its best objective has fallen by more than a few rounding errors: the limit of the dtype's
#: precision. It stops with status "inaccurate". Slow but steady progress (an ill-conditioned
#: problem, or dot-regression's quartic minimum) is not a stall: it runs on to ``max_iter``.
_PATIENCE = {"float64": 2000, "float32": 1000}
#: Below this many numbers per logit tensor (B·N·max(K, d)) a CPU solve runs on one thread:
#: torch's intra-op threads cost more than they save on small tensors, ten times more on a
#: loaded machine (measured: 1.8 s on one thread against 18 s on two for a K = 4, N = 220 batch).
_SMALL_WORK = 4_000_000


@contextlib.contextmanager
def cpu_threads(device: str, work: int) -> Iterator[None]:
    """Run small CPU solves on one thread, restoring torch's setting afterwards."""
    if str(device) != "cpu" or work >= _SMALL_WORK:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _dot(a: Sequence[torch.Tensor | None], b: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """Per-problem inner product of block tuples, shape=[B]."""
    total = None
    for x, y in zip(a, b):
        if x is None:
            continue
        v = (x * y).flatten(1).sum(1)
        total = v if total is None else total + v
    return total


def _initial_point(
    problems: Sequence[Problem], seeds: Sequence[int], fs: FeasibleSet, dtype, device
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
    """Random start: Gaussian rows of norm about 1 (at the budgets' boundary under energies)."""
    first = problems[0]
    B, N, K, d = len(problems), fs.scale.shape[1], first.K, first.dim
    W = np.zeros((B, K, d)) if first.classifier == "learnable" else None
    H = np.zeros((B, N, d))
    for j, (p, seed) in enumerate(zip(problems, seeds)):
        rng = np.random.default_rng(seed)
        if W is not None:
            W[j] = rng.standard_normal((K, d)) / math.sqrt(d)
            if p.energy is not None:
                W[j] *= math.sqrt(K * p.energy[0]) / max(np.linalg.norm(W[j]), 1e-300)
        Hj = rng.standard_normal((p.N, d)) / math.sqrt(d)
        if p.features == "relu":
            Hj = np.abs(Hj)
        H[j, : p.N] = Hj
    Ht = torch.as_tensor(H, dtype=dtype, device=device)
    safe = torch.where(fs.scale > 0, fs.scale, torch.ones_like(fs.scale))
    U = Ht / safe.unsqueeze(-1)
    if fs.kind in ("ball", "rows", "sphere"):
        # Start on the boundary of the budget: inflate, then project.
        U = fs.project_U(U * 1e6) if fs.kind != "sphere" else fs.project_U(U)
    else:
        U = fs.project_U(U)
    Wt = None if W is None else torch.as_tensor(W, dtype=dtype, device=device)
    b = None
    if first.has_bias:
        b = torch.zeros((B, K), dtype=dtype, device=device)
    return Wt, U, b


class _Objective:
    """f and its gradient in the scaled variables (W, U, b)."""

    def __init__(self, data: ObjectiveData, fs: FeasibleSet):
        self.data, self.fs = data, fs
        self.s = fs.scale.unsqueeze(-1)

    def __call__(self, x, need_grad=True):
        W, U, b = x
        f, gW, gH, gb = value_and_grad(W, self.s * U, b, self.data, need_grad=need_grad)
        if not need_grad:
            return f, None
        return f, (gW, self.s * gH, gb)

    def select(self, keep: torch.Tensor) -> _Objective:
        """The objective of the rows ``keep`` (a LongTensor) of the batch."""
        return _Objective(self.data.select(keep), self.fs.select(keep))

    def project(self, x):
        W, U, b = x
        return (None if W is None else self.fs.project_W(W), self.fs.project_U(U), b)

    def mapping(self, x, g):
        """The gradient mapping x − P(x − g) (tangent gradient on spheres)."""
        W, U, _ = x
        gW, gU, gb = g
        GW = None if W is None else W - self.fs.project_W(W - gW)
        GU = self.fs.tangent_U(U, gU) if self.fs.kind == "sphere" else U - self.fs.project_U(U - gU)
        return (GW, GU, gb)


def residual(
    problem: Problem,
    W: np.ndarray | None,
    H: np.ndarray,
    b: np.ndarray | None = None,
) -> float:
    """The optimality residual r(x) of the module docstring at one point, in float64.

    Parameters
    ----------
    W : ndarray, shape=[K, d] or None
        Ignored for a fixed classifier.
    H : ndarray, shape=[N, d]
    b : ndarray, shape=[K] or None
        Used when the problem has a bias.

    The point should be feasible (the residual of an infeasible point measures its distance to
    the projection as well). Every method that reports a residual comparable with the gradient
    method's calls this function.
    """
    data = objective_data([problem])
    fs = feasible_set([problem])
    fun = _Objective(data, fs)
    U = torch.as_tensor(np.asarray(H, dtype=np.float64))[None] / fs.scale[0][:, None]
    Wt = (
        None if problem.fixed_classifier else torch.as_tensor(np.asarray(W, dtype=np.float64))[None]
    )
    bt = None
    if problem.has_bias:
        bt = torch.as_tensor(np.asarray(b, dtype=np.float64).reshape(problem.K))[None]
    x = (Wt, U, bt)
    f, g = fun(x)
    G = fun.mapping(x, g)
    return float(torch.sqrt(_dot(G, G))[0] / torch.clamp(f.abs(), min=1.0)[0])


def _progress_slack(f: torch.Tensor, loss: str, eps: float) -> torch.Tensor:
    """Ten rounding errors of f, below which a fall of the objective is not progress, shape=[B].

    Cross-entropy's log-sum-exp minus the true logit carries an absolute error of a few eps at
    any f, so its unit is eps·max(1, |f|). The squared losses (MSE, DR) are sums of a_i·½r_i²:
    an error eps·|z| in a logit moves ½r² by eps·|z|·|r|, and Σ a_i |r_i| ≤ sqrt(2f), so their
    unit is eps·max(|f|, sqrt|f|), far below eps near a zero optimum (dot-regression's quartic
    minimum, where f falls like 1/t² and an absolute unit eps would call it a stall).
    """
    a = f.abs()
    scale = torch.clamp(a, min=1.0) if loss == "ce" else torch.maximum(a, a.sqrt())
    return 10 * eps * scale


#: A start (W, H, b) for one problem: NumPy arrays, W or b None where the problem has none.
Start = tuple[np.ndarray | None, np.ndarray, np.ndarray | None]


def _given_point(
    problems: Sequence[Problem], init: Sequence[Start], fs: FeasibleSet, dtype, device
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
    """The given starts, in the scaled variables and projected onto the feasible set."""
    first = problems[0]
    if len(init) != len(problems):
        raise ValueError(f"init must give one start per problem ({len(problems)}), got {len(init)}")
    B, N, K, d = len(problems), fs.scale.shape[1], first.K, first.dim
    W = np.zeros((B, K, d)) if first.classifier == "learnable" else None
    H = np.zeros((B, N, d))
    b = np.zeros((B, K)) if first.has_bias else None
    for j, (p, (Wj, Hj, bj)) in enumerate(zip(problems, init)):
        H[j, : p.N] = _shaped(Hj, (p.N, d), "H")
        if W is not None:
            W[j] = _shaped(Wj, (K, d), "W")
        if b is not None:
            b[j] = _shaped(bj, (K,), "b")
    safe = torch.where(fs.scale > 0, fs.scale, torch.ones_like(fs.scale))
    U = fs.project_U(torch.as_tensor(H, dtype=dtype, device=device) / safe.unsqueeze(-1))
    Wt = None if W is None else fs.project_W(torch.as_tensor(W, dtype=dtype, device=device))
    bt = None if b is None else torch.as_tensor(b, dtype=dtype, device=device)
    return Wt, U, bt


def _shaped(value, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"init: {name} must have shape {shape}, got {array.shape}")
    return array


def _where(mask: torch.Tensor, new, old):
    out = []
    for a, b in zip(new, old):
        if a is None:
            out.append(None)
            continue
        m = mask.view(-1, *([1] * (a.dim() - 1)))
        out.append(torch.where(m, a, b))
    return tuple(out)


def _step(x, g, alpha):
    out = []
    for a, ga in zip(x, g):
        if a is None:
            out.append(None)
            continue
        out.append(a - alpha.view(-1, *([1] * (a.dim() - 1))) * ga)
    return tuple(out)


def spg(
    problems: Sequence[Problem],
    *,
    seeds: Sequence[int] | None = None,
    device: str = "cpu",
    dtype: str = "float64",
    tol: float = 1e-10,
    max_iter: int = 50_000,
    callback: Callable[[int, np.ndarray], None] | None = None,
    deadline: float | None = None,
    init: Sequence[Start] | None = None,
) -> list[Solution]:
    """Solve same-shaped problems together by spectral projected gradient.

    Parameters
    ----------
    problems : sequence of Problem
        One K, d, loss, kind of classifier, scale regime, budget and kind of features.
    seeds : sequence of int, optional
        Seed of each problem's random start (default 0 for all).
    device : "cpu" or "cuda"
    dtype : "float64" or "float32"
    tol : float
        Residual at which a problem is converged.
    max_iter : int
    callback : callable(iteration, residuals), optional
        Called every 100 iterations with the residuals, shape=[B].
    deadline : float, optional
        An absolute :func:`time.monotonic` time: the problems still running when it passes stop
        with status ``"time_limit"`` (their last iterate and residual kept).
    init : sequence of (W, H, b), optional
        A start per problem instead of the random one (to polish a given point): W shape=[K, d]
        (ignored, may be None, for a fixed classifier), H shape=[N, d], b shape=[K] (ignored, may
        be None, without a bias). It is projected onto the feasible set first.

    Returns
    -------
    list of Solution, in the order of ``problems``.
    """
    problems = list(problems)
    work = len(problems) * max(p.N for p in problems) * max(problems[0].K, problems[0].dim)
    with cpu_threads(device, work):
        return _spg(problems, seeds, device, dtype, tol, max_iter, callback, deadline, init)


Blocks = tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None]


@dataclass(frozen=True)
class _State:
    """The iteration of the problems still in the batch, row i being problem ``rows[i]``.

    Every field is indexed by the batch, so :meth:`select` retires finished problems from all of
    them at once.
    """

    x: Blocks  # the iterate (W, U, b)
    g: Blocks  # its gradient
    f: torch.Tensor  # its objective, shape=[B]
    history: torch.Tensor  # the last _MEMORY objectives, shape=[B, _MEMORY]
    alpha: torch.Tensor  # the next trial step
    res: torch.Tensor  # the residual r(x)
    active: torch.Tensor  # still iterating
    stalled: torch.Tensor
    fails: torch.Tensor  # consecutive line searches without an accepted step
    best_res: torch.Tensor  # the last residual that halved the one before
    best_f: torch.Tensor
    last_gain: torch.Tensor  # the iteration of the last progress
    iterations: torch.Tensor
    rows: torch.Tensor  # the problem of each row

    def select(self, keep: torch.Tensor) -> _State:
        """The state of the rows ``keep`` (a LongTensor)."""
        return _State(**{f.name: _index(getattr(self, f.name), keep) for f in fields(self)})


def _index(value, keep: torch.Tensor):
    if isinstance(value, tuple):
        return tuple(None if t is None else t[keep] for t in value)
    return value[keep]


class _Final(NamedTuple):
    """What is kept of a retired problem."""

    W: torch.Tensor | None
    H: torch.Tensor
    b: torch.Tensor | None
    res: float
    iterations: int
    stalled: bool
    active: bool


def _spg(problems, seeds, device, dtype, tol, max_iter, callback, deadline, init) -> list[Solution]:
    start = time.perf_counter()
    B = len(problems)
    seeds = [0] * B if seeds is None else list(seeds)
    tdtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    data = objective_data(problems, device=device, dtype=tdtype)
    fs = feasible_set(problems, device=device, dtype=tdtype)
    fun = _Objective(data, fs)
    if init is None:
        x = _initial_point(problems, seeds, fs, tdtype, device)
    else:
        x = _given_point(problems, init, fs, tdtype, device)
    state = _start(fun, x, tol)
    eps, patience = torch.finfo(tdtype).eps, _PATIENCE[dtype]
    # Finished problems leave the batch tensors (their final state kept here) once they are half
    # of the batch, so that the remaining ones do not pay for them.
    final: dict[int, _Final] = {}
    it, out_of_time = 0, False
    while it < max_iter and bool(state.active.any()):
        if deadline is not None and time.monotonic() >= deadline:
            out_of_time = True
            break
        it += 1
        state = _iterate(fun, state, tol, patience, eps)
        if callback is not None and it % 100 == 0:
            callback(it, _residuals(state, final, B))
        if 0 < int(state.active.sum()) <= len(state.rows) // 2:
            _retire(final, state, fun, ~state.active)
            keep = state.active.nonzero().flatten()
            state, fun = state.select(keep), fun.select(keep)
    _retire(final, state, fun, torch.ones_like(state.active))
    elapsed = time.perf_counter() - start
    fixed = [None if data.W_fixed is None else data.W_fixed[j] for j in range(B)]
    return [
        replace(
            _solution(p, final[j], fixed[j], tol, max_iter, out_of_time, dtype),
            device=str(device),
            seconds=elapsed,
            info={"seed": int(seeds[j]), "batch_size": B},
        )
        for j, p in enumerate(problems)
    ]


def _start(fun: _Objective, x: Blocks, tol: float) -> _State:
    """The state at the start x: the first trial step is 1/‖gradient mapping‖_∞."""
    f, g = fun(x)
    G = fun.mapping(x, g)
    res = torch.sqrt(_dot(G, G)) / torch.clamp(f.abs(), min=1.0)
    alpha = 1.0 / torch.clamp(
        torch.stack([t.flatten(1).abs().max(1).values for t in G if t is not None]).max(0).values,
        min=1e-12,
    )
    B, device = f.shape[0], f.device

    def zeros(dtype=torch.long):
        return torch.zeros(B, dtype=dtype, device=device)

    return _State(
        x=x,
        g=g,
        f=f,
        history=f.unsqueeze(1).repeat(1, _MEMORY),
        alpha=alpha.clamp(*_STEP_BOUNDS),
        res=res,
        active=res > tol,
        stalled=zeros(torch.bool),
        fails=zeros(),
        best_res=res.clone(),
        best_f=f.clone(),
        last_gain=zeros(),
        iterations=zeros(),
        rows=torch.arange(B, device=device),
    )


def _line_search(fun: _Objective, state: _State, eps: float):
    """The nonmonotone projected arc search from every active row: (x_new, f_new, pending,
    trial_alpha), ``pending`` marking the rows where no step of _MAX_BACKTRACK halvings was
    accepted."""
    x, g, f = state.x, state.g, state.f
    f_ref = state.history.max(1).values
    slack = 10 * eps * torch.clamp(f.abs(), min=1.0)
    trial_alpha = state.alpha.clone()
    pending = state.active.clone()
    x_new, f_new = x, f.clone()
    for _ in range(_MAX_BACKTRACK):
        x_t = fun.project(_step(x, g, trial_alpha))
        f_t, _ = fun(x_t, need_grad=False)
        decrease = _dot(g, tuple(None if a is None else a - b for a, b in zip(x_t, x)))
        ok = pending & (f_t <= f_ref + _GAMMA * decrease + slack) & torch.isfinite(f_t)
        x_new = _where(ok, x_t, x_new)
        f_new = torch.where(ok, f_t, f_new)
        pending = pending & ~ok
        if not bool(pending.any()):
            break
        trial_alpha = torch.where(pending, trial_alpha * 0.5, trial_alpha)
    return x_new, f_new, pending, trial_alpha


def _iterate(fun: _Objective, state: _State, tol: float, patience: int, eps: float) -> _State:
    """One step of every active row: line search, Barzilai–Borwein step, residual, stall."""
    active = state.active
    x_new, f_new, pending, trial_alpha = _line_search(fun, state, eps)
    moved = active & ~pending
    fails = torch.where(pending & active, state.fails + 1, torch.zeros_like(state.fails))
    stalled = state.stalled | (active & (fails >= 3))
    _, g_new = fun(x_new)
    s = tuple(None if a is None else a - b for a, b in zip(x_new, state.x))
    y = tuple(None if a is None else a - b for a, b in zip(g_new, state.g))
    sts, sty = _dot(s, s), _dot(s, y)
    bb = torch.where(sty > 0, sts / torch.where(sty > 0, sty, torch.ones_like(sty)), 1e20)
    alpha = torch.where(
        moved, bb.clamp(*_STEP_BOUNDS), torch.where(pending, trial_alpha, state.alpha)
    )
    x = _where(moved, x_new, state.x)
    g = _where(moved, g_new, state.g)
    f = torch.where(moved, f_new, state.f)
    history = torch.where(
        moved.unsqueeze(1), torch.cat([state.history[:, 1:], f.unsqueeze(1)], 1), state.history
    )
    G = fun.mapping(x, g)
    res = torch.where(active, torch.sqrt(_dot(G, G)) / torch.clamp(f.abs(), min=1.0), state.res)
    iterations = torch.where(active, state.iterations + 1, state.iterations)
    halved = res < 0.5 * state.best_res
    gained = halved | (f < state.best_f - _progress_slack(f, fun.data.loss, eps))
    last_gain = torch.where(gained, iterations, state.last_gain)
    stalled = stalled | (active & (res > tol) & (iterations - last_gain > patience))
    return _State(
        x=x,
        g=g,
        f=f,
        history=history,
        alpha=alpha,
        res=res,
        active=active & (res > tol) & ~stalled,
        stalled=stalled,
        fails=fails,
        best_res=torch.where(halved, res, state.best_res),
        best_f=torch.minimum(state.best_f, f),
        last_gain=last_gain,
        iterations=iterations,
        rows=state.rows,
    )


def _retire(final: dict[int, _Final], state: _State, fun: _Objective, which: torch.Tensor):
    """Keep the final state of the rows ``which`` (a BoolTensor) in ``final``."""
    W, U, b = state.x
    H = fun.s * U
    for i in which.nonzero().flatten().tolist():
        final[int(state.rows[i])] = _Final(
            None if W is None else W[i],
            H[i],
            None if b is None else b[i],
            float(state.res[i]),
            int(state.iterations[i]),
            bool(state.stalled[i]),
            bool(state.active[i]),
        )


def _residuals(state: _State, final: dict[int, _Final], B: int) -> np.ndarray:
    """The residual of every problem of the batch, retired or not, shape=[B]."""
    every = np.array([final[j].res if j in final else np.nan for j in range(B)])
    every[state.rows.cpu().numpy()] = state.res.detach().cpu().numpy()
    return every


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _solution(
    p: Problem,
    end: _Final,
    W_fixed: torch.Tensor | None,
    tol: float,
    max_iter: int,
    out_of_time: bool,
    dtype: str,
) -> Solution:
    """The Solution of one problem from its final state, with its status and message."""
    r = end.res
    H = _numpy(end.H)[: p.N]
    W = _numpy(end.W) if end.W is not None else _numpy(W_fixed)
    b = _numpy(end.b) if end.b is not None else np.zeros(p.K)
    if r <= tol:
        status, message = "converged", f"residual {r:.2e} ≤ tol {tol:.1e}"
    elif end.stalled:
        status = "inaccurate"
        message = (
            f"stalled at residual {r:.2e} > tol {tol:.1e}: neither the residual nor the "
            f"objective improves any more (the limit of {dtype} precision)"
        )
    elif end.active and out_of_time:
        status = "time_limit"
        message = f"time limit after {end.iterations} iterations, residual {r:.2e} > tol {tol:.1e}"
    else:
        status, message = "max_iter", f"{max_iter} iterations, residual {r:.2e} > tol {tol:.1e}"
    return Solution(
        problem=p,
        W=W,
        H=H,
        b=b,
        objective=objective(p, W, H, b if p.has_bias else None),
        residual=r,
        status=status,
        method="gradient",
        dtype=dtype,
        iterations=end.iterations,
        tol=tol,
        message=message,
    )
