"""``many-problems``: many small imbalanced problems, :func:`lpm.solve_batch` (one batched
reduced quasi-Newton + a certificate each) against a Python loop of the plain torch L-BFGS anchor
(:func:`benchmarks.anchors.torch_lbfgs`), as a sweep over class counts would run them.

256 layer-peeled problems (quick: 16) with K = 10, d = 10, E_W = E_H = 1, CE, learnable
classifier, and class counts drawn uniformly from 1..50 (seeded). Every lpm answer must be
certified; the accuracy of each side is its largest relative distance (f − LB)/max(1, |f|) to
lpm's certified bound over the problems. Both sides on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import lpm
from benchmarks.anchors import torch_lbfgs
from benchmarks.engine_vs_lbfgs import BASELINE as ANCHOR
from benchmarks.engine_vs_lbfgs import _one_thread
from benchmarks.report import make_row, relative_gap
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "problems", "run"]

NAME = "many-problems"
BASELINE = f"a Python loop of {ANCHOR}"

#: Largest relative distance to the certified bound, over the problems, each side must reach.
TOLERANCE = 1e-9


def problems(count: int, seed: int = 0) -> list[lpm.Problem]:
    """``count`` problems K = 10, d = 10, counts uniform in 1..50 (seeded), energy 1,1."""
    rng = np.random.default_rng(seed)
    return [
        lpm.Problem.from_counts(rng.integers(1, 51, size=10), dim=10, energy=(1.0, 1.0))
        for _ in range(count)
    ]


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one)."""
    batch = problems(16 if quick else 256)
    ours = best_of(lambda: lpm.solve_batch(batch, seed=0, device=device), 1)
    theirs = best_of(_one_thread(lambda: [torch_lbfgs(p, seed=0) for p in batch]), 1)
    sols, base = ours.result, theirs.result
    gaps = [
        max(b["objective"] - s.lower_bound, 0.0) / max(1.0, abs(b["objective"]))
        if s.lower_bound is not None
        else float("inf")
        for s, b in zip(sols, base)
    ]
    certified = sum(s.certified for s in sols)
    return [
        make_row(
            NAME,
            f"{len(batch)} problems K=10 d=10, counts uniform in 1..50, CE, energy 1,1",
            device=device,
            lpm_seconds=ours.seconds,
            baseline=BASELINE,
            baseline_seconds=theirs.seconds,
            repeats=min(ours.repeats, theirs.repeats),
            accuracy="largest (f − LB)/max(1, |f|) over the problems, LB = lpm's certified bound",
            lpm_accuracy=max(relative_gap(s) if s.certified else float("inf") for s in sols),
            baseline_accuracy=max(gaps),
            tolerance=TOLERANCE,
            lpm_objective=float(np.mean([s.objective for s in sols])),
            baseline_objective=float(np.mean([b["objective"] for b in base])),
            notes=f"{certified} of {len(batch)} lpm answers certified; objectives are means",
            extra={"problems": len(batch), "certified": certified},
        )
    ]
