"""Side-by-side optima: a problem next to its variants.

"What does imbalance do to the optimum?" is the question of Fang et al.'s minority collapse: solve
the imbalanced problem and the balanced one with the same K and N, and compare their geometry.
This module builds such variants of a :class:`~lpm.problem.Problem` (balanced counts, another
classifier, loss, kind of features or feature budget), solves them together with
:func:`lpm.solve_batch`, and measures every row on the *base* problem's minority classes, so that
the minority separation max_{k<l minority} ‖w_k − w_l‖² of a balanced row is the number to hold
against the imbalanced one (2K/(K−1)·E_W for the balanced LPM optimum, docs/theory.md §1.5).

References
----------
Fang, He, Long, Su, "Exploring deep neural networks via layer-peeled model: minority collapse in
imbalanced training", PNAS 118 (2021).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from lpm.geometry import GeometryReport, geometry
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers import solve_batch

__all__ = ["BASE_LABEL", "VARIANTS", "compare", "compare_geometry", "variant"]

#: Label of the unchanged problem in the rows of :func:`compare`.
BASE_LABEL = "base"

#: Every variant by name: the field of :class:`~lpm.problem.Problem` it sets and its value.
#: ``"balanced"`` is special: the same K and N with equal counts n = round(N / K).
_FIELD_VARIANTS: dict[str, tuple[str, str]] = {
    "learnable": ("classifier", "learnable"),
    "etf": ("classifier", "etf"),
    "random": ("classifier", "random"),
    "ce": ("loss", "ce"),
    "mse": ("loss", "mse"),
    "dr": ("loss", "dr"),
    "free": ("features", "free"),
    "relu": ("features", "relu"),
    "sphere": ("features", "sphere"),
    "class-average": ("budget", "class-average"),
    "per-sample": ("budget", "per-sample"),
}

#: The names :func:`variant` knows, with what each one changes.
VARIANTS: dict[str, str] = {
    "balanced": "equal counts n = round(N/K) for the same K (N changes when K does not divide N)",
    **{name: f"{field} {value!r}" for name, (field, value) in _FIELD_VARIANTS.items()},
}


def variant(problem: Problem, name: str) -> Problem:
    """The problem with one thing changed.

    Parameters
    ----------
    problem : Problem
        The base problem.
    name : str
        A key of :data:`VARIANTS`: ``"balanced"`` (K classes of n = round(N/K) samples; N is kept
        when K divides it, and moves to K·n otherwise), a classifier (``"learnable"``, ``"etf"``,
        ``"random"``), a loss (``"ce"``, ``"mse"``, ``"dr"``), features (``"free"``, ``"relu"``,
        ``"sphere"``) or a feature budget (``"class-average"``, ``"per-sample"``, energies only).

    Returns
    -------
    Problem
        A copy of ``problem`` (same d, scale control and classifier seed) with that change.

    Raises
    ------
    ValueError
        For an unknown name, a variant equal to the base problem, a budget variant without
        energies, or a combination the :class:`~lpm.problem.Problem` refuses (its message, prefixed
        with the variant's name).

    Examples
    --------
    >>> p = Problem.step(majority=2, minority=2, n_minority=10, ratio=10, energy=(1.0, 1.0))
    >>> variant(p, "balanced").counts
    (55, 55, 55, 55)
    """
    if name not in VARIANTS:
        raise ValueError(f"variant {name!r} is not known; allowed: {', '.join(VARIANTS)}")
    if name == "balanced":
        if problem.is_balanced:
            raise ValueError(
                "variant 'balanced' is the base problem itself (its counts are already equal); "
                "choose a variant that differs"
            )
        n = max(1, round(problem.N / problem.K))
        changes: dict[str, object] = {"counts": (n,) * problem.K}
    else:
        field, value = _FIELD_VARIANTS[name]
        if getattr(problem, field) == value:
            raise ValueError(
                f"variant {name!r} is the base problem itself (its {field} is already {value!r}); "
                "choose a variant that differs"
            )
        if field == "budget" and problem.regime != "energy":
            raise ValueError(
                f"variant {name!r} changes the feature budget, which exists only under energy "
                "EW,EH; give --energy or choose another variant"
            )
        changes = {field: value}
    try:
        return replace(problem, **changes)
    except ValueError as err:
        raise ValueError(f"variant {name!r}: {err}") from None


def compare(
    problem: Problem, against: Sequence[str], **solve_options
) -> list[tuple[str, Problem, Solution]]:
    """Solve a problem and its variants side by side.

    Parameters
    ----------
    problem : Problem
        The base problem.
    against : sequence of str
        One or more distinct names of :data:`VARIANTS`, each applied to the base problem alone.
    **solve_options
        ``method`` and the options of :func:`lpm.solve` (device, dtype, seed, tol, max_iter,
        restarts, certify); the same for every row.

    Returns
    -------
    list of (label, Problem, Solution)
        ``(BASE_LABEL, problem, ...)`` first, then one row per variant in the order given, labelled
        by the variant's name. Same-structured rows are solved together as one batch.

    Raises
    ------
    ValueError
        With no variant, a repeated one, or any variant :func:`variant` refuses (nothing is
        solved then).

    Examples
    --------
    >>> p = Problem.step(majority=2, minority=2, n_minority=10, ratio=10, energy=(1.0, 1.0))
    >>> rows = compare(p, ["balanced"])
    >>> [(label, q.counts) for label, q, _ in rows]
    [('base', (100, 100, 10, 10)), ('balanced', (55, 55, 55, 55))]
    """
    names = list(against)
    if not names:
        raise ValueError(f"give at least one variant to compare against; allowed: {_allowed()}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"variant {repeated[0]!r} is given twice; give each variant once")
    problems = [problem, *(variant(problem, name) for name in names)]
    solutions = solve_batch(problems, **solve_options)
    labels = [BASE_LABEL, *names]
    return list(zip(labels, problems, solutions))


def compare_geometry(
    rows: Sequence[tuple[str, Problem, Solution]], minority: Iterable[int] | None = None
) -> list[GeometryReport | None]:
    """The geometry of every row of :func:`compare`, on one set of minority classes.

    Parameters
    ----------
    rows : sequence of (label, Problem, Solution)
        As returned by :func:`compare` (base first).
    minority : iterable of int, optional
        0-based classes for ``minority_w_separation``; by default the base problem's
        ``minority_classes``, used for every row (a balanced variant has none of its own).

    Returns
    -------
    list of GeometryReport or None
        :func:`lpm.geometry.measure` of each solution; None for a solution with non-finite
        entries (a failed solve), which has no geometry.
    """
    if minority is None:
        minority = rows[0][1].minority_classes if rows else ()
    minority = tuple(minority)
    reports: list[GeometryReport | None] = []
    for _, _, solution in rows:
        if not all(np.all(np.isfinite(x)) for x in (solution.W, solution.H, solution.b)):
            reports.append(None)
            continue
        reports.append(geometry(solution, minority=minority))
    return reports


def _allowed() -> str:
    return ", ".join(VARIANTS)
