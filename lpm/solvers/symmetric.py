"""The class-permutation-symmetric problem: classes of equal counts solved as one group.

Classes with the same count are exchangeable: permuting them (their labels, their classifier
rows and the feature coordinates alike) maps the model to itself. With a learnable classifier
and free features, when d ≥ K, the reduced problem of :mod:`lpm.solvers.reduced` has an optimum
that is invariant under these permutations (docs/theory.md §1.3: for d ≥ K the problem is its
convex relaxation over the Gram matrix, and averaging an optimal Gram over the group keeps it
optimal; its rank stays ≤ K because the KKT conditions put the classifier in the span of the
means). Such a point has few degrees of freedom. With groups g = 1..G of s_g classes, a class k
of group g has, in the first K feature coordinates,

    m_k = a_g δ_k + Σ_g' A_gg' ĉ_g',     w_k = β_g δ_k + Σ_g' B_gg' ĉ_g',     b_k = b_g,

where ĉ_g = 1_g/√s_g is the unit indicator of group g and δ_k = e_k − 1_g/s_g its deviation
from the group mean (δ_k = 0 when s_g = 1). The logits take four values per row,

    z_kk = a_g β_g (1 − 1/s_g) + P_gg + b_g,   z_kl = −a_g β_g/s_g + P_gg + b_g (l ≠ k in g),
    z_kj = P_gg' + b_g' (j in g' ≠ g),         P = A Bᵀ,

so the loss, the budgets and the decays are functions of 2G² + 3G numbers, whatever K. That
problem is solved here by the L-BFGS of :mod:`lpm.solvers.lbfgs` (gradients by torch's
autograd, float64), with the
budgets removed by the same exact change of variables as the reduced solver (a ball
‖X‖ ≤ r becomes X = r sin θ V/‖V‖), and lifted to K × d class means and classifier.

The lifted point is then judged as every reduced answer is: its objective and its per-sample
residual (:func:`lpm.solvers.reduced.reduced_residual`) are evaluated on the full problem in
float64. The principle of symmetric criticality (Palais 1979) makes a stationary point of the
symmetric problem stationary for the full one, so ``converged`` is reached without solving the
K × d problem; the certificate of :mod:`lpm.certify` then decides global optimality as for any
other answer. A solve that does not converge, or whose answer is not certified, is no loss:
``auto`` goes on with the reduced solver.

At the long tail K = 1000 (100 distinct counts) the symmetric problem has about 20,000
variables against the reduced problem's 2·10⁶, and a function value costs O(G²) against O(K²d).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.gradient import cpu_threads
from lpm.solvers.lbfgs import CONVERGED, MAX_ITER, TIME_LIMIT, lbfgs
from lpm.solvers.method import Method, SolveOptions
from lpm.solvers.reduced import (
    Layout,
    ball,
    natural_value_and_grad,
    reduced_data,
    reduced_residual,
)
from lpm.tolerances import DEFAULT_MAX_ITER, default_tol

__all__ = ["METHOD", "Groups", "lift", "solve_symmetric", "supports"]

#: sin θ of every budget's angle at the start (inside the ball, where the map is invertible).
_START_FILL = 0.9
#: Norm of a ball's direction V at the start: the step in V moves X = r sin θ V/‖V‖ by r/‖V‖
#: times as much, so a short V lets the first steps explore (as in the reduced solver; measured
#: on long tails, K = 100 and 300: 492 → 193 and 1083 → 390 iterations for 0.3 against ~3).
_DIRECTION_NORM = 0.3
#: L-BFGS memory (measured on long tails K = 300 and 500, 162 and 270 groups: memory 10, 20, 30
#: take 406, 387, 375 and 625, 549, 512 iterations, but 1.9, 2.7, 3.3 s and 8.5, 10.1, 11.1 s —
#: the two-loop recursion over 2G² numbers costs more than the steps it saves), and iterations
#: without progress after which a solve has stalled.
_MEMORY = 10
_PATIENCE = 300


def supports(problem: Problem) -> str | None:
    """None when the symmetric formulation applies, else the reason it does not."""
    if problem.regime == "unregularised":
        return "the unregularised model has no finite optimum; use --method convex"
    if problem.fixed_classifier:
        return "a fixed classifier is not symmetric under class permutations; use --method reduced"
    if problem.features != "free":
        return "only free features (ReLU's H ≥ 0 and the sphere are not written symmetrically)"
    if problem.dim < problem.K:
        return f"needs d ≥ K (the lift uses K feature coordinates), got d = {problem.dim} < K"
    return None


@dataclass(frozen=True)
class Groups:
    """Classes of equal counts: ``index[k]`` the group of class k, ``sizes[g]`` = s_g,
    ``counts[g]`` the count of group g's classes."""

    index: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, problem: Problem) -> Groups:
        counts, index, sizes = np.unique(
            np.asarray(problem.counts), return_inverse=True, return_counts=True
        )
        return cls(index=index.ravel(), sizes=sizes, counts=counts.astype(np.float64))

    @property
    def G(self) -> int:
        return len(self.sizes)


class _Model:
    """The symmetric objective of one problem as a function of a flat vector (see the module
    docstring): blocks Y_W, Y_H of shape G × (G + 1), row g = scale_g · (ε_g·a_g, A_g) with
    ε_g = √(1 − 1/s_g), in coordinates whose Euclidean norm is the budget's or the decay's."""

    def __init__(self, problem: Problem, groups: Groups):
        self.p, self.gr = problem, groups
        G = groups.G
        t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
        self.s = t(groups.sizes)
        self.n = t(groups.counts)
        self.live = (self.s > 1).to(torch.float64)
        self.mask = torch.ones(G, G + 1, dtype=torch.float64)
        self.mask[:, 0] = self.live
        self.weight = self.s * self.n / problem.N  # loss weight of group g
        energy = problem.energy is not None
        self.budget = problem.budget if energy else None
        # Row scales: coordinates in which the class-average budget (or the decay) is ‖Y‖².
        self.scale_W = torch.sqrt(self.s)
        if self.budget == "per-sample":
            self.scale_H = torch.ones(G, dtype=torch.float64)
        elif energy:
            self.scale_H = torch.sqrt(self.s)
        else:
            self.scale_H = torch.sqrt(self.s * self.n)
        self.sizes = {"V_W": G * (G + 1)}
        if energy:
            self.sizes["theta_W"] = 1
        self.sizes["V_H"] = G * (G + 1)
        if self.budget == "class-average":
            self.sizes["theta_H"] = 1
        elif self.budget == "per-sample":
            self.sizes["theta_H"] = G
        if problem.has_bias:
            self.sizes["b"] = G

    def split(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return dict(zip(self.sizes, torch.split(x, list(self.sizes.values()))))

    def blocks(self, x: torch.Tensor):
        """(Y_W, Y_H, b per group) of the flat vector."""
        p, G = self.p, self.gr.G
        parts = self.split(x)
        V_W = parts["V_W"].reshape(G, G + 1) * self.mask
        V_H = parts["V_H"].reshape(G, G + 1) * self.mask
        if p.energy is not None:
            E_W, E_H = p.energy
            t = lambda r: torch.tensor(r, dtype=torch.float64)  # noqa: E731
            Y_W = ball(parts["theta_W"][0], V_W, t(math.sqrt(p.K * E_W)), (0, 1))
            if self.budget == "class-average":
                Y_H = ball(parts["theta_H"][0], V_H, t(math.sqrt(p.K * E_H)), (0, 1))
            else:
                Y_H = ball(parts["theta_H"], V_H, t(math.sqrt(E_H)).expand(G), (1,))
        else:
            Y_W, Y_H = V_W, V_H
        b = parts.get("b")
        if b is not None and p.bias == "penalised":
            b = b / torch.sqrt(self.s)  # the variable is √s_g b_g: the decay is (λ_b/2)‖·‖²
        return Y_W, Y_H, b

    def natural(self, x: torch.Tensor, blocks=None):
        """(εa, A, εβ, B, b): the group parameters of the module docstring (ε·a for a), from
        ``blocks`` (:meth:`blocks` of x) when given."""
        Y_W, Y_H, b = self.blocks(x) if blocks is None else blocks
        eb, B = Y_W[:, 0] / self.scale_W, Y_W[:, 1:] / self.scale_W[:, None]
        ea, A = Y_H[:, 0] / self.scale_H, Y_H[:, 1:] / self.scale_H[:, None]
        return ea, A, eb, B, b

    def value(self, x: torch.Tensor) -> torch.Tensor:
        p = self.p
        blocks = self.blocks(x)
        Y_W, Y_H = blocks[0], blocks[1]
        ea, A, eb, B, b = self.natural(x, blocks)
        s = self.s
        P = A @ B.T
        prod = ea * eb  # a_g β_g (1 − 1/s_g)
        diag = torch.diagonal(P)
        bias = torch.zeros_like(s) if b is None else b
        own = prod + diag + bias
        same = -prod / torch.where(s > 1, s - 1, torch.ones_like(s)) + diag + bias
        Z = P + bias[None, :]
        G = len(s)
        eye = torch.eye(G, dtype=torch.float64)
        Z = Z * (1 - eye) + torch.diag(same)  # the same-group entries take the value `same`
        mult = s[None, :] - eye  # multiplicity: s_g' others, s_g − 1 of one's own group
        if p.loss == "ce":
            logm = torch.where(mult > 0, torch.log(torch.clamp(mult, min=1.0)), -math.inf)
            row = torch.cat([own[:, None], Z + logm], dim=1)
            losses = torch.logsumexp(row, dim=1) - own
        else:  # mse: ½‖z − e_y‖²
            losses = 0.5 * ((own - 1) ** 2 + (mult * Z * Z).sum(1))
        f = (self.weight * losses).sum()
        if p.decay is not None:
            lam_W, lam_H, lam_b = p.decay
            f = f + 0.5 * lam_W * (Y_W * Y_W).sum() + 0.5 * lam_H * (Y_H * Y_H).sum()
            if b is not None and p.bias == "penalised":
                f = f + 0.5 * lam_b * (s * b * b).sum()
        return f

    def evaluate(self, x: torch.Tensor):
        """f, ∇f and the residual ‖∇f‖/max(1, |f|) of a batch of one, for :func:`lbfgs`."""
        with torch.enable_grad():
            xt = x[0].detach().requires_grad_(True)
            f = self.value(xt)
            (g,) = torch.autograd.grad(f, xt)
        f = f.detach()
        return f[None], g[None], (g.norm() / torch.clamp(f.abs(), min=1.0))[None]

    def lifted(self, x: torch.Tensor):
        """(W, M, b) of the full problem at the flat vector x (:func:`lift`)."""
        with torch.no_grad():
            parts = [None if v is None else v.numpy() for v in self.natural(x)]
        return lift(self.p, self.gr, *parts)

    def start(self, seed: int) -> np.ndarray:
        """A random start (seeded): Gaussian directions, every budget filled to sin θ = 0.9."""
        rng = np.random.default_rng(seed)
        out = []
        for name, size in self.sizes.items():
            if name.startswith("theta"):
                out.append(np.full(size, math.asin(_START_FILL)))
            elif name == "b":
                out.append(np.zeros(size))
            else:
                v = rng.standard_normal(size) / math.sqrt(self.gr.G + 1)
                if self.p.energy is not None:
                    v *= _DIRECTION_NORM / max(float(np.linalg.norm(v)), 1e-300)
                out.append(v)
        return np.concatenate(out)


def lift(problem: Problem, groups: Groups, ea, A, eb, B, b) -> tuple[np.ndarray, ...]:
    """The K × d class means M, classifier W and bias b of the group parameters (NumPy)."""
    K, d = problem.K, problem.dim
    idx, s = groups.index, groups.sizes.astype(np.float64)
    eps = np.sqrt(np.maximum(1.0 - 1.0 / s, 0.0))
    safe = np.where(eps > 0, eps, 1.0)
    a, beta = np.where(eps > 0, ea / safe, 0.0), np.where(eps > 0, eb / safe, 0.0)
    unit = np.zeros((groups.G, K))  # ĉ_g
    unit[idx, np.arange(K)] = 1.0 / np.sqrt(s[idx])
    delta = np.eye(K) - unit[idx] * (1.0 / np.sqrt(s[idx]))[:, None]  # δ_k = e_k − 1_g/s_g
    M = np.zeros((K, d))
    W = np.zeros((K, d))
    M[:, :K] = a[idx][:, None] * delta + A[idx] @ unit
    W[:, :K] = beta[idx][:, None] * delta + B[idx] @ unit
    bias = np.zeros(K) if b is None else np.asarray(b)[idx]
    return W, M, bias


def _evaluate_full(problem: Problem, W, M, b):
    """Objective and per-sample residual of the lifted point on the full reduced problem."""
    lay = Layout.of([problem], "cpu", torch.float64)
    data = reduced_data([problem], "cpu", torch.float64)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)[None]  # noqa: E731
    Wt, Mt = t(W), t(M)
    bt = t(b) if problem.has_bias else None
    f, gW, gM, gb = natural_value_and_grad(Wt, Mt, bt, lay, data)
    return float(f[0]), float(reduced_residual(Wt, Mt, bt, f, gW, gM, gb, lay)[0])


#: The stopping tolerance of the symmetric problem's own residual (its gradient norm over
#: max(1, |f|)) starts at this fraction of ``tol`` and is divided by :data:`_TIGHTEN` while the
#: residual of the lifted point, the one judged, stays above ``tol``.
_PROXY = 1e-2
_TIGHTEN = 1e-2
_ROUNDS = 3


def solve_symmetric(
    problem: Problem,
    *,
    seed: int = 0,
    tol: float = 1e-10,
    max_iter: int = 20_000,
    deadline: float | None = None,
) -> Solution:
    """Solve one problem through its class-permutation-symmetric parameters (module docstring).

    Parameters
    ----------
    problem : Problem
        Learnable classifier, free features, budgets or decay, d ≥ K (:func:`supports`).
    seed : int
        Seed of the random start.
    tol : float
        Per-sample residual at the lifted point at which the answer is converged.
    max_iter : int
        L-BFGS iterations in all.
    deadline : float, optional
        ``time.monotonic()`` at which to stop (status ``"time_limit"``).

    Returns
    -------
    Solution
        ``method = "symmetric"``, H = M[labels]; ``info["groups"]`` is G.
    """
    reason = supports(problem)
    if reason is not None:
        raise ValueError(f"method 'symmetric' cannot solve this problem: {reason}")
    start = time.perf_counter()
    groups = Groups.of(problem)
    model = _Model(problem, groups)
    x = torch.as_tensor(model.start(seed))[None]
    iterations, code, proxy = 0, MAX_ITER, _PROXY * tol
    with cpu_threads("cpu", problem.K * problem.dim):
        for _ in range(_ROUNDS):
            result = lbfgs(
                model.evaluate,
                x,
                tol=proxy,
                max_iter=max(max_iter - iterations, 1),
                memory=_MEMORY,
                patience=_PATIENCE,
                deadline=deadline,
            )
            x, code = result.x, int(result.code[0])
            iterations += int(result.iterations[0])
            W, M, bias = model.lifted(x[0])
            f, residual = _evaluate_full(problem, W, M, bias)
            if residual <= tol or code != CONVERGED or iterations >= max_iter:
                break
            proxy *= _TIGHTEN
    if residual <= tol:
        status, message = "converged", f"residual {residual:.2e} ≤ tol {tol:.1e}"
    elif code == TIME_LIMIT:
        status, message = "time_limit", f"time limit reached at residual {residual:.2e}"
    elif code == MAX_ITER or iterations >= max_iter:
        status, message = "max_iter", f"{max_iter} iterations, residual {residual:.2e}"
    else:
        status = "inaccurate"
        message = f"stalled at residual {residual:.2e} > tol {tol:.1e} (symmetric problem)"
    return Solution(
        problem=problem,
        W=W,
        H=M[problem.labels],
        b=bias,
        objective=f,
        residual=residual,
        status=status,
        method="symmetric",
        device="cpu",
        dtype="float64",
        iterations=iterations,
        seconds=time.perf_counter() - start,
        tol=tol,
        message=message,
        info={"formulation": "class-means, symmetric", "groups": groups.G, "seed": seed},
    )


def _run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    tol = options.tol if options.tol is not None else default_tol("reduced", "float64")
    max_iter = options.max_iter if options.max_iter is not None else DEFAULT_MAX_ITER["float64"]
    deadline = None if options.time_limit is None else time.monotonic() + options.time_limit
    return [
        solve_symmetric(p, seed=options.seed, tol=tol, max_iter=max_iter, deadline=deadline)
        for p in problems
    ]


METHOD = Method(
    name="symmetric",
    run=_run,
    supports=supports,
    description=(
        "L-BFGS on the class-permutation-symmetric parameters (classes of equal counts as "
        "one group: 2G² + 3G numbers), lifted to K class means (learnable classifier, free "
        "features, d ≥ K; CPU, float64)"
    ),
)
