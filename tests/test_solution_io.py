"""Saving and loading solutions, output paths, and progress rendering.

``lpm.save`` writes each file whole or not at all; ``lpm.load`` reads only what ``lpm.save``
wrote and says in one line what is wrong with anything else (never unpickling); output paths are
judged before any work with failure modes that hold for root too. Solutions here are built by hand
(a balanced ETF point), so no solver runs.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lpm
from lpm.certificate import Certificate
from lpm.files import atomic_write, check_directory, check_file
from lpm.problem import Problem
from lpm.progress import Progress
from lpm.solution import Solution, solution_paths


@pytest.fixture
def solution() -> Solution:
    problem = Problem.balanced(3, 2, energy=(1.0, 1.0))
    rng = np.random.default_rng(0)
    return Solution(
        problem=problem,
        W=rng.standard_normal((3, 3)),
        H=rng.standard_normal((6, 3)),
        b=np.zeros(3),
        objective=0.5,
        residual=float("nan"),
        status="max_iter",
        method="gradient",
        iterations=7,
        seconds=0.25,
        tol=1e-9,
        certificate=Certificate(0.25, "lpm-sdp-dual", exact=True, rounding=1e-15),
        message="stopped",
        restarts=(0.5, float("inf")),
        info={"rank": 2},
    )


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ round trip
def test_save_and_load_round_trip(solution, tmp_path):
    written = lpm.save(solution, tmp_path / "sol")
    assert written == tmp_path / "sol.npz"
    assert _files(tmp_path) == ["sol.json", "sol.npz"]  # no temporary file left behind
    back = lpm.load(tmp_path / "sol")
    assert back.problem == solution.problem
    for name in ("W", "H", "b"):
        assert np.array_equal(getattr(back, name), getattr(solution, name))
    assert back.status == solution.status and back.objective == solution.objective
    assert np.isnan(back.residual)  # written as null, read back as nan
    assert back.lower_bound == 0.25 and back.gap == solution.gap
    assert back.iterations == 7 and back.info == {"rank": 2} and back.restarts[0] == 0.5
    json.loads((tmp_path / "sol.json").read_text(), parse_constant=pytest.fail)  # strict JSON


def test_saved_files_get_the_permissions_of_any_new_file(solution, tmp_path):
    lpm.save(solution, tmp_path / "sol")
    umask = os.umask(0)
    os.umask(umask)
    for path in solution_paths(tmp_path / "sol"):
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


# ------------------------------------------------------------------------------ atomic writes
def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="killed"), atomic_write(target, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert _files(tmp_path) == ["result.json"]


def test_a_save_that_fails_midway_leaves_the_previous_solution(solution, tmp_path, monkeypatch):
    lpm.save(solution, tmp_path / "sol")
    before = {p: p.read_bytes() for p in solution_paths(tmp_path / "sol")}

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", crash)
    changed = Solution(**{**solution.__dict__, "objective": 9.0})
    with pytest.raises(OSError, match="No space"):
        lpm.save(changed, tmp_path / "sol")
    assert {p: p.read_bytes() for p in before} == before
    assert _files(tmp_path) == ["sol.json", "sol.npz"]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform")
def test_a_process_killed_while_writing_leaves_the_old_file(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    code = (
        "import os, signal, sys; from lpm.files import atomic_write\n"
        "with atomic_write(sys.argv[1], 'w') as handle:\n"
        "    handle.write('half of the new'); handle.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(target)], timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert target.read_text() == "old"  # the half-written file is a hidden temporary beside it


def test_atomic_write_refuses_other_modes(tmp_path):
    with pytest.raises(ValueError, match="allowed: 'wb', 'w'"), atomic_write(tmp_path / "x", "a"):
        pass


# ------------------------------------------------------------------------------ loading bad files
def _saved(solution, tmp_path) -> tuple[Path, Path]:
    lpm.save(solution, tmp_path / "sol")
    return solution_paths(tmp_path / "sol")


def _damage_truncated_npz(arrays: Path, meta: Path) -> None:
    data = arrays.read_bytes()
    arrays.write_bytes(data[: len(data) // 2])


def _damage_flipped_npz(arrays: Path, meta: Path) -> None:
    data = bytearray(arrays.read_bytes())
    for i in range(60, len(data) - 100, 7):  # inside the members, past the first header
        data[i] ^= 0xFF
    arrays.write_bytes(bytes(data))


def _damage_pickled_npz(arrays: Path, meta: Path) -> None:
    with open(arrays, "wb") as handle:
        np.savez(handle, W=np.array([{"evil": 1}], dtype=object), H=np.zeros(1), b=np.zeros(1))


def _damage_raw_pickle(arrays: Path, meta: Path) -> None:
    arrays.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")


def _damage_single_array(arrays: Path, meta: Path) -> None:
    with open(arrays, "wb") as handle:
        np.save(handle, np.zeros(3))


def _damage_foreign_npz(arrays: Path, meta: Path) -> None:
    with open(arrays, "wb") as handle:
        np.savez(handle, weights=np.zeros(3))


def _damage_wrong_shape(arrays: Path, meta: Path) -> None:
    with open(arrays, "wb") as handle:
        np.savez(handle, W=np.zeros((3, 3)), H=np.zeros((5, 3)), b=np.zeros(3))


def _damage_text_arrays(arrays: Path, meta: Path) -> None:
    with open(arrays, "wb") as handle:
        np.savez(handle, W=np.array(["a"]), H=np.zeros((6, 3)), b=np.zeros(3))


def _damage_truncated_json(arrays: Path, meta: Path) -> None:
    meta.write_text(meta.read_text()[:40])


def _damage_binary_json(arrays: Path, meta: Path) -> None:
    meta.write_bytes(bytes(range(256)))


def _damage_foreign_json(arrays: Path, meta: Path) -> None:
    meta.write_text('{"name": "something else"}')


def _damage_json_list(arrays: Path, meta: Path) -> None:
    meta.write_text("[1, 2]")


def _damage_bad_problem(arrays: Path, meta: Path) -> None:
    data = json.loads(meta.read_text())
    data["problem"]["counts"] = [-1, 2, 2]
    meta.write_text(json.dumps(data))


def _damage_bad_status(arrays: Path, meta: Path) -> None:
    data = json.loads(meta.read_text())
    data["status"] = "great"
    meta.write_text(json.dumps(data))


DAMAGES = {
    "truncated npz": (_damage_truncated_npz, "sol.npz", "not a readable .npz archive"),
    "corrupted npz": (_damage_flipped_npz, "sol.npz", ""),
    "npz with objects": (_damage_pickled_npz, "sol.npz", "cannot be read"),
    "a pickle": (_damage_raw_pickle, "sol.npz", "never unpickles"),
    "one .npy array": (_damage_single_array, "sol.npz", "not an .npz archive"),
    "foreign npz": (_damage_foreign_npz, "sol.npz", "no array W, H, b"),
    "wrong shape": (_damage_wrong_shape, "do not make a solution", "the problem needs (6, 3)"),
    "text arrays": (_damage_text_arrays, "sol.npz", "not numbers"),
    "truncated json": (_damage_truncated_json, "sol.json", "not valid JSON"),
    "binary json": (_damage_binary_json, "sol.json", "not a text file"),
    "foreign json": (_damage_foreign_json, "sol.json", "no key problem"),
    "json list": (_damage_json_list, "sol.json", "not an object"),
    "bad problem": (_damage_bad_problem, "do not make a solution", "counts"),
    "bad status": (_damage_bad_status, "do not make a solution", "great"),
}


@pytest.mark.parametrize("name", list(DAMAGES))
def test_load_of_a_bad_file_is_one_clear_value_error(solution, tmp_path, name):
    damage, where, what = DAMAGES[name]
    arrays, meta = _saved(solution, tmp_path)
    damage(arrays, meta)
    with pytest.raises(ValueError) as caught:
        lpm.load(tmp_path / "sol")
    message = str(caught.value)
    assert "\n" not in message and where in message and what in message, message


def test_load_never_unpickles(solution, tmp_path, monkeypatch):
    import pickle

    arrays, _ = _saved(solution, tmp_path)
    _damage_raw_pickle(arrays, None)

    def refuse(*args, **kwargs):
        raise AssertionError("lpm.load unpickled data")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(ValueError, match="never unpickles"):
        lpm.load(tmp_path / "sol")


def test_load_of_a_missing_file_says_which(tmp_path, solution):
    with pytest.raises(FileNotFoundError):
        lpm.load(tmp_path / "nothing")
    arrays, _ = _saved(solution, tmp_path)
    arrays.unlink()
    with pytest.raises(FileNotFoundError, match=r"sol\.npz"):
        lpm.load(tmp_path / "sol")


def test_a_zip_that_is_not_numpy_is_refused(tmp_path, solution):
    arrays, _ = _saved(solution, tmp_path)
    with zipfile.ZipFile(arrays, "w") as archive:
        archive.writestr("W.npy", b"not an array")
        archive.writestr("H.npy", b"")
        archive.writestr("b.npy", b"")
    with pytest.raises(ValueError, match=r"sol\.npz"):
        lpm.load(tmp_path / "sol")


# ------------------------------------------------------------------------------ output paths
def test_check_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert check_file(tmp_path / "new.json") == tmp_path / "new.json"
    assert check_file(afile) == afile  # an existing file is replaced
    with pytest.raises(ValueError, match="afile is a file, not a directory"):
        check_file(afile / "sol.npz")
    with pytest.raises(ValueError, match="no such directory"):
        check_file(tmp_path / "missing" / "sol.npz")
    with pytest.raises(ValueError, match="is a directory, not a file"):
        check_file(tmp_path)
    with pytest.raises(ValueError, match="cannot create files in /proc"):
        check_file("/proc/lpm-sol.npz")
    assert _files(tmp_path) == ["afile"]  # the probe leaves nothing behind


def test_check_directory(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert check_directory(tmp_path / "a" / "b") == tmp_path / "a" / "b"  # made when written
    assert not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match=r"afile is a file, not a directory$"):
        check_directory(afile)
    with pytest.raises(ValueError, match=r"afile is a file, not a directory \(in "):
        check_directory(afile / "out")
    with pytest.raises(ValueError, match="cannot create files in /proc"):
        check_directory("/proc/lpm-out")


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through permissions"
)
def test_no_permission_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match="no permission"):
        check_file(locked / "sol.npz")
    with pytest.raises(ValueError, match="no permission"):
        check_directory(locked / "out")


def test_a_refused_probe_is_named_as_no_permission(tmp_path, monkeypatch):
    # What a directory without write permission answers (simulated: root writes through them).
    import lpm.files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(lpm.files.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(ValueError, match=f"no permission to create files in {tmp_path}$"):
        check_file(tmp_path / "sol.npz")
    with pytest.raises(ValueError, match="no permission"):
        check_directory(tmp_path / "out")


# ------------------------------------------------------------------------------ progress
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines_off_a_terminal():
    log = io.StringIO()
    with Progress("checks", total=2, stream=log) as progress:
        assert not progress.bar
        progress.line("a:  1/2\n  solved")
        progress.done("a: PASS")
        progress.done()
    assert log.getvalue() == "a: 1/2 solved\na: PASS\n"


def test_progress_quiet_writes_nothing():
    for stream in (io.StringIO(), _Terminal()):
        with Progress("checks", total=2, quiet=True, stream=stream) as progress:
            progress.line("a")
            progress.done("a: PASS")
        assert stream.getvalue() == ""


def test_progress_bar_on_a_terminal():
    screen = _Terminal()
    with Progress("checks", total=2, stream=screen) as progress:
        assert progress.bar
        progress.line("seli: 3/5 cases")
        progress.done("seli: PASS")
        progress.done("mse-no-bias: PASS")
    text = screen.getvalue()
    assert "\r" in text  # drawn in place
    assert "checks" in text and "2/2" in text and "100%" in text
    assert "seli: PASS\n" in text and "mse-no-bias: PASS\n" in text  # finished steps are kept
    assert "seli: 3/5 cases" in text


def test_progress_bar_without_a_total_counts_steps():
    screen = _Terminal()
    with Progress("sweep: batches", stream=screen) as progress:
        for i in range(3):
            progress.done(f"batch {i}")
    assert "sweep: batches: 3 done" in screen.getvalue()
