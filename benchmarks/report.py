"""The rows that ``lpm bench`` prints, and the machine they were measured on.

A row compares lpm with a baseline measured in the same run on the same problem:

* ``name`` (the benchmark), ``case`` (the instance), ``device``;
* ``lpm_seconds``, ``baseline`` (what the baseline is), ``baseline_seconds``, ``ratio`` =
  baseline_seconds / lpm_seconds (> 1: lpm is faster), ``repeats`` (timed runs: the fewer of
  the two sides);
* ``accuracy`` (what the accuracy numbers measure), ``lpm_accuracy``, ``baseline_accuracy``,
  ``tolerance`` (the accuracy each side must reach), ``accurate`` (both reached it);
* ``reference`` (the value accuracies are measured against, when there is one),
  ``lpm_objective``, ``baseline_objective``;
* ``skipped`` (the benchmark could not run here; ``notes`` says why), ``notes``, ``extra`` (the
  benchmark's own numbers, e.g. the largest objective difference between the two sides),
  ``machine`` (:func:`machine`).

A speed ratio means something only when ``accurate`` is true: a fast wrong answer is no answer.
"""

from __future__ import annotations

import math
import os
import platform
from typing import Any

import torch

import lpm

__all__ = [
    "ROW_KEYS",
    "against_certified_bound",
    "machine",
    "make_row",
    "relative_gap",
    "skipped_row",
]

#: Keys of every row, in display order.
ROW_KEYS: tuple[str, ...] = (
    "name",
    "case",
    "device",
    "lpm_seconds",
    "baseline",
    "baseline_seconds",
    "ratio",
    "repeats",
    "accuracy",
    "lpm_accuracy",
    "baseline_accuracy",
    "tolerance",
    "accurate",
    "reference",
    "lpm_objective",
    "baseline_objective",
    "skipped",
    "notes",
    "extra",
    "machine",
)


def machine(device: str = "cpu") -> dict[str, Any]:
    """What the timings were measured on: CPU count, torch threads, device name, versions."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name(torch.device(device))
    else:
        name = platform.processor() or platform.machine()
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device_name": name,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lpm": lpm.__version__,
    }


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def make_row(
    name: str,
    case: str,
    *,
    device: str,
    lpm_seconds: float,
    baseline: str,
    baseline_seconds: float,
    repeats: int,
    accuracy: str,
    lpm_accuracy: float,
    baseline_accuracy: float,
    tolerance: float,
    reference: float | None = None,
    lpm_objective: float | None = None,
    baseline_objective: float | None = None,
    notes: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A measured row (see the module docstring); ``accurate`` and ``ratio`` are computed here."""
    accurate = all(
        a is not None and math.isfinite(a) and a <= tolerance
        for a in (lpm_accuracy, baseline_accuracy)
    )
    row = {
        "name": name,
        "case": case,
        "device": device,
        "lpm_seconds": lpm_seconds,
        "baseline": baseline,
        "baseline_seconds": baseline_seconds,
        "ratio": baseline_seconds / lpm_seconds if lpm_seconds > 0 else None,
        "repeats": repeats,
        "accuracy": accuracy,
        "lpm_accuracy": _finite(lpm_accuracy),
        "baseline_accuracy": _finite(baseline_accuracy),
        "tolerance": tolerance,
        "accurate": accurate,
        "reference": _finite(reference),
        "lpm_objective": _finite(lpm_objective),
        "baseline_objective": _finite(baseline_objective),
        "skipped": False,
        "notes": notes,
        "extra": dict(extra or {}),
        "machine": machine(device),
    }
    return {k: row[k] for k in ROW_KEYS}


def skipped_row(name: str, case: str, *, device: str, baseline: str, notes: str) -> dict[str, Any]:
    """A row for a benchmark that cannot run here (every measurement None, ``notes`` says why)."""
    row = dict.fromkeys(ROW_KEYS)
    row.update(
        name=name,
        case=case,
        device=device,
        baseline=baseline,
        accurate=False,
        skipped=True,
        notes=notes,
        extra={},
        machine=machine(device),
    )
    return row


def relative_gap(solution: lpm.Solution) -> float:
    """(f − LB) / max(1, |f|) of a converged, certified-bound solution; inf otherwise.

    The certified gap bounds the distance to the global optimum (:mod:`lpm.certify`), so it is
    the accuracy of a solve that no reference value is needed for.
    """
    if not solution.converged or solution.gap is None or not math.isfinite(solution.gap):
        return math.inf
    return max(solution.gap, 0.0) / max(1.0, abs(solution.objective))


def against_certified_bound(
    solution: lpm.Solution, baseline_objective: float, *, two_sided: bool = False
) -> dict:
    """The accuracy fields of a row whose two sides are judged by lpm's certified lower bound LB.

    lpm's accuracy is its certified relative gap (inf when not certified); the baseline's is
    (f − LB)/max(1, |f|) at its objective f, or |f − LB|/max(1, |f|) with ``two_sided`` (for an
    interior-point baseline, whose value may fall slightly below LB by its own infeasibility).
    The result is spread into :func:`make_row`.
    """
    bound = solution.lower_bound
    if bound is None:
        gap = math.inf
    else:
        excess = baseline_objective - bound
        gap = (abs(excess) if two_sided else max(excess, 0.0)) / max(1.0, abs(baseline_objective))
    measure = "|f − LB|" if two_sided else "(f − LB)"
    return {
        "accuracy": f"{measure}/max(1, |f|), LB = lpm's certified lower bound",
        "lpm_accuracy": relative_gap(solution) if solution.certified else math.inf,
        "baseline_accuracy": gap,
        "reference": bound,
        "lpm_objective": solution.objective,
        "baseline_objective": baseline_objective,
    }
