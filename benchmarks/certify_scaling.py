"""Certificate time against a conic solver's time, on imbalanced layer-peeled problems.

For each K: the step-imbalanced layer-peeled model (K/2 majority classes of R·n_B samples, K/2
minority classes of n_B, CE, learnable classifier, E_W = E_H = 1, d = K) is solved by projected
gradient and certified by the dual certificate of :mod:`lpm.certify`; the same problem's
layer-peeled SDP is then solved by cvxpy (Clarabel, SCS), as far as ``--cvxpy-max-k`` allows.

Run::

    python -m benchmarks.certify_scaling --ks 10,20,40,60 --cvxpy-max-k 40

Each row: K, N, the gradient solve's time and status, the certificate's time and the relative
gap it proves, and for each conic solver its time, status and |value − gradient objective|.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import lpm
from lpm.certify import certificate
from lpm.problem import Problem
from lpm.solvers.convex import solve_convex

__all__ = ["main", "measure"]


def measure(
    K: int,
    *,
    n_minority: int = 1,
    ratio: int = 10,
    solvers: tuple[str, ...] = ("CLARABEL", "SCS"),
    seed: int = 0,
) -> dict[str, Any]:
    """One row of the benchmark (see the module docstring)."""
    problem = Problem.step(K // 2, K - K // 2, n_minority, ratio, dim=K, energy=(1.0, 1.0))
    start = time.perf_counter()
    sol = lpm.solve(problem, certify=False, seed=seed)
    t_grad = time.perf_counter() - start
    start = time.perf_counter()
    cert = certificate(sol)
    t_cert = time.perf_counter() - start
    gap = sol.objective - cert.lower_bound
    row: dict[str, Any] = {
        "K": K,
        "N": problem.N,
        "gradient_seconds": t_grad,
        "gradient_status": sol.status,
        "iterations": sol.iterations,
        "objective": sol.objective,
        "certificate_seconds": t_cert,
        "lower_bound": cert.lower_bound,
        "relative_gap": gap / max(1.0, abs(sol.objective)),
        "min_eigenvalue": cert.details["min_eigenvalue"],
    }
    for name in solvers:
        start = time.perf_counter()
        result = solve_convex(problem, solver=name)
        row[f"{name.lower()}_seconds"] = time.perf_counter() - start
        row[f"{name.lower()}_status"] = result.cvx_status
        row[f"{name.lower()}_error"] = abs(result.value - sol.objective)
    return row


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command line: prints one JSON object per K."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", default="10,20,40,60", help="comma-separated K values")
    parser.add_argument("--cvxpy-max-k", type=int, default=20, help="largest K given to cvxpy")
    parser.add_argument("--solvers", default="CLARABEL,SCS", help="cvxpy solvers to time")
    parser.add_argument("--n-minority", type=int, default=1)
    parser.add_argument("--ratio", type=int, default=10)
    args = parser.parse_args(argv)
    rows = []
    for K in (int(k) for k in args.ks.split(",")):
        solvers = tuple(args.solvers.split(",")) if K <= args.cvxpy_max_k else ()
        row = measure(K, n_minority=args.n_minority, ratio=args.ratio, solvers=solvers)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
