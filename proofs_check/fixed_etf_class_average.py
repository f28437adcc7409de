"""With Fang's class-average budget, the fixed-ETF optimum is NOT equinorm under imbalance.

Statement (derived, docs/theory.md §2.4; the model is Yang et al.'s, NeurIPS 2022, with the budget
of Fang et al., PNAS 2021): with W fixed to a simplex ETF and the class-average budget
(1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H, the optimal class means point along their classifier rows but
with count-dependent lengths (majority classes longer): "neural collapse for any counts" of
Yang et al. needs the per-sample budget. For K = 4, n = (100, 100, 10, 10), E_W = E_H = 1 the
lengths are (1.38436, 1.38436, 0.28904, 0.28904) and the value 0.45361.

Check: it passes when the false statement ("the class-average optimum is equinorm") is refuted
on every imbalanced case — the relative spread (max − min)/max of ‖h̄_k‖ must be AT LEAST
:data:`SPREAD_MIN` — and the controls hold: the same counts with the per-sample budget give
‖h̄_k‖ = sqrt(E_H) for every k, a balanced class-average problem is equinorm, and the imbalanced
optimum is the one :func:`lpm.theory.fixed_etf_class_average` derives.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from lpm import theory
from lpm.problem import Problem
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import GRAM_RTOL, against_prediction, converged, label, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "REFERENCE", "SPREAD_MIN", "cases", "check"]

ID = "fixed-etf-class-average-not-equinorm"
CLAIM = (
    "fixed ETF + class-average budget, imbalanced: means NOT equinorm (passes when spread ≥ tol; "
    "per-sample control is)"
)
REFERENCE = "Yang et al. NeurIPS 2022 model with Fang et al.'s budget; derived, docs/theory.md §2.4"

#: See lpm.tolerances.CHECK_TOL["not-equinorm-spread"].
SPREAD_MIN = CHECK_TOL["not-equinorm-spread"]


def cases(quick: bool) -> list[Problem]:
    """Imbalanced class-average problems (fixed ETF); controls are derived from them."""
    grid = [
        ((100, 100, 10, 10), 8, (1.0, 1.0)),
        ((30, 10, 5), 2, (1.0, 2.0)),
        ((3, 1), 1, (0.5, 0.5)),
    ]
    if not quick:
        grid += [
            ((100, 100, 10, 10), 3, (1.0, 1.0)),
            ((50, 25, 12, 6, 3, 1), 7, (2.0, 1.0)),
            ((11, 10, 10), 4, (1.0, 1.0)),
        ]
    return [
        Problem.from_counts(counts, dim=d, classifier="etf", energy=energy)
        for counts, d, energy in grid
    ]


def _norms(sol) -> np.ndarray:
    return np.linalg.norm(sol.means, axis=1)


def _equinorm_control(sol, name: str, perturb: float) -> list[Measurement]:
    """The statement where it is true: every ‖h̄_k‖ equals (1 + perturb)·sqrt(E_H)."""
    radius = math.sqrt(sol.problem.energy[1])
    error = float(np.abs(_norms(sol) - (1.0 + perturb) * radius).max()) / radius
    return [
        converged(sol, name),
        Measurement(f"{name} max_k |‖h̄_k‖ − sqrt(E_H)|/sqrt(E_H)", error, GRAM_RTOL),
    ]


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies the predicted numbers of the controls and of the
    derived class-average optimum by (1 + perturb)."""
    imbalanced = cases(quick)
    per_sample = [replace(p, budget="per-sample") for p in imbalanced]
    balanced = [
        Problem.balanced(p.K, 5, dim=p.dim, classifier="etf", energy=p.energy)
        for p in imbalanced[:2]
    ]
    sols = solve_all(imbalanced + per_sample + balanced)
    n_imb, n_ps = len(imbalanced), len(per_sample)
    measurements = []
    for sol in sols[:n_imb]:
        name = label(sol.problem)
        norms = _norms(sol)
        measurements.append(
            Measurement(
                f"{name} class-average spread of ‖h̄_k‖",
                float((norms.max() - norms.min()) / norms.max()),
                SPREAD_MIN,
                sense="above",
            )
        )
        measurements += against_prediction(
            sol, theory.fixed_etf_class_average(sol.problem), perturb=perturb, name=name
        )
    for sol in sols[n_imb : n_imb + n_ps]:
        measurements += _equinorm_control(sol, f"{label(sol.problem)} per-sample", perturb)
    for sol in sols[n_imb + n_ps :]:
        measurements += _equinorm_control(sol, f"{label(sol.problem)} balanced", perturb)
    n_cases = len(sols)
    return summarise(ID, CLAIM, REFERENCE, n_cases, measurements)
