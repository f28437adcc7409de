"""A fixed simplex-ETF classifier gives neural collapse for any class counts (per-sample budget).

Statement (Yang, Xie, Chen, Li, Lin, Tao, NeurIPS 2022, arXiv 2203.09081, Theorem 1 — numbering
recalled; docs/theory.md §2.2): with W fixed to a simplex ETF with ‖w_k‖² = E_W and the per-sample
budget ‖h_i‖² ≤ E_H, the unique minimiser is h_i = sqrt(E_H/E_W) w_{y_i} for any counts n_k, and
the optimal value is the balanced L*, independent of the counts.

Check: imbalanced counts (steps, long tails, a class of one sample), d = K − 1 and larger:
objective and Grams against :func:`lpm.theory.fixed_etf`, and — since W is fixed, coordinates are
meaningful here — every sample's feature against sqrt(E_H/E_W) w_{y_i}.
"""

from __future__ import annotations

import math

import numpy as np

from lpm import theory
from lpm.problem import Problem
from proofs_check.agreement import GRAM_RTOL, against_prediction, label, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "fixed-etf-per-sample"
CLAIM = "fixed ETF + per-sample budget: h_i = sqrt(E_H/E_W) w_{y_i} and value L* for any counts"
REFERENCE = (
    "Yang, Xie, Chen, Li, Lin, Tao, NeurIPS 2022 (arXiv 2203.09081) Thm 1; docs/theory.md §2.2"
)


def cases(quick: bool) -> list[Problem]:
    """Imbalanced counts, d ≥ K − 1, several energies."""
    grid = [
        ((100, 100, 10, 10), 8, (1.0, 1.0)),
        ((7, 3, 1), 2, (1.0, 2.0)),
        ((40, 20, 10, 5, 5, 1), 5, (2.0, 1.0)),
        ((5, 1), 1, (1.0, 1.0)),
    ]
    if not quick:
        grid += [
            ((100, 100, 10, 10), 3, (1.0, 1.0)),
            ((200, 50, 20, 8, 3, 2, 1, 1), 10, (0.5, 4.0)),
            ((30, 1, 1), 6, (3.0, 0.3)),
            ((12, 12, 12, 12, 1), 4, (1.0, 5.0)),
        ]
    return [
        Problem.from_counts(counts, dim=d, classifier="etf", budget="per-sample", energy=energy)
        for counts, d, energy in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies every predicted number by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        p = sol.problem
        prediction = theory.fixed_etf(p)
        measurements += against_prediction(sol, prediction, perturb=perturb)
        E_W, E_H = p.energy
        target = (1.0 + perturb) * math.sqrt(E_H / E_W) * sol.W[p.labels]
        worst = float(np.linalg.norm(sol.H - target, axis=1).max()) / math.sqrt(E_H)
        measurements.append(
            Measurement(f"{label(p)} max_i ‖h_i − C w_y‖/sqrt(E_H)", worst, GRAM_RTOL)
        )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
