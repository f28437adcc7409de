"""The convex (SDP) reformulation of the layer-peeled model equals the factorised optimum.

Statement (Fang, He, Long, Su, PNAS 2021, arXiv 2101.12699, the convex relaxation of §"Convex
relaxation" and the authors' ``optimization.py``; docs/theory.md §1.3): with X ⪰ 0 the 2K × 2K Gram
matrix of [h̄_1..h̄_K, w_1..w_K], the layer-peeled model is equivalent to the convex program

    min Σ_k (n_k/N) [log Σ_j exp(X_{k,K+j}) − X_{k,K+k}]
    s.t. Σ_{k≤K} X_kk ≤ K E_H,  Σ_{k>K} X_kk ≤ K E_W,  X ⪰ 0,

whenever an optimal X can be factorised at dimension d, and an optimal X of rank ≤ K − 1 always
exists (centre W; put h̄_k in span W), so d ≥ K − 1 suffices (docs/theory.md §1.3, derived).

Check: for imbalanced problems at d = K − 1 and larger, solve the SDP (``method="convex"``) and
the factorised per-sample problem (projected gradient, random start, no collapse assumed) and
compare the optimal values, the classifier Grams, and the SDP's rank with K − 1.
"""

from __future__ import annotations

import numpy as np

from lpm.problem import Problem
from proofs_check.agreement import (
    CONVEX_GRAM_RTOL,
    CONVEX_RTOL,
    certificate,
    converged,
    gram_error,
    label,
    relative_error,
    solve_all,
)
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "cases", "check"]

ID = "sdp-equals-factorised"
CLAIM = "SDP value = factorised LPM optimum at any d ≥ K−1 (imbalanced), SDP rank ≤ K−1"
REFERENCE = (
    "Fang, He, Long, Su, PNAS 2021 (arXiv 2101.12699), convex relaxation; docs/theory.md §1.3"
)


def cases(quick: bool) -> list[Problem]:
    """Imbalanced counts at d = K − 1, K and 2K; both budgets."""
    grid = [
        ((100, 100, 10, 10), 3, (1.0, 1.0), "class-average"),
        ((100, 100, 10, 10), 8, (1.0, 1.0), "class-average"),
        ((30, 10, 5), 2, (1.0, 2.0), "class-average"),
        ((50, 20, 20, 5, 5), 4, (2.0, 1.0), "class-average"),
        ((40, 10, 10, 10), 3, (1.0, 1.0), "per-sample"),
    ]
    if not quick:
        grid += [
            ((100, 100, 10, 10), 4, (1.0, 1.0), "class-average"),
            ((60, 40, 20, 10, 5, 1), 5, (1.0, 3.0), "class-average"),
            ((25, 25, 25, 5, 5, 5), 12, (0.5, 2.0), "class-average"),
            ((9, 3), 1, (1.0, 1.0), "class-average"),
            ((30, 20, 10, 5, 5), 4, (2.0, 2.0), "per-sample"),
            ((80, 40, 20, 10, 5, 3, 2), 6, (1.0, 1.0), "class-average"),
        ]
    return [
        Problem.from_counts(counts, dim=d, energy=energy, budget=budget)
        for counts, d, energy, budget in grid
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the SDP value (the prediction) by (1 + perturb)."""
    problems = cases(quick)
    factorised = solve_all(problems, method="gradient")
    convex = solve_all(problems, method="convex")
    measurements = []
    for p, grad, sdp in zip(problems, factorised, convex):
        name = label(p)
        measurements.append(converged(grad, f"{name} gradient"))
        measurements.append(converged(sdp, f"{name} SDP"))
        for sol, how in ((grad, "gradient"), (sdp, "SDP")):
            gap = certificate(sol, f"{name} {how}")
            if gap is not None:
                measurements.append(gap)
        value = float(sdp.info.get("program_value", np.nan))
        measurements.append(
            Measurement(
                f"{name} |f_factorised − f_SDP|",
                relative_error(grad.objective, value, perturb),
                CONVEX_RTOL,
            )
        )
        measurements.append(
            Measurement(
                f"{name} W Wᵀ",
                gram_error(grad.W @ grad.W.T, sdp.W @ sdp.W.T, perturb),
                CONVEX_GRAM_RTOL,
            )
        )
        rank = sdp.info.get("gram_rank", np.inf)
        measurements.append(
            Measurement(f"{name} SDP rank − (K−1)", float(max(0, rank - (p.K - 1))), 0.0)
        )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
