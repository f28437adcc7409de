"""``relu-global``: the global optimum of a ReLU model, found and certified by ``lpm.solve``
(auto: reduced quasi-Newton from several starts, more while the doubly-nonnegative certificate
rejects them), against its closed form (Dang et al. 2023; ``method="theory"``).

Counts (100, 100, 200, 200, 300, 300, 400, 400, 500, 500), d = K, λ_W = λ_H = 1e-3, CE,
learnable classifier (quick: Dang et al.'s worked instance (100, 100, 10, 10), d = 8). The
target is a certified global optimum in under a minute; the closed form's time is given for
scale. Accuracy: |f − f_closed|/max(1, |f|) for lpm
(which must also be certified), 0 for the closed form (it is the reference).
"""

from __future__ import annotations

import math
from typing import Any

import lpm
from benchmarks.report import make_row
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "problem", "run"]

NAME = "relu-global"
BASELINE = "the closed form of the ReLU model (lpm.solve(method='theory'))"

#: Relative distance to the closed form's value lpm must reach.
TOLERANCE = 1e-9


def problem(quick: bool) -> lpm.Problem:
    if quick:
        return lpm.Problem.from_counts(
            (100, 100, 10, 10), dim=8, decay=(1e-3, 1e-3), features="relu"
        )
    counts = (100, 100, 200, 200, 300, 300, 400, 400, 500, 500)
    return lpm.Problem.from_counts(counts, dim=len(counts), decay=(1e-3, 1e-3), features="relu")


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one)."""
    p = problem(quick)
    ours = best_of(lambda: lpm.solve(p, seed=0, device=device), 1)
    theirs = best_of(lambda: lpm.solve(p, method="theory"), 1)
    sol, closed = ours.result, theirs.result
    error = abs(sol.objective - closed.objective) / max(1.0, abs(closed.objective))
    return [
        make_row(
            NAME,
            f"ReLU features, counts {','.join(map(str, p.counts))}, d={p.dim}, decay 1e-3",
            device=device,
            lpm_seconds=ours.seconds,
            baseline=BASELINE,
            baseline_seconds=theirs.seconds,
            repeats=1,
            accuracy="|f − f_closed|/max(1, |f|); lpm must also be certified",
            lpm_accuracy=error if sol.certified else math.inf,
            baseline_accuracy=0.0,
            tolerance=TOLERANCE,
            reference=closed.objective,
            lpm_objective=sol.objective,
            baseline_objective=closed.objective,
            notes=f"lpm: {sol.method}, {sol.status}, certified={sol.certified}; {sol.message}",
            extra={"lpm_restarts": len(sol.restarts) or 1},
        )
    ]
