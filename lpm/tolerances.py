"""Named tolerances, in one table, by dtype and method.

Each entry says why it has the value it has; a looser entry must say what it is loose for.
"""

from __future__ import annotations

__all__ = ["CHECK_TOL", "DEFAULT_MAX_ITER", "GAP_TOL", "TOL", "default_tol"]

#: Optimality-residual tolerance at which a solve is called converged, by (method, dtype).
TOL: dict[tuple[str, str], float] = {
    # float64 projected gradient reaches 1e-11 on every worked example of THEORY.md in a few
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
    # margin for THEORY.md's printed digits and for ill-conditioned grid points.
    "objective": 1e-8,
    # Gram matrices converge like the square root of the objective error near a nondegenerate
    # optimum: 1e-6 relative in the Frobenius norm.
    "gram": 1e-6,
    # Interior-point values are accurate to ~1e-8 relative; 1e-6 covers SCS's fallback.
    "convex-objective": 1e-6,
    # Interior-point primal points are accurate only to about the square root of the tolerance.
    "convex-gram": 1e-4,
}

#: Iteration caps of the projected-gradient solver, by dtype.
#: Well-posed problems converge in 10–1,000 steps; degenerate ones (a zero-loss minimiser exactly
#: on the budget's boundary, with zero multipliers) converge sublinearly and stop here, honestly
#: reported as "max_iter".
DEFAULT_MAX_ITER: dict[str, int] = {"float64": 20_000, "float32": 20_000}


def default_tol(method: str, dtype: str) -> float:
    """The tolerance of ``TOL`` for a method and dtype (else the gradient method's)."""
    return TOL.get((method, dtype), TOL[("gradient", dtype)])
