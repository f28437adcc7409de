"""The GPU measurements of the engine, as one script: ``python -m benchmarks.gpu [--out DIR]``.

On a machine without CUDA it says so and exits 0 (nothing is measured, nothing is claimed).
With CUDA it measures, in float64 (the precision that certifies), each with its certificate:

1. one problem K = 1000, N = 10⁴ (balanced, n = 10), d = 1024, CE, energies 1,1;
2. certified K = 10 problems a minute: batches of ``--batch`` random step problems solved by
   :func:`lpm.solve_batch` for ``--seconds`` seconds (target ≥ 3·10⁴ a minute);
3. one long tail K = ``--large-k`` (default 10⁴), n_max = 20, ρ = 20, d = K.

Each line printed (and ``gpu.json`` in DIR) holds the seconds, the status and whether the
answer is certified. The whole run is sized to stay under five minutes on one modern GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import lpm

__all__ = ["main"]


def _one(label: str, p: lpm.Problem, device: str) -> dict:
    start = time.perf_counter()
    sol = lpm.solve(p, device=device)
    seconds = time.perf_counter() - start
    return {
        "case": label,
        "seconds": seconds,
        "status": sol.status,
        "certified": sol.certified,
        "objective": sol.objective,
        "gap": sol.gap,
        "iterations": sol.iterations,
    }


def _many(device: str, batch: int, seconds: float) -> dict:
    rng = np.random.default_rng(0)
    certified = solved = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        problems = [
            lpm.Problem.from_counts(rng.integers(1, 51, size=10), dim=10, energy=(1.0, 1.0))
            for _ in range(batch)
        ]
        sols = lpm.solve_batch(problems, device=device)
        solved += len(sols)
        certified += sum(s.certified for s in sols)
    elapsed = time.perf_counter() - start
    return {
        "case": f"K=10 problems in batches of {batch}",
        "seconds": elapsed,
        "solved": solved,
        "certified": certified,
        "certified_per_minute": 60.0 * certified / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for gpu.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--large-k", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("benchmarks.gpu: torch sees no CUDA device; nothing measured (skipped)")
        return 0
    device = args.device
    rows = [
        _one(
            "K=1000 N=10000 d=1024", lpm.Problem.balanced(1000, 10, dim=1024, energy=(1, 1)), device
        ),
        _many(device, args.batch, args.seconds),
        _one(
            f"long tail K={args.large_k} nmax=20 rho=20 d=K",
            lpm.Problem.long_tail(args.large_k, 20, 20, energy=(1, 1)),
            device,
        ),
    ]
    for row in rows:
        print(json.dumps(row))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu.json").write_text(
            json.dumps({"device": torch.cuda.get_device_name(), "rows": rows}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
