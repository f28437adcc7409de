"""The minority-collapse threshold R₀ of the layer-peeled model, by bisection on certified solves.

Fang, He, Long and Su (PNAS 2021, arXiv 2101.12699, Theorem 5 (arXiv numbering); docs/theory.md
§1.5) prove that in the layer-peeled model with K_A majority classes of n_A samples, K_B minority
classes of n_B samples and R = n_A/n_B, the minority classifiers of every global minimiser
coincide in the limit R → ∞. They report, empirically, a *finite* ratio R₀ beyond which they
coincide already; this module measures it:

    D_w(R) = max over minority pairs k < l of ‖w_k − w_l‖²,
    R₀     = the smallest R with D_w(R) ≤ 1e-6 · E_W                       (docs/cli.md).

The model is CE with a learnable classifier, the class-average budgets (1/K)Σ‖w_k‖² ≤ E_W and
(1/K)Σ_k (1/n_k)Σ_i‖h_ki‖² ≤ E_H, no bias, free features. Its optimum depends on the counts only
through the weights n_k/N, so R = m/q is posed exactly with counts (m,…,m, q,…,q); the bisection
evaluates at rationals of small denominator (the simplest fraction inside the middle fifth of
the bracket), which keeps N small for methods whose cost grows with N. Each solve starts from
the solution at the nearest ratio already evaluated (a warm start, for the methods that take
one: ``"reduced"`` and ``"auto"``).

Method: by default ``"convex"`` (Fang et al.'s SDP, whose size does not depend on N): near R₀
the separation goes to 0 smoothly (about linearly in R₀ − R), and first-order solvers slow down
there by orders of magnitude, while the SDP's accuracy (~1e-8 in D_w) stays well below the
criterion. Any method of :data:`lpm.METHODS` may be named instead.

Reference values (docs/theory.md §1.5, from independent SDP bisections; compare to about 2 %):
(K_A, K_B, E_W, E_H) = (2, 2, 1, 1) ≈ 3.41; (5, 5, 1, 5) ≈ 12.3; (5, 5, 1, 1) ≈ 1.74;
(2, 2, 1, 5) ≈ 51.5.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from lpm.geometry import pair_separation
from lpm.problem import MAX_SAMPLES, Problem
from lpm.solution import Solution
from lpm.solvers import METHODS, solve

__all__ = [
    "COLLAPSE_RTOL",
    "MAX_RATIO",
    "ThresholdNotFound",
    "ThresholdResult",
    "minority_collapse_threshold",
    "minority_separation",
]


class ThresholdNotFound(RuntimeError):
    """The bisection found no threshold: the inputs were valid, the result is not trustworthy
    (the command line exits 3, not 2)."""


#: The collapse criterion of docs/cli.md: D_w ≤ COLLAPSE_RTOL · E_W.
COLLAPSE_RTOL = 1e-6

#: The bracketing search gives up beyond this ratio (the limit R → ∞ is the theorem; a finite
#: R₀ above it is not resolved).
MAX_RATIO = 2.0**20

#: Fraction of the bracket on each side that the next evaluation point avoids: the point is the
#: simplest rational inside the middle (1 − 2·_MARGIN) of the bracket, so every step keeps at
#: most 1 − _MARGIN of it.
_MARGIN = 0.4


@dataclass(frozen=True)
class ThresholdResult:
    """The outcome of :func:`minority_collapse_threshold`.

    Attributes
    ----------
    threshold : float
        R₀: the upper end of the final bracket (the smallest ratio found collapsed).
    bracket : (float, float)
        (lo, hi): D_w(lo) > 1e-6·E_W ≥ D_w(hi), with hi − lo ≤ rtol · hi.
    evaluations : int
        Number of solves.
    seconds : float
        Wall time.
    separation_at : tuple of (float, float)
        Every (R, D_w(R)) evaluated, in order of evaluation.
    converged : bool
        Every solve converged.
    certified : bool
        Every solve carried a certified gap within its tolerance.
    method : str
        The solution method used.
    """

    threshold: float
    bracket: tuple[float, float]
    evaluations: int
    seconds: float
    separation_at: tuple[tuple[float, float], ...]
    converged: bool
    certified: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON of ``lpm threshold --json``: threshold, bracket, evaluations, seconds (+ more)."""
        return {
            "threshold": self.threshold,
            "bracket": list(self.bracket),
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "converged": self.converged,
            "certified": self.certified,
            "method": self.method,
            "separation_at": [list(pair) for pair in self.separation_at],
        }


def minority_separation(solution: Solution, minority: int) -> float:
    """D_w = max over pairs of the last ``minority`` classes of ‖w_k − w_l‖².

    Parameters
    ----------
    solution : Solution
        W, shape=[K, d].
    minority : int
        K_B ≥ 2: the minority classes are the last K_B rows.
    """
    K = solution.W.shape[0]
    return pair_separation(solution.W, range(K - minority, K))


def _positive_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def _simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The fraction of smallest denominator in the closed interval [lo, hi] (0 < lo ≤ hi).

    Continued-fraction descent of the Stern–Brocot tree: take the common integer part, and
    recurse on the reciprocals of the fractional parts (which swaps the ends).
    """
    floor = math.floor(lo)
    if floor == lo:
        return Fraction(floor)
    if floor + 1 <= hi:
        return Fraction(floor + 1)
    return floor + 1 / _simplest_between(1 / (hi - floor), 1 / (lo - floor))


def _nearest(solved: dict[Fraction, Solution], ratio: Fraction) -> Solution | None:
    """The solution at the evaluated ratio closest to ``ratio`` (in log R): the warm start of
    the next solve, for methods that take one (``"reduced"``, ``"auto"``)."""
    if not solved:
        return None
    return solved[min(solved, key=lambda r: abs(math.log(r / ratio)))]


def _counts(majority: int, minority: int, ratio: Fraction) -> tuple[int, ...]:
    return (ratio.numerator,) * majority + (ratio.denominator,) * minority


def minority_collapse_threshold(
    majority: int,
    minority: int,
    energy: tuple[float, float],
    *,
    dim: int | None = None,
    rtol: float = 1e-3,
    method: str = "convex",
    progress: Callable[[str], None] | None = None,
) -> ThresholdResult:
    """The minority-collapse threshold R₀ of the layer-peeled model (Fang et al. 2021).

    R₀ is the smallest ratio R = n_A/n_B at which D_w(R) = max over minority pairs ‖w_k − w_l‖²
    of the optimum is at most 1e-6·E_W (docs/cli.md; docs/theory.md §1.5). The bracket is found by
    doubling R from 1, then shrunk by bisection (at simple rationals, see the module docstring)
    until hi − lo ≤ rtol·hi. D_w is assumed non-increasing in R (what the theorem's numerics and
    the check ``minority-collapse`` of ``proofs_check`` show).

    Parameters
    ----------
    majority : int
        K_A ≥ 1 majority classes.
    minority : int
        K_B ≥ 2 minority classes (a separation needs a pair).
    energy : (float, float)
        (E_W, E_H), both positive.
    dim : int, optional
        Feature dimension d (default K = K_A + K_B; the theorem assumes d ≥ K).
    rtol : float
        Relative width of the final bracket, in (0, 1).
    method : str
        Solution method (default ``"convex"``, the SDP; see the module docstring).
    progress : callable(str), optional
        Called with one line after each solve.

    Returns
    -------
    ThresholdResult

    Raises
    ------
    ValueError
        On bad input (one line), or when no collapse is found up to :data:`MAX_RATIO`.

    Examples
    --------
    >>> r = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2)   # docs/theory.md §1.5: ≈ 3.41
    >>> abs(r.threshold / 3.41 - 1) < 0.02
    True
    """
    majority = _positive_int("majority classes KA", majority, 1)
    minority = _positive_int("minority classes KB", minority, 2)
    try:
        E_W, E_H = (float(v) for v in energy)
    except (TypeError, ValueError):
        raise ValueError(f"energy must be two positive numbers EW,EH, got {energy!r}") from None
    if not (math.isfinite(E_W) and math.isfinite(E_H) and E_W > 0 and E_H > 0):
        raise ValueError(f"energy must be two positive finite numbers EW,EH, got {energy!r}")
    if isinstance(rtol, bool) or not (isinstance(rtol, (int, float)) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    K = majority + minority
    dim = K if dim is None else _positive_int("dim", dim, 1)
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not known; allowed: {', '.join(METHODS)}")

    start = time.perf_counter()
    history: list[tuple[float, float]] = []
    all_converged = True
    all_certified = True
    limit = E_W * COLLAPSE_RTOL
    solved: dict[Fraction, Solution] = {}

    def collapsed(ratio: Fraction) -> bool:
        nonlocal all_converged, all_certified
        counts = _counts(majority, minority, ratio)
        if sum(counts) > MAX_SAMPLES:
            raise ValueError(
                f"R = {ratio} needs {sum(counts)} samples, more than {MAX_SAMPLES}; "
                "use a larger rtol"
            )
        problem = Problem.from_counts(counts, dim=dim, energy=(E_W, E_H))
        sol = solve(problem, method=method, init=_nearest(solved, ratio))
        solved[ratio] = sol
        all_converged &= sol.converged
        all_certified &= sol.certified
        sep = minority_separation(sol, minority)
        history.append((float(ratio), sep))
        if progress is not None:
            progress(
                f"R = {float(ratio):.6g}: D_w = {sep:.3e} ({sol.method}, {sol.status}, "
                f"{'collapsed' if sep <= limit else 'separated'})"
            )
        return sep <= limit

    lo = Fraction(1)
    if collapsed(lo):
        raise ThresholdNotFound(
            "the minority classifiers already coincide at R = 1; this happens only when the "
            "solve failed — check the energies"
        )
    hi = Fraction(2)
    while not collapsed(hi):
        lo, hi = hi, 2 * hi
        if hi > MAX_RATIO:
            raise ThresholdNotFound(
                f"no minority collapse up to R = {MAX_RATIO:g} for KA={majority}, KB={minority}, "
                f"EW,EH={E_W:g},{E_H:g}; the threshold, if finite, lies beyond"
            )
    while hi - lo > Fraction(rtol) * hi:
        width = hi - lo
        mid = _simplest_between(lo + width * Fraction(_MARGIN), hi - width * Fraction(_MARGIN))
        if collapsed(mid):
            hi = mid
        else:
            lo = mid
    return ThresholdResult(
        threshold=float(hi),
        bracket=(float(lo), float(hi)),
        evaluations=len(history),
        seconds=time.perf_counter() - start,
        separation_at=tuple(history),
        converged=all_converged,
        certified=all_certified,
        method=method,
    )
