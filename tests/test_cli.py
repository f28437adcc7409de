"""The `lpm` command line against its contract (docs/cli.md).

Most tests run :func:`lpm.cli.main` in-process; a few run the installed ``lpm`` executable for the
parts of the contract that only a real process shows (exit status, stderr lines, strict JSON).
Back-ends written elsewhere (threshold, proofs_check, figures) are replaced by small fakes to test
the wiring; the real ones by their own tests (and threshold by one worked instance here). Output
paths are refused before any work with failure modes that hold for root too (a path under a regular
file, a directory where a file is needed, /proc), since root writes through permissions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import figures
import lpm
from lpm import cli
from lpm.compare import VARIANTS, variant
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.spec import problem_from_flags

#: The keys docs/cli.md promises in ``lpm solve --json`` and in its ``geometry`` object.
SOLVE_KEYS = (
    "problem",
    "method",
    "device",
    "dtype",
    "status",
    "converged",
    "objective",
    "residual",
    "lower_bound",
    "gap",
    "iterations",
    "seconds",
    "geometry",
)
GEOMETRY_KEYS = (
    "nc1",
    "nc2_w",
    "nc2_m",
    "nc3",
    "nc4",
    "w_norms",
    "m_norms",
    "w_gram",
    "m_gram",
    "wm_gram",
    "max_abs_cos_m",
    "minority_w_separation",
)
PROBLEM_KEYS = (
    "counts",
    "dim",
    "loss",
    "classifier",
    "features",
    "bias",
    "energy",
    "budget",
    "decay",
)

#: docs/theory.md §1.2: balanced LPM optimum log(1 + (K−1) exp(−K/(K−1) sqrt(EW EH))).
L_STAR_K3 = 0.3689811354013
L_STAR_K4 = 0.5826576530618
#: docs/theory.md §1.4: K = 4, n = (100, 100, 10, 10), EW = EH = 1 (SDP 0.3390530913, ~1e-8
#: accurate).
LPM_STEP_OPT = 0.3390530913
LPM_STEP_W_SQNORMS = (1.7414, 1.7414, 0.2586, 0.2586)
#: docs/theory.md §2.4: fixed ETF under the class-average budget, same counts (5 digits given).
ETF_CLASS_AVERAGE_OPT = 0.45361

TINY = "--balanced 3:4 --energy 1,1"


def strict_loads(text: str):
    """json.loads that refuses the NaN / Infinity tokens Python would otherwise accept."""

    def refuse(token):
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def run(capsys, command: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(shlex.split(command))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


# ------------------------------------------------------------------------------- bad inputs
#: (command line, a fragment the one-line message must contain)
BAD_INPUTS = [
    ("solve --counts 3,-1 --energy 1,1", "positive integers"),
    ("solve --counts -1,3 --energy 1,1", "positive integers"),
    ("solve --counts 3 --energy 1,1", "K = 2"),
    ("solve --counts 3,x --energy 1,1", "integer"),
    ("solve --counts 3,,4 --energy 1,1", "empty"),
    ("solve --step 2:2:0:5 --energy 1,1", "nB"),
    ("solve --step 2:2:10 --energy 1,1", "KA:KB:nB:R"),
    ("solve --step 2:2:10:1.05 --energy 1,1", "integer number of samples"),
    ("solve --balanced 3 --energy 1,1", "K:n"),
    ("solve --balanced 3:4.5 --energy 1,1", "integer"),
    ("solve --long-tail 5:100:0.5 --energy 1,1", "rho"),
    ("solve --balanced 3:4 --dim 0 --energy 1,1", "dim"),
    ("solve --balanced 3:4 --energy 1", "EW,EH"),
    ("solve --balanced 3:4 --energy nan,1", "finite"),
    ("solve --balanced 3:4 --energy -1,1", "positive"),
    ("solve --balanced 3:4 --loss dr --classifier learnable --energy 1,1", "fixed classifier"),
    ("solve --balanced 4:4 --classifier etf --dim 2 --energy 1,1", "K − 1"),
    ("solve --balanced 3:4 --dtype float16 --energy 1,1", "float64"),
    ("solve --balanced 3:4 --device tpu --energy 1,1", "cpu"),
    ("solve --balanced 3:4 --tol -1 --energy 1,1", "(0, 1)"),
    ("solve --balanced 3:4 --restarts 0 --energy 1,1", "positive"),
    ("solve --balanced 3:4 --max-iter 0 --energy 1,1", "positive"),
    ("solve --balanced 3:4 --seed -1 --energy 1,1", "nonnegative"),
    ("solve --balanced 3:4 --method foo --energy 1,1", "auto"),
    ("solve --balanced 3:4 --loss hinge --energy 1,1", "mse"),
    ("solve --balanced 3:4 --budget global --energy 1,1", "per-sample"),
    ("solve --balanced 3:4 --decay 1e-3", "LW,LH"),
    ("solve --balanced 3:4 --energy 1,1 --decay 1,1", "exclude"),
    ("solve --balanced 3:4 --bias penalised --decay 1,1", "LB"),
    ("solve --balanced 3:4 --counts 4,4,4 --energy 1,1", "exactly one"),
    ("solve --energy 1,1", "exactly one"),
    ("solve --balanced 3:4 --energy 1,1 --bogus", "lpm solve --help"),
    ("solve --balanced 3:4 --energy", "expected one argument"),
    ("solve --balanced 3:4 --energy 1,1 --save /nonexistent-lpm-dir/x", "no such directory"),
    ("solve --balanced 3:4 --energy 1,1 --save /proc/lpm-x", "cannot create files in /proc"),
    ("figures --out /proc/lpm-figures", "cannot create files in /proc"),
    ("check --only no-such-check", "fang-balanced-etf"),
    ("figures --only no-such-figure", "phase"),
    ("bench --only no-such-bench", "batch-vs-loop"),
    ("bench --device tpu", "cuda"),
    ("solve --balanced 3:4 --energy 1,1 --bal 3:4", "unrecognized"),
    ("compare --step 2:2:10:10 --energy 1,1", "--against"),
    ("compare --step 2:2:10:10 --energy 1,1 --against foo", "allowed: balanced"),
    ("compare --balanced 3:4 --energy 1,1 --against balanced", "base problem itself"),
    ("compare --step 2:2:10:10 --loss dr --classifier etf --energy 1,1 --against learnable", "dr"),
    ("compare --step 2:2:10:10 --decay 1e-3,1e-3 --against per-sample", "energy"),
    ("compare --step 2:2:10:10 --energy 1,1 --against etf etf", "twice"),
    ("threshold --majority 2 --energy 1,1", "--minority"),
    ("threshold --majority 2 --minority 2 --energy 1", "EW,EH"),
    ("frobnicate", "solve"),
    ("", "a command is required"),
]


@pytest.mark.parametrize(("command", "fragment"), BAD_INPUTS, ids=[c for c, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(capsys, command, fragment):
    code, out, err = run(capsys, command)
    assert code == cli.EXIT_BAD_INPUT
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lpm: error: ")
    assert "Traceback" not in err
    assert fragment in lines[0]


def test_bad_input_table_is_large_enough():
    assert len(BAD_INPUTS) >= 20


def test_unregularised_without_a_method_for_it_is_bad_input(capsys):
    # With neither --energy nor --decay the gradient method refuses (the infimum is at infinity);
    # once a convex method is registered, auto goes there instead and the solve succeeds.
    code, out, err = run(capsys, "solve --balanced 3:4 --method gradient")
    assert code == cli.EXIT_BAD_INPUT
    assert out == "" and len(err.splitlines()) == 1 and "unregularised" in err


# ------------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["", *cli.COMMANDS])
def test_help_works_everywhere(capsys, command):
    code, out, err = run(capsys, f"{command} --help")
    assert code == 0
    assert out.startswith(f"usage: lpm {command}".rstrip())
    assert err == ""


def test_names_the_flags_accept_follow_their_registries():
    # The command line keeps these names so that parsing imports no solver; each must be exactly
    # its registry (a method, check, benchmark or variant added there must be added here).
    import benchmarks
    import proofs_check

    assert set(cli.METHOD_NAMES) == {"auto", *lpm.METHODS}
    assert cli.CHECK_NAMES == proofs_check.CHECK_IDS
    assert cli.BENCH_NAMES == tuple(benchmarks.BENCHMARKS)
    assert cli.VARIANT_NAMES == tuple(VARIANTS)


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("solve", cli.METHOD_NAMES),
        ("compare", cli.VARIANT_NAMES),
        ("check", cli.CHECK_NAMES),
        ("figures", figures.FIGURES),
        ("bench", cli.BENCH_NAMES),
    ],
)
def test_help_lists_the_valid_names_and_the_defaults(capsys, command, names):
    _, out, _ = run(capsys, f"{command} --help")
    text = " ".join(out.split())  # argparse wraps long lines
    for name in names:
        assert name in text
    assert "(default: " in text


def test_help_states_every_default(capsys):
    for command in cli.COMMANDS:
        parser = cli.build_parser()._subparsers._group_actions[0].choices[command]
        _, out, _ = run(capsys, f"{command} --help")
        text = " ".join(out.split())
        for action in parser._actions:
            switch = action.default is False or action.default == argparse.SUPPRESS
            if action.default is not None and not switch and action.option_strings:
                assert f"(default: {action.default})" in text, (command, action.dest)


def test_the_command_line_imports_no_solver_before_a_command_runs():
    # --help and usage errors answer at once: torch, SciPy, cvxpy, matplotlib and tqdm are
    # imported only when a command runs (measured in the report, not timed here).
    code = (
        "import sys; from lpm import cli; cli.build_parser(); "
        "heavy = ('torch', 'scipy', 'cvxpy', 'matplotlib', 'tqdm'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_nothing_imports_the_command_line():
    import ast

    root = Path(cli.__file__).resolve().parents[1]
    for folder in ("lpm", "figures", "proofs_check", "benchmarks"):
        for path in (root / folder).rglob("*.py"):
            if path.name in ("cli.py", "__main__.py") and folder == "lpm":
                continue  # the command line itself, and ``python -m lpm`` (its entry point)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    names = [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                assert not any(n == "lpm.cli" or n.startswith("lpm.cli.") for n in names), path


def test_public_names_stay_the_functions_when_their_modules_are_imported():
    # lpm.compare, lpm.geometry and lpm.objective are functions sharing their module's name;
    # importing the module first (as the command line does) must not shadow them.
    code = (
        "import types, lpm.compare, lpm.geometry, lpm.objective, lpm; "
        "print(all(callable(f) and not isinstance(f, types.ModuleType) "
        "for f in (lpm.compare, lpm.geometry, lpm.objective)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    # Submodules stay reachable from the package alone, as when it imported them eagerly.
    code = (
        "import lpm; print(sorted(lpm.solvers.METHODS) == sorted(lpm.METHODS), lpm.theory.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "lpm.theory"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        lpm.nothing  # noqa: B018
    assert set(lpm.__all__) <= set(dir(lpm))


# ------------------------------------------------------------------------------- solve
def test_solve_json_has_the_contract_keys_and_the_balanced_optimum(capsys):
    code, out, err = run(capsys, f"solve {TINY} --json")
    data = strict_loads(out)
    assert code == cli.EXIT_DONE, err
    assert all(k in data for k in SOLVE_KEYS)
    assert all(k in data["geometry"] for k in GEOMETRY_KEYS)
    assert all(k in data["problem"] for k in PROBLEM_KEYS)
    assert data["problem"]["counts"] == [4, 4, 4] and data["problem"]["dim"] == 3
    assert data["converged"] is True and data["status"] == "converged"
    assert abs(data["objective"] - L_STAR_K3) < 1e-9
    # W Wᵀ = EW (K/(K−1)) P_K at the balanced optimum (docs/theory.md §1.2), compared as a Gram.
    K = 3
    etf = K / (K - 1) * (np.eye(K) - np.ones((K, K)) / K)
    assert np.abs(np.array(data["geometry"]["w_gram"]) - etf).max() < 1e-6
    assert data["geometry"]["minority_w_separation"] is None


def test_solve_step_reproduces_minority_collapse(capsys):
    code, out, err = run(capsys, "solve --step 2:2:10:10 --energy 1,1 --json")
    data = strict_loads(out)
    assert code == cli.EXIT_DONE, err
    assert data["problem"]["counts"] == [100, 100, 10, 10]
    # The SDP value is accurate to ~1e-8 (docs/theory.md §1.4), hence 1e-7.
    assert abs(data["objective"] - LPM_STEP_OPT) < 1e-7
    w_sq = np.square(data["geometry"]["w_norms"])
    assert np.abs(w_sq - LPM_STEP_W_SQNORMS).max() < 1e-4
    assert data["geometry"]["minority_w_separation"] < 1e-6


def test_solve_human_report(capsys):
    code, out, err = run(capsys, f"solve {TINY}")
    assert code == cli.EXIT_DONE and err == ""
    assert out.startswith("problem    K=3 N=12 d=3")
    assert "converged" in out
    objective = float(out.split("objective")[1].split()[0])
    assert abs(objective - L_STAR_K3) < 1e-9
    assert "‖w_k‖" in out and "nc1" in out
    assert "NOT CONVERGED" not in out


def test_unconverged_solve_exits_3_and_still_reports(capsys):
    code, out, _ = run(capsys, f"solve {TINY} --max-iter 1 --json")
    data = strict_loads(out)
    assert code == cli.EXIT_NOT_CONVERGED
    assert data["converged"] is False and data["status"] == "max_iter"
    code, out, _ = run(capsys, f"solve {TINY} --max-iter 1")
    assert code == cli.EXIT_NOT_CONVERGED
    assert "NOT CONVERGED" in out


def test_solver_flags_reach_solve(capsys, monkeypatch):
    seen = []
    real = lpm.solve

    def spy(problem, **options):
        seen.append(options)
        return real(problem, **options)

    monkeypatch.setattr(lpm, "solve", spy)
    run(capsys, f"solve {TINY}")
    # Unset flags are not passed, so that solve keeps its own defaults (4 restarts for ReLU).
    assert seen[-1] == {"method": "auto", "device": "cpu", "dtype": "float64", "seed": 0}
    run(capsys, f"solve {TINY} --dtype float32 --seed 3 --tol 1e-4 --max-iter 50 --restarts 2")
    assert seen[-1] == {
        "method": "auto",
        "device": "cpu",
        "dtype": "float32",
        "seed": 3,
        "tol": 1e-4,
        "max_iter": 50,
        "restarts": 2,
    }


def test_json_is_strict_when_numbers_are_not_finite(capsys, monkeypatch):
    # A failed solve at W = H = 0 with a nan objective: geometry has no NC2/NC3 there (nan), and
    # the JSON must say null, never NaN.
    def failed(problem, **options):
        K, d = problem.K, problem.dim
        return Solution(
            problem=problem,
            W=np.zeros((K, d)),
            H=np.zeros((problem.N, d)),
            b=np.zeros(K),
            objective=math.nan,
            residual=math.inf,
            status="failed",
            method="gradient",
            message="diverged",
        )

    monkeypatch.setattr(lpm, "solve", failed)
    code, out, _ = run(capsys, f"solve {TINY} --json")
    data = strict_loads(out)
    assert code == cli.EXIT_NOT_CONVERGED
    assert data["objective"] is None and data["residual"] is None
    assert data["geometry"]["nc2_w"] is None and data["geometry"]["nc3"] is None
    code, out, _ = run(capsys, f"solve {TINY}")
    assert code == cli.EXIT_NOT_CONVERGED and "NOT CONVERGED: diverged" in out


def test_save_writes_a_loadable_solution(capsys, tmp_path):
    target = tmp_path / "tiny"
    code, out, _ = run(capsys, f"solve {TINY} --json --save {target}")
    data = strict_loads(out)
    assert code == cli.EXIT_DONE
    assert data["saved"] == [str(target.with_suffix(".npz")), str(target.with_suffix(".json"))]
    back = lpm.load(target)
    assert back.objective == data["objective"]
    assert back.problem == Problem.balanced(3, 4, energy=(1.0, 1.0))


# ------------------------------------------------------------------------------- output paths
def _no_solve(problem, **options):
    raise AssertionError("an unwritable output path must be refused before solving")


def _unwritable_outputs(tmp_path):
    """(command line, fragment of the one-line error): each output path is refused up front."""
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    (tmp_path / "dir.npz").mkdir()
    spec = tmp_path / "tiny.toml"
    spec.write_text('[problem]\nstep = "1:1:2:1"\ndim = 2\nenergy = [1, 1]\n')
    return [
        (f"solve {TINY} --save {afile}/sol", f"{afile} is a file, not a directory"),
        (f"solve {TINY} --save {afile}/deeper/sol", f"{afile} is a file, not a directory"),
        (f"solve {TINY} --save {tmp_path}/missing/sol", "no such directory"),
        (f"solve {TINY} --save {tmp_path}/dir", "dir.npz is a directory, not a file"),
        (f"figures --out {afile}", f"{afile} is a file, not a directory"),
        (f"figures --out {afile}/out", f"{afile} is a file, not a directory"),
        (f"sweep {spec} --store {afile}/s.sqlite", f"{afile} is a file, not a directory"),
        (f"sweep {spec} --store {tmp_path}", "is a directory, not a file"),
        (f"sweep {spec} --store {tmp_path}/missing/s.sqlite", "no such directory"),
        (f"sweep {spec} --store /proc/lpm.sqlite", "cannot create files in /proc"),
    ]


def test_unwritable_outputs_are_refused_before_any_work(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(lpm, "solve", _no_solve)
    before = sorted(p.name for p in tmp_path.iterdir())
    for command, fragment in _unwritable_outputs(tmp_path):
        if not before:
            before = sorted(p.name for p in tmp_path.iterdir())
        code, out, err = run(capsys, command)
        assert code == cli.EXIT_BAD_INPUT, (command, err)
        assert out == "" and len(err.splitlines()) == 1 and err.startswith("lpm: error: ")
        assert fragment in err, (command, err)
        assert "does not exist" not in err  # a file in the way is not a missing directory
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through permissions"
)
def test_a_directory_without_permission_is_refused(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(lpm, "solve", _no_solve)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(capsys, f"solve {TINY} --save {locked}/sol")
    assert code == cli.EXIT_BAD_INPUT and "no permission" in err
    code, _, err = run(capsys, f"figures --out {locked}/out")
    assert code == cli.EXIT_BAD_INPUT and "no permission" in err


def test_a_save_that_fails_after_the_solve_keeps_the_result(capsys, monkeypatch, tmp_path):
    def full_disk(solution, path):
        raise OSError(28, "No space left on device", str(path) + ".npz")

    monkeypatch.setattr(lpm, "save", full_disk)
    code, out, err = run(capsys, f"solve {TINY} --json --save {tmp_path}/sol")
    data = strict_loads(out)  # the result is printed whole
    assert abs(data["objective"] - L_STAR_K3) < 1e-9 and data["saved"] is None
    assert code == cli.EXIT_INTERNAL
    assert len(err.splitlines()) == 1 and err.startswith("lpm: error: --save ")
    assert "No space left on device" in err and "not saved" in err
    code, out, err = run(capsys, f"solve {TINY} --save {tmp_path}/sol")
    assert code == cli.EXIT_INTERNAL and out.startswith("problem ") and "objective" in out


def test_figures_out_is_created_when_missing(capsys, monkeypatch, tmp_path):
    def build(names, out, quick, progress):
        Path(out).mkdir(parents=True, exist_ok=True)
        return [Path(out) / f"{names[0]}.png"]

    monkeypatch.setattr(figures, "build", build)
    code, out, err = run(capsys, f"figures --out {tmp_path}/a/b --only phase")
    assert code == cli.EXIT_DONE, err
    assert out.strip() == str(tmp_path / "a" / "b" / "phase.png")


# ------------------------------------------------------------------------------- errors
def test_internal_error_is_one_line_exit_1(capsys, monkeypatch):
    def broken(problem, **options):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(lpm, "solve", broken)
    code, out, err = run(capsys, f"solve {TINY}")
    assert code == cli.EXIT_INTERNAL and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("lpm: internal error: RuntimeError: boom second line")
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(shlex.split(f"solve {TINY}"))


# ------------------------------------------------------------------------------- problems
def test_problem_flags_as_strings_or_values_give_the_same_problem():
    strings = problem_from_flags(
        {"step": "2:2:10:10", "energy": "1,2", "classifier": "etf", "dim": "5"}
    )
    values = problem_from_flags(
        {"step": [2, 2, 10, 10], "energy": (1.0, 2.0), "classifier": "etf", "dim": 5}
    )
    assert (
        strings == values == Problem.step(2, 2, 10, 10, dim=5, energy=(1.0, 2.0), classifier="etf")
    )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            {"counts": "5,3,2", "decay": "1e-3,2e-3"},
            Problem.from_counts((5, 3, 2), decay=(1e-3, 2e-3)),
        ),
        ({"balanced": "4:6", "energy": "1,1"}, Problem.balanced(4, 6, energy=(1.0, 1.0))),
        (
            {"long_tail": "5:100:10", "energy": "1,1"},
            Problem.long_tail(5, 100, 10.0, energy=(1.0, 1.0)),
        ),
        (
            {"counts": "4,4", "decay": "1,2,3", "bias": "penalised", "classifier_seed": "7"},
            Problem.from_counts((4, 4), decay=(1.0, 2.0, 3.0), bias="penalised", classifier_seed=7),
        ),
    ],
)
def test_each_count_form(flags, expected):
    assert problem_from_flags(flags) == expected


# ------------------------------------------------------------------------------- compare
def test_variants_change_one_thing():
    p = Problem.step(2, 2, 10, 10, dim=6, energy=(1.0, 2.0), classifier_seed=3)
    for name in VARIANTS:
        if name in ("balanced", "learnable", "ce", "free", "class-average", "dr"):
            continue
        q = variant(p, name)
        changed = {k for k, v in p.to_dict().items() if q.to_dict()[k] != v}
        assert len(changed) == 1, (name, changed)
    balanced = variant(p, "balanced")
    assert balanced.counts == (55,) * 4 and balanced.dim == 6 and balanced.energy == (1.0, 2.0)
    # N/K = 3.5 is rounded (to even): N changes from 7 to 8, as documented.
    assert variant(Problem.from_counts((3, 4), energy=(1.0, 1.0)), "balanced").counts == (4, 4)
    with pytest.raises(ValueError, match="base problem itself"):
        variant(p, "learnable")
    with pytest.raises(ValueError, match="variant 'dr': loss 'dr' needs a fixed classifier"):
        variant(p, "dr")


def test_compare_balanced_against_imbalanced(capsys):
    code, out, err = run(
        capsys, "compare --step 2:2:10:10 --energy 1,1 --against balanced etf --json"
    )
    rows = strict_loads(out)
    assert code == cli.EXIT_DONE, err
    assert [r["label"] for r in rows] == ["base", "balanced", "etf"]
    for r in rows:
        assert all(k in r for k in SOLVE_KEYS) and r["converged"] is True
    base, balanced, etf = rows
    assert balanced["problem"]["counts"] == [55, 55, 55, 55]
    assert etf["problem"]["classifier"] == "etf"
    assert abs(base["objective"] - LPM_STEP_OPT) < 1e-7
    assert abs(balanced["objective"] - L_STAR_K4) < 1e-9
    assert abs(etf["objective"] - ETF_CLASS_AVERAGE_OPT) < 1e-5
    # Minority collapse on classes 3, 4 of the base; the balanced optimum keeps them apart by the
    # ETF distance 2K/(K−1)·EW = 8/3 (docs/theory.md §1.5: D_w at R = 1), measured on the same
    # classes.
    assert base["geometry"]["minority_w_separation"] < 1e-6
    assert abs(balanced["geometry"]["minority_w_separation"] - 8 / 3) < 1e-6


def test_compare_table(capsys):
    code, out, err = run(capsys, "compare --counts 10,10,1,1 --energy 1,1 --against balanced")
    assert code == cli.EXIT_DONE, err
    header, _rule, *rest = out.splitlines()
    for column in ("label", "status", "objective", "gap", "nc1", "nc2_w", "nc2_m", "‖w‖ range"):
        assert column in header
    assert rest[0].startswith("base ") and rest[1].startswith("balanced ")
    # N/K = 5.5 rounds to 6, so N moves from 22 to 24 (documented in lpm.compare).
    assert "balanced: K=4 N=24" in out and "counts=[6, 6, 6, 6]" in out


def test_compare_exits_3_when_a_row_does_not_converge(capsys):
    code, out, _ = run(
        capsys, "compare --counts 10,10,1,1 --energy 1,1 --against balanced --max-iter 1 --json"
    )
    assert code == cli.EXIT_NOT_CONVERGED
    assert [r["converged"] for r in strict_loads(out)] == [False, False]


# ------------------------------------------------------------------------------- back-ends
class _Result:
    def __init__(self, data, **attrs):
        self._data = data
        self.__dict__.update(attrs)

    def to_dict(self):
        return self._data


def _fake_module(monkeypatch, name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)
    return module


class _NoThreshold(RuntimeError):
    """Stands for lpm.threshold.ThresholdNotFound in the fake back-end."""


def test_threshold_wiring(capsys, monkeypatch):
    calls = []
    data = {"threshold": 3.41, "bracket": [3.40, 3.42], "evaluations": 12, "seconds": 1.5}

    def find(majority, minority, energy, *, progress, **kwargs):
        calls.append((majority, minority, energy, kwargs))
        progress("R = 2: separation 0.6")
        return _Result(data)

    _fake_module(
        monkeypatch,
        "lpm.threshold",
        minority_collapse_threshold=find,
        ThresholdNotFound=_NoThreshold,
    )
    code, out, err = run(capsys, "threshold --majority 2 --minority 3 --energy 1,5 --dim 8 --json")
    assert code == cli.EXIT_DONE, err
    assert strict_loads(out) == data
    assert err == "R = 2: separation 0.6\n"  # progress on stderr, stdout stays JSON
    assert calls == [(2, 3, (1.0, 5.0), {"dim": 8, "rtol": 1e-3})]
    code, out, err = run(
        capsys,
        "threshold --majority 2 --minority 2 --energy 1,1 --rtol 0.01 --method gradient --quiet",
    )
    assert code == cli.EXIT_DONE and "R0 = 3.41" in out and err == ""
    assert calls[-1][3] == {"rtol": 0.01, "method": "gradient"}
    data["certified"] = False  # one solve of the bisection was not certified
    code, out, _ = run(capsys, "threshold --majority 2 --minority 2 --energy 1,1")
    assert code == cli.EXIT_NOT_CONVERGED and "NOT CERTIFIED" in out


@pytest.mark.parametrize(
    ("error", "code", "prefix"),
    [
        (_NoThreshold("every ratio up to 1e6 separates"), 3, "lpm: no threshold: "),
        # Any other RuntimeError (a torch error, say) is an internal error, not "no threshold".
        (RuntimeError("CUDA out of memory"), 1, "lpm: internal error: RuntimeError: "),
    ],
)
def test_only_threshold_not_found_means_no_threshold(capsys, monkeypatch, error, code, prefix):
    def find(*args, **kwargs):
        raise error

    _fake_module(
        monkeypatch,
        "lpm.threshold",
        minority_collapse_threshold=find,
        ThresholdNotFound=_NoThreshold,
    )
    got, out, err = run(capsys, "threshold --majority 2 --minority 2 --energy 1,1")
    assert got == code and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(prefix)


def test_check_wiring(capsys, monkeypatch):
    state = {"passed": True}

    def run_checks(quick, only, progress):
        progress(f"fang-balanced-etf: {'PASS' if state['passed'] else 'FAIL'} (3 cases)")
        report = {"passed": state["passed"], "seconds": 0.1, "checks": [], "only": only}
        return _Result(report, passed=state["passed"], table=lambda: f"table quick={quick}")

    _fake_module(monkeypatch, "proofs_check", run_checks=run_checks)
    code, out, err = run(capsys, "check --json --only seli fang-balanced-etf")
    assert code == cli.EXIT_DONE
    assert strict_loads(out)["only"] == ["seli", "fang-balanced-etf"]  # stdout is clean JSON
    assert err == "fang-balanced-etf: PASS (3 cases)\n"  # progress on stderr
    state["passed"] = False
    code, out, err = run(capsys, "check --quick")
    assert code == 1 and out == "table quick=True\n" and "FAIL" in err
    code, out, err = run(capsys, "check --quick --quiet")
    assert code == 1 and err == ""


def test_figures_wiring(capsys, monkeypatch, tmp_path):
    calls = []

    def build(names, out, quick, progress):
        calls.append((names, quick, out))
        progress(f"{names[0]}: 1/2 solved")
        return [tmp_path / f"{names[0]}.png", tmp_path / f"{names[0]}.pdf"]

    monkeypatch.setattr(figures, "build", build)
    code, out, err = run(capsys, f"figures --quick --out {tmp_path} --only relu phase")
    assert code == cli.EXIT_DONE
    assert out.splitlines() == [
        str(tmp_path / f"{n}.{s}") for n in ("relu", "phase") for s in ("png", "pdf")
    ]
    assert calls == [(["relu"], True, str(tmp_path)), (["phase"], True, str(tmp_path))]
    assert err.splitlines() == ["relu: 1/2 solved", "phase: 1/2 solved"]


def test_bench_wiring(capsys, monkeypatch):
    def run_bench(quick, device, names, progress):
        row = {
            "name": names[0],
            "case": "K=4",
            "lpm_seconds": 1.0,
            "baseline": "a loop",
            "baseline_seconds": 2.0,
            "ratio": 2.0,
            "accurate": names[0] != "relu-restarts",
        }
        progress(row)
        return [row]

    _fake_module(monkeypatch, "benchmarks", run=run_bench)
    code, out, err = run(capsys, "bench --only batch-vs-loop --json")
    assert code == cli.EXIT_DONE and strict_loads(out)[0]["name"] == "batch-vs-loop"
    assert err == "batch-vs-loop: K=4 ratio 2\n"
    code, out, err = run(capsys, "bench --only batch-vs-loop relu-restarts --quiet")
    assert code == cli.EXIT_NOT_CONVERGED and err == "" and "NO" in out


def test_threshold_of_the_worked_instance(capsys):
    pytest.importorskip("lpm.threshold")
    code, out, err = run(capsys, "threshold --majority 2 --minority 2 --energy 1,1 --json")
    data = strict_loads(out)
    assert code == cli.EXIT_DONE, err
    # docs/theory.md §1.5: R0 ≈ 3.41, reproducible to about 2% (solver accuracy near R0).
    assert abs(data["threshold"] - 3.41) < 0.02 * 3.41
    assert data["bracket"][0] <= data["threshold"] <= data["bracket"][1]


def test_issue_example_converges(capsys):
    code, out, err = run(capsys, "solve --step 3:3:10:10 --energy 1,1 --json")
    data = strict_loads(out)
    assert code == cli.EXIT_DONE, err
    assert data["converged"] is True
    assert data["gap"] is None or data["certified"] is True


# ------------------------------------------------------------------------------- the executable
def _executable() -> list[str]:
    found = shutil.which("lpm")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from lpm.cli import main; sys.exit(main())"]


def _process(arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_executable(), *shlex.split(arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != cli.DEBUG_ENV},
    )


def test_executable_json_contract():
    done = _process(f"solve {TINY} --json")
    assert done.returncode == 0, done.stderr
    data = strict_loads(done.stdout)
    assert all(k in data for k in SOLVE_KEYS)
    assert all(k in data["geometry"] for k in GEOMETRY_KEYS)


def test_executable_bad_input_contract():
    done = _process("solve --counts 3,-1 --energy 1,1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("lpm: error: ") and "Traceback" not in done.stderr


def test_executable_usage_error_contract():
    done = _process("solve --balanced 3:4 --dtype float16")
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "float64" in done.stderr


# ------------------------------------------------------------------ sweep and bench wiring
def test_sweep_runs_resumes_and_shows(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        '[problem]\nstep = "1:1:2:1"\ndim = 2\nenergy = [1, 1]\n[grid]\nratio = [1, 2]\n'
    )
    store = tmp_path / "tiny.sqlite"
    assert cli.main(["sweep", str(spec), "--store", str(store), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["done"] == 2 and first["skipped"] == 0
    assert cli.main(["sweep", str(spec), "--store", str(store), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["done"] == 0 and again["skipped"] == 2
    assert cli.main(["sweep", "show", str(store), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(r["status"] == "converged" for r in rows)
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    table = tmp_path / "tiny.parquet"
    assert cli.main(["sweep", "show", str(store), "--parquet", str(table)]) == 0
    frame = pd.read_parquet(table)
    assert len(frame) == 2 and sorted(frame["key"]) == sorted(r["key"] for r in rows)
    assert cli.main(["sweep", "show", str(store), "--parquet", str(tmp_path / "no" / "x")]) == 2
    assert "no such directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "show"],
        ["sweep", "a.toml", "b.toml"],
        ["sweep", "missing.toml", "--dask", "tcp://x:1", "--dask-workers", "2"],
        ["sweep", "show", "x.sqlite", "--csv", "--json"],
    ],
)
def test_sweep_bad_usage_is_one_line(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lpm: error:")


def test_bench_rows_schema(capsys):
    pytest.importorskip("benchmarks")
    code = cli.main(["bench", "--quick", "--json", "--only", "batch-vs-loop"])
    rows = json.loads(capsys.readouterr().out)
    assert code in (0, 3) and rows and rows[0]["name"] == "batch-vs-loop"
    for key in ("lpm_seconds", "baseline", "baseline_seconds", "ratio"):
        assert key in rows[0]


@pytest.mark.parametrize("module", ["lpm", "lpm.cli"])
def test_python_dash_m_runs_the_command_line(module):
    """``python -m lpm`` and ``python -m lpm.cli`` are the ``lpm`` script (same output, exit)."""
    out = subprocess.run(
        [sys.executable, "-m", module, "solve", "--counts", "2,1", "--dim", "2", "--energy", "1,1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "converged" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", module, "solve", "--counts", "2,1", "--dim", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
