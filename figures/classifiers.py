"""Figure 6 — classifier choice against imbalance: learnable, fixed ETF, fixed random.

One layer-peeled model, only the classifier changes: CE, K_A = K_B = 2 (counts (R n_B, R n_B,
n_B, n_B)), d = K = 4, E_W = E_H = 1 and Fang et al.'s class-average feature budget for all three,
no bias. The classifier is

* learnable (Fang et al. 2021) — minority collapse: the minority w_k merge beyond R₀ ≈ 3.4;
* the fixed simplex ETF (Yang et al. 2022) — W cannot collapse, but under this budget the optimum
  gives the majority longer features (docs/theory.md §2.4); its closed form (KKT, a scalar root) is
  :func:`lpm.theory.fixed_etf_class_average`, drawn as lines;
* a fixed random classifier (Shalev et al. 2020): seeded Gaussian rows of norm sqrt(E_W)
  (``classifier_seed`` 0).

Measured on every optimum (:func:`lpm.geometry`, class-average global mean): NC2 of the centred
class means (distance of their normalised Gram to the ETF's), NC3 (misalignment of W and the
centred means), and the minority separations ‖w_3 − w_4‖² and ‖h̄_3 − h̄_4‖². Markers: converged
and certified solves (:func:`lpm.solve`); lines: the closed form, evaluated through the
``theory`` method so that the same geometry code measures both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, flags, quiet, solve_points, trusted
from lpm.geometry import geometry, pair_separation
from lpm.plotting import numeric_points, panel_label, theory_line
from lpm.problem import Problem
from lpm.solution import Solution

__all__ = ["CLASSIFIERS", "TITLE", "compute", "draw"]

TITLE = "Classifier choice against imbalance: NC2, NC3 and minority separation"

CLASSIFIERS = ("learnable", "etf", "random")
MINORITY = (2, 3)
#: R is rounded to a multiple of 1/N_MINORITY so that the counts are integers.
N_MINORITY = 4
LOG_R = (0.0, 2.0)


def _ratios(points: int) -> np.ndarray:
    raw = np.logspace(*LOG_R, points)
    return np.unique(np.round(raw * N_MINORITY) / N_MINORITY)


def _problem(classifier: str, R: float, n_minority: int = N_MINORITY) -> Problem:
    n_major = round(R * n_minority)
    return Problem.from_counts(
        (n_major, n_major, n_minority, n_minority),
        dim=4,
        classifier=classifier,
        energy=(1.0, 1.0),
    )


def _measures(sol: Solution) -> dict[str, float]:
    geo = geometry(sol)
    M = sol.means
    return {
        "nc2_m": geo.nc2_m,
        "nc3": geo.nc3,
        "sep_w": pair_separation(sol.W, MINORITY),
        "sep_m": pair_separation(M, MINORITY),
    }


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Solves on a log grid of R for each classifier; the fixed-ETF closed form on a dense grid.

    Returns
    -------
    dict
        ``numeric[classifier]``: ``R``, the four measures, ``ok`` and flags per point;
        ``theory_etf``: ``R`` and the four measures of the closed form.
    """
    ratios = _ratios(7 if quick else 17)
    numeric: dict[str, Any] = {}
    for classifier in CLASSIFIERS:
        problems = [_problem(classifier, R) for R in ratios]
        sols = solve_points(problems, label=f"classifiers: {classifier}", progress=progress)
        rows = [_measures(s) for s in sols]
        numeric[classifier] = {
            "R": ratios,
            **{k: np.array([r[k] for r in rows]) for k in rows[0]},
            "ok": np.array([trusted(s) for s in sols]),
            "solves": [flags(s) for s in sols],
        }
    # The closed form is exact at any rational R; n_B = 20 gives a fine grid of ratios.
    dense = np.unique(np.round(np.logspace(*LOG_R, 120) * 20) / 20)
    closed = solve_points(
        [_problem("etf", R, n_minority=20) for R in dense],
        label="classifiers: closed form",
        progress=progress,
        method="theory",
    )
    rows = [_measures(s) for s in closed]
    theory_etf = {"R": dense, **{k: np.array([r[k] for r in rows]) for k in rows[0]}}
    return {"numeric": numeric, "theory_etf": theory_etf, "minority": list(MINORITY)}


#: Drawn in this order, the learnable classifier last and smaller, so that where two
#: classifiers give the same value (R = 1) both markers stay visible.
_STYLE = {
    "random": {"color": "C2", "marker": "^", "label": "fixed random $W$", "markersize": 5},
    "etf": {"color": "C1", "marker": "s", "label": "fixed ETF", "markersize": 5},
    "learnable": {"color": "C0", "marker": "o", "label": "learnable $W$", "markersize": 3.5},
}


def draw(data: dict[str, Any]) -> Figure:
    """Four panels against R (log): NC2 of means, NC3, ‖w_3 − w_4‖², ‖h̄_3 − h̄_4‖²."""
    fig = new_figure(PAGE, 4.2)
    axes = fig.subplots(2, 2, sharex=True)
    a, b = (k + 1 for k in data["minority"])
    panels = (
        ("nc2_m", r"NC2 of class means (0 = ETF)"),
        ("nc3", r"NC3 (0 = $W \propto$ centred means)"),
        ("sep_w", rf"minority classifiers $\|w_{a} - w_{b}\|^2$"),
        ("sep_m", rf"minority means $\|\bar h_{a} - \bar h_{b}\|^2$"),
    )
    theory = data["theory_etf"]
    for ax, (key, ylabel) in zip(axes.flat, panels):
        theory_line(ax, theory["R"], theory[key], label="fixed ETF, closed form")
        for classifier, style in _STYLE.items():
            series = data["numeric"][classifier]
            numeric_points(ax, series["R"], series[key], series["ok"], **style)
        ax.set_xscale("log")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=-0.03 * ax.get_ylim()[1])
    for ax in axes[1]:
        ax.set_xlabel(r"imbalance ratio $R = n_A / n_B$")
    axes[0, 0].legend(loc="best")
    fig.suptitle(
        r"layer-peeled model, CE, $K_A = K_B = 2$, $d = 4$, $E_W = E_H = 1$, "
        "class-average feature budget",
        fontsize=8,
    )
    for ax, tag in zip(axes.flat, "abcd"):
        panel_label(ax, f"({tag})")
    return fig
