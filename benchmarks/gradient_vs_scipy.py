"""``gradient-vs-scipy``: lpm's spectral projected gradient against SciPy's L-BFGS-B.

The balanced regularised cross-entropy model with free per-sample features and no bias,
f(W, H) = (1/N) Σ_i CE(W h_i, y_i) + (λ_W/2)‖W‖² + (λ_H/2)‖H‖², whose optimum is Zhu et al.'s
scaled simplex ETF with the closed-form value of :func:`lpm.theory.zhu_regularised_ce`
(docs/theory.md §5.1; the quick instance is the worked one, K = 4, n = 25, λ = 5e-3, f* =
0.348780384918).

Both sides minimise the same function from the same start (Gaussian rows of norm about 1, seed
0), evaluated by :func:`lpm.objective.value_and_grad` in torch float64 — the one objective. The
problem is unconstrained, so L-BFGS-B runs without bounds; its ``gtol`` (on the largest gradient
entry) is lpm's residual tolerance divided by sqrt(number of variables), so that it implies
‖∇f‖₂ ≤ tol as lpm's residual does, and ``ftol`` = 0 so that it never stops on a slow decrease.
lpm runs ``method="gradient"`` without the certificate (the baseline has none). Both run on one
CPU thread, as lpm runs problems of this size (torch's intra-op threads cost more than they save
on such small tensors). Accuracy: |f − f*| against the closed form.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

import lpm
from benchmarks.report import make_row
from benchmarks.timing import best_of
from lpm.objective import objective_data, value_and_grad
from lpm.theory import zhu_regularised_ce
from lpm.tolerances import default_tol

__all__ = ["BASELINE", "NAME", "TOLERANCE", "lbfgs", "problem", "run"]

NAME = "gradient-vs-scipy"
BASELINE = "scipy.optimize.minimize(method='L-BFGS-B') on the same objective and gradient"

#: |f − f*| each side must reach: two decades above the float64 round-off of f at these sizes
#: (N·eps·log K ≈ 1e-13) and far below any difference that matters to a theorem check.
TOLERANCE = 1e-10

#: L-BFGS-B's relative-decrease stop: 0, so that it stops on the gradient, or when no decrease is
#: possible any more (f at its round-off floor) — never on a merely slow decrease.
LBFGS_FTOL = 0.0

#: Iteration cap of L-BFGS-B (its runs here need a few hundred).
LBFGS_MAX_ITER = 100_000


def problem(quick: bool) -> lpm.Problem:
    """K = 4, n = 25 (the worked instance of docs/theory.md §5.1) or K = 10, n = 50; d = K;
    λ_W = λ_H = 5e-3."""
    if quick:
        return lpm.Problem.balanced(4, 25, dim=4, decay=(5e-3, 5e-3))
    return lpm.Problem.balanced(10, 50, dim=10, decay=(5e-3, 5e-3))


def lbfgs(p: lpm.Problem, seed: int = 0, gtol: float = 1e-10) -> dict[str, Any]:
    """Minimise the learnable-classifier, no-bias objective of ``p`` by L-BFGS-B.

    Parameters
    ----------
    p : Problem
        Learnable classifier, no bias, free features, weight decay.
    seed : int
        Seed of the start: W, H with i.i.d. N(0, 1/d) entries.
    gtol : float
        Stop when the largest gradient entry is below it.

    Returns
    -------
    dict
        ``objective`` (recomputed by :func:`lpm.objective`), ``W`` (K, d), ``H`` (N, d),
        ``iterations``, ``gradient_norm`` (‖∇f‖₂ at the end), ``message``.
    """
    K, N, d = p.K, p.N, p.dim
    data = objective_data([p])
    rng = np.random.default_rng(seed)
    x0 = np.concatenate(
        [rng.standard_normal(K * d) / math.sqrt(d), rng.standard_normal(N * d) / math.sqrt(d)]
    )

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        W = torch.from_numpy(x[: K * d].reshape(1, K, d))
        H = torch.from_numpy(x[K * d :].reshape(1, N, d))
        f, gW, gH, _ = value_and_grad(W, H, None, data)
        return float(f[0]), np.concatenate([gW.reshape(-1).numpy(), gH.reshape(-1).numpy()])

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as lpm runs small CPU solves (lpm.solvers.gradient)
    try:
        result = minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": LBFGS_MAX_ITER,
                "maxfun": 2 * LBFGS_MAX_ITER,
                "ftol": LBFGS_FTOL,
                "gtol": gtol,
            },
        )
    finally:
        torch.set_num_threads(before)
    W, H = result.x[: K * d].reshape(K, d), result.x[K * d :].reshape(N, d)
    return {
        "objective": lpm.objective(p, W, H),
        "W": W,
        "H": H,
        "iterations": int(result.nit),
        "gradient_norm": float(np.linalg.norm(fun(result.x)[1])),
        "message": str(result.message),
    }


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one)."""
    p = problem(quick)
    reference = zhu_regularised_ce(p).objective
    repeats = 2 if quick else 3
    tol = default_tol("gradient", "float64")
    ours = best_of(
        lambda: lpm.solve(p, method="gradient", seed=0, device=device, certify=False), repeats
    )
    gtol = tol / math.sqrt(p.K * p.dim + p.N * p.dim)
    theirs = best_of(lambda: lbfgs(p, seed=0, gtol=gtol), repeats)
    sol, base = ours.result, theirs.result
    notes = f"L-BFGS-B: {base['message']}"
    if str(device) != "cpu":
        notes += "; the baseline runs on the CPU"
    return [
        make_row(
            NAME,
            f"balanced K={p.K} n={p.counts[0]} d={p.dim}, CE, decay {p.decay[0]:g},{p.decay[1]:g}",
            device=device,
            lpm_seconds=ours.seconds,
            baseline=BASELINE,
            baseline_seconds=theirs.seconds,
            repeats=min(ours.repeats, theirs.repeats),
            accuracy="|f − f*|, f* = Zhu et al.'s closed form (lpm.theory.zhu_regularised_ce)",
            lpm_accuracy=abs(sol.objective - reference) if sol.converged else math.inf,
            baseline_accuracy=abs(base["objective"] - reference),
            tolerance=TOLERANCE,
            reference=reference,
            lpm_objective=sol.objective,
            baseline_objective=base["objective"],
            notes=notes,
            extra={
                "lpm_status": sol.status,
                "lpm_iterations": sol.iterations,
                "lpm_residual": sol.residual,
                "baseline_iterations": base["iterations"],
                "baseline_gradient_norm": base["gradient_norm"],
                "baseline_residual": base["gradient_norm"] / max(1.0, abs(base["objective"])),
            },
        )
    ]
