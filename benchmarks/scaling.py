"""Time against K: ``lpm.solve`` (certified) and the anchors on step profiles, and peak memory.

Run ``python -m benchmarks.scaling --out DIR`` (``--quick`` for K ≤ 40). Every point is measured
in a fresh subprocess (so that the peak resident memory, ``ru_maxrss``, belongs to that solve
alone), after a warm-up solve of a tiny problem that pays the imports and torch's first calls.
The problems are step profiles K/2 × 20 + K/2 × 2 samples, d = K, CE, E_W = E_H = 1 (or, with
``--profile long-tail``, long tails n_k = round(100 · 100^(−k/(K−1))), d = K); the sides are
lpm (``auto`` and the certificate: the symmetric solver where counts repeat), lpm's reduced
solver alone (``method="reduced"``, certified: what a problem without repeated counts costs, up
to ``--reduced-max-k``), the plain torch L-BFGS anchor (:func:`benchmarks.anchors.torch_lbfgs`,
up to ``--anchor-max-k``) and the SDP in cvxpy with SCS (:func:`benchmarks.anchors.sdp_scs`, up
to ``--scs-max-k``). Writes ``scaling.json`` and ``scaling.png`` (time and peak memory against
K, log–log) into DIR.
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

SIDES = ("lpm", "reduced", "anchor", "scs")
#: Legend of each side.
LABELS = {
    "lpm": "lpm, auto (certified)",
    "reduced": "lpm, method='reduced' (certified)",
    "anchor": "plain torch L-BFGS",
    "scs": "SDP + SCS (eps 1e-9)",
}
PROFILES = ("step", "long-tail")


def _problem(K: int, profile: str = "step"):
    import lpm

    if profile == "long-tail":
        return lpm.Problem.long_tail(K, 100, 100, dim=K, energy=(1.0, 1.0))
    return lpm.Problem.step(K // 2, K - K // 2, 2, 10, dim=K, energy=(1.0, 1.0))


def measure(side: str, K: int, profile: str = "step") -> dict:
    """Time and peak memory of one side on the problem of K classes (in this process)."""
    import torch

    import lpm
    from benchmarks.anchors import sdp_scs, torch_lbfgs

    if side == "anchor":
        torch.set_num_threads(1)  # as in the benchmark rows (benchmarks.engine_vs_lbfgs)
    tiny = _problem(4)
    warm = {
        "lpm": lambda: lpm.solve(tiny),
        "reduced": lambda: lpm.solve(tiny, method="reduced"),
        "anchor": lambda: torch_lbfgs(tiny),
        "scs": None,
    }
    if warm[side] is not None:
        warm[side]()
    p = _problem(K, profile)
    start = time.perf_counter()
    if side in ("lpm", "reduced"):
        sol = lpm.solve(p, method="auto" if side == "lpm" else "reduced")
        value, extra = (
            sol.objective,
            {
                "certified": sol.certified,
                "lower_bound": sol.lower_bound,
                "method": sol.method,
            },
        )
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


def _draw(points: list[dict], path: Path, profile: str = "step") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for side in SIDES:
        pts = sorted((p for p in points if p["side"] == side), key=lambda p: p["K"])
        if not pts:
            continue
        Ks = [p["K"] for p in pts]
        ax_t.loglog(Ks, [p["seconds"] for p in pts], "o-", label=LABELS[side])
        ax_m.loglog(Ks, [p["peak_mb"] for p in pts], "o-", label=LABELS[side])
    label = "step profile" if profile == "step" else "long tail, n_max = 100, ρ = 100"
    ax_t.set(xlabel=f"K ({label}, d = K)", ylabel="seconds to the optimum", title="time")
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
    parser.add_argument("--profile", choices=PROFILES, default="step")
    parser.add_argument("--reduced-max-k", type=int, default=1000)
    parser.add_argument("--anchor-max-k", type=int, default=200)
    parser.add_argument("--scs-max-k", type=int, default=50)
    parser.add_argument("--one", nargs=2, metavar=("SIDE", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.profile)))
        return 0
    if args.out is None:
        parser.error("--out DIR is required")
    ks = [10, 20, 40] if args.quick else [10, 20, 50, 100, 200, 500, 1000]
    if args.ks:
        ks = [int(k) for k in args.ks.split(",")]
    limits = {
        "lpm": max(ks),
        "reduced": args.reduced_max_k,
        "anchor": args.anchor_max_k,
        "scs": args.scs_max_k,
    }
    points = []
    for side in SIDES:
        for K in (k for k in ks if k <= limits[side]):
            cmd = [sys.executable, "-m", "benchmarks.scaling", "--one", side, str(K)]
            cmd += ["--profile", args.profile]
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
    _draw(points, args.out / "scaling.png", args.profile)
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
