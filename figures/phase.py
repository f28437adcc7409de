"""Figure 1 — the minority-collapse phase diagram of the layer-peeled model.

Fang, He, Long, Su (PNAS 2021, docs/theory.md §1.5): with K_A majority classes of n_A samples and
K_B minority classes of n_B samples, the minority classifiers of the optimum merge as R = n_A/n_B
grows — in the limit R → ∞ by their theorem, and in practice beyond a finite threshold R₀ that
grows with the budgets.

Problem: CE, learnable classifier, K_A = K_B = 5, d = K = 10, E_W = E_H = E, class-average
feature budget, no bias.

* Colour: the minority separation D_w(R, E) = max over minority pairs ‖w_k − w_l‖², divided by
  its balanced value D_w(1, E) = 2K/(K − 1)·E (the ETF's), on a grid of R (log) and E; each cell
  is a certified solve of Fang et al.'s SDP (``method="convex"``, whose size does not depend on
  N, so any rational R is posed exactly as counts (m, …, m, q, …, q)).
* White circles and line: R₀(E) of :func:`lpm.threshold.minority_collapse_threshold` (the
  smallest R with D_w ≤ 10⁻⁶·E_W, by bisection on certified solves; ``lpm threshold``).

A cell whose solve did not converge or was not certified carries a hollow red ✕.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import COLUMN, new_figure
from figures.solving import Progress, convex_method, flags, quiet, solve_points, trusted
from lpm.plotting import NOT_CONVERGED_LABEL, NOT_CONVERGED_STYLE, phase_map
from lpm.problem import Problem
from lpm.threshold import COLLAPSE_RTOL, minority_collapse_threshold, minority_separation

__all__ = ["TITLE", "compute", "draw"]

TITLE = "Minority-collapse phase diagram of the layer-peeled model (K_A = K_B = 5)"

KA = KB = 5
K = KA + KB
LOG_R = (0.0, 3.0)
E_RANGE = (0.5, 4.0)
#: Largest denominator of the rational R = m/q posed as counts.
MAX_DENOMINATOR = 8


def _problem(R: float, E: float) -> Problem:
    ratio = Fraction(R).limit_denominator(MAX_DENOMINATOR)
    counts = (ratio.numerator,) * KA + (ratio.denominator,) * KB
    return Problem.from_counts(counts, dim=K, energy=(E, E))


def _grid_ratios(points: int) -> np.ndarray:
    """Log-spaced R, each rounded to a rational of denominator ≤ MAX_DENOMINATOR."""
    raw = np.logspace(*LOG_R, points)
    return np.unique([float(Fraction(r).limit_denominator(MAX_DENOMINATOR)) for r in raw])


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """The separation on an (R, E) grid and R₀(E) by bisection.

    Returns
    -------
    dict
        ``R`` (shape [m]), ``E`` (shape [p]), ``separation`` D_w/D_w(1) (shape [p, m]), ``ok``
        (shape [p, m]) and ``solves``; ``threshold``: ``E``, ``R0``, ``bracket`` and flags.
    """
    ratios = _grid_ratios(13 if quick else 31)
    energies = np.linspace(*E_RANGE, 8 if quick else 15)
    method = convex_method() or "auto"
    problems = [_problem(R, E) for E in energies for R in ratios]
    sols = solve_points(problems, label="phase: grid", progress=progress, method=method)
    balanced = 2 * K / (K - 1) * np.repeat(energies, len(ratios))
    separation = np.array([minority_separation(s, KB) for s in sols]) / balanced
    shape = (len(energies), len(ratios))

    curve_E = np.linspace(*E_RANGE, 6 if quick else 15)
    rtol = 1e-2 if quick else 1e-3
    results = []
    for i, E in enumerate(curve_E, 1):
        r = minority_collapse_threshold(KA, KB, (float(E), float(E)), rtol=rtol, method=method)
        results.append(r)
        progress(f"phase: threshold {i}/{len(curve_E)}: E = {E:.2f}, R0 = {r.threshold:.4g}")
    return {
        "R": ratios,
        "E": energies,
        "separation": separation.reshape(shape),
        "ok": np.array([trusted(s) for s in sols]).reshape(shape),
        "solves": [flags(s) for s in sols],
        "method": method,
        "collapse_rtol": COLLAPSE_RTOL,
        "threshold": {
            "E": curve_E,
            "R0": np.array([r.threshold for r in results]),
            "bracket": np.array([r.bracket for r in results]),
            "ok": np.array([r.converged and r.certified for r in results]),
            "evaluations": [r.evaluations for r in results],
            "rtol": rtol,
        },
        "KA": KA,
        "KB": KB,
    }


def draw(data: dict[str, Any]) -> Figure:
    """Colour map of D_w(R, E)/D_w(1, E) with R₀(E) on top."""
    fig = new_figure(COLUMN + 0.5, 2.9)
    ax = fig.subplots()
    mesh = phase_map(
        ax,
        data["R"],
        data["E"],
        data["separation"],
        converged=data["ok"],
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
        log_x=True,
    )
    th = data["threshold"]
    R0, E0, ok = np.asarray(th["R0"]), np.asarray(th["E"]), np.asarray(th["ok"], dtype=bool)
    inside = R0 <= max(data["R"]) * math.sqrt(data["R"][-1] / data["R"][-2])
    ax.plot(R0[inside], E0[inside], color="white", linewidth=2.4, zorder=3)
    ax.plot(R0[inside], E0[inside], color="black", linewidth=0.9, zorder=3)
    ax.plot(
        R0[inside & ok],
        E0[inside & ok],
        marker="o",
        markersize=4,
        markerfacecolor="white",
        markeredgecolor="black",
        linestyle="none",
        zorder=4,
        label=r"threshold $R_0(E)$ (lpm threshold)",
    )
    if (inside & ~ok).any():
        ax.plot(
            R0[inside & ~ok], E0[inside & ~ok], label=NOT_CONVERGED_LABEL, **NOT_CONVERGED_STYLE
        )
    ax.set_xlabel(r"imbalance ratio $R = n_A / n_B$")
    ax.set_ylabel(r"budget $E_W = E_H = E$")
    ax.text(
        0.97,
        0.22,
        "minority collapse\n" + r"($w_k = w_l$ for minority $k, l$)",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=6.5,
        color="white",
    )
    ax.text(0.03, 0.97, "separated", transform=ax.transAxes, ha="left", va="top", fontsize=6.5)
    ax.legend(
        loc="lower right",
        fontsize=6.5,
        frameon=True,
        framealpha=0.9,
        facecolor="white",
        edgecolor="none",
    )
    fig.colorbar(
        mesh,
        ax=ax,
        label=r"minority separation $D_w(R)/D_w(1)$",
        pad=0.02,
    )
    ax.set_title(
        rf"layer-peeled model, CE, $K_A = K_B = {data['KA']}$, $d = {data['KA'] + data['KB']}$",
        fontsize=8,
    )
    return fig
