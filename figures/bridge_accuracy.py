"""Bridge (b) — fixed ETF + dot-regression vs learnable classifier + CE on the rarest digits.

Yang et al. (NeurIPS 2022) report that a fixed simplex-ETF classifier trained with their
dot-regression loss improves long-tailed accuracy over a learnable classifier with CE. Here the
same MLP is trained on long-tailed digits (n_k = 100·ρ^(−k/9), ρ = 10 and 100; the test set
balanced) with either head, over several seeds (initialisation and subsample); the panel shows the
mean test accuracy on the 5 rarest classes, each seed as a small point and the mean ± one standard
deviation as a large marker with error bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import COLUMN, new_figure
from figures.solving import Progress, quiet
from lpm.bridge import experiments

__all__ = ["KEY", "TITLE", "compute", "draw"]

TITLE = "Long-tailed digits: minority-class test accuracy, fixed ETF + DR vs learnable + CE"
#: The key of this figure's data in ``lpm bridge``'s results.
KEY = "accuracy"

_STYLE = {
    "learnable-ce": ("o", "C0", "learnable W + CE"),
    "etf-dr": ("s", "C1", "fixed ETF + dot-regression"),
}


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Train both heads for each ρ and seed; final per-class test accuracy."""
    settings = experiments.QUICK if quick else experiments.FULL
    return experiments.dr_versus_ce(settings, progress)


def draw(data: dict[str, Any]) -> Figure:
    """Minority accuracy per ρ, the two heads side by side (marker shape tells them apart)."""
    fig = new_figure(COLUMN + 0.6, 2.8)
    ax = fig.subplots()
    rhos = data["rhos"]
    x = np.arange(len(rhos))
    for j, (head, per_rho) in enumerate(data["heads"].items()):
        marker, color, label = _STYLE.get(head, ("^", f"C{j}", head))
        shift = (j - 0.5) * 0.25
        means, stds = [], []
        for i, row in enumerate(per_rho):
            acc = np.asarray(row["minority_accuracy"])
            ax.plot(
                np.full(acc.size, x[i] + shift + 0.06),
                acc,
                marker,
                color="0.55",
                markersize=2.5,
                mfc="none",
                mew=0.5,
            )
            means.append(acc.mean())
            stds.append(acc.std())
        ax.errorbar(
            x + shift,
            means,
            yerr=stds,
            fmt=marker,
            color=color,
            mec="black",
            mew=0.5,
            capsize=3,
            markersize=6,
            label=label,
        )
        for i, m in enumerate(means):
            ax.annotate(
                f"{m:.3f}",
                (x[i] + shift, m),
                xytext=(-14, -12 if j else 6),
                textcoords="offset points",
                fontsize=6,
            )
    ax.set_xticks(x, [f"ρ = {r:g}" for r in rhos])
    ax.set_xlim(-0.6, len(rhos) - 0.4)
    ax.set_ylabel("test accuracy, 5 rarest classes")
    ax.legend(loc="lower left")
    n = len(data["seeds"])
    ax.set_title(
        f"Does fixed ETF + DR beat learnable + CE on rare digits?\n"
        f"mean ± std over {n} seed{'s' if n > 1 else ''} (small points: each seed)",
        fontsize=8,
    )
    return fig
