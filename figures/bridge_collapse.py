"""Bridge (a) — minority collapse of a trained learnable classifier against the model's optimum.

Fang et al. (PNAS 2021): in the layer-peeled model the minority classifiers of every optimum merge
once the imbalance ratio R exceeds a threshold R₀. Here an MLP is trained on scikit-learn's digits
under a step imbalance (5 classes of 100 training samples, 5 of 100/R), full batch, with CE, weight
decay λ_W on the classifier and the explicit feature penalty λ_H (the regularised model's
objective exactly); its minority separation D_w/E_W = max_{k<l minority}‖w_k − w_l‖²/((1/K)Σ‖w_k‖²)
is drawn against the certified optimum of the same model at the same counts and λ.

(a) D_w/E_W after training against R; the shaded band is the model's R₀ bracket.
(b) the trained D_w/E_W against epochs, one line per R; the model's values on the right axis edge.
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

TITLE = "Minority collapse: trained learnable classifier vs the model's certified optimum"
#: The key of this figure's data in ``lpm bridge``'s results.
KEY = "collapse"

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_LINES = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)))


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Train one net per R and solve the model at the same counts (certified)."""
    settings = experiments.QUICK if quick else experiments.FULL
    return experiments.minority_collapse(settings, progress)


def draw(data: dict[str, Any]) -> Figure:
    """(a) D_w/E_W against R, trained (filled, dashed) and optimum (open, solid); (b) training."""
    fig = new_figure(PAGE, 2.7)
    ax, ax_t = fig.subplots(1, 2)
    rows = data["rows"]
    R = np.array([r["R"] for r in rows])
    net = np.array([r["network_separation"] for r in rows])
    model = np.array([r["model_separation"] for r in rows])
    lo, hi = (np.nan if v is None else v for v in data["R0_bracket"])
    if np.isfinite(lo) and np.isfinite(hi):
        ax.axvspan(
            lo, hi, facecolor="0.85", hatch="///", edgecolor="0.6", lw=0, label="model $R_0$"
        )
    ax.plot(
        R, model, "-o", color="black", mfc="white", markersize=9, label="certified optimum (model)"
    )
    ax.plot(R, net, "--s", color="C1", mec="black", mew=0.5, markersize=4, label="trained network")
    ax.set_xscale("log")
    ax.set_xticks(R, [f"{r:g}" for r in R])
    ax.minorticks_off()
    ax.set_xlabel("imbalance ratio $R = n_A/n_B$")
    ax.set_ylabel(r"minority separation $D_w/E_W$")
    ax.set_ylim(bottom=-0.05 * max(net.max(), model.max()))
    ax.legend(loc="upper right")
    ax.set_title("after training: does $D_w$ vanish beyond $R_0$?")
    for i, r in enumerate(rows):
        epochs, sep = zip(*r["network_trajectory"])
        ax_t.plot(
            epochs,
            sep,
            linestyle=_LINES[i % 7],
            marker=_MARKERS[i % 7],
            color=f"C{i}",
            markersize=3,
            label=f"R = {r['R']:g}",
        )
        ax_t.plot(
            [epochs[-1] * 1.04],
            [r["model_separation"]],
            marker=_MARKERS[i % 7],
            color=f"C{i}",
            mfc="white",
            clip_on=False,
            markersize=5,
        )
    handles, _ = ax_t.get_legend_handles_labels()
    handles.append(
        Line2D(
            [], [], marker="o", color="black", mfc="white", ls="none", label="optimum (right edge)"
        )
    )
    ax_t.legend(handles=handles, loc="upper right", ncols=2)
    ax_t.set_xlabel("epoch (full batch)")
    ax_t.set_ylabel(r"trained $D_w/E_W$")
    ax_t.set_title("during training")
    lam = data["lambda"]
    fig.suptitle(
        f"Digits, {data['counts_rule']}; MLP + learnable classifier, CE, "
        rf"$\lambda_W$ = {lam[0]:g}, $\lambda_H$ = {lam[1]:g}; model $R_0$ in ({lo:.3g}, {hi:.3g}]",
        fontsize=8,
    )
    for a, tag in zip((ax, ax_t), "ab"):
        panel_label(a, f"({tag})")
    return fig
