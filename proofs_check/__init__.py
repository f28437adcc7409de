"""Theorem checks: each statement of docs/theory.md, solved on a grid and compared.

One module per statement. Each module holds ``ID`` (short kebab-case), ``CLAIM`` (one line, with
its sense when the statement must come out false), ``REFERENCE``, ``cases(quick)`` (the problems)
and ``check(quick=False, perturb=0.0) -> CheckResult``. ``perturb`` multiplies the predicted
constants by (1 + perturb): with it a correct check must fail, which tests/test_proofs_check.py
shows for every check.

Use::

    from proofs_check import run_checks
    report = run_checks(quick=True)
    print(report.table())          # one row per check; report.passed, report.to_dict()

``lpm check [--quick] [--json] [--only ID...]`` is this function on the command line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import ModuleType

from proofs_check import (
    dr_same_minimiser,
    fang_balanced_etf,
    fixed_etf_class_average,
    fixed_etf_per_sample,
    learnable_not_etf,
    minority_collapse,
    mse_free_bias,
    mse_no_bias,
    random_classifier_bound,
    relu_orthogonal,
    sdp_equals_factorised,
    seli,
    within_class_collapse,
    zhu_regularised_ce,
)
from proofs_check.report import CheckReport, CheckResult, Measurement

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "CheckReport",
    "CheckResult",
    "Measurement",
    "run_checks",
]

_MODULES: tuple[ModuleType, ...] = (
    fang_balanced_etf,
    sdp_equals_factorised,
    minority_collapse,
    fixed_etf_per_sample,
    dr_same_minimiser,
    fixed_etf_class_average,
    relu_orthogonal,
    seli,
    zhu_regularised_ce,
    mse_no_bias,
    mse_free_bias,
    within_class_collapse,
    learnable_not_etf,
    random_classifier_bound,
)

#: Every check, by id, in the order ``run_checks`` runs them: id → module (``module.check``).
CHECKS: dict[str, ModuleType] = {m.ID: m for m in _MODULES}

#: The ids, in order.
CHECK_IDS: tuple[str, ...] = tuple(CHECKS)


def run_checks(
    quick: bool = False,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """Run the theorem checks.

    Parameters
    ----------
    quick : bool
        A smaller grid per check (about a minute for all of them on 2 CPU cores); the full run is
        the one to cite.
    only : sequence of str, optional
        Ids of :data:`CHECK_IDS` to run (in the registry's order); None runs all.
    progress : callable(str), optional
        Called with one line as each check finishes.

    Returns
    -------
    CheckReport

    Raises
    ------
    ValueError
        On an unknown id (one line, with the allowed ids).
    """
    if only is not None:
        if isinstance(only, str):
            only = [only]
        for name in only:
            if name not in CHECKS:
                raise ValueError(f"unknown check {name!r}; allowed: {', '.join(CHECK_IDS)}")
        chosen = [i for i in CHECK_IDS if i in set(only)]
    else:
        chosen = list(CHECK_IDS)
    start = time.perf_counter()
    results: list[CheckResult] = []
    for name in chosen:
        began = time.perf_counter()
        result = CHECKS[name].check(quick=quick)
        results.append(result)
        if progress is not None:
            verdict = "PASS" if result.passed else "FAIL"
            progress(
                f"{name}: {verdict} ({result.cases} cases, max error {result.max_error:.2e}, "
                f"{time.perf_counter() - began:.1f} s)"
            )
    return CheckReport(
        passed=all(r.passed for r in results),
        seconds=time.perf_counter() - start,
        checks=tuple(results),
    )
