"""Bridge (c) — do trained ReLU features become orthogonal across classes (Dang et al. 2024)?

The unconstrained-feature model with nonnegative (ReLU) features has orthogonal class means at
its optimum: max_{k≠l}|cos(h̄_k, h̄_l)| = 0 (Dang, Tran, Nguyen, Ho, ICML 2024). An MLP whose
features pass a ReLU is trained on long-tailed digits (ρ = 10) with CE and the model's penalties;
the same MLP without the final ReLU ("free features") is the control, whose model optimum has
nonzero cosines.

(a, b) max|cos| of the trained class means against epochs on digits and (full run) the Gaussian
mixture, trained four times longer than the other experiments; horizontal lines: each model's
certified optimum. (last) per-class norms ‖h̄_k‖ on digits at the end of training against n_k,
trained (filled) and optimum (open).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
    """Per data set, max|cos(h̄_k, h̄_l)| against epochs with the optima; then ‖h̄_k‖ against n_k
    on digits."""
    names = list(data["datasets"])
    fig = new_figure(PAGE, 2.7)
    axes = fig.subplots(1, len(names) + 1)
    for ax, name in zip(axes, names):
        for head, h in data["datasets"][name].items():
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
                f"optimum {h['model_max_abs_cos_m']:.2f}",
                (h["epochs"][-1], h["model_max_abs_cos_m"]),
                xytext=(-4, 3),
                textcoords="offset points",
                ha="right",
                fontsize=6,
                color=color,
            )
        ax.set_xlabel("epoch (full batch)")
        ax.set_ylabel(r"$\max_{k\neq l}|\cos(\bar h_k,\bar h_l)|$")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(name)
    handles, _ = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", linestyle=":", label="certified optimum"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3)
    ax_n = axes[-1]
    for head, h in data["datasets"][names[0]].items():
        marker, line, color, label = _STYLE[head]
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
    ax_n.set_xscale("log")
    ax_n.set_xlabel("class size $n_k$")
    ax_n.set_ylabel(r"class-mean norm $\|\bar h_k\|$")
    relu = data["datasets"][names[0]].get("relu-ce")
    if relu is not None:
        dead = [n for n, m in zip(relu["counts"], relu["m_norms"]) if m < 1e-8]
        if dead:
            ax_n.annotate(
                f"trained ReLU: {len(dead)} class{'es' if len(dead) > 1 else ''} dead "
                r"($\bar h_k = 0$)",
                (min(dead), 0.0),
                xytext=(8, 14),
                textcoords="offset points",
                fontsize=6,
                arrowprops={"arrowstyle": "->", "lw": 0.6},
            )
    ax_n.legend(loc="center", fontsize=6)
    ax_n.set_title(f"per-class norms, {names[0]}")
    fig.suptitle(
        "Long-tailed data (ρ = 10), CE with the model's penalties: "
        "do ReLU features become orthogonal across classes?",
        fontsize=8,
    )
    for a, tag in zip(axes, "abc"):
        panel_label(a, f"({tag})")
    return fig
