"""``engine-vs-nuclear``: ``lpm.solve`` (auto, certified) against a peer's convex program for
small regularised problems: the CE model with weight decay written on the K × K logits with a
√n-weighted nuclear norm and solved by Clarabel (:func:`benchmarks.anchors.nuclear_cvxpy`).

Instances: counts (50, 20, 10, 5, 2, 1), d = 6, λ_W = λ_H = 1e-3 (the issue's instance), and
counts (30, 30, 10, 10, 3, 3, 1, 1), d = 8, λ = 5e-3. The program's value is exact when d ≥ K;
its accuracy and lpm's are the relative distance (f − LB)/max(1, |f|) to lpm's certified bound
(the program's value may lie below a certified bound only by its own solver tolerance, which is
counted as its inaccuracy).
"""

from __future__ import annotations

from typing import Any

import lpm
from benchmarks.anchors import nuclear_cvxpy
from benchmarks.report import against_certified_bound, make_row
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "cases", "run"]

NAME = "engine-vs-nuclear"
BASELINE = "cvxpy: CE on the K×K logits + sqrt(λWλH)·‖diag(√n) Z‖_* (Clarabel)"

#: Relative distance to the certified bound each side must reach (an interior-point solve is
#: accurate to ~1e-8 relative).
TOLERANCE = 1e-7


def cases(quick: bool) -> list[tuple[str, lpm.Problem]]:
    first = (
        "counts 50,20,10,5,2,1, d=6, decay 1e-3",
        lpm.Problem.from_counts((50, 20, 10, 5, 2, 1), dim=6, decay=(1e-3, 1e-3)),
    )
    if quick:
        return [first]
    second = (
        "counts 30,30,10,10,3,3,1,1, d=8, decay 5e-3",
        lpm.Problem.from_counts((30, 30, 10, 10, 3, 3, 1, 1), dim=8, decay=(5e-3, 5e-3)),
    )
    return [first, second]


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one per case)."""
    rows = []
    repeats = 1 if quick else 3
    for label, p in cases(quick):
        ours = best_of(lambda p=p: lpm.solve(p, seed=0, device=device), repeats)
        theirs = best_of(lambda p=p: nuclear_cvxpy(p), repeats)
        sol, base = ours.result, theirs.result
        rows.append(
            make_row(
                NAME,
                f"CE, {label}",
                device=device,
                lpm_seconds=ours.seconds,
                baseline=BASELINE,
                baseline_seconds=theirs.seconds,
                repeats=min(ours.repeats, theirs.repeats),
                tolerance=TOLERANCE,
                **against_certified_bound(sol, base["objective"], two_sided=True),
                notes=f"lpm: {sol.method}, {sol.status}; cvxpy: {base['status']}",
                extra={"lpm_iterations": sol.iterations},
            )
        )
    return rows
