"""The anchors lpm is measured against, each written as a user of torch, SciPy or cvxpy would.

* :func:`torch_lbfgs` — the plain torch L-BFGS of a researcher's script: ``torch.optim.LBFGS``
  (strong Wolfe, history 20, tolerance_grad 1e-12, tolerance_change 1e-15) on per-sample features
  of the layer-peeled model, in the scale parametrisation that makes both budgets exact,
  W = sqrt(K E_W) V/‖V‖_F and H = sqrt(K E_H) U / sqrt(Σ_i ‖u_i‖²/n_{y_i}), from Gaussian V, U.
* :func:`scipy_lbfgsb` — SciPy's L-BFGS-B on per-sample (W, H) of the regularised model (bounds
  H ≥ 0 for ReLU features), with the objective and gradient of :mod:`lpm.objective`.
* :func:`sdp_scs` — Fang et al.'s layer-peeled SDP over the 2K × 2K Gram matrix, written in cvxpy
  and solved by SCS.
* :func:`nuclear_cvxpy` — the regularised model as a convex program on the K × K logits with a
  √n-weighted nuclear norm (Zhu et al. 2021; Tirer & Bruna 2022), solved by Clarabel:
  min_Z Σ_k π_k ℓ(z_k, k) + sqrt(λ_W λ_H) ‖diag(√n) Z‖_*, exact when d ≥ K.

None of them has a certificate; their accuracy is measured against lpm's certified lower bound.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

import lpm
from lpm.objective import objective_data, value_and_grad

__all__ = ["nuclear_cvxpy", "scipy_lbfgsb", "sdp_scs", "torch_lbfgs"]


def torch_lbfgs(p: lpm.Problem, seed: int = 0, max_iter: int = 100_000) -> dict[str, Any]:
    """The plain L-BFGS anchor on one problem (CE, learnable classifier, class-average budgets,
    no bias). Returns ``objective`` (recomputed by :func:`lpm.objective`), ``W``, ``H``,
    ``iterations`` and ``evaluations``."""
    K, d = p.K, p.dim
    E_W, E_H = p.energy
    gen = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(np.array(p.labels))
    counts = torch.as_tensor(p.counts, dtype=torch.float64)[labels]
    V = torch.randn(K, d, generator=gen, dtype=torch.float64).requires_grad_(True)
    U = torch.randn(p.N, d, generator=gen, dtype=torch.float64).requires_grad_(True)

    def point():
        W = math.sqrt(K * E_W) * V / V.norm()
        H = math.sqrt(K * E_H) * U / torch.sqrt(((U * U).sum(1) / counts).sum())
        return W, H

    opt = torch.optim.LBFGS(
        [V, U],
        lr=1,
        max_iter=max_iter,
        max_eval=2 * max_iter,
        history_size=20,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )
    evaluations = 0

    def closure():
        nonlocal evaluations
        evaluations += 1
        opt.zero_grad()
        W, H = point()
        loss = torch.nn.functional.cross_entropy(H @ W.T, labels)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        W, H = (t.numpy() for t in point())
    return {
        "objective": lpm.objective(p, W, H),
        "W": W,
        "H": H,
        "iterations": int(opt.state[opt._params[0]]["n_iter"]),
        "evaluations": evaluations,
    }


def scipy_lbfgsb(p: lpm.Problem, seed: int = 0, gtol: float = 1e-10) -> dict[str, Any]:
    """SciPy's L-BFGS-B on per-sample (W, H) of a regularised problem (learnable classifier, no
    bias; H ≥ 0 as bounds for ReLU features). ``gtol`` bounds the largest projected gradient
    entry; ``ftol`` = 0 so that it never stops on a merely slow decrease."""
    K, N, d = p.K, p.N, p.dim
    data = objective_data([p])
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((K + N) * d) / math.sqrt(d)
    bounds = None
    if p.features == "relu":
        x0[K * d :] = np.abs(x0[K * d :])
        bounds = [(None, None)] * (K * d) + [(0.0, None)] * (N * d)

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        W = torch.from_numpy(x[: K * d].reshape(1, K, d))
        H = torch.from_numpy(x[K * d :].reshape(1, N, d))
        f, gW, gH, _ = value_and_grad(W, H, None, data)
        return float(f[0]), np.concatenate([gW.reshape(-1).numpy(), gH.reshape(-1).numpy()])

    result = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 100_000, "maxfun": 200_000, "ftol": 0.0, "gtol": gtol},
    )
    W, H = result.x[: K * d].reshape(K, d), result.x[K * d :].reshape(N, d)
    return {
        "objective": lpm.objective(p, W, H),
        "W": W,
        "H": H,
        "iterations": int(result.nit),
        "message": str(result.message),
    }


def sdp_scs(
    p: lpm.Problem,
    eps: float = 1e-9,
    max_iters: int = 200_000,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Fang et al.'s SDP of the layer-peeled model (CE, learnable classifier, class-average
    budgets, no bias) in cvxpy, solved by SCS: X = Gram of [h̄_1..h̄_K, w_1..w_K] ⪰ 0,
    logits z_kj = X[k, K + j], (1/K) tr X_HH ≤ E_H, (1/K) tr X_WW ≤ E_W. ``time_limit``
    (seconds) caps SCS's run (its ``time_limit_secs``); ``iterations`` is what SCS did."""
    import cvxpy as cp

    K = p.K
    E_W, E_H = p.energy
    pi = np.asarray(p.counts, dtype=np.float64) / p.N
    X = cp.Variable((2 * K, 2 * K), PSD=True)
    Z = X[:K, K:]
    loss = sum(pi[k] * (cp.log_sum_exp(Z[k, :]) - Z[k, k]) for k in range(K))
    constraints = [cp.trace(X[:K, :K]) <= K * E_H, cp.trace(X[K:, K:]) <= K * E_W]
    problem = cp.Problem(cp.Minimize(loss), constraints)
    options = {} if time_limit is None else {"time_limit_secs": float(time_limit)}
    problem.solve(solver="SCS", eps=eps, max_iters=max_iters, **options)
    iterations = problem.solver_stats.num_iters if problem.solver_stats else None
    return {"objective": float(problem.value), "status": problem.status, "iterations": iterations}


def nuclear_cvxpy(p: lpm.Problem) -> dict[str, Any]:
    """The regularised CE model (learnable classifier, free features, no bias, d ≥ K) as the
    nuclear-norm program on the logits, solved by Clarabel (the value of the optimum)."""
    import cvxpy as cp

    K = p.K
    lam_W, lam_H = p.decay[0], p.decay[1]
    counts = np.asarray(p.counts, dtype=np.float64)
    pi = counts / p.N
    Z = cp.Variable((K, K))
    loss = sum(pi[k] * (cp.log_sum_exp(Z[k, :]) - Z[k, k]) for k in range(K))
    penalty = math.sqrt(lam_W * lam_H) * cp.normNuc(np.diag(np.sqrt(counts)) @ Z)
    problem = cp.Problem(cp.Minimize(loss + penalty))
    problem.solve(solver="CLARABEL")
    return {"objective": float(problem.value), "status": problem.status}
