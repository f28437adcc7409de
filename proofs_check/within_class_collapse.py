"""Within-class collapse (NC1) of the per-sample optimum, in every variant of the family.

Statement (Papyan, Han, Donoho, PNAS 2020, for the phenomenon; proved for each model by the
papers of the other checks — Fang et al. 2021 §1.1, Yang et al. 2022, Zhu et al. 2021, Dang et
al. 2023/2024, Thrampoulidis et al. 2022; docs/theory.md §1.1): at every global minimiser of the
layer-peeled and unconstrained-feature models, every feature equals its class mean,
h_i = h̄_{y_i}, so NC1 = (1/K) tr(Σ_W Σ_B⁺) = 0. The reason is the same everywhere: the loss is
convex in h and the budget or penalty is a mean of squares, so averaging a class's features never
hurts and strictly helps unless they are equal.

Check: one problem per variant (learnable or fixed classifier; CE, MSE, DR; free, ReLU or
spherical features; budgets, decays; bias none, free, penalised), solved from a random start on
per-sample features by projected gradient (collapse is never assumed: the convex programs
work on class means, so they are not used here): NC1 of :func:`lpm.geometry` against 0 and the
largest within-class deviation max_i ‖h_i − h̄_{y_i}‖ / max_k ‖h̄_k‖ against 0.
"""

from __future__ import annotations

import numpy as np

import lpm
from lpm.problem import Problem
from proofs_check.agreement import GRAM_RTOL, converged, solve_all
from proofs_check.dr_same_minimiser import DR_POSITION_TOL, DR_SOLVE_TOL
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = ["CLAIM", "ID", "NC1_TOL", "REFERENCE", "check", "variants"]

ID = "within-class-collapse"
CLAIM = "every variant's per-sample optimum has h_i = h̄_{y_i} (NC1 = 0) from a random start"
REFERENCE = "Papyan, Han, Donoho, PNAS 2020 (NC1); Fang et al. 2021 §1.1 and the papers above"

#: NC1 is quadratic in the within-class deviations: deviations at the Gram tolerance (1e-6,
#: relative) give NC1 ~ 1e-12.
NC1_TOL = 1e-12

#: Dot-regression is solved and judged as in ``dr-same-minimiser``: its loss is quartic along the
#: sphere at the minimiser, so positions are only r^{1/3}-accurate at residual r.
_DR = (DR_SOLVE_TOL, DR_POSITION_TOL, DR_POSITION_TOL**2)


def variants(quick: bool) -> dict[str, Problem]:
    """One imbalanced problem per variant, by name."""
    counts = (20, 20, 5, 5)
    out = {
        "LPM class-average": Problem.from_counts(counts, energy=(1.0, 1.0)),
        "LPM per-sample": Problem.from_counts(counts, energy=(1.0, 1.0), budget="per-sample"),
        "fixed ETF per-sample": Problem.from_counts(
            counts, dim=4, classifier="etf", energy=(1.0, 1.0), budget="per-sample"
        ),
        "fixed ETF class-average": Problem.from_counts(
            counts, dim=4, classifier="etf", energy=(1.0, 1.0)
        ),
        "DR fixed ETF": Problem.from_counts(
            counts, dim=4, loss="dr", classifier="etf", energy=(1.0, 1.0), budget="per-sample"
        ),
        "ReLU decay": Problem.from_counts(counts, dim=6, features="relu", decay=(1e-3, 1e-3)),
        "CE decay, penalised bias": Problem.from_counts(
            counts, bias="penalised", decay=(5e-3, 5e-3, 5e-3)
        ),
        "MSE decay": Problem.from_counts(counts, loss="mse", decay=(2e-3, 2e-3)),
        "MSE decay, free bias": Problem.balanced(
            4, 10, loss="mse", bias="free", decay=(5e-3, 5e-3)
        ),
    }
    if not quick:
        long_tail = (40, 20, 10, 5, 2, 1)
        out.update(
            {
                "LPM long tail d=K−1": Problem.from_counts(long_tail, dim=5, energy=(1.0, 2.0)),
                "CE decay, free bias": Problem.from_counts(
                    long_tail, bias="free", decay=(1e-3, 1e-3)
                ),
                "random classifier, sphere": Problem.balanced(
                    4, 5, dim=8, classifier="random", features="sphere", energy=(1.0, 1.0)
                ),
                "MSE long tail": Problem.from_counts(long_tail, loss="mse", decay=(1e-3, 1e-3)),
                "fixed random, per-sample": Problem.from_counts(
                    long_tail, dim=8, classifier="random", energy=(1.0, 1.0), budget="per-sample"
                ),
            }
        )
    return out


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` compares each feature with (1 + perturb)·h̄_{y_i} instead of
    h̄_{y_i} (a wrong constant in the statement)."""
    named = variants(quick)
    measurements = []
    groups: dict[tuple, list[str]] = {}
    for name, p in named.items():
        key = _DR if p.loss == "dr" else (None, GRAM_RTOL, NC1_TOL)
        groups.setdefault(key, []).append(name)
    for (solve_tol, deviation_tol, nc1_tol), names in groups.items():
        options = (
            {"method": "gradient"}
            if solve_tol is None
            else {"method": "gradient", "tol": solve_tol}
        )
        for name, sol in zip(names, solve_all([named[n] for n in names], **options)):
            M = sol.means
            scale = float(np.linalg.norm(M, axis=1).max())
            shifted = sol.H - (1.0 + perturb) * M[sol.problem.labels]
            deviation = float(np.linalg.norm(shifted, axis=1).max())
            measurements += [
                converged(sol, name),
                Measurement(
                    f"{name} max_i ‖h_i − h̄_y‖/max‖h̄‖",
                    deviation / scale if scale > 0 else np.inf,
                    deviation_tol,
                ),
                Measurement(f"{name} NC1", lpm.geometry(sol).nc1, nc1_tol),
            ]
    return summarise(ID, CLAIM, REFERENCE, len(named), measurements)
