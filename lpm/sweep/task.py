"""The task of a sweep: one batch of points solved into store rows, a pure function.

:func:`solve_rows` reads and writes no file; its inputs and outputs are JSON-able, so a Dask
worker runs it as well as the local loop does. Only the caller writes what it returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import lpm
from lpm.problem import Problem
from lpm.sweep.spec import GEOMETRY_KEYS, one_line
from lpm.sweep.store import timestamp

__all__ = ["failed_rows", "solve_rows"]


def _finite(solution: lpm.Solution) -> bool:
    return all(np.all(np.isfinite(x)) for x in (solution.W, solution.H, solution.b))


def _geometry(
    solution: lpm.Solution, item: Mapping[str, Any], keys: Sequence[str], global_mean: str
) -> tuple[dict[str, Any] | None, str]:
    """The chosen geometry keys of a solution, and its message (noting a geometry that failed)."""
    try:
        report = lpm.geometry(
            solution,
            minority=item.get("minority", solution.problem.minority_classes),
            global_mean=global_mean,
        ).to_dict()
    except ValueError as exc:  # kept as a finished row: the solve itself is sound
        return None, one_line(f"{solution.message}; no geometry: {exc}")
    return {k: report[k] for k in keys}, solution.message


def _row(
    item: Mapping[str, Any],
    options: Mapping[str, Any],
    outcome: lpm.Solution | str,
    timing: Mapping[str, Any],
    geometry_keys: Sequence[str] | None,
    global_mean: str,
) -> dict[str, Any]:
    """One store row (JSON columns as Python objects); ``outcome`` a solution or an error line."""
    row = {
        "key": item["key"],
        "params": item.get("params", {}),
        "problem": item["problem"],
        "options": dict(options),
        **timing,
        "finished_at": timestamp(),
        "lpm_version": lpm.__version__,
    }
    if isinstance(outcome, str):
        return {**row, "status": "failed", "message": outcome or "failed"}
    solution = outcome
    geometry, message = None, solution.message
    if geometry_keys is not None and _finite(solution):
        geometry, message = _geometry(solution, item, geometry_keys, global_mean)
    return {
        **row,
        "status": solution.status,
        "converged": solution.converged,
        "certified": solution.certified,
        "objective": solution.objective,
        "residual": solution.residual,
        "lower_bound": solution.lower_bound,
        "gap": solution.gap,
        "iterations": solution.iterations,
        "method": solution.method,
        "device": solution.device,
        "solve": {**solution.summary(), "certified": solution.certified},
        "geometry": geometry,
        "message": message,
    }


def _attempt(
    problems: list[Problem], options: Mapping[str, Any], device: str
) -> tuple[list[lpm.Solution] | str, dict[str, Any]]:
    """One :func:`lpm.solve_batch` call: its solutions (or the one-line error) and its timing.

    The timing is the call's wall time as ``batch_seconds`` with ``batch_size``, and as the
    point's own ``seconds`` only for a batch of one (points solved together share one time).
    """
    started, clock = timestamp(), time.perf_counter()
    try:
        outcome: list[lpm.Solution] | str = lpm.solve_batch(problems, device=device, **options)
    except Exception as exc:  # recorded as a failed row, retried by the next run
        outcome = one_line(f"{type(exc).__name__}: {exc}")
    wall = time.perf_counter() - clock
    timing = {
        "started_at": started,
        "seconds": wall if len(problems) == 1 else None,
        "batch_seconds": wall,
        "batch_size": len(problems),
    }
    return outcome, timing


def solve_rows(
    items: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
    *,
    device: str = "cpu",
    geometry_keys: Sequence[str] | None = GEOMETRY_KEYS,
    global_mean: str = "class-average",
) -> list[dict[str, Any]]:
    """Solve one batch of points and return their store rows (the task a Dask worker runs).

    A pure function of JSON-able inputs: it reads and writes no file.

    Parameters
    ----------
    items : sequence of dict
        ``{"key": str, "problem": Problem.to_dict(), "params": grid coordinates, "minority":
        classes for the geometry's minority measures}`` (``minority`` optional: default the
        problem's minority classes).
    options : mapping
        Solve options shared by the batch (:data:`lpm.sweep.SOLVE_KEYS`).
    device : str
    geometry_keys : sequence of str or None
    global_mean : str

    Returns
    -------
    list of dict
        One row per item, in order (:data:`lpm.sweep.STORE_COLUMNS`, JSON columns still Python
        objects). If the batch raises, each point is solved alone so that only the points that
        raise are rows of status ``"failed"`` (with the exception as ``message``); those points
        then have their own ``seconds``.
    """
    problems = [Problem.from_dict(item["problem"]) for item in items]
    solutions, timing = _attempt(problems, options, device)
    if isinstance(solutions, str) and len(problems) > 1:
        # A bad point must not sink its batch: solve each alone, so only it is "failed".
        attempts = [_attempt([p], options, device) for p in problems]
        outcomes = [(s if isinstance(s, str) else s[0], t) for s, t in attempts]
    elif isinstance(solutions, str):
        outcomes = [(solutions, timing)]
    else:
        outcomes = [(s, timing) for s in solutions]
    return [
        _row(item, options, outcome, point_timing, geometry_keys, global_mean)
        for item, (outcome, point_timing) in zip(items, outcomes)
    ]


def failed_rows(
    items: Sequence[Mapping[str, Any]], options: Mapping[str, Any], error: str
) -> list[dict[str, Any]]:
    """Rows of status ``"failed"`` for a batch whose task was lost (retried by the next run)."""
    timing = {"started_at": timestamp(), "seconds": None, "batch_seconds": None}
    timing["batch_size"] = len(items)
    return [_row(item, options, one_line(error), timing, None, "class-average") for item in items]
