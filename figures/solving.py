"""How the figures obtain their numbers: solves one by one, with progress and an honest record.

Every numerical point of a figure comes from :func:`solve_points`; :func:`trusted` says whether
the figures may draw it as data: the solve converged (the optimality residual reached the
solver's tolerance) and, where :mod:`lpm.certify` has a certificate for the variant, the certified
gap is closed. A converged solve whose certificate leaves a gap is a stationary point that is not
the global optimum (the ReLU model has such points, docs/theory.md §3): it is *not* trusted. An
untrusted point is still returned — the figures draw it as a hollow red ✕ (:mod:`lpm.plotting`),
never as data.

Problems are solved one at a time rather than with :func:`lpm.solve_batch`: a batch iterates
until its slowest member converges and keeps computing the converged ones, which on a grid with a
few slow (near-threshold) points costs far more than solving each alone (measured: 32 layer-peeled
problems, K = 10, 8.3 s alone against 423 s as one batch, one CPU thread).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import lpm
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.gradient import cpu_threads

__all__ = [
    "Progress",
    "convex_method",
    "cpu_count",
    "exact_method",
    "flags",
    "one_thread",
    "quiet",
    "solve_points",
    "trusted",
]

Progress = Callable[[str], None]

#: Seconds between two progress lines of a long grid (the first and last are always reported).
PROGRESS_EVERY_S = 5.0


def quiet(message: str) -> None:
    """A progress callback that discards the message."""


def one_thread():
    """Run torch on one intra-op thread, restoring the previous count afterwards.

    The figures' problems are small (K ≤ 10, N ≤ a few thousand), and their own plain-gradient
    loops (the dynamics figure) call the objective directly: the solver's own rule
    (:func:`lpm.solvers.gradient.cpu_threads`) applied to all of a figure's work.
    """
    return cpu_threads("cpu", 0)


def convex_method() -> str | None:
    """The name of the registered convex-program method, or None while it is not registered."""
    return "convex" if "convex" in lpm.METHODS else None


def trusted(solution: Solution) -> bool:
    """Converged, and certified whenever a certificate (a lower bound) is attached."""
    return bool(solution.converged) and (solution.lower_bound is None or bool(solution.certified))


def exact_method(problem: Problem) -> str:
    """``"theory"`` (the closed form, exact) when it solves the problem, else ``"auto"``."""
    closed = lpm.METHODS.get("theory")
    return "theory" if closed is not None and closed.supports(problem) is None else "auto"


def flags(solution: Solution) -> dict[str, Any]:
    """The record of one solve that a figure keeps: status, residual, converged, certified, and
    ``ok`` (:func:`trusted`), which decides how the point is drawn."""
    gap = solution.gap
    return {
        "ok": trusted(solution),
        "status": solution.status,
        "method": solution.method,
        "converged": bool(solution.converged),
        "certified": bool(solution.certified),
        "residual": float(solution.residual),
        "gap": None if gap is None or not math.isfinite(gap) else float(gap),
        "iterations": int(solution.iterations),
        "seconds": float(solution.seconds),
    }


def solve_points(
    problems: Sequence[Problem],
    *,
    label: str,
    progress: Progress = quiet,
    method: str = "auto",
    **options: Any,
) -> list[Solution]:
    """Solve each problem alone (see the module docstring), reporting progress on long grids.

    Parameters
    ----------
    problems : sequence of Problem
    label : str
        Prefix of the progress lines, e.g. ``"phase: grid"``.
    progress : callable(str)
        Receives ``"<label>: i/m solved (t s)"`` about every :data:`PROGRESS_EVERY_S` seconds.
    method : str
        Method of :func:`lpm.solve`, or ``"exact"`` for :func:`exact_method` per problem.
    **options
        Solver options of :func:`lpm.solve` (seed, tol, max_iter, restarts, ...).

    Returns
    -------
    list of Solution, in the order of ``problems``.
    """
    out: list[Solution] = []
    start = last = time.perf_counter()
    total = len(problems)
    for i, problem in enumerate(problems, 1):
        chosen = exact_method(problem) if method == "exact" else method
        out.append(lpm.solve(problem, method=chosen, **options))
        now = time.perf_counter()
        if i == total or now - last >= PROGRESS_EVERY_S:
            progress(f"{label}: {i}/{total} solved ({now - start:.1f} s)")
            last = now
    return out


def cpu_count() -> int:
    """CPU cores this process may use (for the run-time notes of the figures)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
