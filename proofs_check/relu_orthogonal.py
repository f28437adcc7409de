"""ReLU features under weight decay: orthogonal class means, count-dependent norms, thresholds.

Statement (Dang, Tran, Nguyen, Ho, ICML 2024, arXiv 2401.02058; docs/theory.md §3, constants
re-derived for the objective (1/N)ΣCE + (λ_W/2)‖W‖² + (λ_H/2)‖H‖²): with nonnegative features
every minimiser has within-class collapse, mutually orthogonal class means h̄_k with
‖h̄_k‖² = t_k sqrt(λ_W(K−1)/(λ_H n_k K)) (minority means longer), a classifier made of the
centred means scaled by sqrt(n_k), and class k's features are exactly 0 iff
λ_W λ_H ≥ n_k (K−1)/(K N²) (minority classes die first).

Check: on imbalanced counts, objective and Grams against :func:`lpm.theory.relu_ufm`, the largest
|cos| between distinct class means against 0, and the per-class thresholds of
:func:`lpm.theory.relu_collapse_threshold` on both sides: at λ_Wλ_H = 0.8 τ_k and 1.25 τ_k class
k must be alive, resp. exactly 0. Solves use random restarts (boundary stationary points,
docs/theory.md §3), and ``method="auto"`` answers a solve whose certificate does not close the gap
by the convex (doubly-nonnegative) program — e.g. counts (1, 1, 4), d = 3, λ_W = λ_H at half the
smallest threshold traps 16 of 16 random starts at 0.82578 against the optimum 0.81239.
"""

from __future__ import annotations

import math

import numpy as np

from lpm import theory
from lpm.problem import Problem
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import GRAM_RTOL, against_prediction, label, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["ALIVE_MIN", "CLAIM", "ID", "REFERENCE", "SIDES", "cases", "check"]

ID = "relu-orthogonal"
CLAIM = "ReLU UFM: orthogonal means, predicted norms/Grams, class k = 0 iff λ_Wλ_H ≥ n_k(K−1)/(KN²)"
REFERENCE = "Dang, Tran, Nguyen, Ho, ICML 2024 (arXiv 2401.02058); docs/theory.md §3"

#: The two sides of a class's threshold τ_k at which its survival is checked.
SIDES = (0.8, 1.25)

#: See lpm.tolerances.CHECK_TOL["alive-class"].
ALIVE_MIN = CHECK_TOL["alive-class"]


def _decay(product: float, ratio: float = 1.0) -> tuple[float, float]:
    """(λ_W, λ_H) with λ_W λ_H = product and λ_W/λ_H = ratio."""
    return math.sqrt(product * ratio), math.sqrt(product / ratio)


def cases(quick: bool) -> list[Problem]:
    """Imbalanced ReLU problems at fixed decays, then each side of one class's threshold."""
    fixed = [
        ((100, 100, 10, 10), 8, (1e-3, 1e-3)),
        ((100, 100, 10, 10), 4, (2e-2, 2e-2)),
    ]
    around = [((40, 20, 10), 4, 2, 1.0)]  # (counts, d, class k, λ_W/λ_H)
    if not quick:
        fixed += [
            ((40, 20, 10), 3, (2e-3, 5e-4)),
            ((30, 20, 10, 5, 5), 6, (5e-4, 2e-3)),
        ]
        # The last one is beyond every class's threshold at 1.25 τ_0: W = H = 0.
        around += [
            ((40, 20, 10), 4, 1, 4.0),
            ((50, 30, 10, 10), 5, 1, 0.25),
            ((40, 20, 10), 3, 0, 1.0),
        ]
    problems = [
        Problem.from_counts(counts, dim=d, features="relu", decay=lam) for counts, d, lam in fixed
    ]
    for counts, d, k, ratio in around:
        tau = theory.relu_collapse_threshold(counts, k)
        for side in SIDES:
            problems.append(
                Problem.from_counts(counts, dim=d, features="relu", decay=_decay(side * tau, ratio))
            )
    return problems


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the predictions and thresholds by (1 + perturb)."""
    problems = cases(quick)
    measurements = []
    for sol in solve_all(problems):
        p = sol.problem
        name = label(p)
        prediction = theory.relu_ufm(p)
        measurements += against_prediction(sol, prediction, perturb=perturb)
        # Squared norms on the scale of the predicted mean Gram, as gram_error does (absolute
        # when every class is predicted dead).
        scale = float(np.linalg.norm(prediction.m_gram)) or 1.0
        sq = (sol.means**2).sum(axis=1) / scale
        alive = sq > GRAM_RTOL
        units = sol.means[alive] / np.sqrt(sq[alive] * scale)[:, None]
        cos = units @ units.T
        off = np.abs(cos[~np.eye(len(units), dtype=bool)])
        measurements.append(
            Measurement(f"{name} max |cos(h̄_k, h̄_l)|", float(off.max(initial=0.0)), GRAM_RTOL)
        )
        tau = (1.0 + perturb) * np.asarray(theory.relu_collapse_threshold(p.counts))
        product = p.decay[0] * p.decay[1]
        for k in range(p.K):
            if product >= tau[k]:
                measurements.append(
                    Measurement(f"{name} ‖h̄_{k}‖² (predicted dead)", float(sq[k]), GRAM_RTOL)
                )
            else:
                measurements.append(
                    Measurement(
                        f"{name} ‖h̄_{k}‖² (predicted alive)", float(sq[k]), ALIVE_MIN, "above"
                    )
                )
    return summarise(ID, CLAIM, REFERENCE, len(problems), measurements)
