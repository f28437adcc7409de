"""``engine-vs-scipy``: ``lpm.solve`` (auto) against SciPy's L-BFGS-B on the regularised model.

Two instances of the unconstrained-feature model with weight decay (learnable classifier, no
bias): CE with free features, balanced K = 10, n = 50, d = 10, λ = 5e-3 (Zhu et al.'s closed
form is the reference); and ReLU features (H ≥ 0, L-BFGS-B's bounds), counts (100, 100, 10, 10),
d = 8, λ = 1e-3 (Dang et al.'s instance, value 0.13149489177). The quick run uses K = 4, n = 25
for the first. SciPy minimises the per-sample objective of :mod:`lpm.objective` from a Gaussian
start, as a user would (:func:`benchmarks.anchors.scipy_lbfgsb`); for ReLU features, whose
boundary stationary points trap some starts, from as many seeded starts as lpm's ``auto`` uses
(:data:`lpm.solvers.RELU_RESTARTS`), keeping the lowest. Accuracy: the relative distance
(f − LB)/max(1, |f|) to lpm's certified lower bound. Both sides on one CPU thread.
"""

from __future__ import annotations

import math
from typing import Any

import lpm
from benchmarks.anchors import scipy_lbfgsb
from benchmarks.engine_vs_lbfgs import _one_thread
from benchmarks.report import against_certified_bound, make_row
from benchmarks.timing import best_of
from lpm.solvers import RELU_RESTARTS
from lpm.tolerances import default_tol

__all__ = ["BASELINE", "NAME", "TOLERANCE", "cases", "run"]

NAME = "engine-vs-scipy"
BASELINE = "scipy.optimize.minimize(method='L-BFGS-B') on per-sample (W, H), lpm's objective"

#: Relative distance to the certified bound each side must reach.
TOLERANCE = 1e-9


def cases(quick: bool) -> list[tuple[str, lpm.Problem]]:
    """(label, problem): regularised CE with free features, and ReLU features."""
    K, n = (4, 25) if quick else (10, 50)
    return [
        (
            f"CE free features, balanced K={K} n={n} d={K}, decay 5e-3",
            lpm.Problem.balanced(K, n, dim=K, decay=(5e-3, 5e-3)),
        ),
        (
            "CE ReLU features, counts 100,100,10,10, d=8, decay 1e-3",
            lpm.Problem.from_counts((100, 100, 10, 10), dim=8, decay=(1e-3, 1e-3), features="relu"),
        ),
    ]


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one per case)."""
    rows = []
    repeats = 1 if quick else 3
    for label, p in cases(quick):
        ours = best_of(lambda p=p: lpm.solve(p, seed=0, device=device), repeats)
        gtol = default_tol("gradient", "float64") / math.sqrt((p.K + p.N) * p.dim)
        starts = RELU_RESTARTS if p.features == "relu" else 1

        def baseline(p=p, gtol=gtol, starts=starts):
            runs = [scipy_lbfgsb(p, seed=j, gtol=gtol) for j in range(starts)]
            return min(runs, key=lambda r: r["objective"])

        theirs = best_of(_one_thread(baseline), repeats)
        sol, base = ours.result, theirs.result
        rows.append(
            make_row(
                NAME,
                label,
                device=device,
                lpm_seconds=ours.seconds,
                baseline=BASELINE,
                baseline_seconds=theirs.seconds,
                repeats=min(ours.repeats, theirs.repeats),
                tolerance=TOLERANCE,
                **against_certified_bound(sol, base["objective"]),
                notes=f"lpm: {sol.method}, {sol.status}; L-BFGS-B: {base['message']}",
                extra={
                    "lpm_iterations": sol.iterations,
                    "lpm_restarts": len(sol.restarts) or 1,
                    "baseline_iterations": base["iterations"],
                    "baseline_starts": starts,
                },
            )
        )
    return rows
