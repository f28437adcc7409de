"""lpm.compare: variants change exactly one thing, rows come back in order, geometry is measured
on the base problem's minority classes."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

import lpm
from lpm.compare import BASE_LABEL, VARIANTS, compare, compare_geometry, variant
from lpm.problem import Problem

BASE = Problem.step(2, 2, 5, 3, dim=4, energy=(1.0, 1.0))  # N = 40: K divides it


def _changed(p: Problem, q: Problem) -> set[str]:
    a, b = p.to_dict(), q.to_dict()
    return {key for key in a if a[key] != b[key]}


@pytest.mark.parametrize(
    "name", [n for n in VARIANTS if n not in ("learnable", "ce", "free", "class-average")]
)
def test_a_variant_changes_exactly_its_field(name):
    base = BASE if name != "dr" else variant(BASE, "etf")
    q = variant(base, name)
    expected = {"counts"} if name == "balanced" else {_field(name)}
    assert _changed(base, q) == expected


def _field(name: str) -> str:
    return VARIANTS[name].split()[0]


def test_balanced_keeps_K_and_N_when_K_divides_it():
    q = variant(BASE, "balanced")
    assert q.K == BASE.K and q.N == BASE.N and q.is_balanced


@pytest.mark.parametrize(
    ("problem", "name", "words"),
    [
        (BASE, "nope", "not known; allowed: balanced"),
        (BASE, "learnable", "is the base problem itself"),
        (Problem.balanced(3, 4, energy=(1.0, 1.0)), "balanced", "already equal"),
        (Problem.step(2, 2, 5, 4, decay=(1e-2, 1e-2)), "per-sample", "only under energy"),
        (BASE, "dr", "variant 'dr':"),
    ],
)
def test_a_variant_that_cannot_be_made_is_refused_in_one_line(problem, name, words):
    with pytest.raises(ValueError, match=words) as info:
        variant(problem, name)
    assert "\n" not in str(info.value)


def test_compare_refuses_no_variant_and_a_repeated_one():
    with pytest.raises(ValueError, match="at least one variant"):
        compare(BASE, [])
    with pytest.raises(ValueError, match="given twice"):
        compare(BASE, ["etf", "etf"])


def test_rows_come_base_first_in_the_order_given_and_equal_lone_solves():
    rows = compare(BASE, ["etf", "balanced"])
    assert [label for label, _, _ in rows] == [BASE_LABEL, "etf", "balanced"]
    for _, problem, solution in rows:
        alone = lpm.solve(problem)
        assert solution.problem == problem and solution.converged
        assert solution.objective == pytest.approx(alone.objective, rel=1e-10, abs=1e-12)


def test_geometry_is_measured_on_the_base_minority_classes():
    rows = compare(BASE, ["balanced"])
    reports = compare_geometry(rows)
    assert BASE.minority_classes == (2, 3)
    # The balanced row has no minority of its own, yet its separation is measured on (2, 3):
    # its optimum is a simplex ETF, whose pairs are 2K/(K−1)·E_W apart.
    assert reports[1].minority_w_separation == pytest.approx(2 * 4 / 3, rel=1e-6)
    assert reports[0].minority_w_separation < reports[1].minority_w_separation


def test_a_failed_row_has_no_geometry():
    rows = compare(BASE, ["etf"])
    label, problem, solution = rows[1]
    broken = solution.__class__(
        **{
            **{f.name: getattr(solution, f.name) for f in fields(solution)},
            "W": np.full_like(solution.W, np.nan),
            "status": "failed",
        }
    )
    reports = compare_geometry([rows[0], (label, problem, broken)])
    assert reports[0] is not None and reports[1] is None
