"""Balanced layer-peeled model: the optimum is a simplex ETF (Fang et al. 2021).

Statement (Fang, He, Long, Su, PNAS 118 (2021), arXiv 2101.12699, Theorem 3; docs/theory.md §1.2):
with n samples in each of K classes, d ≥ K − 1 and the cross-entropy loss, every global minimiser
of the layer-peeled model has W Wᵀ = E_W (K/(K−1)) P_K and h_i = sqrt(E_H/E_W) w_{y_i}, and the
optimal value is L* = log(1 + (K−1) exp(−(K/(K−1)) sqrt(E_W E_H))).

Check: solve a grid of balanced problems (K from 2 to 10, d from K − 1 up, several energies,
both feature budgets) with the certified gradient method and compare the objective and the
Grams W Wᵀ, M Mᵀ, W Mᵀ with :func:`lpm.theory.lpm_balanced`.
"""

from __future__ import annotations

from lpm import theory
from lpm.problem import Problem
from proofs_check.agreement import against_prediction, solve_all
from proofs_check.report import CheckResult, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "fang-balanced-etf"
CLAIM = "balanced LPM optimum is a simplex ETF with h = sqrt(E_H/E_W) w and value L*"
REFERENCE = "Fang, He, Long, Su, PNAS 2021 (arXiv 2101.12699) Thm 3; docs/theory.md §1.2"


def cases(quick: bool) -> list[Problem]:
    """The grid: (K, n, d, E_W, E_H, budget); d = K − 1 included (the ETF's own dimension)."""
    grid = [
        (4, 5, 4, 1.0, 1.0, "class-average"),
        (3, 4, 2, 1.0, 1.0, "class-average"),
        (10, 2, 9, 1.0, 5.0, "class-average"),
        (2, 3, 1, 2.0, 0.5, "class-average"),
        (5, 3, 8, 1.0, 1.0, "per-sample"),
    ]
    if not quick:
        grid += [
            (6, 4, 5, 0.5, 3.0, "class-average"),
            (8, 3, 16, 2.0, 2.0, "class-average"),
            (7, 2, 6, 1.0, 1.0, "per-sample"),
            (4, 10, 3, 3.0, 1.0, "per-sample"),
            (3, 20, 6, 0.2, 0.2, "class-average"),
        ]
    return [
        Problem.balanced(K, n, dim=d, energy=(E_W, E_H), budget=budget)
        for K, n, d, E_W, E_H, budget in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies every predicted number by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        prediction = theory.lpm_balanced(sol.problem)
        measurements += against_prediction(sol, prediction, perturb=perturb)
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
