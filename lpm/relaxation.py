"""Certified bounds from a problem's convex program, solved by cvxpy.

:func:`lpm.certify.attach` is cheap (closed forms and one eigenvalue problem); where it is loose —
ReLU features with a learnable classifier beyond its doubly-nonnegative size, or to check a cheap
bound independently — :func:`relaxation_bound` solves the convex program
(:mod:`lpm.solvers.convex`) and builds the certificate of :mod:`lpm.certify` from its dual point.
It sits above both, so that neither the certificates nor the convex method import the other.
"""

from __future__ import annotations

from lpm.certificate import Certificate
from lpm.certify import fixed_certificate, gram_certificate
from lpm.solution import Solution
from lpm.solvers.convex import solve_convex, supports

__all__ = ["relaxation_bound"]


def relaxation_bound(solution: Solution, *, solver: str | None = None) -> Certificate:
    """A certified bound from the dual of the problem's convex program, solved by cvxpy.

    Not cheap (a conic solve: seconds at K = 20, minutes at K = 60), so :func:`attach` never
    calls it. Use it where the cheap certificate is loose: ReLU features with a learnable
    classifier when K > :data:`DNN_MAX_K` (``attach`` then bounds with Ω = 0, the free-feature
    bound), or to check a cheap bound independently. The bound is the doubly-nonnegative
    relaxation's for ReLU features and the exact program's otherwise; it is computed at the
    solution's point from the solver's dual variables (:class:`DualPoint`), so it is valid
    whatever the solver's accuracy, and tight up to it.

    Parameters
    ----------
    solution : Solution
        A solution of a problem that :mod:`lpm.solvers.convex` poses and that has a finite
        optimum (energies or weight decay, or fixed classifiers with spherical features).
    solver : "CLARABEL", "SCS" or None
        As in :func:`lpm.solvers.convex.solve_convex`.

    Returns
    -------
    Certificate
    """
    p = solution.problem
    reason = supports(p)
    if reason is not None or (p.regime == "unregularised" and p.features != "sphere"):
        raise ValueError(
            "relaxation_bound needs a problem with a finite optimum and a convex program; "
            "allowed: energies or decay (any features), or a fixed classifier on spheres"
        )
    result = solve_convex(p, solver=solver)
    dual = result.dual
    if dual is None:
        raise ValueError(f"the convex program was not solved: cvxpy status {result.cvx_status!r}")
    b = solution.b if p.has_bias else None
    if p.fixed_classifier:
        return fixed_certificate(p, solution.means, b, dual=dual)
    return gram_certificate(p, solution.W, solution.means, b, dual=dual)
