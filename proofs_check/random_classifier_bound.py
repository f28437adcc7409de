"""A fixed random classifier cannot beat the simplex ETF: the balanced CE optimum is bounded below.

Statement (Shalev, Shalev, Keshet, arXiv 2011.08704, fixed random class vectors with cosine
logits; bound derived in docs/theory.md §6 and :func:`lpm.theory.random_classifier_bound`): with
fixed rows ‖w_k‖² = E_W and features on the sphere ‖h‖² = E_H (cosine logits of scale
s = sqrt(E_W E_H)), the class-averaged balanced CE optimum is at least
log(1 + (K−1) exp(−sK/(K−1))), with equality iff the rows form a simplex ETF; every optimal
feature lies in span(W) (any component outside it costs norm and changes no logit).

Check: several random classifiers (seeds, K, d ≫ K and d = K): the optimum is at least the bound
(from below: bound − f ≤ 0 up to the objective tolerance), every feature lies in span(W), and
the fixed ETF with the same K and energies attains the bound.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lpm import theory
from lpm.problem import Problem
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import (
    OBJECTIVE_RTOL,
    converged,
    label,
    relative_error,
    solve_all,
)
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "SPAN_TOL", "cases", "check"]

ID = "random-classifier-bound"
CLAIM = (
    "fixed random W, sphere features: balanced CE optimum ≥ ETF value, = for the ETF, h ∈ span W"
)
REFERENCE = "Shalev, Shalev, Keshet, arXiv 2011.08704; bound derived, docs/theory.md §6"

#: See lpm.tolerances.CHECK_TOL["outside-span"].
SPAN_TOL = CHECK_TOL["outside-span"]

#: Restarts: the problem on the sphere is not convex per sample; the bound holds for any point,
#: but equality (the ETF case) needs the global minimum.
RESTARTS = 2


def cases(quick: bool) -> list[Problem]:
    """Fixed random classifiers on the sphere, balanced counts."""
    grid = [
        (4, 5, 8, (1.0, 1.0), 0),
        (4, 5, 8, (1.0, 1.0), 1),
        (3, 4, 3, (1.0, 4.0), 2),
        (10, 2, 20, (1.0, 1.0), 3),
    ]
    if not quick:
        grid += [
            (4, 5, 8, (2.0, 2.0), 4),
            (6, 3, 6, (1.0, 1.0), 5),
            (5, 4, 50, (0.5, 3.0), 6),
            (2, 6, 3, (1.0, 1.0), 7),
        ]
    return [
        Problem.balanced(
            K, n, dim=d, classifier="random", features="sphere", energy=energy, classifier_seed=s
        )
        for K, n, d, energy, s in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the predicted bound by (1 + perturb)."""
    randoms = cases(quick)
    etfs = [replace(p, classifier="etf") for p in randoms[:2]]
    sols = solve_all(randoms + etfs, restarts=RESTARTS)
    measurements = []
    for sol in sols[: len(randoms)]:
        p = sol.problem
        name = label(p) + f" seed={p.classifier_seed}"
        bound = (1.0 + perturb) * theory.random_classifier_bound(p).objective
        measurements.append(converged(sol, name))
        measurements.append(
            Measurement(
                f"{name} (bound − f)/max(1, bound)",
                max(0.0, bound - sol.objective) / max(1.0, bound),
                OBJECTIVE_RTOL,
            )
        )
        basis, _ = np.linalg.qr(sol.W.T)  # (d, K): orthonormal basis of span(W)
        outside = sol.H - (sol.H @ basis) @ basis.T
        measurements.append(
            Measurement(
                f"{name} max_i ‖h_i outside span W‖/‖h_i‖",
                float((np.linalg.norm(outside, axis=1) / np.linalg.norm(sol.H, axis=1)).max()),
                SPAN_TOL,
            )
        )
    for sol in sols[len(randoms) :]:
        p = sol.problem
        name = f"{label(p)} fixed ETF"
        measurements.append(converged(sol, name))
        bound = theory.random_classifier_bound(p).objective
        measurements.append(
            Measurement(
                f"{name} |f − bound| (equality)",
                relative_error(sol.objective, bound, perturb),
                OBJECTIVE_RTOL,
            )
        )
    return summarise(ID, CLAIM, REFERENCE, len(sols), measurements)
