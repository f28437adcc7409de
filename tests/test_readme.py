"""Every example in README.md runs, and README's test command is the one CI runs.

The Python blocks are executed as written, each in a fresh interpreter; the ``lpm`` commands of
the shell blocks are run in-process through :func:`lpm.cli.main` (what the ``lpm`` script calls)
and must exit 0 (the full ``lpm check`` is marked slow). ``pip install`` and ``pytest`` steps
are not run here: CI runs them (``.ci/run``), and :func:`test_ci_runs_the_readme_test_command`
pins that it runs them word for word.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from lpm.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
TEST_COMMAND = "pip install torch==2.13.0 && pip install -e '.[test]' && pytest -q"
# Quick enough for the default run (a few seconds each); anything else is marked slow.
FAST = re.compile(r"^lpm (solve|compare|threshold|check --quick)\b")


def blocks(language: str) -> list[str]:
    """The fenced code blocks of README.md in ``language``."""
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == language]


def lpm_commands() -> list[str]:
    """Every ``lpm ...`` step of README's shell blocks (steps joined by ``&&`` are split)."""
    commands = []
    for body in blocks("bash"):
        for line in body.splitlines():
            line = line.split("  #")[0].strip()
            commands += [
                step.strip() for step in line.split("&&") if step.strip().startswith("lpm ")
            ]
    return commands


def _env() -> dict[str, str]:
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _params():
    for command in lpm_commands():
        marks = () if FAST.match(command) else (pytest.mark.slow,)
        yield pytest.param(command, marks=marks, id=command)


def test_readme_has_examples():
    assert blocks("python"), "README.md lost its Python example"
    assert lpm_commands(), "README.md lost its command-line examples"


@functools.cache
def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True
    )


@pytest.mark.parametrize("code", blocks("python"), ids=lambda c: c.splitlines()[-1][:40])
def test_python_block_runs(code):
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "the example prints nothing"


def test_python_example_prints_what_its_comments_say():
    """The ten lines' comments quote the worked instance of docs/theory.md §1.4."""
    done = run_python(blocks("python")[0])
    first = done.stdout.splitlines()[0].split()
    assert first[:2] == ["converged", "True"], done.stdout
    assert abs(float(first[2]) - 0.33905309) < 1e-7
    assert float(first[3]) < 1e-8


@pytest.mark.parametrize("command", list(_params()))
def test_lpm_command_runs(command, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(shlex.split(command)[1:])
    out, err = capsys.readouterr()
    assert code == 0, f"{command}: exit {code}\n{err[-2000:]}"
    assert out.strip(), f"{command} printed nothing"


def test_readme_states_the_two_commands():
    text = README.read_text()
    assert "pip install torch==2.13.0 && pip install -e . && lpm check" in text
    assert TEST_COMMAND in text


def test_ci_runs_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert TEST_COMMAND in lines, ".ci/run must run README's test command word for word"


def test_readme_links_exist():
    for target in re.findall(r"\]\(([^)#]+)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_readme_names_the_markers():
    text = README.read_text()
    for marker in ("slow", "gpu"):
        assert f"-m {marker}" in text
