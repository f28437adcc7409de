"""A learnable classifier under imbalance is NOT a simplex ETF (the layer-peeled optimum).

Statement (Fang, He, Long, Su, PNAS 2021, arXiv 2101.12699 — imbalanced training; docs/theory.md
§1.4): under class imbalance the optimum of the layer-peeled model with a learnable classifier
has unequal classifier norms and angles (majority rows longer; at n = (100, 100, 10, 10)
‖w_k‖² = (1.74, 1.74, 0.26, 0.26), the minority rows coincide). The ETF statement of the balanced
theorem is false here.

Check: it passes when the false statement is refuted on every imbalanced case with K ≥ 3 — the
distance ‖G/‖G‖_F − P_K/‖P_K‖_F‖_F of G = W Wᵀ from the ETF direction must be AT LEAST
:data:`DISTANCE_MIN` — and the control holds: the balanced problem of the same K, d and energies
gives W Wᵀ = E_W (K/(K−1)) P_K. (With K = 2 only w_1 − w_2 enters the loss, and the optimum is
w_1 = −w_2 for any counts: an ETF. The grid therefore has K ≥ 3.)
"""

from __future__ import annotations

from lpm.classifiers import etf_gram
from lpm.geometry import etf_distance
from lpm.problem import Problem
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import GRAM_RTOL, converged, gram_error, label, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "DISTANCE_MIN", "ID", "REFERENCE", "cases", "check"]

ID = "learnable-not-etf-imbalanced"
CLAIM = (
    "learnable W under imbalance is NOT an ETF (passes when distance ≥ tol; balanced control is)"
)
REFERENCE = "Fang, He, Long, Su, PNAS 2021 (arXiv 2101.12699), imbalanced LPM; docs/theory.md §1.4"

#: See lpm.tolerances.CHECK_TOL["not-etf-distance"].
DISTANCE_MIN = CHECK_TOL["not-etf-distance"]


def cases(quick: bool) -> list[Problem]:
    """Imbalanced learnable layer-peeled problems, K ≥ 3, both budgets."""
    grid = [
        ((100, 100, 10, 10), 4, (1.0, 1.0), "class-average"),
        ((30, 10, 5), 3, (1.0, 2.0), "class-average"),
        ((40, 10, 10, 10), 4, (1.0, 1.0), "per-sample"),
    ]
    if not quick:
        grid += [
            ((11, 10, 10), 3, (1.0, 1.0), "class-average"),
            ((50, 25, 12, 6, 3), 6, (2.0, 0.5), "class-average"),
            ((20, 20, 20, 20, 1), 5, (1.0, 5.0), "per-sample"),
        ]
    return [
        Problem.from_counts(counts, dim=d, energy=energy, budget=budget)
        for counts, d, energy, budget in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the control's ETF Gram by (1 + perturb)."""
    imbalanced = cases(quick)
    controls = [
        Problem.balanced(p.K, 5, dim=p.dim, energy=p.energy, budget=p.budget) for p in imbalanced
    ]
    sols = solve_all(imbalanced + controls)
    measurements = []
    for sol in sols[: len(imbalanced)]:
        name = label(sol.problem)
        measurements.append(converged(sol, name))
        measurements.append(
            Measurement(
                f"{name} ETF distance of W Wᵀ", etf_distance(sol.W), DISTANCE_MIN, sense="above"
            )
        )
    for sol in sols[len(imbalanced) :]:
        p = sol.problem
        name = f"{label(p)} balanced control"
        measurements.append(converged(sol, name))
        predicted = p.energy[0] * etf_gram(p.K)
        measurements.append(
            Measurement(
                f"{name} W Wᵀ vs E_W K/(K−1) P_K",
                gram_error(sol.W @ sol.W.T, predicted, perturb),
                GRAM_RTOL,
            )
        )
    return summarise(ID, CLAIM, REFERENCE, len(sols), measurements)
