"""The outcome of a theorem check: measurements, one result per check, and the report of a run.

A check compares solver output with a prediction through several *measurements*. Each
measurement is one number with its own tolerance and a sense:

* ``"below"`` — the statement holds when the error is at most the tolerance (a theorem);
* ``"above"`` — the statement holds when the number is at least the tolerance (a counterexample:
  a claim that must come out false, e.g. "a learnable classifier under imbalance is an ETF").

The row of a check reports its *binding* measurement, the one closest to failing (largest
error/tolerance for ``"below"``, largest tolerance/value for ``"above"``), so that ``max_error``
and ``tolerance`` of a row are always a pair that was compared; ``details`` lists the others.
Measurements marked ``gate`` (a solve converged, its certificate holds) must pass too, but they
are not the statement: they bind the row only when one fails.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CheckReport", "CheckResult", "Measurement", "summarise"]

Sense = Literal["below", "above"]


@dataclass(frozen=True)
class Measurement:
    """One compared number.

    Attributes
    ----------
    case : str
        Which problem and which quantity, e.g. ``"K=4 n=(100,100,10,10) objective"``.
    error : float
        The measured error (``"below"``) or distance from a false claim (``"above"``); ``inf``
        or ``nan`` when the solver failed, which never passes.
    tolerance : float
        The bound it is compared with.
    sense : {"below", "above"}
        ``"below"``: passes when error ≤ tolerance; ``"above"``: passes when error ≥ tolerance.
    gate : bool
        A precondition (convergence, certificate) rather than the statement itself.
    """

    case: str
    error: float
    tolerance: float
    sense: Sense = "below"
    gate: bool = False

    @property
    def passed(self) -> bool:
        """True when the measurement supports the statement (nan and inf never pass)."""
        if not math.isfinite(self.error):
            return False
        if self.sense == "below":
            return self.error <= self.tolerance
        return self.error >= self.tolerance

    @property
    def severity(self) -> float:
        """How close to failing: > 1 fails. error/tolerance, or tolerance/error for "above"."""
        if not math.isfinite(self.error):
            return math.inf
        if self.sense == "below":
            if self.tolerance > 0:
                return self.error / self.tolerance
            return 0.0 if self.error <= 0 else math.inf
        return self.tolerance / self.error if self.error > 0 else math.inf


@dataclass(frozen=True)
class CheckResult:
    """One row of ``lpm check``.

    Attributes
    ----------
    id : str
        Short kebab-case name of the check.
    claim : str
        The statement, in one sentence (with its sense when it must come out false).
    reference : str
        Paper and theorem.
    cases : int
        Number of problems solved.
    max_error : float
        The binding measurement's error (see the module docstring).
    tolerance : float
        The binding measurement's tolerance.
    passed : bool
        Every measurement passed.
    details : str
        The binding case, the number of measurements, and any failing ones.
    measurements : tuple of Measurement
        Everything that was compared (not part of the JSON).
    """

    id: str
    claim: str
    reference: str
    cases: int
    max_error: float
    tolerance: float
    passed: bool
    details: str = ""
    measurements: tuple[Measurement, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of one check (docs/cli.md ``lpm check --json``)."""
        return {
            "id": self.id,
            "claim": self.claim,
            "reference": self.reference,
            "cases": self.cases,
            "max_error": _json_float(self.max_error),
            "tolerance": self.tolerance,
            "passed": self.passed,
        }


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def summarise(
    id: str,
    claim: str,
    reference: str,
    cases: int,
    measurements: Sequence[Measurement],
) -> CheckResult:
    """Fold the measurements of a check into its row.

    Parameters
    ----------
    id, claim, reference : str
    cases : int
        Number of problems the check solved.
    measurements : sequence of Measurement
        At least one.

    Returns
    -------
    CheckResult
        ``passed`` when every measurement passed; ``max_error``/``tolerance`` from the binding one.
    """
    if not measurements:
        raise ValueError(f"check {id!r} made no measurement; a check needs at least one")
    failing = [m for m in measurements if not m.passed]
    statements = [m for m in measurements if not m.gate] or list(measurements)
    binding = max(failing or statements, key=lambda m: m.severity)
    sense = "≥" if binding.sense == "above" else "≤"
    details = (
        f"binding: {binding.case} = {binding.error:.3g} (needs {sense} {binding.tolerance:.1e}); "
        f"{len(measurements)} measurements"
    )
    if failing:
        details += "; failing: " + "; ".join(f"{m.case} = {m.error:.3g}" for m in failing[:5])
        if len(failing) > 5:
            details += f"; and {len(failing) - 5} more"
    return CheckResult(
        id=id,
        claim=claim,
        reference=reference,
        cases=cases,
        max_error=binding.error,
        tolerance=binding.tolerance,
        passed=not failing,
        details=details,
        measurements=tuple(measurements),
    )


@dataclass(frozen=True)
class CheckReport:
    """The outcome of a run of checks.

    Attributes
    ----------
    passed : bool
        Every check passed.
    seconds : float
        Wall time of the whole run.
    checks : tuple of CheckResult
        In the order they ran.
    """

    passed: bool
    seconds: float
    checks: tuple[CheckResult, ...]

    def to_dict(self) -> dict[str, Any]:
        """Exactly the JSON of ``lpm check --json`` (docs/cli.md)."""
        return {
            "passed": self.passed,
            "seconds": self.seconds,
            "checks": [c.to_dict() for c in self.checks],
        }

    def table(self) -> str:
        """A fixed-width table: id, cases, max error, tolerance, PASS/FAIL, claim."""
        width = max([len("check"), *(len(c.id) for c in self.checks)])
        head = (
            f"{'check':<{width}}  {'cases':>5}  {'max error':>10}  {'tolerance':>9}  result  claim"
        )
        lines = [head, "-" * len(head)]
        for c in self.checks:
            verdict = "PASS" if c.passed else "FAIL"
            lines.append(
                f"{c.id:<{width}}  {c.cases:>5}  {c.max_error:>10.3e}  {c.tolerance:>9.1e}  "
                f"{verdict:<6}  {c.claim}"
            )
        failed = sum(not c.passed for c in self.checks)
        lines.append(
            f"{len(self.checks) - failed}/{len(self.checks)} checks passed in {self.seconds:.1f} s"
        )
        return "\n".join(lines)
