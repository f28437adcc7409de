"""Wall-clock timing of one benchmark side: a warm-up, then the best of a few repeats.

The warm-up run pays the one-time costs (imports, cvxpy's canonicalisation caches, torch's
first-call dispatch) and is not counted. The best of the repeats, not the mean, is reported: on a
shared machine noise only ever adds time. A side whose warm-up alone takes longer than
:data:`SLOW_RUN_S` is not repeated: its warm-up is the measurement (the one-time costs are then a
negligible fraction), and :attr:`Timing.repeats` says 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SLOW_RUN_S", "Timing", "best_of"]

#: Seconds above which a warm-up run is taken as the (only) measurement.
SLOW_RUN_S = 30.0


@dataclass(frozen=True)
class Timing:
    """The measured time of one side of a benchmark.

    Attributes
    ----------
    seconds : float
        Best wall time over the timed runs (``time.perf_counter``).
    repeats : int
        Timed runs (1 when the warm-up was slow and counted, see the module docstring).
    result : Any
        What the last run returned (its accuracy is what the benchmark reports).
    """

    seconds: float
    repeats: int
    result: Any


def best_of(fn: Callable[[], Any], repeats: int) -> Timing:
    """Run ``fn`` once to warm up, then ``repeats`` times; the best time and the last result.

    Parameters
    ----------
    fn : callable()
        The work to time; it must do the same work every call (same seeds).
    repeats : int
        Timed runs after the warm-up (≥ 1).

    Returns
    -------
    Timing
    """
    if repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    start = time.perf_counter()
    result = fn()
    warmup = time.perf_counter() - start
    if warmup > SLOW_RUN_S:
        return Timing(seconds=warmup, repeats=1, result=result)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return Timing(seconds=best, repeats=repeats, result=result)
