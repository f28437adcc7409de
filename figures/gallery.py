"""Figure 2 — geometry gallery: what imbalance does to the classifier and the class means.

Five models of the family, each solved at R = 1 (n = (10, 10, 10, 10)) and R = 10
(n = (100, 100, 10, 10)), K = 4, d = 2K = 8, no bias:

1. learnable layer-peeled model (Fang et al. 2021): CE, E_W = E_H = 1, class-average budget;
2. fixed simplex ETF (Yang et al. 2022): CE, E_W = E_H = 1, per-sample budget;
3. ReLU unconstrained features (Dang et al. 2024): CE, λ_W = λ_H = 10⁻³, H ≥ 0;
4. SELI (Thrampoulidis et al. 2022): CE without regularisation — the max-margin (UF-SVM) point,
   whose direction gradient descent approaches (solved by the convex method when registered,
   else by the closed form, and labelled so);
5. MSE unconstrained features (docs/theory.md §5.2): λ_W = λ_H = 10⁻³.

Each panel is a Gram matrix of the numerical optimum — W Wᵀ (the classifier) or M Mᵀ (the
uncentred class means) — divided by its largest diagonal entry and annotated, so that shapes
compare across models of different scales. Under each panel: the largest entry-wise distance of
that normalised Gram to the closed form, where a theorem gives one ("no closed form" otherwise).
A solve that did not converge, or whose certificate leaves a gap, is crossed out in red.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, convex_method, flags, quiet, solve_points
from lpm import theory
from lpm.plotting import NOT_CONVERGED_STYLE, gram_heatmap
from lpm.problem import Problem

__all__ = ["MODELS", "TITLE", "compute", "draw"]

TITLE = "Geometry gallery: Gram matrices of W and of the class means, R = 1 and R = 10"

K = 4
#: d = 2K: at d = K the ReLU model has non-global stationary points that trap most random
#: starts (measured: 1 of 16 starts reached the optimum at d = 4, 3 of 4 at d = 8).
DIM = 2 * K
N_MINORITY = 10
RATIOS = (1, 10)
LAMBDA = 1e-3

#: (key, row title, problem keywords); the SELI row's method is chosen at run time.
MODELS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "learnable",
        "learnable LPM\nCE, $E_W=E_H=1$",
        {"energy": (1.0, 1.0)},
    ),
    (
        "etf",
        "fixed ETF\nCE, $E_W=E_H=1$, per sample",
        {"classifier": "etf", "energy": (1.0, 1.0), "budget": "per-sample"},
    ),
    (
        "relu",
        "ReLU features\nCE, $\\lambda=10^{-3}$",
        {"features": "relu", "decay": (LAMBDA, LAMBDA)},
    ),
    ("seli", "SELI\nCE, no regularisation", {}),
    ("mse", "MSE\n$\\lambda=10^{-3}$, no bias", {"loss": "mse", "decay": (LAMBDA, LAMBDA)}),
)


def _normalised(G: np.ndarray) -> np.ndarray:
    top = float(np.max(np.abs(np.diag(G))))
    return G / top if top > 0 else G


def _theory_distance(problem: Problem, W_gram: np.ndarray, M_gram: np.ndarray) -> list:
    """Largest |entry| distance of the normalised Grams to the closed form (None without one)."""
    try:
        pred = theory.predict(problem)
    except ValueError:
        return [None, None]
    if pred.kind == "lower_bound":
        return [None, None]
    return [
        float(np.max(np.abs(_normalised(G) - _normalised(P))))
        for G, P in ((W_gram, pred.w_gram), (M_gram, pred.m_gram))
    ]


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Solve the ten problems (quick and full are the same: ten small solves).

    Returns
    -------
    dict
        ``rows``: per model its ``title``, and per ratio the Grams ``w_gram``, ``m_gram``, the
        theory distances and the solve's flags.
    """
    rows = []
    svm = convex_method() or "theory"
    for key, title, kwargs in MODELS:
        problems = [
            Problem.from_counts((N_MINORITY * R,) * 2 + (N_MINORITY,) * 2, dim=DIM, **kwargs)
            for R in RATIOS
        ]
        method = svm if key == "seli" else "auto"
        sols = solve_points(problems, label=f"gallery: {key}", progress=progress, method=method)
        row: dict[str, Any] = {"key": key, "title": title, "method": method, "panels": []}
        for R, sol in zip(RATIOS, sols):
            W_gram = sol.W @ sol.W.T
            M = sol.means
            M_gram = M @ M.T
            row["panels"].append(
                {
                    "R": R,
                    "counts": list(sol.problem.counts),
                    "w_gram": W_gram,
                    "m_gram": M_gram,
                    "theory_distance": _theory_distance(sol.problem, W_gram, M_gram),
                    **flags(sol),
                }
            )
        rows.append(row)
    return {"rows": rows, "ratios": list(RATIOS)}


def _caption(distance: float | None) -> str:
    if distance is None:
        return "no closed form"
    return f"theory: Δ = {distance:.0e}" if distance >= 1e-12 else "theory: Δ < 1e-12"


def draw(data: dict[str, Any]) -> Figure:
    """Rows: models; columns: W Wᵀ and M Mᵀ at R = 1, then at R = 10."""
    rows = data["rows"]
    fig = new_figure(PAGE, 1.55 * len(rows) + 0.5)
    grid = fig.add_gridspec(len(rows), 4)
    image = None
    for i, row in enumerate(rows):
        for j, panel in enumerate(row["panels"]):
            for m, (key, symbol) in enumerate((("w_gram", r"$WW^\top$"), ("m_gram", r"$MM^\top$"))):
                ax = fig.add_subplot(grid[i, 2 * j + m])
                image = gram_heatmap(ax, panel[key], fontsize=5.5)
                if i == 0:
                    ax.set_title(f"{symbol}, $R$ = {panel['R']}")
                ax.set_xlabel(_caption(panel["theory_distance"][m]), fontsize=6, labelpad=1)
                if not panel["ok"]:
                    cross = {**NOT_CONVERGED_STYLE, "markersize": 30}
                    ax.plot([0.5], [0.5], transform=ax.transAxes, **cross)
                    why = "not certified" if panel["converged"] else panel["status"]
                    ax.set_xlabel(
                        f"not converged or not certified ({why})",
                        color="#d62728",
                        fontsize=6,
                        labelpad=1,
                    )
                if 2 * j + m == 0:
                    label = row["title"]
                    if row["key"] == "seli":
                        label += f"\n(method: {row['method']})"
                    ax.set_ylabel(label, fontsize=7)
    fig.suptitle(
        rf"$K$ = {K}, $d$ = {DIM}: classes 1–2 majority ($n$ = {N_MINORITY}$R$), "
        rf"3–4 minority ($n$ = {N_MINORITY}); each Gram divided by its largest diagonal entry",
        fontsize=8,
    )
    fig.colorbar(
        image,
        ax=fig.axes,
        shrink=0.35,
        aspect=25,
        label="Gram entry / largest diagonal entry",
    )
    return fig
