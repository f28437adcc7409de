"""Figure 7 — collapse to zero under weight decay: norms against λ, with the closed-form thresholds.

Two regularised unconstrained-feature models, λ_W = λ_H = λ, no bias, d = K = 4:

* CE, balanced (n = 25 per class) — Zhu et al. (NeurIPS 2021, docs/theory.md §5.1): the optimum is a
  scaled simplex ETF with ‖w_k‖² = ρ(λ) and h̄_k = sqrt(λ_W/(λ_H n)) w_k, and W = H = 0 once
  λ_Wλ_H ≥ 1/(n K²) (:func:`lpm.theory.zhu_collapse_threshold`);
* MSE, n = (100, 100, 10, 10) — docs/theory.md §5.2: z_k = (sqrt(n_k) − N sqrt(λ_Wλ_H))_+, class k
  dies once λ_Wλ_H ≥ n_k/N² (:func:`lpm.theory.mse_collapse_threshold`): the minority first.

Lines: :func:`lpm.theory.zhu_regularised_ce` and :func:`lpm.theory.mse_ufm` on a dense λ grid.
Markers: ‖w_k‖ and ‖h̄_k‖ of :func:`lpm.solve` (projected gradient on per-sample features, from a
random start: neither the collapse nor the ETF is assumed). Near a threshold the optimum is
degenerate and the gradient method slows; a point that did not converge is a red ✕.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, flags, quiet, solve_points, trusted
from lpm import theory
from lpm.plotting import numeric_points, panel_label, theory_line, threshold_line
from lpm.problem import Problem

__all__ = ["TITLE", "compute", "draw"]

TITLE = "Collapse to zero under weight decay: CE (balanced) and MSE (imbalanced)"

#: Range of λ = λ_W = λ_H, log10, covering every threshold of both models.
LOG_LAMBDA = (-3.0, -1.0)
K = 4
N_BALANCED = 25
COUNTS_MSE = (100, 100, 10, 10)


def _problems(lams: np.ndarray) -> tuple[list[Problem], list[Problem]]:
    ce = [Problem.balanced(K, N_BALANCED, dim=K, decay=(lam, lam)) for lam in lams]
    mse = [Problem.from_counts(COUNTS_MSE, dim=K, loss="mse", decay=(lam, lam)) for lam in lams]
    return ce, mse


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Closed forms on a dense λ grid and solves on a coarse one.

    Returns
    -------
    dict
        ``theory`` and ``numeric`` blocks per model (``ce``, ``mse``) with ``lam``, ``w_norms``
        and ``m_norms`` (shape [points, K]); ``numeric`` adds ``ok``
        (:func:`figures.solving.trusted`) and each solve's flags; ``thresholds`` the λ at which
        classes die.
    """
    dense = np.logspace(*LOG_LAMBDA, 241)
    coarse = np.logspace(*LOG_LAMBDA, 9 if quick else 21)
    data: dict[str, Any] = {"counts": {"ce": [N_BALANCED] * K, "mse": list(COUNTS_MSE)}}
    ce_dense, mse_dense = _problems(dense)
    ce_grid, mse_grid = _problems(coarse)
    for key, dense_problems, grid, predict in (
        ("ce", ce_dense, ce_grid, theory.zhu_regularised_ce),
        ("mse", mse_dense, mse_grid, theory.mse_ufm),
    ):
        preds = [predict(p) for p in dense_problems]
        data[key] = {
            "theory": {
                "lam": dense,
                "w_norms": np.array([pr.w_norms for pr in preds]),
                "m_norms": np.array([pr.m_norms for pr in preds]),
            }
        }
        sols = solve_points(grid, label=f"decay: {key}", progress=progress)
        data[key]["numeric"] = {
            "lam": coarse,
            "w_norms": np.array([np.linalg.norm(s.W, axis=1) for s in sols]),
            "m_norms": np.array([np.linalg.norm(s.means, axis=1) for s in sols]),
            "ok": np.array([trusted(s) for s in sols]),
            "solves": [flags(s) for s in sols],
        }
    data["thresholds"] = {
        "ce": math.sqrt(theory.zhu_collapse_threshold(N_BALANCED, K)),
        "mse": [math.sqrt(t) for t in theory.mse_collapse_threshold(COUNTS_MSE)],
    }
    return data


def draw(data: dict[str, Any]) -> Figure:
    """Two columns (CE balanced, MSE imbalanced) × two rows (‖w_k‖, ‖h̄_k‖) against λ."""
    fig = new_figure(PAGE, 4.0)
    axes = fig.subplots(2, 2, sharex=True)
    ce, mse = data["ce"], data["mse"]
    majority = [k for k, n in enumerate(data["counts"]["mse"]) if n == max(data["counts"]["mse"])]
    minority = [k for k in range(len(data["counts"]["mse"])) if k not in majority]
    for row, key, ylabel in (
        (0, "w_norms", r"classifier norm $\|w_k\|$"),
        (1, "m_norms", r"class-mean norm $\|\bar h_k\|$"),
    ):
        ax = axes[row, 0]
        theory_line(ax, ce["theory"]["lam"], ce["theory"][key][:, 0], label="theory (Zhu et al.)")
        for k in range(ce["numeric"][key].shape[1]):
            numeric_points(
                ax,
                ce["numeric"]["lam"],
                ce["numeric"][key][:, k],
                ce["numeric"]["ok"],
                label="solver, every class" if k == 0 else None,
                color="C0",
            )
        threshold_line(ax, data["thresholds"]["ce"], label=r"threshold $\lambda^*$")
        ax.set_ylabel(ylabel)
        ax = axes[row, 1]
        for group, color, marker, name, thr in (
            (majority, "C1", "s", "majority", max(data["thresholds"]["mse"])),
            (minority, "C2", "^", "minority", min(data["thresholds"]["mse"])),
        ):
            k0 = group[0]
            theory_line(
                ax,
                mse["theory"]["lam"],
                mse["theory"][key][:, k0],
                color="black",
                linestyle="-" if name == "majority" else "--",
                label=f"theory, {name}",
            )
            for k in group:
                numeric_points(
                    ax,
                    mse["numeric"]["lam"],
                    mse["numeric"][key][:, k],
                    mse["numeric"]["ok"],
                    label=f"solver, {name} ($n_k$={data['counts']['mse'][k0]})"
                    if k == k0
                    else None,
                    color=color,
                    marker=marker,
                )
            threshold_line(ax, thr, color=color, label=rf"$\lambda^*$ {name}")
        ax.set_ylabel(ylabel)
    n = data["counts"]["ce"][0]
    axes[0, 0].set_title(f"CE, balanced ($K$={len(data['counts']['ce'])}, $n$={n})")
    counts = ", ".join(str(c) for c in data["counts"]["mse"])
    axes[0, 1].set_title(f"MSE, no bias, $n$ = ({counts})")
    for ax in axes[1]:
        ax.set_xlabel(r"weight decay $\lambda_W = \lambda_H = \lambda$")
    for ax in axes.flat:
        ax.set_xscale("log")
        ax.set_ylim(bottom=-0.03 * ax.get_ylim()[1])
    axes[0, 0].legend(loc="upper right")
    axes[0, 1].legend(loc="lower left", ncols=2, fontsize=6.5)
    for ax, tag in zip(axes.flat, "abcd"):
        panel_label(ax, f"({tag})")
    return fig
