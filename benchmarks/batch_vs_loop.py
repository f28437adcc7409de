"""``batch-vs-loop``: one batched tensor program against a Python loop of single solves.

The same step-imbalanced layer-peeled problems (K = 4: two majority classes of R·n_B samples, two
minority classes of n_B, E_W = E_H = 1, d = 4) over a grid of ratios R, solved by
:func:`lpm.solve_batch` (one spectral projected gradient on a (B, N, d) tensor) and by a loop of
:func:`lpm.solve` with the same seed. Both attach the certificate. The answers must agree: the
benchmark reports the largest objective difference and each side's largest certified relative gap.

What to expect: the batch steps all problems in lockstep until the slowest converges (a ratio near
the minority-collapse threshold needs ten times the iterations of the others), so it does
B·max_i(iterations_i) problem-steps against the loop's Σ_i iterations_i. It wins where one wide
step costs about as much as one narrow step — a GPU, or problems small enough that Python
overhead dominates — and roughly breaks even on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import lpm
from benchmarks.report import make_row, relative_gap
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "problems", "run"]

NAME = "batch-vs-loop"
BASELINE = "Python loop of lpm.solve over the same problems (same seed)"

#: Certified relative gap each side must reach: the certificate's own threshold (lpm.certify).
TOLERANCE = 1e-8


def problems(count: int) -> list[lpm.Problem]:
    """``count`` step problems 2:2:10:R with R log-spaced in [1, 20] (rounded to 0.1)."""
    ratios = np.round(np.geomspace(1.0, 20.0, count), 1)
    return [lpm.Problem.step(2, 2, 10, float(r), dim=4, energy=(1.0, 1.0)) for r in ratios]


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one)."""
    batch = problems(8 if quick else 16)
    repeats = 1 if quick else 3
    lpm_time = best_of(lambda: lpm.solve_batch(batch, seed=0, device=device), repeats)
    loop_time = best_of(lambda: [lpm.solve(p, seed=0, device=device) for p in batch], repeats)
    batched, looped = lpm_time.result, loop_time.result
    difference = max(abs(a.objective - b.objective) for a, b in zip(batched, looped))
    return [
        make_row(
            NAME,
            f"{len(batch)} problems K=4 step 2:2:10:R, R in [1, 20], d=4, energy 1,1",
            device=device,
            lpm_seconds=lpm_time.seconds,
            baseline=BASELINE,
            baseline_seconds=loop_time.seconds,
            repeats=min(lpm_time.repeats, loop_time.repeats),
            accuracy="largest certified relative gap (f − LB)/max(1, |f|) over the problems",
            lpm_accuracy=max(relative_gap(s) for s in batched),
            baseline_accuracy=max(relative_gap(s) for s in looped),
            tolerance=TOLERANCE,
            lpm_objective=float(np.mean([s.objective for s in batched])),
            baseline_objective=float(np.mean([s.objective for s in looped])),
            notes=f"same answers: max |f_batch − f_loop| = {difference:.2g}; objectives are "
            "means over the problems",
            extra={
                "problems": len(batch),
                "max_objective_difference": difference,
                # The batch steps in lockstep until its slowest problem converges; the loop
                # pays each problem's own iterations: B·max against the sum is the work ratio.
                "lpm_lockstep_iterations": max(s.iterations for s in batched),
                "baseline_total_iterations": sum(s.iterations for s in looped),
            },
        )
    ]
