"""Time against K: ``lpm.solve`` (certified) and the anchors on step profiles, and peak memory.

Run ``python -m benchmarks.scaling --out DIR`` (``--quick`` for K ≤ 40). Every point is measured
in a fresh subprocess (so that the peak resident memory, ``ru_maxrss``, belongs to that solve
alone), after a warm-up solve of a tiny problem that pays the imports and torch's first calls.
The problems are step profiles K/2 × 20 + K/2 × 2 samples, d = K, CE, E_W = E_H = 1; the sides
are lpm (auto: reduced quasi-Newton and the certificate), the plain torch L-BFGS anchor
(:func:`benchmarks.anchors.torch_lbfgs`, up to ``--anchor-max-k``) and the SDP in cvxpy with
SCS (:func:`benchmarks.anchors.sdp_scs`, up to ``--scs-max-k``). Writes ``scaling.json`` and
``scaling.png`` (time and peak memory against K, log–log) into DIR.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main", "measure"]

SIDES = ("lpm", "anchor", "scs")


def _problem(K: int):
    import lpm

    return lpm.Problem.step(K // 2, K - K // 2, 2, 10, dim=K, energy=(1.0, 1.0))


def measure(side: str, K: int) -> dict:
    """Time and peak memory of one side on the step problem of K classes (in this process)."""
    import torch

    import lpm
    from benchmarks.anchors import sdp_scs, torch_lbfgs

    if side == "anchor":
        torch.set_num_threads(1)  # as in the benchmark rows (benchmarks.engine_vs_lbfgs)
    tiny = _problem(4)
    warm = {"lpm": lambda: lpm.solve(tiny), "anchor": lambda: torch_lbfgs(tiny), "scs": None}
    if warm[side] is not None:
        warm[side]()
    p = _problem(K)
    start = time.perf_counter()
    if side == "lpm":
        sol = lpm.solve(p)
        value, extra = sol.objective, {"certified": sol.certified, "lower_bound": sol.lower_bound}
    elif side == "anchor":
        out = torch_lbfgs(p)
        value, extra = out["objective"], {"iterations": out["iterations"]}
    else:
        out = sdp_scs(p, eps=1e-9)
        value, extra = out["objective"], {"status": out["status"]}
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {
        "side": side,
        "K": K,
        "N": p.N,
        "seconds": seconds,
        "peak_mb": peak,
        "objective": value,
        **extra,
    }


def _draw(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for side in SIDES:
        pts = sorted((p for p in points if p["side"] == side), key=lambda p: p["K"])
        if not pts:
            continue
        Ks = [p["K"] for p in pts]
        ax_t.loglog(Ks, [p["seconds"] for p in pts], "o-", label=side)
        ax_m.loglog(Ks, [p["peak_mb"] for p in pts], "o-", label=side)
    ax_t.set(xlabel="K (step profile, d = K)", ylabel="seconds to the optimum", title="time")
    ax_m.set(xlabel="K", ylabel="peak resident memory (MB)", title="memory")
    for ax in (ax_t, ax_m):
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for scaling.json and scaling.png")
    parser.add_argument("--quick", action="store_true", help="K = 10, 20, 40 only")
    parser.add_argument("--ks", help="comma-separated K values (default 10,20,50,100,200,500,1000)")
    parser.add_argument("--anchor-max-k", type=int, default=200)
    parser.add_argument("--scs-max-k", type=int, default=50)
    parser.add_argument("--one", nargs=2, metavar=("SIDE", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return 0
    if args.out is None:
        parser.error("--out DIR is required")
    ks = [10, 20, 40] if args.quick else [10, 20, 50, 100, 200, 500, 1000]
    if args.ks:
        ks = [int(k) for k in args.ks.split(",")]
    limits = {"lpm": max(ks), "anchor": args.anchor_max_k, "scs": args.scs_max_k}
    points = []
    for side in SIDES:
        for K in (k for k in ks if k <= limits[side]):
            cmd = [sys.executable, "-m", "benchmarks.scaling", "--one", side, str(K)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{side} K={K}: failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            point = json.loads(done.stdout.strip().splitlines()[-1])
            points.append(point)
            print(
                f"{side:6s} K={K:5d} N={point['N']:6d} {point['seconds']:9.2f} s "
                f"{point['peak_mb']:8.0f} MB f={point['objective']:.12f}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(points, indent=2))
    _draw(points, args.out / "scaling.png")
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
