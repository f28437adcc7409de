"""Balanced MSE with an unregularised bias: a simplex ETF, b = 1/K.

Statement (Tirer and Bruna, ICML 2022; docs/theory.md §5.3, derived): with n samples per class, an
unregularised bias and weight decay on W and H, the optimum has W h̄_k = (1 − K sqrt(n λ_Wλ_H))_+
(e_k − 1/K) and b = 1/K: the bias absorbs the mean target, and the centred logits form a simplex
ETF (contrast with the orthogonal frame of the bias-free model, ``mse-no-bias``).

Check: several K, n, decays, d ≥ K − 1: objective, Grams and bias against
:func:`lpm.theory.mse_ufm_free_bias`.
"""

from __future__ import annotations

from lpm import theory
from lpm.problem import Problem
from proofs_check.agreement import against_prediction, solve_all
from proofs_check.report import CheckResult, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "mse-free-bias"
CLAIM = "balanced MSE, free bias: W h̄_k = (1 − K sqrt(nλ_Wλ_H))_+ (e_k − 1/K), b = 1/K (ETF)"
REFERENCE = "Tirer & Bruna, ICML 2022; docs/theory.md §5.3"


def cases(quick: bool) -> list[Problem]:
    """(K, n, d, (λ_W, λ_H))."""
    grid = [
        (4, 25, 4, (5e-3, 5e-3)),
        (3, 10, 2, (1e-2, 1e-2)),
        (5, 6, 4, (3e-3, 1e-2)),
    ]
    if not quick:
        grid += [
            (6, 5, 5, (1e-2, 4e-3)),
            (2, 40, 1, (2e-3, 2e-3)),
            (8, 3, 10, (2e-3, 5e-3)),
            (4, 25, 4, (6e-2, 6e-2)),
        ]
    return [
        Problem.balanced(K, n, dim=d, loss="mse", bias="free", decay=lam) for K, n, d, lam in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies every predicted number by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        measurements += against_prediction(
            sol, theory.mse_ufm_free_bias(sol.problem), perturb=perturb
        )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
