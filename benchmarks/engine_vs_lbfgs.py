"""``engine-vs-lbfgs``: ``lpm.solve`` (auto: reduced quasi-Newton + certificate) against the
plain torch L-BFGS anchor of a researcher's script (:func:`benchmarks.anchors.torch_lbfgs`).

The layer-peeled model (CE, learnable classifier, class-average budgets E_W = E_H = 1, no bias)
on the instances of the engine's targets: balanced K = 100, n = 20, d = 128; step profiles
K = 100 (50 classes of 20 samples, 50 of 2, d = 100) and K = 200 (100 × 20, 100 × 2, d = 200).
The quick run uses K = 10 versions of the same profiles.

lpm is timed with its certificate (part of its answer); the anchor has none. Accuracy is the
relative gap (f − LB)/max(1, |f|) of each side's objective to lpm's certified lower bound LB, a
rigorous measure of the distance to the global optimum that needs no reference value. Both
sides run on one CPU thread (lpm runs problems of this size on one thread, and torch's
intra-op threads cost more than they save on a shared, loaded machine).
"""

from __future__ import annotations

from typing import Any

import torch

import lpm
from benchmarks.anchors import torch_lbfgs
from benchmarks.report import against_certified_bound, make_row
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "cases", "run"]

NAME = "engine-vs-lbfgs"
BASELINE = (
    "torch.optim.LBFGS (strong Wolfe, history 20, tolerance_grad 1e-12, tolerance_change "
    "1e-15) on per-sample features, scale parametrisation of W and H"
)

#: Relative distance to the certified bound each side must reach: the same optimum to ~9 digits.
TOLERANCE = 1e-9


def cases(quick: bool) -> list[tuple[str, lpm.Problem]]:
    """(label, problem): balanced and step profiles (see the module docstring)."""
    energy = (1.0, 1.0)
    if quick:
        return [
            ("balanced K=10 n=20 d=12", lpm.Problem.balanced(10, 20, dim=12, energy=energy)),
            ("step K=10 (5x20, 5x2) d=10", lpm.Problem.step(5, 5, 2, 10, dim=10, energy=energy)),
        ]
    return [
        ("balanced K=100 n=20 d=128", lpm.Problem.balanced(100, 20, dim=128, energy=energy)),
        ("step K=100 (50x20, 50x2) d=100", lpm.Problem.step(50, 50, 2, 10, energy=energy)),
        ("step K=200 (100x20, 100x2) d=200", lpm.Problem.step(100, 100, 2, 10, energy=energy)),
    ]


def _one_thread(fn):
    def wrapped():
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)

    return wrapped


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one per case)."""
    rows = []
    repeats = 1 if quick else 2
    for label, p in cases(quick):
        ours = best_of(lambda p=p: lpm.solve(p, device=device), repeats)
        theirs = best_of(_one_thread(lambda p=p: torch_lbfgs(p, seed=0)), repeats)
        sol, base = ours.result, theirs.result
        rows.append(
            make_row(
                NAME,
                f"{label}, CE, energy 1,1",
                device=device,
                lpm_seconds=ours.seconds,
                baseline=BASELINE,
                baseline_seconds=theirs.seconds,
                repeats=min(ours.repeats, theirs.repeats),
                tolerance=TOLERANCE,
                **against_certified_bound(sol, base["objective"]),
                notes=f"lpm: {sol.method}, {sol.status}, certified={sol.certified}",
                extra={
                    "lpm_method": sol.method,
                    "lpm_iterations": sol.iterations,
                    "lpm_residual": sol.residual,
                    "baseline_iterations": base["iterations"],
                    "baseline_evaluations": base["evaluations"],
                },
            )
        )
    return rows
