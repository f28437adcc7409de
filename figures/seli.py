"""Figure 5 — SELI and the vanishing-regularisation limit.

Thrampoulidis, Kini, Vakilian, Behnia (NeurIPS 2022; docs/theory.md §4): without regularisation the
direction of the CE iterates approaches the UF-SVM solution, whose geometry (SELI) is
W Wᵀ = (P_K D P_K)^{1/2} for D = diag(n) — not an ETF under imbalance, and without minority
collapse at any finite R. With weight decay λ_W = λ_H = λ the optimum is unique and its shape
depends on λ; it should approach SELI as λ → 0.

Problem: step imbalance K_A = K_B = 2, counts (R n_B, R n_B, n_B, n_B) with n_B = 10, d = K = 4,
CE, no bias, free features.

* Lines: SELI's ratios of :func:`lpm.theory.seli_ratios` (continuous in R).
* Markers: the regularised optimum for several λ (:func:`lpm.solve`, converged and certified),
  and the UF-SVM solved as a convex program (``method="convex"``, λ = 0).
* Panel (d): distance between the normalised classifier Grams,
  ‖W Wᵀ/‖W Wᵀ‖_F − G_SELI/‖G_SELI‖_F‖_F, against λ — how the regularised optimum approaches SELI.

A regularised optimum whose minority classes are exactly 0 (strong λ at large R: collapse to
zero, figure 7) has no norm ratio: it is drawn as an upward arrow at the top of panels (a)–(b).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, convex_method, flags, quiet, solve_points, trusted
from lpm import theory
from lpm.plotting import numeric_points, panel_label, theory_line
from lpm.problem import Problem
from lpm.solution import Solution

__all__ = ["TITLE", "compute", "draw"]

TITLE = "SELI and the vanishing-regularisation limit"

KA = KB = 2
N_MINORITY = 10
#: A minority norm below this fraction of the majority norm is a zero of the optimum: a solve
#: converged to residual 1e-10 leaves the features of a class whose optimum is 0 at ~1e-7 of the
#: scale (measured: 1e-7 at R = 100, λ = 1e-2), far below any norm the ratios resolve.
ZERO_NORM = 1e-5


def _problem(R: int, lam: float | None) -> Problem:
    counts = (N_MINORITY * R,) * KA + (N_MINORITY,) * KB
    if lam is None:
        return Problem.from_counts(counts, dim=KA + KB)
    return Problem.from_counts(counts, dim=KA + KB, decay=(lam, lam))


def _shape(sol: Solution, seli_gram: np.ndarray) -> dict[str, Any]:
    G = sol.W @ sol.W.T
    M = sol.means
    w = np.sqrt(np.diag(G))
    m = np.linalg.norm(M, axis=1)
    maj, mino = 0, KA
    h_zero = bool(m[mino] <= ZERO_NORM * m[maj])
    w_zero = bool(w[mino] <= ZERO_NORM * w[maj])
    target = seli_gram / np.linalg.norm(seli_gram)
    return {
        # None where the minority vector is 0: the ratio is infinite, the cosine undefined
        "w_ratio": None if w_zero else w[maj] / w[mino],
        "h_ratio": None if h_zero else m[maj] / m[mino],
        "cos_w_minority": None if w_zero else G[mino, mino + 1] / (w[mino] * w[mino + 1]),
        "w_ratio_zero": w_zero,
        "h_ratio_zero": h_zero,
        "cos_w_minority_zero": w_zero,
        "distance": float(np.linalg.norm(G / np.linalg.norm(G) - target)),
        "ok": trusted(sol),
        **flags(sol),
    }


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """SELI curves; regularised solves on an (R, λ) grid; the UF-SVM; distances against λ.

    Returns
    -------
    dict
        ``theory``: R and SELI's ratios; ``numeric``: per λ (and ``"svm"``) the R grid and the
        measured ratios, ``ok`` and flags; ``approach``: per R, λ and the Gram distances.
    """
    ratios = (1, 3, 10, 30) if quick else (1, 2, 3, 5, 10, 20, 30, 50, 100)
    lams = (1e-2, 1e-3, 1e-4) if quick else (1e-2, 1e-3, 1e-4, 1e-5)
    approach_R = (10,) if quick else (3, 10, 30)
    approach_lams = (
        (1e-1, 1e-2, 1e-3, 1e-4, 1e-5) if quick else tuple(10.0**-k for k in range(1, 7))
    )

    dense = np.logspace(0, math.log10(max(ratios)), 150)
    seli_rows = [theory.seli_ratios(KA, KB, float(R)) for R in dense]
    data: dict[str, Any] = {
        "theory": {
            "R": dense,
            **{k: np.array([row[k] for row in seli_rows]) for k in seli_rows[0]},
        },
        "counts_minority": N_MINORITY,
    }
    seli_grams = {R: theory.seli(_problem(R, None)).w_gram for R in set(ratios) | set(approach_R)}

    wanted = {(R, lam) for R in ratios for lam in lams}
    wanted |= {(R, lam) for R in approach_R for lam in approach_lams}
    keys = sorted(wanted, key=lambda key: (key[0], -key[1]))
    sols = solve_points(
        [_problem(R, lam) for R, lam in keys], label="seli: regularised", progress=progress
    )
    shapes = {key: _shape(sol, seli_grams[key[0]]) for key, sol in zip(keys, sols)}

    svm_method = convex_method() or "theory"
    svm_sols = solve_points(
        [_problem(R, None) for R in ratios],
        label="seli: UF-SVM",
        progress=progress,
        method=svm_method,
    )
    numeric: dict[str, Any] = {}
    for lam in lams:
        rows = [shapes[(R, lam)] for R in ratios]
        numeric[f"{lam:g}"] = {"lam": lam, "R": list(ratios), "rows": rows}
    numeric["svm"] = {
        "lam": 0.0,
        "method": svm_method,
        "R": list(ratios),
        "rows": [_shape(sol, seli_grams[R]) for R, sol in zip(ratios, svm_sols)],
    }
    data["numeric"] = numeric
    data["approach"] = {
        str(R): {"lam": list(approach_lams), "rows": [shapes[(R, lam)] for lam in approach_lams]}
        for R in approach_R
    }
    return data


_MARKERS = ("o", "s", "^", "v", "D")
_GREYS = ("0.0", "0.45", "0.8")


def draw(data: dict[str, Any]) -> Figure:
    """(a) ‖w_maj‖/‖w_min‖, (b) ‖h̄_maj‖/‖h̄_min‖, (c) cos(w_min, w_min') against R;
    (d) distance to SELI against λ."""
    fig = new_figure(PAGE, 4.3)
    axes = fig.subplots(2, 2)
    ax_w, ax_h, ax_c, ax_d = axes.flat
    th = data["theory"]
    panels = (
        (ax_w, "w_ratio", "w_norm_ratio", r"$\|w_{\rm maj}\| / \|w_{\rm min}\|$"),
        (ax_h, "h_ratio", "h_norm_ratio", r"$\|\bar h_{\rm maj}\| / \|\bar h_{\rm min}\|$"),
        (ax_c, "cos_w_minority", "cos_w_minority", r"$\cos(w_3, w_4)$ (minority pair)"),
    )
    series = [k for k in data["numeric"] if k != "svm"]
    for ax, key, theory_key, ylabel in panels:
        theory_line(ax, th["R"], th[theory_key], label="SELI (theory, $\\lambda = 0$)")
        for i, name in enumerate(series):
            block = data["numeric"][name]
            _draw_series(
                ax,
                block,
                key,
                color=f"C{i}",
                marker=_MARKERS[i % 5],
                label=rf"regularised, $\lambda$ = {block['lam']:g}",
            )
        svm = data["numeric"]["svm"]
        _draw_series(
            ax, svm, key, color="black", marker="D", filled=False, label=f"UF-SVM ({svm['method']})"
        )
        ax.set_xscale("log")
        ax.set_xlabel(r"imbalance ratio $R = n_A / n_B$")
        ax.set_ylabel(ylabel)
    ax_w.legend(loc="upper left", fontsize=6.5)
    if any(line.get_label().startswith("undefined") for line in ax_c.get_lines()):
        ax_c.legend(
            handles=[line for line in ax_c.get_lines() if line.get_label().startswith("undef")],
            loc="upper left",
            fontsize=6.5,
        )
    for j, (R, block) in enumerate(data["approach"].items()):
        lam = np.asarray(block["lam"])
        dist = np.array([row["distance"] for row in block["rows"]])
        ok = np.array([row["ok"] for row in block["rows"]])
        numeric_points(
            ax_d, lam, dist, ok, color=_GREYS[j % 3], marker=_MARKERS[j % 5], label=f"$R$ = {R}"
        )
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.invert_xaxis()
    ax_d.set_xlabel(r"weight decay $\lambda_W = \lambda_H = \lambda$ (decreasing →)")
    ax_d.set_ylabel(r"$\| WW^\top/\|WW^\top\|_F - G_{\rm SELI}/\|G_{\rm SELI}\|_F \|_F$")
    ax_d.legend(loc="lower left", title="regularised optimum", fontsize=6.5)
    svm_rows = data["numeric"]["svm"]["rows"]
    worst = max(row["distance"] for row in svm_rows)
    ax_d.text(
        0.97,
        0.95,
        f"UF-SVM ($\\lambda$ = 0, {data['numeric']['svm']['method']}): distance ≤ {worst:.0e}",
        transform=ax_d.transAxes,
        ha="right",
        va="top",
        fontsize=6.5,
    )
    fig.suptitle(
        rf"CE, no bias, $K_A = K_B = {KA}$, counts $(R n_B, R n_B, n_B, n_B)$, "
        rf"$n_B$ = {data['counts_minority']}, $d = 4$",
        fontsize=8,
    )
    for ax, tag in zip(axes.flat, "abcd"):
        panel_label(ax, f"({tag})")
    return fig


def _draw_series(
    ax, block: dict[str, Any], key: str, *, color: str, marker: str, label: str, filled: bool = True
) -> None:
    """Markers for values; where the minority vector is 0, an upward arrow at the top (a ratio,
    infinite) or a question mark at the bottom (a cosine, undefined)."""
    R = np.asarray(block["R"], dtype=float)
    values = np.array(
        [np.nan if row[key] is None else row[key] for row in block["rows"]], dtype=float
    )
    ok = np.array([row["ok"] for row in block["rows"]])
    zero = np.array([row[f"{key}_zero"] for row in block["rows"]], dtype=bool)
    finite = ~zero
    numeric_points(
        ax,
        R[finite],
        values[finite],
        ok[finite],
        color=color,
        marker=marker,
        label=label,
        filled=filled,
    )
    infinite = zero & (key != "cos_w_minority")
    if infinite.any():
        label_inf = "minority features 0 (ratio ∞)"
        seen = any(line.get_label() == label_inf for line in ax.get_lines())
        ax.plot(
            R[infinite],
            np.full(infinite.sum(), 0.97),
            transform=ax.get_xaxis_transform(),
            marker=r"$\uparrow$",
            markersize=9,
            color=color,
            linestyle="none",
            label=None if seen else label_inf,
        )
    undefined = zero & (key == "cos_w_minority")
    if undefined.any():
        # an undefined value (cosine of a zero vector): say so instead of dropping the point
        label_nan = "undefined: minority $w_k = 0$"
        seen = any(line.get_label() == label_nan for line in ax.get_lines())
        ax.plot(
            R[undefined],
            np.full(undefined.sum(), 0.04),
            transform=ax.get_xaxis_transform(),
            marker="$?$",
            markersize=7,
            color=color,
            linestyle="none",
            label=None if seen else label_nan,
        )
