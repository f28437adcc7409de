"""Benchmarks: the row schema, and that both sides reach the stated accuracy (never the speed)."""

import json
import math

import pytest
import torch

import benchmarks
import lpm
from benchmarks import certificate_vs_cvxpy, report, timing

NUMBER_KEYS = ("lpm_seconds", "baseline_seconds", "ratio", "lpm_accuracy", "baseline_accuracy")


def check_schema(row: dict) -> None:
    assert tuple(row) == benchmarks.ROW_KEYS
    assert row["name"] in benchmarks.BENCHMARKS
    assert isinstance(row["case"], str) and row["case"]
    assert isinstance(row["baseline"], str) and row["baseline"]
    assert row["device"] == "cpu"
    assert set(row["machine"]) >= {"cpu_count", "torch_threads", "device_name"}
    json.dumps(row, allow_nan=False)  # strict JSON as it is


def check_measured(row: dict, baseline_may_miss: bool = False) -> None:
    """A measured row. ``baseline_may_miss``: the baseline is a local method on a nonconvex
    problem (SciPy on ReLU features ends at a boundary stationary point); its row must then say
    it is not ``accurate`` (its ratio does not count), and lpm's side must still be accurate."""
    if baseline_may_miss and row["baseline_accuracy"] > row["tolerance"]:
        check_schema(row)
        assert row["lpm_accuracy"] <= row["tolerance"]
        assert row["accurate"] is False
        return
    check_schema(row)
    assert row["skipped"] is False
    for key in NUMBER_KEYS:
        assert isinstance(row[key], float) and math.isfinite(row[key]), key
    assert row["lpm_seconds"] > 0 and row["baseline_seconds"] > 0
    assert math.isclose(row["ratio"], row["baseline_seconds"] / row["lpm_seconds"])
    assert row["repeats"] >= 1
    # Both sides reached the stated accuracy; the speed ratio is reported, never asserted.
    assert row["lpm_accuracy"] <= row["tolerance"]
    assert row["baseline_accuracy"] <= row["tolerance"]
    assert row["accurate"] is True


@pytest.fixture(scope="module")
def quick_rows() -> list[dict]:
    seen = []
    rows = benchmarks.run(
        quick=True, names=["batch-vs-loop", "gradient-vs-scipy"], progress=seen.append
    )
    assert seen == rows
    return rows


def test_quick_rows_have_the_schema_and_reach_their_accuracy(quick_rows):
    assert [r["name"] for r in quick_rows] == ["batch-vs-loop", "gradient-vs-scipy"]
    for row in quick_rows:
        check_measured(row)


def test_batch_and_loop_give_the_same_answers(quick_rows):
    row = quick_rows[0]
    assert row["extra"]["problems"] == 8
    # Same seed, same iterations: only the order of floating-point sums may differ.
    assert row["extra"]["max_objective_difference"] <= 1e-12
    assert row["lpm_objective"] == pytest.approx(row["baseline_objective"], abs=1e-12)


def test_gradient_and_scipy_reach_zhus_value(quick_rows):
    row = quick_rows[1]
    assert row["reference"] == pytest.approx(0.348780384918, abs=1e-12)  # docs/theory.md §5.1
    assert abs(row["lpm_objective"] - row["reference"]) <= row["tolerance"]
    assert abs(row["baseline_objective"] - row["reference"]) <= row["tolerance"]
    assert row["extra"]["lpm_residual"] <= 1e-10


def test_certificate_vs_cvxpy_quick_or_skipped():
    rows = benchmarks.run(quick=True, names=["certificate-vs-cvxpy"])
    assert len(rows) == 1
    if "convex" in lpm.METHODS:
        check_measured(rows[0])
        assert rows[0]["extra"]["baseline_status"] == "converged"
        assert rows[0]["lpm_objective"] >= rows[0]["reference"]
    else:
        check_schema(rows[0])
        assert rows[0]["skipped"] is True


def test_missing_convex_method_gives_a_skipped_row(monkeypatch):
    monkeypatch.setattr(lpm, "METHODS", {k: v for k, v in lpm.METHODS.items() if k != "convex"})
    (row,) = certificate_vs_cvxpy.run(quick=True)
    check_schema(row)
    assert row["skipped"] is True and row["accurate"] is False
    assert all(row[k] is None for k in NUMBER_KEYS)
    assert "convex" in row["notes"]


@pytest.mark.slow
def test_relu_restarts_quick():
    (row,) = benchmarks.run(quick=True, names=["relu-restarts"])
    check_measured(row)
    assert len(row["extra"]["lpm_restart_objectives"]) == lpm.solvers.RELU_RESTARTS


def test_bad_arguments():
    with pytest.raises(ValueError, match="'nope' is not known; allowed: batch-vs-loop"):
        benchmarks.run(quick=True, names=["nope"])
    with pytest.raises(ValueError, match="allowed: cpu, cuda"):
        benchmarks.run(quick=True, names=["batch-vs-loop"], device="tpu")


def test_best_of_warms_up_and_keeps_the_best(monkeypatch):
    calls = []

    def work():
        calls.append(1)
        return len(calls)

    t = timing.best_of(work, 3)
    assert len(calls) == 4 and t.repeats == 3 and t.result == 4 and t.seconds >= 0
    monkeypatch.setattr(timing, "SLOW_RUN_S", -1.0)  # every warm-up counts as slow
    t = timing.best_of(work, 3)
    assert len(calls) == 5 and t.repeats == 1
    with pytest.raises(ValueError, match="repeats"):
        timing.best_of(work, 0)


def test_a_row_off_its_tolerance_is_not_accurate():
    kwargs = dict(
        device="cpu",
        lpm_seconds=1.0,
        baseline="b",
        baseline_seconds=2.0,
        repeats=1,
        accuracy="a",
        tolerance=1e-8,
    )
    good = report.make_row("x", "c", lpm_accuracy=1e-9, baseline_accuracy=0.0, **kwargs)
    assert good["accurate"] and good["ratio"] == 2.0
    for lpm_acc, base_acc in [(1e-7, 0.0), (0.0, math.inf), (math.nan, 0.0)]:
        row = report.make_row("x", "c", lpm_accuracy=lpm_acc, baseline_accuracy=base_acc, **kwargs)
        assert row["accurate"] is False
        json.dumps(row, allow_nan=False)


# ---------------------------------------------------------------------------- the fast engine
@pytest.fixture(scope="module")
def engine_rows() -> list[dict]:
    return benchmarks.run(quick=True, names=["engine-vs-lbfgs", "engine-vs-nuclear"])


def test_engine_rows_reach_the_certified_optimum(engine_rows):
    """Both sides within the row's tolerance of lpm's certified lower bound; lpm certified."""
    assert [r["name"] for r in engine_rows] == ["engine-vs-lbfgs"] * 2 + ["engine-vs-nuclear"]
    for row in engine_rows:
        check_measured(row)
        assert "certified=True" in row["notes"] or row["name"] == "engine-vs-nuclear"
        assert row["lpm_objective"] >= row["reference"]
        assert abs(row["lpm_objective"] - row["baseline_objective"]) <= 2 * row["tolerance"] * max(
            1.0, abs(row["lpm_objective"])
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["many-problems", "engine-vs-scipy", "engine-vs-scs", "relu-global", "long-tail"]
)
def test_more_engine_rows_quick(name):
    rows = benchmarks.run(quick=True, names=[name])
    for row in rows:
        relu_baseline = name == "engine-vs-scipy" and "ReLU" in row["case"]
        # SCS stops short of 1e-9; the row must then say its ratio is a lower bound.
        scs = name == "engine-vs-scs"
        check_measured(row, baseline_may_miss=relu_baseline or scs)
        if scs:
            short = row["baseline_accuracy"] > row["tolerance"]
            assert row["extra"]["ratio_is_lower_bound"] is short


def test_gpu_script_runs_or_skips(capsys, tmp_path):
    from benchmarks import gpu

    if torch.cuda.is_available():
        pytest.skip("measured on the GPU by the gpu marker's run, not here")
    assert gpu.main(["--out", str(tmp_path)]) == 0
    assert "no CUDA device" in capsys.readouterr().out
    assert not (tmp_path / "gpu.json").exists()


def test_scaling_measures_one_point_and_draws(tmp_path):
    from benchmarks import scaling

    point = scaling.measure("lpm", 4)
    assert point["certified"] and point["seconds"] > 0 and point["peak_mb"] > 0
    scaling._draw(
        [point, {**point, "side": "anchor", "seconds": 2 * point["seconds"]}], tmp_path / "s.png"
    )
    assert (tmp_path / "s.png").stat().st_size > 0
