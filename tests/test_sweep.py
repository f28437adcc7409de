"""Sweeps: spec validation, resumable SQLite store, local and Dask execution."""

import csv
import io
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

import lpm
from lpm import sweep
from lpm.problem import Problem

#: Agreement of a stored objective with a direct solve of the same point: both runs converge to a
#: residual ≤ 1e-10 from the same seed, and batching changes only the order of floating-point sums.
OBJECTIVE_ATOL = 1e-9

SPEC_TEXT = """\
name = "tiny minority-collapse grid"
[problem]
step = "2:2:2:1"
energy = [1, 1]
[grid]
ratio = [1, 2, 5]
energy = [[1, 1], [2, 2]]
[output]
geometry = ["nc1", "w_norms", "w_gram", "minority_w_separation", "counts"]
"""

TINY = {
    "problem": {"step": "2:2:2:1", "energy": [1, 1]},
    "grid": {"ratio": [1, 2, 5], "energy": [[1, 1], [2, 2]]},
}


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC_TEXT)
    return path


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> tuple[sweep.SweepSpec, Path, list[dict]]:
    """The tiny grid solved once; tests copy the store before changing it."""
    path = tmp_path_factory.mktemp("sweep") / "tiny.toml"
    path.write_text(SPEC_TEXT)
    spec = sweep.load_spec(path)
    store = path.with_suffix(".sqlite")
    summary = sweep.run_sweep(spec, store, batch_size=4)
    assert (summary.total, summary.done, summary.skipped, summary.failed) == (6, 6, 0, 0)
    return spec, store, sweep.read_store(store)


def copy_store(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def keys_in(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM results ORDER BY rowid")]


# ------------------------------------------------------------------------------------ spec
def test_points_cover_the_grid_in_order(spec_file):
    spec = sweep.load_spec(spec_file)
    points = spec.points()
    assert len(points) == 6
    got = [(p.counts, p.energy) for _, p, _ in points]
    assert got == [
        ((2, 2, 2, 2), (1.0, 1.0)),
        ((2, 2, 2, 2), (2.0, 2.0)),
        ((4, 4, 2, 2), (1.0, 1.0)),
        ((4, 4, 2, 2), (2.0, 2.0)),
        ((10, 10, 2, 2), (1.0, 1.0)),
        ((10, 10, 2, 2), (2.0, 2.0)),
    ]
    assert points[2][2] == {
        "grid": {"ratio": 2, "energy": [1, 1]},
        "solve": {},
        "minority": [2, 3],
    }
    assert points[0][2]["minority"] == [2, 3]  # R = 1: the step form's minority, not ()
    assert len({k for k, _, _ in points}) == 6
    assert spec.geometry == ("nc1", "w_norms", "w_gram", "minority_w_separation", "counts")
    assert spec.name == "tiny minority-collapse grid"


def test_keys_depend_on_the_point_not_its_spelling():
    a = sweep.SweepSpec.from_dict(TINY)
    b = sweep.SweepSpec.from_dict(
        {
            "problem": {"counts": [2, 2, 2, 2]},
            "grid": {
                "counts": [[2, 2, 2, 2], [4, 4, 2, 2], [10, 10, 2, 2]],
                "energy": ["1,1", "2,2"],
            },
        }
    )
    assert [k for k, _, _ in a.points()] == [k for k, _, _ in b.points()]
    assert a.spec_hash != b.spec_hash
    # A solve option is part of the key; a duplicate point is one point.
    c = sweep.SweepSpec.from_dict({**TINY, "solve": {"seed": 1}})
    assert not {k for k, _, _ in a.points()} & {k for k, _, _ in c.points()}
    d = sweep.SweepSpec.from_dict({"problem": TINY["problem"], "grid": {"ratio": [2, 2.0, 2]}})
    assert len(d.points()) == 1


def test_grid_over_solve_options_and_problem_keys():
    spec = sweep.SweepSpec.from_dict(
        {
            "problem": {"balanced": "3:2", "decay": [5e-3, 5e-3]},
            "grid": {"n": [2, 3], "seed": [0, 1], "loss": ["ce", "mse"]},
            "solve": {"max_iter": 5000, "tol": 1e-9},
        }
    )
    points = spec.points()
    assert len(points) == 8
    key, problem, point = points[-1]
    assert problem.counts == (3, 3, 3) and problem.loss == "mse"
    assert point["solve"] == {"max_iter": 5000, "tol": 1e-9, "seed": 1}
    assert key == sweep.point_key(problem, point["solve"])


BAD_SPECS = [
    ({"problm": {"step": "2:2:2:1"}}, "'problm' is not a section"),
    ({"problem": {"stepp": "2:2:2:1"}}, "'stepp' is not a problem key"),
    ({"problem": {"step": "2:2:2:1", "seed": 3}}, "'seed' is a solve option"),
    ({"problem": {"step": "2:2:2:1", "counts": [1, 2]}}, "give one count form"),
    ({"problem": {"energy": [1, 1]}}, "needs the classes"),
    ({"problem": {"step": "2:2:2:1"}, "grid": {"ratoi": [1, 2]}}, "'ratoi' is not a grid key"),
    ({"problem": {"counts": [3, 3]}, "grid": {"ratio": [1, 2]}}, "part of the count form step"),
    ({"problem": {"step": "2:2:2:1"}, "grid": {"ratio": 3}}, "[grid] ratio must be a non-empty"),
    ({"problem": {"step": "2:2:2:1"}, "grid": {"ratio": []}}, "[grid] ratio must be a non-empty"),
    ({"problem": {"step": "2:2:2:1"}, "grid": {"seed": [0, -1]}}, "seed must be an integer ≥ 0"),
    ({"problem": {"step": "2:2:2:1"}, "solve": {"device": "cuda"}}, "'device' is not a solve"),
    ({"problem": {"step": "2:2:2:1"}, "solve": {"method": "newton"}}, "method 'newton' is not"),
    ({"problem": {"step": "2:2:2:1"}, "solve": {"tol": 2}}, "tol must be a number in (0, 1)"),
    (
        {"problem": {"step": "2:2:2:1"}, "grid": {"time_limit": [0]}},
        "time_limit must be a positive",
    ),
    ({"problem": {"step": "2:2:2:1"}, "output": {"geometry": ["nc5"]}}, "'nc5' is not a geometry"),
    ({"problem": {"step": "2:2:2:1"}, "output": {"format": "csv"}}, "'format' is not an output"),
    (
        {"problem": {"step": "2:2:2:1", "energy": [1, 1]}, "grid": {"ratio": [1, 1.25]}},
        "grid point ratio=1.25",
    ),
    (
        {"problem": {"step": "2:2:2:1"}, "grid": {"energy": [[1, 1], [1, 1, 1]]}},
        "grid point energy=[1, 1, 1]",
    ),
    ({"problem": {"step": "2:2:2:1", "energy": [1, 1], "decay": [1, 1]}}, "exclude each other"),
]


@pytest.mark.parametrize(("data", "fragment"), BAD_SPECS)
def test_bad_specs_give_one_line_errors(data, fragment):
    with pytest.raises(ValueError) as info:
        sweep.SweepSpec.from_dict(data)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        sweep.load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[problem]\nstep = 2:2\n")
    with pytest.raises(ValueError, match="not valid TOML") as info:
        sweep.load_spec(bad)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------ running
def test_results_equal_a_direct_solve(solved):
    spec, _, rows = solved
    by_key = {row["key"]: row for row in rows}
    assert len(rows) == 6 and set(by_key) == {k for k, _, _ in spec.points()}
    for key, problem, point in spec.points():
        row = by_key[key]
        direct = lpm.solve(problem, **point["solve"])
        assert row["status"] == direct.status == "converged"
        assert row["converged"] and row["certified"]
        assert abs(row["objective"] - direct.objective) <= OBJECTIVE_ATOL
        assert row["objective"] >= row["lower_bound"]
        assert row["params"] == point["grid"]
        assert Problem.from_dict(row["problem"]) == problem
        assert row["solve"]["objective"] == row["objective"]
        assert set(row["geometry"]) == set(spec.geometry)
        geo = lpm.geometry(direct)
        # Invariants, not coordinates: norms and the Gram agree with the direct solve.
        for a, b in zip(row["geometry"]["w_norms"], geo.w_norms):
            assert abs(a - b) <= 1e-5
        for ra, rb in zip(row["geometry"]["w_gram"], geo.w_gram):
            assert max(abs(a - b) for a, b in zip(ra, rb)) <= 1e-5
        assert row["lpm_version"] == lpm.__version__
        assert row["spec_hash"] == spec.spec_hash
        assert row["started_at"] <= row["finished_at"]


def test_balanced_point_matches_theory(solved):
    """docs/theory.md §1.2: at R = 1 the stored optimum is
    L* = log(1 + (K−1)exp(−K/(K−1)·sqrt(EW EH))); §1.5: there the minority separation
    max ‖w_k − w_l‖² is the ETF value 2K/(K−1)·E_W."""
    _, _, rows = solved
    row = next(r for r in rows if r["params"] == {"ratio": 1, "energy": [1, 1]})
    assert abs(row["objective"] - 0.5826576530618) <= 1e-9
    for energy in (1, 2):
        row = next(r for r in rows if r["params"] == {"ratio": 1, "energy": [energy, energy]})
        assert abs(row["geometry"]["minority_w_separation"] - 8 / 3 * energy) <= 1e-6
    # At R = 5 (above R₀ ≈ 3.41 for E = (1, 1)) the minority classifiers have collapsed.
    row = next(r for r in rows if r["params"] == {"ratio": 5, "energy": [1, 1]})
    assert row["geometry"]["minority_w_separation"] <= 1e-6


def test_rerun_skips_everything(solved, tmp_path):
    spec, store, rows = solved
    store = copy_store(store, tmp_path / "s.sqlite")
    summary = sweep.run_sweep(spec, store)
    assert (summary.done, summary.skipped, summary.failed) == (0, 6, 0)
    assert sweep.read_store(store) == rows


def test_deleted_rows_are_filled_exactly(solved, tmp_path):
    spec, store, rows = solved
    store = copy_store(store, tmp_path / "s.sqlite")
    gone = [rows[1]["key"], rows[4]["key"]]
    with sqlite3.connect(store) as conn:
        conn.executemany("DELETE FROM results WHERE key = ?", [(k,) for k in gone])
    summary = sweep.run_sweep(spec, store)
    assert (summary.done, summary.skipped, summary.failed) == (2, 4, 0)
    after = sweep.read_store(store)
    assert sorted(r["key"] for r in after) == sorted(r["key"] for r in rows)
    kept = {r["key"]: r for r in after}
    for row in rows:
        if row["key"] not in gone:
            assert kept[row["key"]] == row  # untouched, timestamps included
    assert keys_in(store)[-2:] == gone


def test_interrupted_run_resumes_without_duplicates(spec_file, tmp_path):
    spec = sweep.load_spec(spec_file)
    store = tmp_path / "s.sqlite"
    events = []

    def stop_after_first_batch(event):
        events.append(event)
        if event.batch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(spec, store, batch_size=2, progress=stop_after_first_batch)
    assert [(e.done, e.total, e.batch) for e in events] == [(0, 6, 0), (2, 6, 2)]
    assert len(keys_in(store)) == 2 and str(events[1]).startswith("sweep: 2/6 points")
    summary = sweep.run_sweep(spec, store, batch_size=2)
    assert (summary.done, summary.skipped, summary.failed) == (4, 2, 0)
    keys = keys_in(store)
    assert len(keys) == len(set(keys)) == 6
    assert set(keys) == {k for k, _, _ in spec.points()}


def test_a_grown_grid_solves_only_new_points(solved, tmp_path):
    _, store, _ = solved
    store = copy_store(store, tmp_path / "s.sqlite")
    grown = sweep.SweepSpec.from_dict(
        {"problem": TINY["problem"], "grid": {"ratio": [1, 2, 5, 10], "energy": [[1, 1]]}}
    )
    summary = sweep.run_sweep(grown, store)
    assert (summary.total, summary.done, summary.skipped) == (4, 1, 3)
    assert len(sweep.read_store(store)) == 7


def test_failed_points_are_recorded_and_retried(tmp_path, monkeypatch):
    spec = sweep.SweepSpec.from_dict(
        {"problem": {"step": "2:2:2:1", "energy": [1, 1]}, "grid": {"ratio": [1, 2, 3]}}
    )
    store = tmp_path / "s.sqlite"
    real = lpm.solve_batch
    bad_counts = (6, 6, 2, 2)

    def flaky(problems, **options):
        if any(p.counts == bad_counts for p in problems):
            raise RuntimeError("simulated solver crash\non two lines")
        return real(problems, **options)

    monkeypatch.setattr(lpm, "solve_batch", flaky)
    summary = sweep.run_sweep(spec, store)
    assert (summary.done, summary.failed) == (2, 1)
    rows = sweep.read_store(store)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["problem"]["counts"] == list(bad_counts)
    assert failed[0]["message"] == "RuntimeError: simulated solver crash on two lines"
    assert failed[0]["objective"] is None and failed[0]["converged"] is None

    monkeypatch.setattr(lpm, "solve_batch", real)
    summary = sweep.run_sweep(spec, store)
    assert (summary.done, summary.skipped, summary.failed) == (1, 2, 0)
    rows = sweep.read_store(store)
    assert len(rows) == 3 and all(r["status"] == "converged" for r in rows)


def test_a_finished_row_is_never_overwritten(solved, tmp_path):
    _, store, rows = solved
    store = copy_store(store, tmp_path / "s.sqlite")
    fake = {**rows[0], "status": "failed", "objective": -1.0, "message": "x"}
    with sqlite3.connect(store) as conn:
        sweep.store.write_rows(conn, [fake], "other")
    assert sweep.read_store(store)[0] == rows[0]


def test_csv_and_json_read_back(solved):
    _, _, rows = solved
    text = sweep.store_to_csv(rows)
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 6
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["key", "ratio", "energy"]
    assert "geometry.counts" in header and header.count("counts") == 1
    for line, row in zip(table, rows):
        assert line["key"] == row["key"]
        assert float(line["objective"]) == row["objective"]
        assert json.loads(line["w_norms"]) == row["geometry"]["w_norms"]
        assert json.loads(line["energy"]) == row["params"]["energy"]
    json.dumps(rows, allow_nan=False)  # rows are strict JSON as they are


def test_store_errors(tmp_path, solved):
    spec = solved[0]
    with pytest.raises(ValueError, match="does not exist"):
        sweep.read_store(tmp_path / "none.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database " * 100)
    with pytest.raises(ValueError, match="not an lpm sweep store"):
        sweep.read_store(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (a)")
    with pytest.raises(ValueError, match="not an lpm sweep store"):
        sweep.read_store(other)
    with pytest.raises(ValueError, match="does not exist"):
        sweep.run_sweep(spec, tmp_path / "no" / "dir.sqlite")
    for kwargs, fragment in [
        ({"dask_address": "tcp://x:1", "dask_workers": 2}, "not both"),
        ({"dask_workers": 0}, "positive integer"),
        ({"batch_size": 0}, "positive integer"),
        ({"device": "tpu"}, "allowed: cpu, cuda"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            sweep.run_sweep(spec, tmp_path / "s.sqlite", **kwargs)


def test_missing_dask_is_a_clear_error(solved, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ValueError, match="needs the 'distributed' package"):
        sweep.run_sweep(solved[0], tmp_path / "s.sqlite", dask_workers=1)


def test_run_from_a_spec_path_into_an_awkward_store_path(spec_file, tmp_path):
    folder = tmp_path / "a dir#with?odd chars"
    folder.mkdir()
    store = folder / "s.sqlite"
    summary = sweep.run_sweep(spec_file, store)
    assert (summary.total, summary.done) == (6, 6)
    assert len(sweep.read_store(store)) == 6


def test_default_store():
    assert sweep.default_store("runs/phase.toml") == Path("runs/phase.sqlite")


def test_example_spec_loads():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "specs" / "minority_phase.toml"
    spec = sweep.load_spec(path)
    points = spec.points()
    assert len(points) >= 20
    assert {p.minority_classes for _, p, _ in points} == {(), (5, 6, 7, 8, 9)}


@pytest.mark.slow
def test_dask_local_cluster_matches_local_run(solved, tmp_path):
    pytest.importorskip("distributed")
    spec, _, rows = solved
    store = tmp_path / "dask.sqlite"
    summary = sweep.run_sweep(spec, store, dask_workers=2, batch_size=2)
    assert (summary.done, summary.failed) == (6, 0)
    local = {r["key"]: r for r in rows}
    got = sweep.read_store(store)
    assert sorted(r["key"] for r in got) == sorted(local)
    for row in got:
        assert abs(row["objective"] - local[row["key"]]["objective"]) <= OBJECTIVE_ATOL
    assert sweep.run_sweep(spec, store, dask_workers=2).skipped == 6


# ------------------------------------------------------------------------- where it stands
def test_a_rerun_reports_every_point_of_the_store(solved, tmp_path):
    """The summary counts the spec's stored points, not only this run's: a rerun that solves
    nothing still reports the unconverged, uncertified and unknown-status points of earlier runs."""
    spec, store, rows = solved
    store = copy_store(store, tmp_path / "s.sqlite")
    keys = [r["key"] for r in rows]
    with sqlite3.connect(store) as conn:
        conn.execute(
            "UPDATE results SET status = 'max_iter', converged = 0 WHERE key = ?", keys[:1]
        )
        conn.execute("UPDATE results SET status = 'time_limit' WHERE key = ?", keys[1:2])
        conn.execute("UPDATE results SET certified = 0 WHERE key = ?", keys[2:3])
        conn.execute("UPDATE results SET status = 'failed' WHERE key = ?", keys[3:4])
    summary = sweep.run_sweep(spec, store)
    assert (summary.done, summary.skipped, summary.failed) == (1, 5, 0)  # the failed one again
    assert (summary.unconverged, summary.uncertified) == (3, 1)
    assert summary.statuses == {"converged": 4, "max_iter": 1, "time_limit": 1}
    assert summary.store_rows == 6 and not summary.settled
    assert [sweep.outcome(r) for r in sweep.read_store(store)][:4] == [
        "unconverged",
        "unconverged",
        "uncertified",
        "settled",
    ]
    assert sweep.run_sweep(spec, copy_store(solved[1], tmp_path / "t.sqlite")).settled


def test_cli_exit_code_describes_the_store_on_a_rerun(tmp_path, capsys):
    """Issue: a rerun said "0 not converged" and exited 0 over a store of unconverged points."""
    from lpm import cli

    spec = tmp_path / "short.toml"
    spec.write_text(
        '[problem]\nstep = "2:2:2:1"\nenergy = [1, 1]\n[grid]\nratio = [1, 2]\n'
        '[solve]\nmethod = "gradient"\nmax_iter = 3\n'
    )
    store = tmp_path / "short.sqlite"
    for solved_now in (2, 0):
        assert cli.main(["sweep", str(spec), "--store", str(store), "--json"]) == 3
        data = json.loads(capsys.readouterr().out)
        assert (data["done"], data["unconverged"]) == (solved_now, 2)
        assert data["statuses"] == {"max_iter": 2} and data["settled"] is False


def test_rows_time_their_own_point_only_when_solved_alone(solved, spec_file, tmp_path):
    _, _, batched = solved  # batch_size=4: batches of 4 and 2 points
    assert [r["batch_size"] for r in batched] == [4, 4, 4, 4, 2, 2]
    assert all(r["seconds"] is None and r["batch_seconds"] > 0 for r in batched)
    assert len({r["batch_seconds"] for r in batched[:4]}) == 1
    store = tmp_path / "alone.sqlite"
    sweep.run_sweep(spec_file, store, batch_size=1)
    alone = sweep.read_store(store)
    assert all(r["batch_size"] == 1 and r["seconds"] == r["batch_seconds"] > 0 for r in alone)
    assert len({r["seconds"] for r in alone}) == 6


#: The layout of stores written before the timing columns (schema version 0).
LEGACY_COLUMNS = [c for c in sweep.STORE_COLUMNS if c not in ("batch_seconds", "batch_size")]


def test_a_store_of_the_old_layout_is_read_and_migrated(solved, tmp_path):
    spec, _, rows = solved
    store = tmp_path / "old.sqlite"
    with sqlite3.connect(store) as conn:
        conn.execute(f"CREATE TABLE results ({', '.join(LEGACY_COLUMNS)}, PRIMARY KEY (key))")
        conn.execute("CREATE TABLE specs (spec_hash TEXT PRIMARY KEY, spec TEXT, first_run TEXT)")
        for row in rows[:4]:
            old = {**row, "seconds": 1.5}
            values = [sweep.store._sql_value(c, old[c]) for c in LEGACY_COLUMNS]
            conn.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(values))})", values)
    expected = [{**r, "seconds": None, "batch_seconds": 1.5, "batch_size": None} for r in rows[:4]]
    assert sweep.read_store(store) == expected  # read-only, before any migration
    summary = sweep.run_sweep(spec, store, batch_size=4)
    assert (summary.done, summary.skipped, summary.total) == (2, 4, 6)
    after = sweep.read_store(store)
    assert after[:4] == expected and len(after) == 6
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == sweep.store.SCHEMA_VERSION


# ------------------------------------------------------------------------------------ tables
def test_dataframe_has_one_typed_row_per_point(solved):
    pd = pytest.importorskip("pandas")
    _, _, rows = solved
    frame = sweep.read_store(solved[1]).to_pandas()
    assert list(frame.columns) == next(csv.reader(io.StringIO(sweep.store_to_csv(rows))))
    assert len(frame) == 6 and list(frame["key"]) == [r["key"] for r in rows]
    assert frame["certified"].dtype == "boolean" and frame["batch_size"].dtype == "Int64"
    assert frame["objective"].tolist() == [r["objective"] for r in rows]
    assert frame["seconds"].isna().all()  # solved in batches: no per-point time
    assert frame["w_norms"].iloc[0] == rows[0]["geometry"]["w_norms"]
    assert frame["energy"].iloc[1] == [2, 2] and frame["ratio"].tolist() == [1, 1, 2, 2, 5, 5]
    table = frame.pivot_table("minority_w_separation", "ratio", frame["energy"].map(str))
    assert table.shape == (3, 2)
    assert isinstance(sweep.to_dataframe(rows), pd.DataFrame)


def test_parquet_round_trip(solved, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    _, store, rows = solved
    path = sweep.read_store(store).to_parquet(tmp_path / "phase.parquet")
    back = pd.read_parquet(path)
    frame = sweep.to_dataframe(rows)
    assert list(back.columns) == list(frame.columns) and len(back) == 6
    assert back["objective"].tolist() == frame["objective"].tolist()
    assert back["certified"].tolist() == [True] * 6
    assert [list(map(list, g)) for g in back["w_gram"]] == [r["geometry"]["w_gram"] for r in rows]
    assert not list(tmp_path.glob(".*.tmp"))  # written beside, then renamed
    # A grid that spells one key two ways (a list and a string) is kept, as JSON text.
    mixed = [{**rows[0], "params": {"energy": [1, 1]}}, {**rows[1], "params": {"energy": "2,2"}}]
    back = pd.read_parquet(sweep.to_parquet(mixed, tmp_path / "mixed.parquet"))
    assert back["energy"].tolist() == ["[1, 1]", '"2,2"']
    with pytest.raises(ValueError, match="does not exist"):
        sweep.to_parquet(rows, tmp_path / "no" / "x.parquet")
    with pytest.raises(ValueError, match="is a directory"):
        sweep.to_parquet(rows, tmp_path)


# ------------------------------------------------------------------------------------ Dask faults
def _kill_self_on(marker: str, counts: list[int]) -> None:
    """Run on each Dask worker: the first solve of ``counts`` anywhere SIGKILLs its own process.

    The marker file (created exclusively, holding the pid) makes it happen once over all workers.
    """
    import os
    import signal

    import lpm

    real = lpm.solve_batch

    def solve_batch(problems, **options):
        if any(list(p.counts) == counts for p in problems):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        return real(problems, **options)

    lpm.solve_batch = solve_batch


@pytest.mark.slow
@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_a_worker_killed_mid_sweep_costs_only_its_task(
    solved, tmp_path, monkeypatch, allowed_failures
):
    """A worker process SIGKILLed while it solves a point: the scheduler runs that task again
    elsewhere, the sweep completes, and the driver writes every point exactly once. With no
    failure allowed (``allowed-failures = 0``) the task is given up: its point is stored as
    failed, every other point converged, and the next run fills it in."""
    distributed = pytest.importorskip("distributed")
    import dask

    spec, _, rows = solved
    store, marker = tmp_path / "dask.sqlite", tmp_path / "killed"
    written: list[str] = []
    real_write = sweep.run.write_rows

    def counting_write(conn, batch, spec_hash):
        written.extend(row["key"] for row in batch)
        real_write(conn, batch, spec_hash)

    monkeypatch.setattr(sweep.run, "write_rows", counting_write)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        before = set(client.run(os.getpid).values())
        client.run(_kill_self_on, str(marker), [10, 10, 2, 2])  # R = 5: third and fourth points
        summary = sweep.run_sweep(spec, store, dask_address=cluster.scheduler_address, batch_size=1)
        after = set(client.run(os.getpid).values())
    killed = int(marker.read_text())
    assert killed in before and killed not in after  # the worker really died mid-sweep
    assert sorted(written) == sorted(r["key"] for r in rows)  # each point written once
    lost = summary.failed
    if allowed_failures:
        assert lost == 0  # the scheduler ran the killed task again elsewhere
    else:
        # Without retries the killed task is given up, and so is a task the scheduler had
        # already queued on the same worker (it holds one task per thread, sometimes one more).
        assert 1 <= lost <= 2
    assert (summary.total, summary.done, summary.failed) == (6, 6 - lost, lost)
    assert summary.unconverged == 0
    if lost:
        failed = [r for r in sweep.read_store(store) if r["status"] == "failed"]
        assert len(failed) == lost
        assert all(r["message"].startswith("KilledWorker") for r in failed)
        assert 5 in {r["params"]["ratio"] for r in failed}  # the point being solved
        again = sweep.run_sweep(spec, store)
        assert (again.done, again.skipped, again.failed) == (lost, 6 - lost, 0) and again.settled
    keys = keys_in(store)
    assert len(keys) == len(set(keys)) == 6
    local = {r["key"]: r for r in rows}
    for row in sweep.read_store(store):
        assert row["status"] == "converged" and row["certified"]
        assert abs(row["objective"] - local[row["key"]]["objective"]) <= OBJECTIVE_ATOL
