"""Tests of the figures package: names, errors, and building figures end to end (quick grids).

The default run builds the cheapest figure into a temporary folder; the slow-marked test
builds all of them (``pytest -m slow tests/test_figures.py``, about two to three minutes on two
cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import figures
from lpm.plotting import (
    NOT_CONVERGED_LABEL,
    gram_heatmap,
    numeric_points,
    phase_map,
    theory_line,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_outputs(paths: list[Path], names: list[str], out: Path) -> None:
    assert [p.name for p in paths] == [f"{n}.{ext}" for n in names for ext in ("png", "pdf")]
    for path in paths:
        assert path.parent == out
        data = path.read_bytes()
        assert len(data) > 5_000, f"{path.name} is suspiciously small ({len(data)} bytes)"
        if path.suffix == ".png":
            assert data.startswith(PNG_MAGIC)
        else:
            assert data.startswith(b"%PDF-")
    for name in names:
        record = json.loads((out / f"{name}.json").read_text())
        assert record["meta"]["figure"] == name
        assert record["meta"]["quick"] is True


def test_figure_names_and_modules():
    assert len(figures.FIGURES) == 11
    assert len(set(figures.FIGURES)) == 11
    for name in figures.FIGURES:
        module = figures.module(name)
        assert callable(module.compute) and callable(module.draw)
        assert isinstance(module.TITLE, str) and module.TITLE
    assert figures.STYLE.is_file()


def test_unknown_name_is_a_one_line_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"unknown figure 'nope'; allowed: phase, gallery") as exc:
        figures.build(["classifiers", "nope"], out=tmp_path, quick=True)
    assert "\n" not in str(exc.value)
    assert not any(tmp_path.iterdir()), "nothing may be computed or written before the check"
    with pytest.raises(ValueError, match="list of figure names"):
        figures.build("classifiers", out=tmp_path, quick=True)


def test_build_cheap_figures_quick(tmp_path):
    lines: list[str] = []
    names = ["classifiers"]
    paths = figures.build(names, out=tmp_path / "out", quick=True, progress=lines.append)
    _check_outputs(paths, names, tmp_path / "out")
    assert any(line.startswith("classifiers: done") for line in lines)
    # the numbers behind the figure: every solve of the classifier figure is trusted, and the
    # fixed-ETF solves sit on the closed form's line
    data = json.loads((tmp_path / "out" / "classifiers.json").read_text())["data"]
    for block in data["numeric"].values():
        assert all(block["ok"])
    etf, theory = data["numeric"]["etf"], data["theory_etf"]
    for R, nc3 in zip(etf["R"], etf["nc3"]):
        i = int(np.argmin(np.abs(np.asarray(theory["R"]) - R)))
        if abs(theory["R"][i] - R) < 1e-12:
            assert abs(theory["nc3"][i] - nc3) < 1e-6


def test_numeric_points_flags_unconverged_points():
    ax = Figure().subplots()
    theory_line(ax, [1, 2, 3], [1.0, 2.0, 3.0], label="theory")
    arts = numeric_points(ax, [1, 2, 3], [1.0, 2.0, 3.5], [True, True, False], label="solver")
    assert len(arts) == 2
    good, bad = arts
    assert list(good.get_xdata()) == [1.0, 2.0]
    assert list(bad.get_xdata()) == [3.0]
    assert bad.get_label() == NOT_CONVERGED_LABEL
    assert bad.get_markerfacecolor() == "none"
    # a second unconverged series does not repeat the legend entry
    again = numeric_points(ax, [1], [1.0], [False])
    assert again[-1].get_label() != NOT_CONVERGED_LABEL
    with pytest.raises(ValueError, match="same length"):
        numeric_points(ax, [1, 2], [1.0], [True, True])


def test_gram_heatmap_and_phase_map_validate_shapes():
    ax = Figure().subplots()
    image = gram_heatmap(ax, np.diag([4.0, 2.0, 1.0]))
    assert np.allclose(np.diag(image.get_array()), [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="square"):
        gram_heatmap(ax, np.ones((2, 3)))
    ax = Figure().subplots()
    phase_map(ax, [1, 10, 100], [0.5, 1.0], np.zeros((2, 3)), converged=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="shape"):
        phase_map(ax, [1, 10, 100], [0.5, 1.0], np.zeros((3, 2)))


@pytest.mark.slow
def test_build_all_figures_quick(tmp_path):
    paths = figures.build(out=tmp_path, quick=True)
    _check_outputs(paths, list(figures.FIGURES), tmp_path)
    for name in figures.FIGURES:
        data = json.loads((tmp_path / f"{name}.json").read_text())["data"]
        assert data, name
