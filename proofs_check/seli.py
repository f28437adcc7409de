"""SELI: the unregularised imbalanced CE geometry is that of the UF-SVM.

Statement (Thrampoulidis, Kini, Vakilian, Behnia, NeurIPS 2022, arXiv 2208.05512; docs/theory.md
§4): without regularisation CE has no minimiser; the direction of gradient descent approaches the
solution of the UF-SVM min ½(‖W‖² + ‖H‖²) s.t. (w_{y_i} − w_c)ᵀh_i ≥ 1, whose logits are the SEL
matrix Ẑ = P_K Y, with W Wᵀ = (P_K D P_K)^{1/2}, class-mean Gram
D^{−1/2}(D^{1/2} P_K D^{1/2})^{1/2} D^{−1/2} and value ‖Ẑ‖_*, D = diag(n). Balanced: the ETF.
Unlike the constrained model, the minority classifiers do not collapse for finite R.

Check: solve the UF-SVM (``method="convex"``, certified by a dual bound) and compare its value
with ‖Ẑ‖_* and its normalised Grams (directions only have a limit) with :func:`lpm.theory.seli`;
on step imbalance, the minority classifiers stay apart.
"""

from __future__ import annotations

from lpm import theory
from lpm.problem import Problem
from lpm.threshold import minority_separation
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import (
    CONVEX_GRAM_RTOL,
    CONVEX_RTOL,
    against_prediction,
    label,
    relative_error,
    solve_all,
)
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "SEPARATED_MIN", "cases", "check"]

ID = "seli"
CLAIM = (
    "unregularised CE: UF-SVM value ‖P_K Y‖_*, W Wᵀ ∝ (P D P)^{1/2} (SELI), no minority collapse"
)
REFERENCE = (
    "Thrampoulidis, Kini, Vakilian, Behnia, NeurIPS 2022 (arXiv 2208.05512); docs/theory.md §4"
)

#: See lpm.tolerances.CHECK_TOL["separated"].
SEPARATED_MIN = CHECK_TOL["separated"]


def cases(quick: bool) -> list[Problem]:
    """Unregularised learnable CE problems at d ≥ K − 1."""
    grid = [
        ((100, 100, 10, 10), 4),
        ((10, 10, 1, 1), 3),
        ((5, 2, 1), 2),
        ((3, 3, 3, 3), 3),
    ]
    if not quick:
        grid += [
            ((100, 100, 1, 1), 3),
            ((40, 20, 10, 5, 5), 8),
            ((1000, 1, 1, 1), 3),
            ((7, 7, 7, 7, 7, 1, 1), 6),
        ]
    return [Problem.from_counts(counts, dim=d) for counts, d in grid]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the predicted value and Grams by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems, method="convex"):
        p = sol.problem
        name = label(p)
        prediction = theory.seli(p)
        measurements += against_prediction(
            sol, prediction, perturb=perturb, normalise=True, gram_rtol=CONVEX_GRAM_RTOL
        )
        measurements.append(
            Measurement(
                f"{name} UF-SVM value vs ‖Ẑ‖_*",
                relative_error(
                    sol.info.get("svm_value", float("nan")), prediction.objective, perturb
                ),
                CONVEX_RTOL,
            )
        )
        if len(p.minority_classes) >= 2:
            scale = float((sol.W**2).sum())
            measurements.append(
                Measurement(
                    f"{name} minority D_w/‖W‖²",
                    minority_separation(sol, len(p.minority_classes)) / scale,
                    SEPARATED_MIN,
                    sense="above",
                )
            )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
