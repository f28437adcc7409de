"""Balanced CE under weight decay: a scaled simplex ETF, with or without a bias (Zhu et al.).

Statement (Zhu, Ding, Zhou, Li, You, Sulam, Qu, NeurIPS 2021, arXiv 2105.02375, Theorem 3.1 —
arXiv numbering; docs/theory.md §5.1): with n samples per class and d ≥ K − 1, every global
minimiser of (1/N)ΣCE(W h_i + b, y_i) + (λ_W/2)‖W‖² + (λ_H/2)‖H‖² (+ (λ_b/2)‖b‖²) has
h_i = sqrt(λ_W/(λ_H n)) w_{y_i}, W Wᵀ = ρ (K/(K−1)) P_K with ρ derived in
:func:`lpm.theory.zhu_regularised_ce`, and b = b·1 (b = 0 when λ_b > 0); once
sqrt(n λ_W λ_H) ≥ 1/K the minimiser is W = H = 0.

Check: all three bias variants, several K, n, λ (including an unequal λ_W, λ_H and a case beyond
the collapse threshold): objective, Grams and bias against the prediction. CE ignores a common
shift of b, so with a free bias only the centred bias P_K b is compared (with 0).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lpm import theory
from lpm.problem import Problem
from proofs_check.agreement import GRAM_RTOL, against_prediction, label, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "zhu-regularised-ce"
CLAIM = "balanced regularised CE (any bias): ETF with h = sqrt(λ_W/(λ_H n)) w, ρ derived, or 0"
REFERENCE = "Zhu et al., NeurIPS 2021 (arXiv 2105.02375) Thm 3.1; docs/theory.md §5.1"


def cases(quick: bool) -> list[Problem]:
    """(K, n, d, (λ_W, λ_H, λ_b), bias)."""
    grid = [
        (4, 25, 4, (5e-3, 5e-3, 5e-3), "penalised"),
        (4, 25, 4, (5e-3, 5e-3, 0.0), "none"),
        (3, 10, 2, (1e-2, 2e-2, 0.0), "free"),
        (4, 25, 4, (6e-2, 6e-2, 0.0), "none"),
    ]
    if not quick:
        grid += [
            (5, 4, 6, (2e-2, 1e-2, 1e-3), "penalised"),
            (6, 8, 5, (1e-3, 4e-3, 0.0), "free"),
            (2, 30, 1, (1e-2, 1e-2, 0.0), "none"),
            (10, 3, 12, (5e-3, 2e-3, 0.0), "none"),
        ]
    return [Problem.balanced(K, n, dim=d, decay=decay, bias=bias) for K, n, d, decay, bias in grid]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies every predicted number by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        p = sol.problem
        prediction = theory.zhu_regularised_ce(p)
        if p.bias == "free":
            measurements += against_prediction(sol, replace(prediction, bias=None), perturb=perturb)
            centred = sol.b - sol.b.mean()
            measurements.append(
                Measurement(f"{label(p)} ‖P_K b‖∞", float(np.abs(centred).max()), GRAM_RTOL)
            )
        else:
            measurements += against_prediction(sol, prediction, perturb=perturb)
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
