"""Bridge (d) — how close each trained last layer gets to its model's certified optimum, how fast.

Five heads (learnable + CE; fixed ETF + CE; fixed ETF + dot-regression; fixed random + CE; ReLU
features + CE) on long-tailed data (ρ = 10): digits and, in the full run, a Gaussian mixture. Top
row: the distance of the trained class-mean Gram M Mᵀ to the optimum's after the optimal
rescaling, min_{c≥0}‖G − cG*‖_F/‖G‖_F. Bottom row: the excess objective f − f* of the last layer in
the model's objective; the dotted line is the largest certified gap of the optima (the precision of
f*), so a curve above it is a real distance from the optimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, quiet
from lpm.bridge import experiments
from lpm.plotting import panel_label

__all__ = ["KEY", "TITLE", "compute", "draw"]

TITLE = "Distance of each trained last layer to its model's certified optimum over training"
#: The key of this figure's data in ``lpm bridge``'s results.
KEY = "distance"

_MARKERS = ("o", "s", "^", "D", "v")
_LINES = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5)))
_FLOOR = 1e-16


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Train every head; Gram distances and f − f* at each snapshot."""
    settings = experiments.QUICK if quick else experiments.FULL
    return experiments.distance_to_optimum(settings, progress)


def draw(data: dict[str, Any]) -> Figure:
    """One column per data set: Gram distance (top) and f − f* (bottom) against epochs."""
    names = list(data["datasets"])
    fig = new_figure(PAGE, 4.6)
    axes = np.asarray(fig.subplots(2, len(names), squeeze=False))
    for col, name in enumerate(names):
        heads = data["datasets"][name]
        ax_g, ax_f = axes[0, col], axes[1, col]
        gaps = []
        for i, (head, h) in enumerate(heads.items()):
            style = dict(
                linestyle=_LINES[i % 5],
                marker=_MARKERS[i % 5],
                color=f"C{i}",
                markersize=3,
                mec="black",
                mew=0.4,
                label=head,
            )
            dist = np.asarray(h["gram_distance"]["means"], dtype=float)
            ax_g.plot(h["epochs"], np.maximum(dist, _FLOOR), **style)
            excess = np.asarray([np.nan if v is None else v for v in h["objective_excess"]])
            ax_f.plot(h["epochs"], np.maximum(excess, _FLOOR), **style)
            gaps.append(abs(h["optimum_gap"] or 0.0))
        gap = max(max(gaps), _FLOOR)
        ax_f.axhline(gap, color="black", linestyle=":", lw=1)
        ax_f.annotate(
            f"largest certified gap of f* ({gap:.0e})",
            (0, gap),
            xytext=(2, 3),
            textcoords="offset points",
            fontsize=6,
        )
        ax_g.set_yscale("log")
        ax_f.set_yscale("log")
        ax_g.set_title(f"{name}, long-tailed ρ = 10")
        ax_g.set_ylabel(r"$\min_c\|G-cG^*\|/\|G\|$, $G = MM^\top$")
        ax_f.set_ylabel(r"$f(W,H) - f^*$ (model objective)")
        ax_f.set_xlabel("epoch (full batch)")
        panel_label(ax_g, f"({'abcd'[2 * col]})")
        panel_label(ax_f, f"({'abcd'[2 * col + 1]})")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(
        "How close does each trained last layer get to its model's certified optimum "
        "(0 = reached), and how fast?",
        fontsize=8,
    )
    return fig
