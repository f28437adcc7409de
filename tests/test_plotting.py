"""lpm.plotting: helpers that take an ax draw what they say, and untrusted points are never data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lpm.plotting import (
    NOT_CONVERGED_LABEL,
    NOT_CONVERGED_STYLE,
    gram_heatmap,
    not_converged_handle,
    numeric_points,
    panel_label,
    phase_map,
    theory_line,
    threshold_line,
)


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_theory_line_draws_the_values_given(ax):
    line = theory_line(ax, [1, 2, 3], [4, 5, 6], label="closed form")
    np.testing.assert_array_equal(line.get_ydata(), [4, 5, 6])
    assert line.get_label() == "closed form"


def test_mismatched_lengths_are_refused(ax):
    with pytest.raises(ValueError, match="same length"):
        theory_line(ax, [1, 2], [1, 2, 3])


def test_untrusted_points_are_red_crosses_labelled_once_per_axes(ax):
    x, y = [1.0, 2.0, 3.0, 4.0], [0.1, 0.2, 0.3, 0.4]
    good, bad = numeric_points(ax, x, y, [True, False, True, False], label="solver")
    np.testing.assert_array_equal(good.get_xdata(), [1.0, 3.0])
    np.testing.assert_array_equal(bad.get_xdata(), [2.0, 4.0])
    assert bad.get_marker() == NOT_CONVERGED_STYLE["marker"]
    assert bad.get_label() == NOT_CONVERGED_LABEL
    _, again = numeric_points(ax, x, y, [False] * 4)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels.count(NOT_CONVERGED_LABEL) == 1 and again.get_label() != NOT_CONVERGED_LABEL


def test_all_trusted_points_draw_no_cross(ax):
    artists = numeric_points(ax, [1, 2], [3, 4], [True, True])
    assert len(artists) == 1


def test_the_legend_handle_matches_the_drawn_cross():
    handle = not_converged_handle()
    assert handle.get_label() == NOT_CONVERGED_LABEL
    assert handle.get_marker() == NOT_CONVERGED_STYLE["marker"]


def test_threshold_line_is_vertical_or_horizontal(ax):
    v = threshold_line(ax, 2.5)
    h = threshold_line(ax, 0.5, axis="y")
    assert list(v.get_xdata()) == [2.5, 2.5] and list(h.get_ydata()) == [0.5, 0.5]
    with pytest.raises(ValueError, match="allowed: x, y"):
        threshold_line(ax, 1.0, axis="z")


def test_gram_heatmap_shows_the_normalised_matrix_on_a_symmetric_scale(ax):
    G = np.array([[2.0, -1.0], [-1.0, 2.0]])
    image = gram_heatmap(ax, G)
    shown = np.asarray(image.get_array())
    np.testing.assert_allclose(shown, G / 2.0)  # divided by the largest diagonal entry
    low, high = image.get_clim()
    assert low == pytest.approx(-high)
    assert len(ax.texts) == 4


def test_phase_map_flags_unconverged_cells(ax):
    x, y = np.array([1.0, 10.0, 100.0]), np.array([0.5, 1.0])
    Z = np.arange(6, dtype=float).reshape(2, 3)
    ok = np.ones((2, 3), dtype=bool)
    ok[1, 2] = False
    mesh = phase_map(ax, x, y, Z, converged=ok)
    assert np.asarray(mesh.get_array()).size == 6
    crosses = [line for line in ax.get_lines() if line.get_label() == NOT_CONVERGED_LABEL]
    assert len(crosses) == 1
    np.testing.assert_array_equal(crosses[0].get_xdata(), [100.0])


def test_panel_label_writes_in_the_corner(ax):
    panel_label(ax, "a")
    assert [t.get_text() for t in ax.texts] == ["a"] or "a" in ax.texts[0].get_text()
