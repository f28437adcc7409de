"""lpm.threshold: the minority-collapse threshold R₀ by bisection on certified solves.

Reference values are docs/theory.md §1.5's (independent SDP bisections, compared to 2 %). The
bisection's answer is also checked by the other method: certified projected-gradient solves,
which know nothing of the SDP, must find the minority classifiers separated below the bracket
and merged above it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lpm
from lpm.problem import Problem
from lpm.threshold import (
    COLLAPSE_RTOL,
    ThresholdResult,
    _simplest_between,
    minority_collapse_threshold,
    minority_separation,
)

#: docs/theory.md §1.5: "compare thresholds to about 2 %".
REFERENCE_RTOL = 0.02


@pytest.fixture(scope="module")
def two_two() -> ThresholdResult:
    lines: list[str] = []
    result = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2, progress=lines.append)
    assert len(lines) == result.evaluations
    return result


def test_two_plus_two_threshold_matches_theory(two_two):
    assert abs(two_two.threshold / 3.41 - 1) <= REFERENCE_RTOL
    assert two_two.converged and two_two.certified


def test_bracket_is_consistent_with_the_evaluations(two_two):
    lo, hi = two_two.bracket
    assert hi == two_two.threshold and lo < hi and hi - lo <= 1e-2 * hi
    seen = dict(two_two.separation_at)
    assert seen[lo] > COLLAPSE_RTOL and seen[hi] <= COLLAPSE_RTOL
    assert two_two.evaluations == len(two_two.separation_at)
    assert seen[1.0] == pytest.approx(2 * 4 / 3, rel=1e-4)  # the ETF at R = 1
    # Monotone on everything evaluated: collapsed exactly at and above hi.
    for R, sep in two_two.separation_at:
        assert (sep <= COLLAPSE_RTOL) == (R >= hi)


def test_to_dict_has_the_interface_keys(two_two):
    data = two_two.to_dict()
    assert {"threshold", "bracket", "evaluations", "seconds"} <= set(data)
    assert data["bracket"] == list(two_two.bracket)
    assert isinstance(data["evaluations"], int) and data["seconds"] >= 0


def test_gradient_solves_confirm_the_bracket(two_two):
    """Independent method: separated at 0.9·lo, merged at 1.1·hi (counts as simple rationals)."""
    lo, hi = two_two.bracket
    for R, collapsed in (
        (Fraction(lo * 0.9).limit_denominator(10), False),
        (Fraction(hi * 1.1).limit_denominator(10), True),
    ):
        p = Problem.from_counts((R.numerator,) * 2 + (R.denominator,) * 2, dim=4, energy=(1.0, 1.0))
        sol = lpm.solve(p, method="gradient")
        assert sol.certified, sol.message
        assert (minority_separation(sol, 2) <= COLLAPSE_RTOL) is collapsed, R


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"majority": 0}, "majority classes KA must be an integer ≥ 1"),
        ({"minority": 1}, "minority classes KB must be an integer ≥ 2"),
        ({"energy": (1.0, -1.0)}, "energy must be two positive finite numbers"),
        ({"energy": (1.0,)}, "energy must be two positive numbers"),
        ({"rtol": 0.0}, r"rtol must be a number in \(0, 1\)"),
        ({"rtol": 1.5}, r"rtol must be a number in \(0, 1\)"),
        ({"dim": 0}, "dim must be an integer ≥ 1"),
        ({"method": "nope"}, "method 'nope' is not known; allowed: auto, "),
    ],
)
def test_bad_input_is_one_line(kwargs, message):
    args = {"majority": 2, "minority": 2, "energy": (1.0, 1.0), **kwargs}
    with pytest.raises(ValueError, match=message) as info:
        minority_collapse_threshold(
            args.pop("majority"), args.pop("minority"), args.pop("energy"), **args
        )
    assert "\n" not in str(info.value)


@given(
    # Denominators bounded: the check below loops over every smaller denominator.
    a=st.fractions(min_value=Fraction(1, 50), max_value=Fraction(200), max_denominator=10**4),
    width=st.fractions(min_value=Fraction(0), max_value=Fraction(5), max_denominator=10**4),
)
def test_simplest_rational_lies_in_the_interval_and_is_simplest(a, width):
    b = a + width
    x = _simplest_between(a, b)
    assert a <= x <= b
    # No smaller denominator has a multiple in [a, b].
    for q in range(1, x.denominator):
        assert math.ceil(a * q) > b * q


def test_five_plus_five_threshold_matches_theory():
    """The README's command, ``lpm threshold --majority 5 --minority 5 --energy 1,5``: R₀ ≈ 12.3
    (docs/theory.md §1.5: two bisections gave 12.27 and 12.39). A few seconds with the SDP."""
    result = minority_collapse_threshold(5, 5, (1.0, 5.0))
    assert abs(result.threshold / 12.3 - 1) <= REFERENCE_RTOL
    lo, hi = result.bracket
    assert hi - lo <= 1e-3 * hi and result.converged and result.certified


@pytest.mark.slow
@pytest.mark.parametrize(
    ("majority", "minority", "energy", "reference"),
    [(5, 5, (1.0, 1.0), 1.74), (2, 2, (1.0, 1.0), 3.41)],
)
def test_reference_thresholds_at_full_resolution(majority, minority, energy, reference):
    result = minority_collapse_threshold(majority, minority, energy)
    assert abs(result.threshold / reference - 1) <= REFERENCE_RTOL
    lo, hi = result.bracket
    assert hi - lo <= 1e-3 * hi and result.converged


@pytest.mark.slow
def test_gradient_method_finds_the_same_threshold():
    """The bisection with certified projected-gradient solves instead of the SDP (slow near R₀,
    where first-order methods slow down) lands in the SDP's bracket up to its width."""
    sdp = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2)
    grad = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2, method="gradient")
    assert grad.certified
    assert abs(grad.threshold - sdp.threshold) <= 1e-2 * sdp.threshold


def test_reduced_method_with_warm_starts_finds_the_same_threshold():
    """The bisection with the reduced quasi-Newton, each solve warm-started from the nearest
    evaluated ratio: every solve certified, the SDP's threshold up to the bracket's width. (A
    warm start from an exactly collapsed point would stay collapsed below R₀: the starts are
    perturbed, and this test fails without that.)"""
    sdp = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2)
    reduced = minority_collapse_threshold(2, 2, (1.0, 1.0), rtol=1e-2, method="reduced")
    assert reduced.certified and reduced.method == "reduced"
    assert abs(reduced.threshold - sdp.threshold) <= 1e-2 * sdp.threshold
