"""Bridge (c) — do trained ReLU features become orthogonal across classes (Dang et al. 2024)?

The unconstrained-feature model with nonnegative (ReLU) features has orthogonal class means at
its optimum: max_{k≠l}|cos(h̄_k, h̄_l)| = 0 (Dang, Tran, Nguyen, Ho, ICML 2024). An MLP whose
features pass a ReLU is trained on long-tailed digits (ρ = 10) with CE and the model's penalties;
the same MLP without the final ReLU ("free features") is the control, whose model optimum has
nonzero cosines.

(a) max|cos| of the trained class means against epochs; horizontal lines: each model's certified
optimum. (b) per-class norms ‖h̄_k‖ at the end of training against n_k, trained (filled) and
optimum (open).
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

TITLE = "ReLU features: cross-class orthogonality of class means over training"
#: The key of this figure's data in ``lpm bridge``'s results.
KEY = "relu"

_STYLE = {
    "relu-ce": ("o", "-", "C0", "ReLU features"),
    "learnable-ce": ("s", "--", "C1", "free features (control)"),
}


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Train both nets on long-tailed digits; the certified optimum of each model."""
    settings = experiments.QUICK if quick else experiments.FULL
    return experiments.relu_orthogonality(settings, progress)


def draw(data: dict[str, Any]) -> Figure:
    """(a) max|cos(h̄_k, h̄_l)| against epochs with the optima; (b) ‖h̄_k‖ against n_k."""
    fig = new_figure(PAGE, 2.7)
    ax, ax_n = fig.subplots(1, 2)
    for head, h in data["heads"].items():
        marker, line, color, label = _STYLE[head]
        ax.plot(
            h["epochs"],
            h["max_abs_cos_m"],
            linestyle=line,
            marker=marker,
            color=color,
            markersize=3,
            mec="black",
            mew=0.4,
            label=f"{label}: trained",
        )
        ax.axhline(h["model_max_abs_cos_m"], color=color, linestyle=":", lw=1.2)
        ax.annotate(
            f"{label}: optimum {h['model_max_abs_cos_m']:.2f}",
            (h["epochs"][-1], h["model_max_abs_cos_m"]),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=6,
            color=color,
        )
        counts = np.asarray(h["counts"])
        ax_n.plot(
            counts,
            h["m_norms"],
            marker,
            color=color,
            mec="black",
            mew=0.4,
            label=f"{label}: trained",
        )
        ax_n.plot(
            counts,
            h["model_m_norms"],
            marker,
            color=color,
            mfc="white",
            markersize=7,
            ls="none",
            label=f"{label}: optimum",
        )
    ax.set_xlabel("epoch (full batch)")
    ax.set_ylabel(r"$\max_{k\neq l}|\cos(\bar h_k,\bar h_l)|$")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="upper right")
    ax.set_title("trained (lines) vs certified optimum (dotted)")
    ax_n.set_xscale("log")
    ax_n.set_xlabel("class size $n_k$")
    ax_n.set_ylabel(r"class-mean norm $\|\bar h_k\|$")
    ax_n.legend(loc="best")
    ax_n.set_title("per-class norms after training")
    fig.suptitle(
        "Long-tailed digits (ρ = 10), CE with the model's penalties: "
        "do ReLU features become orthogonal?",
        fontsize=8,
    )
    for a, tag in zip((ax, ax_n), "ab"):
        panel_label(a, f"({tag})")
    return fig
