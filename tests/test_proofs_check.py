"""proofs_check: the registry, the report, and that every check passes — and fails when wrong.

The quick run of every check must pass; the same run with a wrong constant (every prediction
multiplied by 1.05) must fail, with the row's error far above its tolerance. Two of those failing
rows are kept verbatim as expectations (they are what ``lpm check`` prints for a wrong
constant).
"""

from __future__ import annotations

import json
import math
import re
import types

import pytest

import proofs_check
from proofs_check import CHECK_IDS, CHECKS, CheckReport, CheckResult, Measurement, run_checks
from proofs_check.report import summarise

#: The perturbation of the failing runs: a 5 % error in a constant.
PERTURB = 0.05

#: Ids the command line and the README name.
EXPECTED_IDS = (
    "fang-balanced-etf",
    "sdp-equals-factorised",
    "minority-collapse",
    "fixed-etf-per-sample",
    "dr-same-minimiser",
    "fixed-etf-class-average-not-equinorm",
    "relu-orthogonal",
    "seli",
    "zhu-regularised-ce",
    "mse-no-bias",
    "mse-free-bias",
    "within-class-collapse",
    "learnable-not-etf-imbalanced",
    "random-classifier-bound",
)


# ------------------------------------------------------------------------------ registry
def test_registry_lists_at_least_twelve_checks_in_order():
    assert CHECK_IDS == EXPECTED_IDS
    assert tuple(CHECKS) == CHECK_IDS
    assert len(CHECK_IDS) >= 12


@pytest.mark.parametrize("check_id", EXPECTED_IDS)
def test_every_check_module_states_its_claim_and_reference(check_id):
    module = CHECKS[check_id]
    assert module.ID == check_id
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", check_id)
    assert module.CLAIM and "\n" not in module.CLAIM
    assert module.REFERENCE and "\n" not in module.REFERENCE
    doc = module.__doc__ or ""
    assert "Statement" in doc and "Check" in doc, "docstring: the statement and what is checked"
    assert re.search(r"(19|20)\d\d", doc), "docstring cites the paper"


def test_unknown_id_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^unknown check 'nope'; allowed: fang-balanced-etf, "):
        run_checks(quick=True, only=["nope"])
    try:
        run_checks(only=["fang-balanced-etf", "x"])
    except ValueError as exc:
        assert "\n" not in str(exc)


# ------------------------------------------------------------------------------ report
def _result(id_, error, tol, passed):
    return CheckResult(id_, "a claim", "a paper 2021", 3, error, tol, passed)


def test_report_json_has_exactly_the_interface_keys():
    report = CheckReport(
        passed=False,
        seconds=1.5,
        checks=(_result("a-b", 1e-9, 1e-8, True), _result("c", math.inf, 1e-8, False)),
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"passed", "seconds", "checks"}
    assert data["passed"] is False and data["seconds"] == 1.5
    for row in data["checks"]:
        assert set(row) == {
            "id",
            "claim",
            "reference",
            "cases",
            "max_error",
            "tolerance",
            "passed",
        }
    assert data["checks"][1]["max_error"] is None  # inf is not JSON


def test_table_has_one_row_per_check_and_a_verdict():
    report = CheckReport(
        passed=False,
        seconds=2.0,
        checks=(_result("first-check", 1e-9, 1e-8, True), _result("second", 0.5, 1e-8, False)),
    )
    lines = report.table().splitlines()
    assert lines[0].split()[:6] == ["check", "cases", "max", "error", "tolerance", "result"]
    assert re.match(r"first-check\s+3\s+1\.000e-09\s+1\.0e-08\s+PASS\s+a claim", lines[2])
    assert re.match(r"second\s+3\s+5\.000e-01\s+1\.0e-08\s+FAIL\s+a claim", lines[3])
    assert lines[-1] == "1/2 checks passed in 2.0 s"


def test_measurement_senses_and_failures():
    assert Measurement("x", 1e-9, 1e-8).passed
    assert not Measurement("x", 2e-8, 1e-8).passed
    assert Measurement("x", 0.5, 1e-2, sense="above").passed
    assert not Measurement("x", 1e-3, 1e-2, sense="above").passed
    assert not Measurement("x", math.nan, 1.0).passed
    assert not Measurement("x", math.inf, 1.0, sense="above").passed
    assert Measurement("rank", 0.0, 0.0).passed and Measurement("rank", 0.0, 0.0).severity == 0


def test_summary_binds_to_the_statement_unless_a_gate_fails():
    gate = Measurement("solve residual", 9e-11, 1e-10, gate=True)
    statement = Measurement("objective", 1e-12, 1e-8)
    row = summarise("x", "c", "r", 1, [gate, statement])
    assert row.passed and row.max_error == 1e-12 and row.tolerance == 1e-8
    failed_gate = Measurement("solve residual", 1e-6, 1e-10, gate=True)
    row = summarise("x", "c", "r", 1, [failed_gate, statement])
    assert not row.passed and row.max_error == 1e-6 and "failing" in row.details
    with pytest.raises(ValueError, match="no measurement"):
        summarise("x", "c", "r", 0, [])


# ------------------------------------------------------------------------------ the checks
@pytest.fixture(scope="module")
def quick_report() -> CheckReport:
    progress: list[str] = []
    report = run_checks(quick=True, progress=progress.append)
    assert len(progress) == len(CHECK_IDS)
    return report


def test_quick_run_passes_every_check(quick_report):
    failing = [f"{c.id}: {c.details}" for c in quick_report.checks if not c.passed]
    assert quick_report.passed, failing
    assert [c.id for c in quick_report.checks] == list(CHECK_IDS)
    for c in quick_report.checks:
        assert c.cases >= 3 and math.isfinite(c.max_error)
        # The binding measurement passes on its side: ≤ its tolerance, or ≥ it for a lower bound
        # ("above": e.g. a class predicted alive), which binds when every "below" one is tiny.
        above = any(m.sense == "above" and m.error == c.max_error for m in c.measurements)
        assert c.max_error <= c.tolerance or above or c.claim.count("NOT") == 1


def test_only_runs_the_named_checks_in_registry_order(monkeypatch):
    # The selection logic alone, on stand-in checks (the real ones run once, in quick_report).
    ran: list[str] = []

    def stand_in(check_id: str):
        def check(quick: bool = False) -> CheckResult:
            ran.append(check_id)
            return summarise(check_id, "c", "r", 1, [Measurement("m", 0.0, 1.0)])

        return types.SimpleNamespace(check=check)

    monkeypatch.setattr(proofs_check, "CHECKS", {i: stand_in(i) for i in CHECK_IDS})
    report = run_checks(quick=True, only=["mse-free-bias", "fang-balanced-etf"])
    assert ran == ["fang-balanced-etf", "mse-free-bias"]
    assert [c.id for c in report.checks] == ran and report.passed


@pytest.fixture(scope="module")
def perturbed() -> dict[str, CheckResult]:
    return {i: CHECKS[i].check(quick=True, perturb=PERTURB) for i in CHECK_IDS}


@pytest.mark.parametrize("check_id", EXPECTED_IDS)
def test_a_wrong_constant_fails_every_check(perturbed, check_id):
    row = perturbed[check_id]
    assert row.passed is False, row.details
    # Far from a borderline failure: the binding error is many tolerances away.
    assert row.max_error > 100 * row.tolerance, row.details


def test_perturbed_table_rows_are_kept(perturbed):
    """What ``lpm check`` prints when a constant is 5 % off (kept verbatim in the report)."""
    report = CheckReport(passed=False, seconds=0.0, checks=tuple(perturbed.values()))
    rows = {line.split()[0]: line for line in report.table().splitlines()[2:-1]}
    width = max(len(i) for i in CHECK_IDS)
    assert rows["fang-balanced-etf"] == (
        f"{'fang-balanced-etf':<{width}}      5   3.818e-02    1.0e-08  FAIL    "
        + proofs_check.fang_balanced_etf.CLAIM
    )
    assert rows["learnable-not-etf-imbalanced"] == (
        f"{'learnable-not-etf-imbalanced':<{width}}      6   5.000e-02    1.0e-06  FAIL    "
        + proofs_check.learnable_not_etf.CLAIM
    )
    assert report.table().splitlines()[-1] == f"0/{len(CHECK_IDS)} checks passed in 0.0 s"


@pytest.mark.slow
def test_full_run_passes():
    report = run_checks(quick=False)
    failing = [f"{c.id}: {c.details}" for c in report.checks if not c.passed]
    assert report.passed, failing
