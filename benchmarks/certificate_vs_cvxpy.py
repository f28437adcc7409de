"""``certificate-vs-cvxpy``: gradient + dual certificate against the layer-peeled SDP in cvxpy.

Fang et al.'s imbalanced layer-peeled model (CE, learnable classifier, class-average budget,
E_W = E_H = 1, step imbalance R = 10, d = K) has a convex reformulation: an SDP over the 2K × 2K
Gram matrix of [h̄; W] with exponential cones (docs/theory.md §1.3). A proof of global optimality can
come from solving that SDP (``method="convex"``: cvxpy with Clarabel, then the factors recovered),
or, as ``method="auto"`` does, from a projected-gradient solve of the factorised problem plus a
closed-form dual certificate at the point found (:mod:`lpm.certify`: one eigenvalue problem of size
2K). This benchmark times both ways to a certified optimum.

lpm's side is timed with its certificate (it is part of the answer); the SDP side is timed
without one (the solver's own duality gap is its claim) and certified afterwards, untimed.
Accuracy is the certified relative gap (f − LB)/max(1, |f|) of each side's point, with LB the
larger of the two rigorous lower bounds. The quick case is K = 10, the full cases K = 20 and K = 60
(the SDP takes minutes at K = 60 on a laptop CPU).

If method ``"convex"`` is not registered in :data:`lpm.METHODS`, the rows are skipped with a note.
"""

from __future__ import annotations

import math
from typing import Any

import lpm
from benchmarks.report import make_row, skipped_row
from benchmarks.timing import best_of

__all__ = ["BASELINE", "NAME", "TOLERANCE", "cases", "run"]

NAME = "certificate-vs-cvxpy"
BASELINE = "lpm.solve(method='convex'): the layer-peeled SDP in cvxpy (Clarabel)"

#: Certified relative gap each side must reach: the certificate's threshold (lpm.certify).
TOLERANCE = 1e-8


def cases(quick: bool) -> list[lpm.Problem]:
    """Step problems KA = KB = K/2, n_B = 10, 5, 2 for K = 10, 20, 60; R = 10; E = (1, 1)."""
    shapes = [(10, 10)] if quick else [(20, 5), (60, 2)]
    return [lpm.Problem.step(K // 2, K // 2, n_b, 10, energy=(1.0, 1.0)) for K, n_b in shapes]


def _gap(objective: float, lower_bound: float | None) -> float:
    if lower_bound is None or not math.isfinite(objective):
        return math.inf
    return max(objective - lower_bound, 0.0) / max(1.0, abs(objective))


def run(quick: bool = False, device: str = "cpu") -> list[dict[str, Any]]:
    """The benchmark's rows (one per case)."""
    rows = []
    for p in cases(quick):
        case = (
            f"K={p.K} step {p.K // 2}:{p.K // 2}:{p.counts[-1]}:10 (N={p.N}), d={p.dim}, "
            "CE, energy 1,1"
        )
        if "convex" not in lpm.METHODS:
            rows.append(
                skipped_row(
                    NAME,
                    case,
                    device=device,
                    baseline=BASELINE,
                    notes="method 'convex' is not registered in lpm.METHODS in this build",
                )
            )
            continue
        from lpm.certify import attach  # written alongside method "convex"

        repeats = 1 if quick else 3
        ours = best_of(lambda p=p: lpm.solve(p, seed=0, device=device), repeats)
        theirs = best_of(lambda p=p: lpm.solve(p, method="convex", certify=False), repeats)
        sol = ours.result
        sdp = attach(theirs.result)
        bounds = [b for b in (sol.lower_bound, sdp.lower_bound) if b is not None]
        best = max(bounds) if bounds else None
        notes = f"SDP status {sdp.status}"
        if str(device) != "cpu":
            notes += "; the SDP runs on the CPU"
        rows.append(
            make_row(
                NAME,
                case,
                device=device,
                lpm_seconds=ours.seconds,
                baseline=BASELINE,
                baseline_seconds=theirs.seconds,
                repeats=min(ours.repeats, theirs.repeats),
                accuracy="certified relative gap (f − LB)/max(1, |f|), LB the best rigorous bound",
                lpm_accuracy=_gap(sol.objective, best) if sol.converged else math.inf,
                baseline_accuracy=_gap(sdp.objective, best) if sdp.converged else math.inf,
                tolerance=TOLERANCE,
                reference=best,
                lpm_objective=sol.objective,
                baseline_objective=sdp.objective,
                notes=notes,
                extra={
                    "lpm_status": sol.status,
                    "lpm_iterations": sol.iterations,
                    "lpm_lower_bound": sol.lower_bound,
                    "baseline_status": sdp.status,
                    "baseline_lower_bound": sdp.lower_bound,
                    "baseline_program_value": sdp.info.get("program_value"),
                    "baseline_solver": sdp.info.get("solver"),
                },
            )
        )
    return rows
