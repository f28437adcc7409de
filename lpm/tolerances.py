"""Named tolerances, in one table, by dtype and method.

Each entry says why it has the value it has; a looser entry must say what it is loose for.
"""

from __future__ import annotations

__all__ = [
    "CHECK_TOL",
    "DEFAULT_MAX_ITER",
    "EXACT_RANK_RTOL",
    "GAP_TOL",
    "ROOT_XTOL",
    "TOL",
    "default_tol",
]

#: Optimality-residual tolerance at which a solve is called converged, by (method, dtype).
TOL: dict[tuple[str, str], float] = {
    # float64 projected gradient reaches 1e-11 on every worked example of docs/theory.md in a few
    # thousand steps; 1e-10 leaves a decade of margin and keeps objectives exact to ~1e-14.
    ("gradient", "float64"): 1e-10,
    # float32 carries ~7 digits; the residual of a stationary point cannot fall much below
    # sqrt(eps32) ≈ 3e-4 times the gradient's scale in the worst cases, 1e-5 in good ones.
    ("gradient", "float32"): 1e-5,
    # The closed forms are evaluated in float64 whatever the dtype; their residual is the gradient
    # method's, so they are judged by the same numbers (float32 realises the point in float32).
    ("theory", "float64"): 1e-10,
    ("theory", "float32"): 1e-5,
    # Interior-point solvers (Clarabel) stop at ~1e-8 relative; SCS at ~1e-6.
    ("convex", "float64"): 1e-6,
}

#: Relative gap at which a converged solution is called certified (``Solution.certified``): the
#: gradient solver's residual 1e-10 gives gaps of 1e-11–1e-10, an interior-point solve ~1e-9.
GAP_TOL = 1e-8

#: Relative tolerances of the theorem checks (proofs_check/) comparing a solve with a prediction.
CHECK_TOL: dict[str, float] = {
    # A gradient solve at residual 1e-10 has objective errors of ~1e-12 relative; 1e-8 leaves
    # margin for docs/theory.md's printed digits and for ill-conditioned grid points.
    "objective": 1e-8,
    # Gram matrices converge like the square root of the objective error near a nondegenerate
    # optimum: 1e-6 relative in the Frobenius norm.
    "gram": 1e-6,
    # Interior-point values are accurate to ~1e-8 relative; 1e-6 covers SCS's fallback.
    "convex-objective": 1e-6,
    # Interior-point primal points are accurate only to about the square root of the tolerance.
    "convex-gram": 1e-4,
    # Residual tolerance of the DR solves: four decades below the package's 1e-10, near the float64
    # floor, because positions are only r^{1/3}-accurate (see dr_same_minimiser).
    "dr-solve": 1e-14,
    # Position tolerance for DR features, relative to sqrt(E_H): (1e-14)^{1/3} ≈ 2e-5 times a
    # problem-dependent constant ≤ 5 on every case here (see dr_same_minimiser).
    "dr-position": 1e-4,
    # Smallest relative spread (max − min)/max of ‖h̄_k‖ that counts as "not equinorm": two orders
    # of magnitude above the Gram tolerance, and far below the spreads that occur (0.79 at the
    # worked instance; 0.08 for counts (3, 1) with E = 0.25, the smallest case here).
    "not-equinorm-spread": 1e-2,
    # Smallest normalised distance from the ETF that counts as "not an ETF": four decades above the
    # Gram tolerance, and well below the distances that occur (0.43 at the worked instance).
    "not-etf-distance": 1e-2,
    # docs/theory.md §1.5: "the value near R₀ is sensitive to the solver's accuracy ... compare
    # thresholds to about 2 %".
    "threshold": 0.02,
    # Relative size of a feature's component outside span(W): the gradient of CE at h lies in
    # span(W), so at a stationary point of residual 1e-10 that component is of that order; 1e-6
    # leaves room for the sphere's tangent-space residual.
    "outside-span": 1e-6,
    # A class counts as alive when ‖h̄_k‖² ≥ ALIVE_MIN · ‖M̂ M̂ᵀ‖_F (the predicted mean Gram); at
    # 0.8 τ_k the predicted ratio is ≥ 0.05 on every case here, and a dead class is 0 to round-off
    # (GRAM_RTOL is its bound).
    "alive-class": 1e-3,
    # Smallest normalised minority separation D_w/‖W‖_F² that counts as "not collapsed": the SELI
    # value at R = 100, K_A = K_B = 2 is 0.08, far above it.
    "separated": 1e-3,
}

#: A singular value (eigenvalue) below this fraction of the largest counts as zero when a rank is
#: read off an exact Gram matrix of a closed form (sums of a few terms of size ~1: round-off is
#: ~1e-15).
EXACT_RANK_RTOL = 1e-10

#: Relative accuracy of the scalar roots of the closed forms (lpm.theory): far below every test
#: tolerance, at float64's resolution.
ROOT_XTOL = 1e-15

#: Iteration caps of the projected-gradient solver, by dtype.
#: Well-posed problems converge in 10–1,000 steps; degenerate ones (a zero-loss minimiser exactly
#: on the budget's boundary, with zero multipliers) converge sublinearly and stop here, honestly
#: reported as "max_iter".
DEFAULT_MAX_ITER: dict[str, int] = {"float64": 20_000, "float32": 20_000}


def default_tol(method: str, dtype: str) -> float:
    """The tolerance of ``TOL`` for a method and dtype (else the gradient method's)."""
    return TOL.get((method, dtype), TOL[("gradient", dtype)])
