"""Minority collapse: the minority classifiers merge as the imbalance ratio R grows.

Statement (Fang, He, Long, Su, PNAS 2021, arXiv 2101.12699, Theorem 5 (arXiv numbering);
docs/theory.md §1.5): in the layer-peeled model with K_A majority classes of n_A samples and K_B
minority classes of n_B samples, R = n_A/n_B, every global minimiser has w_k − w_l → 0 for all
minority k, l as R → ∞. The paper observes, and docs/theory.md §1.5 measures, a finite threshold R₀
beyond which the separation D_w(R) = max over minority pairs ‖w_k − w_l‖² is exactly 0.

Check, on each setting (K_A, K_B, E_W, E_H):

* D_w(1) = 2 E_W K/(K−1), the ETF value (balanced: Fang et al.'s Theorem 3);
* D_w(R) is non-increasing on a grid of R;
* D_w(R) ≤ 1e-6·E_W at every grid point R ≥ 1.2 R₀ and > 1e-6·E_W at every R ≤ R₀/1.2, with R₀
  measured by :func:`lpm.threshold.minority_collapse_threshold` (bisection on certified SDP
  solves);
* R₀ agrees with the reference value of docs/theory.md §1.5 (independent SDP bisections) to 2 %;
* R₀ grows with the feature budget E_H at fixed (K_A, K_B, E_W) (the paper: stronger
  regularisation, i.e. smaller budgets, makes the minority collapse earlier).

The grid is solved by the SDP (``method="convex"``): its size does not depend on R, and near R₀
first-order methods slow down by orders of magnitude (docs/theory.md §1.5).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from lpm.problem import Problem
from lpm.threshold import COLLAPSE_RTOL, minority_collapse_threshold, minority_separation
from lpm.tolerances import CHECK_TOL
from proofs_check.agreement import CONVEX_GRAM_RTOL, certificate, converged, solve_all
from proofs_check.report import CheckResult, Measurement, summarise

__all__ = [
    "CLAIM",
    "ID",
    "MONOTONE_ATOL",
    "REFERENCE",
    "REFERENCE_THRESHOLDS",
    "THRESHOLD_RTOL",
    "check",
    "settings",
]

ID = "minority-collapse"
CLAIM = "minority separation D_w(R) starts at the ETF value, never increases, is 0 beyond R₀"
REFERENCE = "Fang, He, Long, Su, PNAS 2021 (arXiv 2101.12699) Thm 5; docs/theory.md §1.5"

#: R₀ of docs/theory.md §1.5, by (K_A, K_B, E_W, E_H), from SDP bisections made independently of
#: this package. (The team's earlier digest listed (2, 2, 1, 5) ≈ 51.5; this package's SDP
#: bisection and certified gradient solves both put R₀ between 47 and 48 there — D_w(47) =
#: 1.26e-2, D_w(48) = 7.7e-13 — so that entry is not used as a reference; docs/theory.md §1.5
#: records the finding.)
REFERENCE_THRESHOLDS: dict[tuple[int, int, float, float], float] = {
    (2, 2, 1.0, 1.0): 3.41,
    (5, 5, 1.0, 1.0): 1.74,
    (5, 5, 1.0, 5.0): 12.3,
}

#: See lpm.tolerances.CHECK_TOL["threshold"].
THRESHOLD_RTOL = CHECK_TOL["threshold"]

#: Slack of the monotonicity test, relative to E_W: the resolution of the collapse criterion
#: itself. The SDP's D_w is accurate to about 1e-8 (docs/theory.md §1.3) but reads up to ~1.3e-7
#: where the minority rows are exactly 0 (K_A = K_B = 5, E = 1, 1): below 1e-6·E_W an increase
#: cannot be told from 0, as the threshold's definition already says.
MONOTONE_ATOL = COLLAPSE_RTOL

#: Margin around R₀ within which the grid is not judged (D_w goes to 0 smoothly there).
_MARGIN = 1.2


def settings(quick: bool) -> list[tuple[int, int, float, float]]:
    """The (K_A, K_B, E_W, E_H) settings checked."""
    if quick:
        return [(2, 2, 1.0, 1.0), (5, 5, 1.0, 5.0)]
    return [(2, 2, 1.0, 1.0), (5, 5, 1.0, 1.0), (5, 5, 1.0, 5.0), (2, 2, 1.0, 5.0)]


def _grid(quick: bool) -> list[Fraction]:
    if quick:
        return [Fraction(r) for r in (1, 2, 3, 4, 5, 10, 20)]
    # The authors' sweep: R = 10^{0.1 i}, i = 0..40, as simple rationals.
    return [Fraction(10 ** (i / 10)).limit_denominator(20) for i in range(41)]


Setting = tuple[int, int, float, float]


def _separation_curve(
    setting: Setting, quick: bool, perturb: float
) -> tuple[list[Measurement], list[Fraction], list[float]]:
    """Certified solves on the R grid: D_w(R), its value at R = 1 and its monotonicity."""
    KA, KB, E_W, E_H = setting
    tag, K = _tag(setting), KA + KB
    grid = sorted(set(_grid(quick)))
    problems = [
        Problem.from_counts((r.numerator,) * KA + (r.denominator,) * KB, dim=K, energy=(E_W, E_H))
        for r in grid
    ]
    measurements, seps = [], []
    for r, sol in zip(grid, solve_all(problems, method="convex")):
        measurements.append(converged(sol, f"{tag} R={float(r):.4g}"))
        gap = certificate(sol, f"{tag} R={float(r):.4g}")
        if gap is not None:
            measurements.append(gap)
        seps.append(minority_separation(sol, KB))
    etf = 2.0 * E_W * K / (K - 1) * (1.0 + perturb)
    measurements.append(
        Measurement(
            f"{tag} |D_w(1) − 2E_W K/(K−1)|/(2E_W K/(K−1))",
            abs(seps[0] - etf) / etf,
            CONVEX_GRAM_RTOL,
        )
    )
    rise = max(b - a for a, b in itertools.pairwise(seps))
    measurements.append(
        Measurement(f"{tag} largest increase of D_w", max(rise, 0.0) / E_W, MONOTONE_ATOL)
    )
    return measurements, grid, seps


def _threshold(
    setting: Setting, quick: bool, perturb: float, grid: list[Fraction], seps: list[float]
) -> tuple[list[Measurement], float, int]:
    """R₀ by certified bisection, the curve's collapse on either side of it, and the reference."""
    KA, KB, E_W, E_H = setting
    tag = _tag(setting)
    result = minority_collapse_threshold(
        KA, KB, (E_W, E_H), dim=KA + KB, rtol=1e-2 if quick else 1e-3
    )
    R0 = result.threshold
    measurements = [
        Measurement(
            f"{tag} threshold solves converged", float(not result.converged), 0.0, gate=True
        )
    ]
    beyond = [s / E_W for r, s in zip(grid, seps) if r >= _MARGIN * R0]
    below = [s / E_W for r, s in zip(grid, seps) if r <= R0 / _MARGIN]
    if beyond:
        measurements.append(
            Measurement(f"{tag} max D_w/E_W for R ≥ 1.2 R₀", max(beyond), COLLAPSE_RTOL)
        )
    if below:
        measurements.append(
            Measurement(
                f"{tag} min D_w/E_W for R ≤ R₀/1.2", min(below), COLLAPSE_RTOL, sense="above"
            )
        )
    reference = REFERENCE_THRESHOLDS.get(setting)
    if reference is not None:
        target = reference * (1.0 + perturb)
        measurements.append(
            Measurement(
                f"{tag} |R₀ − R₀(reference)|/R₀(reference) (R₀ = {R0:.4g})",
                abs(R0 - target) / target,
                THRESHOLD_RTOL,
            )
        )
    return measurements, R0, result.evaluations


def _grows_with_budget(thresholds: dict[Setting, float]) -> list[Measurement]:
    """R₀ grows with the feature budget E_H (the paper's narrative), pairwise."""
    out = []
    for (KA, KB, E_W, E_H), R0 in thresholds.items():
        for (KA2, KB2, E_W2, E_H2), R0_larger in thresholds.items():
            if (KA2, KB2, E_W2) == (KA, KB, E_W) and E_H2 > E_H:
                out.append(
                    Measurement(
                        f"KA={KA} KB={KB} R₀(E_H={E_H2:g})/R₀(E_H={E_H:g})",
                        R0_larger / R0,
                        1.0,
                        sense="above",
                    )
                )
    return out


def _tag(setting: Setting) -> str:
    KA, KB, E_W, E_H = setting
    return f"KA={KA} KB={KB} E={E_W:g},{E_H:g}"


def check(quick: bool = False, perturb: float = 0.0) -> CheckResult:
    """Run the check; ``perturb`` multiplies D_w(1) and the reference R₀ by (1 + perturb)."""
    measurements: list[Measurement] = []
    n_cases = 0
    thresholds: dict[Setting, float] = {}
    for setting in settings(quick):
        curve, grid, seps = _separation_curve(setting, quick, perturb)
        found, R0, evaluations = _threshold(setting, quick, perturb, grid, seps)
        measurements += curve + found
        n_cases += len(grid) + evaluations
        thresholds[setting] = R0
    measurements += _grows_with_budget(thresholds)
    return summarise(ID, CLAIM, REFERENCE, n_cases, measurements)
