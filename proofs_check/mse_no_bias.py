"""Bias-free MSE under weight decay, any counts: an orthogonal frame with soft-thresholded scales.

Statement (Dang, Tran, Osher, Tran-The, Ho, Nguyen, ICML 2023, arXiv 2301.00437, one-layer case;
Tirer and Bruna, ICML 2022; docs/theory.md §5.2, derived): the optimum of
(1/(2N))‖W H − Y‖² + (λ_W/2)‖W‖² + (λ_H/2)‖H‖² has within-class collapse and
W h̄_k = (z_k/sqrt(n_k)) e_k with z_k = (sqrt(n_k) − N sqrt(λ_Wλ_H))_+: classifiers and class
means are orthogonal, ‖w_k‖² = sqrt(λ_H/λ_W) z_k, ‖h̄_k‖² = sqrt(λ_W/λ_H) z_k/n_k, and class k
vanishes iff λ_Wλ_H ≥ n_k/N².

Check: imbalanced and balanced counts, equal and unequal decays, a case where one class has
vanished: objective and Grams against :func:`lpm.theory.mse_ufm_no_bias`.
"""

from __future__ import annotations

from lpm import theory
from lpm.problem import Problem
from proofs_check.agreement import against_prediction, solve_all
from proofs_check.report import CheckResult, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "mse-no-bias"
CLAIM = "bias-free MSE: orthogonal W and means, W h̄_k = (z_k/sqrt(n_k)) e_k, z soft-thresholded"
REFERENCE = "Dang et al., ICML 2023 (arXiv 2301.00437); Tirer & Bruna 2022; docs/theory.md §5.2"


def cases(quick: bool) -> list[Problem]:
    """(counts, d, (λ_W, λ_H)); (40, 20, 10) at λ = 0.05 has class 3 vanished (n_3 < N²λ²)."""
    grid = [
        ((100, 100, 10, 10), 4, (1e-3, 1e-3)),
        ((100, 100, 10, 10), 4, (5e-3, 5e-3)),
        ((40, 20, 10), 3, (5e-2, 5e-2)),
        ((30, 30, 30), 3, (2e-3, 8e-3)),
    ]
    if not quick:
        grid += [
            ((60, 30, 15, 8, 4, 2), 6, (1e-3, 2e-3)),
            ((40, 20, 10), 2, (5e-2, 5e-2)),
            ((9, 1), 3, (1e-2, 1e-2)),
            ((100, 50, 50, 20, 5), 8, (4e-3, 1e-3)),
        ]
    return [Problem.from_counts(c, dim=d, loss="mse", decay=lam) for c, d, lam in grid]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies every predicted number by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        measurements += against_prediction(
            sol, theory.mse_ufm_no_bias(sol.problem), perturb=perturb
        )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
