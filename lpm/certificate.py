"""What a certificate of global optimality is: a typed lower bound, and the dual point it may
come from.

:mod:`lpm.certify` computes certificates; this module only names them, so that a
:class:`~lpm.solution.Solution` can carry one (``Solution.certificate``) and a convex program's
dual variables can travel to the certificate typed (``Solution.dual``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lpm.tolerances import GAP_TOL

__all__ = ["ROUNDING_SAFETY", "Certificate", "DualPoint", "rounding_allowance"]

#: Safety factor on the floating-point allowance (n + 8)·eps·(magnitudes) of every bound.
ROUNDING_SAFETY = 16.0


def rounding_allowance(n: int, *magnitudes: float) -> float:
    """The floating-point allowance a certified bound subtracts: ROUNDING_SAFETY·(n + 8)·eps
    times the sum of the magnitudes of the terms that were added (n: the size of the sums)."""
    eps = float(np.finfo(np.float64).eps)
    return ROUNDING_SAFETY * (n + 8) * eps * float(sum(abs(m) for m in magnitudes))


@dataclass(frozen=True)
class Certificate:
    """A certified lower bound on the global optimum of a problem.

    Attributes
    ----------
    lower_bound : float
        No feasible point has an objective below this (rounding allowance already subtracted).
    kind : str
        ``"lpm-sdp-dual"``, ``"ufm-nuclear-dual"``, ``"dnn-dual"``, ``"fixed-linear"`` or
        ``"zero-loss"`` (the trivial bound 0 of a nonnegative loss without penalties).
    exact : bool
        True when the bound comes from an exact convex reformulation (so it meets the optimum at
        an optimal candidate, given rank ≤ d); False for a relaxation (ReLU features with a
        learnable classifier, spherical features) that may stay below the optimum.
    rounding : float
        The floating-point allowance that was subtracted.
    details : dict
        Multipliers, the smallest eigenvalue of the scaled dual slack, and the like.
    gap_tol : float
        The relative gap at which a converged solution carrying this certificate is called
        certified (``Solution.certified``).
    """

    lower_bound: float
    kind: str
    exact: bool
    rounding: float
    details: dict[str, Any] = field(default_factory=dict)
    gap_tol: float = GAP_TOL

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON; arrays in ``details`` stay arrays until sanitised)."""
        return {
            "kind": self.kind,
            "lower_bound": self.lower_bound,
            "exact": self.exact,
            "rounding": self.rounding,
            "gap_tol": self.gap_tol,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Certificate:
        """Inverse of :meth:`to_dict` (after a JSON round trip: null reads as nan)."""
        bound = data["lower_bound"]
        return cls(
            lower_bound=math.nan if bound is None else float(bound),
            kind=str(data["kind"]),
            exact=bool(data["exact"]),
            rounding=float(data["rounding"]),
            details=dict(data.get("details") or {}),
            gap_tol=float(data.get("gap_tol", GAP_TOL)),
        )


@dataclass(frozen=True)
class DualPoint:
    """Dual variables of a class-mean program, e.g. a convex solver's.

    A bound computed from them does not depend on the accuracy of a primal point: an interior-point
    solver's primal iterate is accurate only to about the square root of its tolerance, its dual
    iterate (strictly feasible for the cones) to the tolerance itself.

    Attributes
    ----------
    logit_gradient : ndarray, shape=[K, K]
        P = ∂F/∂z, row k = π_k u_k with u_k a subgradient of ℓ(·, k) (projected into the domain
        of ℓ's conjugate before use).
    feature : ndarray or None, shape=[1] or [K]
        The feature-budget multiplier α (class-average) or α_k (per class); None: fitted to the
        KKT conditions at the primal point.
    classifier : float or None
        The classifier-budget multiplier β; None: fitted.
    nonneg : ndarray or None, shape=[K, K]
        The multiplier of X_HH ≥ 0 (ReLU features), elementwise ≥ 0; None: fitted.
    """

    logit_gradient: NDArray[np.float64]
    feature: NDArray[np.float64] | None = None
    classifier: float | None = None
    nonneg: NDArray[np.float64] | None = None
