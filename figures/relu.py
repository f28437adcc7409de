"""Figure 3 — the ReLU model's orthogonal structure: per-class norms against n_k, several λ.

Dang, Tran, Nguyen, Ho (ICML 2024; docs/theory.md §3): with nonnegative (ReLU) features, CE and
weight decay λ_W = λ_H = λ, no bias, every optimum has orthogonal class means h̄_k of
count-dependent length and a classifier w_k = Σ_l (δ_kl − 1/K)(c_l/a_l) h̄_l; class k is exactly 0
once λ_Wλ_H ≥ n_k (K−1)/(K N²) (:func:`lpm.theory.relu_collapse_threshold`), the rarest classes
first.

Problem: K = 10, long-tailed counts n_k = round(100 · 10^(−(k−1)/9)) (N = 409), d = 2K (at d = K
random starts are trapped at non-global stationary points: docs/theory.md §3 and the gallery's
note).

* Markers: ‖h̄_k‖ and ‖w_k‖ of :func:`lpm.solve` (projected gradient, 4 random starts, H ≥ 0),
  trusted only when converged *and* certified (a converged start can be a non-global point).
* Lines: the closed form as a function of the count n at the problem's N, K, λ — ‖h̄(n)‖ is
  :func:`lpm.theory.relu_ufm`'s norm of a class of n samples (evaluated on problems with the same
  N whose first class has n samples); ‖w(n)‖² = (1 − 2/K) c(n)² + Σ_l c_l²/K², the diagonal of
  W Wᵀ = P_K diag(c²) P_K, with c(n) that class's column scale and c_l those of the problem.
* Dotted lines: the count n*(λ) below which a class is 0 (from the threshold above).
* The title reports the largest |cos(h̄_k, h̄_l)|, k ≠ l, over all solves (0 for orthogonal means).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, flags, quiet, solve_points, trusted
from lpm import theory
from lpm.geometry import geometry
from lpm.plotting import (
    NOT_CONVERGED_LABEL,
    not_converged_handle,
    numeric_points,
    panel_label,
    theory_line,
    threshold_line,
)
from lpm.problem import Problem

__all__ = ["TITLE", "compute", "draw"]

TITLE = "ReLU features: orthogonal class means, per-class norms and collapse thresholds"

K = 10
N_MAX = 100
RHO = 10
DIM = 2 * K


def _base(lam: float) -> Problem:
    return Problem.long_tail(K, N_MAX, RHO, dim=DIM, features="relu", decay=(lam, lam))


def _with_first_count(problem: Problem, n: int) -> Problem:
    """A problem of the same N, K and decay whose first class has n samples."""
    rest = problem.N - n
    share = np.full(K - 1, rest // (K - 1))
    share[: rest % (K - 1)] += 1
    return Problem.from_counts(
        (n, *share.tolist()), dim=problem.dim, features="relu", decay=problem.decay
    )


def _theory_curves(problem: Problem, n_grid: np.ndarray) -> dict[str, np.ndarray]:
    own = theory.relu_ufm(problem)
    offset = float(np.sum(own.extra["c"] ** 2)) / K**2
    m, c = [], []
    for n in n_grid:
        pred = theory.relu_ufm(_with_first_count(problem, int(n)))
        m.append(pred.m_norms[0])
        c.append(pred.extra["c"][0])
    c2 = np.asarray(c) ** 2
    return {"n": n_grid, "m_norms": np.asarray(m), "w_norms": np.sqrt((1 - 2 / K) * c2 + offset)}


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """Solve the long-tailed problem for each λ; closed-form curves on a dense grid of n.

    Returns
    -------
    dict
        ``counts``; per λ (``series``): ``lam``, numerical ``w_norms``, ``m_norms``,
        ``max_abs_cos_m``, ``ok`` and flags, the ``theory`` curves, and ``n_star`` (the count
        below which a class is 0).
    """
    lams = (2e-3, 1e-2, 1.5e-2) if quick else (2e-3, 5e-3, 1e-2, 1.5e-2, 2e-2)
    problems = [_base(lam) for lam in lams]
    sols = solve_points(problems, label="relu: solves", progress=progress)
    n_grid = np.unique(np.round(np.logspace(np.log10(5), np.log10(150), 160)).astype(int))
    counts = np.asarray(problems[0].counts, dtype=np.float64)
    series = []
    for lam, problem, sol in zip(lams, problems, sols):
        tau = theory.relu_collapse_threshold(problem.counts)
        series.append(
            {
                "lam": lam,
                "w_norms": np.linalg.norm(sol.W, axis=1),
                "m_norms": np.linalg.norm(sol.means, axis=1),
                "max_abs_cos_m": geometry(sol).max_abs_cos_m,
                "ok": trusted(sol),
                **{f"solve_{k}": v for k, v in flags(sol).items()},
                "theory": _theory_curves(problem, n_grid),
                # τ_k is linear in n_k: the class of n samples dies when n ≤ λ² n_k / τ_k.
                "n_star": float(lam * lam * counts[0] / tau[0]),
            }
        )
        progress(f"relu: closed-form curves for λ = {lam:g}")
    return {"counts": counts, "N": problems[0].N, "dim": DIM, "series": series}


_MARKERS = ("o", "s", "^", "D", "v")
_LINES = ("-", "--", "-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), ":")


def draw(data: dict[str, Any]) -> Figure:
    """(a) ‖h̄_k‖ and (b) ‖w_k‖ against n_k (log), one colour, line style and marker per λ."""
    fig = new_figure(PAGE, 2.8)
    ax_m, ax_w = fig.subplots(1, 2)
    counts = np.asarray(data["counts"])
    handles = []
    for i, s in enumerate(data["series"]):
        color, marker, line = f"C{i}", _MARKERS[i % 5], _LINES[i % 5]
        ok = np.full(counts.size, s["ok"])
        for ax, key in ((ax_m, "m_norms"), (ax_w, "w_norms")):
            theory_line(ax, s["theory"]["n"], s["theory"][key], color=color, linestyle=line)
            numeric_points(ax, counts, s[key], ok, color=color, marker=marker)
            threshold_line(ax, s["n_star"], color=color, linestyle=":")
        handles.append(
            Line2D(
                [],
                [],
                color=color,
                linestyle=line,
                marker=marker,
                markeredgecolor="black",
                markeredgewidth=0.5,
                label=rf"$\lambda$ = {s['lam']:g}  ($n^*$ = {s['n_star']:.3g})",
            )
        )
    for ax, ylabel in (
        (ax_m, r"class-mean norm $\|\bar h_k\|$"),
        (ax_w, r"classifier norm $\|w_k\|$"),
    ):
        ax.set_xscale("log")
        ax.set_xlabel(r"class size $n_k$")
        ax.set_ylabel(ylabel)
        ax.set_xlim(counts.min() * 0.6, counts.max() * 1.4)
        ax.set_ylim(bottom=-0.03 * ax.get_ylim()[1])
    handles += [
        Line2D([], [], color="black", linestyle="-", label="closed form (line)"),
        Line2D(
            [],
            [],
            color="none",
            marker="o",
            markeredgecolor="black",
            markerfacecolor="0.7",
            label="solver, certified (marker)",
        ),
        Line2D([], [], color="black", linestyle=":", label=r"$n^*(\lambda)$: classes below are 0"),
    ]
    if any(h.get_label() == NOT_CONVERGED_LABEL for ax in (ax_m, ax_w) for h in ax.get_lines()):
        handles.append(not_converged_handle())
    fig.legend(handles=handles, loc="outside right center")
    worst = max(s["max_abs_cos_m"] for s in data["series"])
    fig.suptitle(
        rf"ReLU features, CE, $\lambda_W=\lambda_H=\lambda$, $K$={len(counts)}, long tail "
        rf"$n_k$ = {int(counts.max())}…{int(counts.min())} ($N$={data['N']}), $d$={data['dim']}"
        "\n"
        rf"class means orthogonal in every solve: $\max_{{k\neq l}}|\cos(\bar h_k,\bar h_l)|$"
        rf" = {worst:.1g} (theory: 0)",
        fontsize=8,
    )
    for ax, tag in zip((ax_m, ax_w), "ab"):
        panel_label(ax, f"({tag})")
    return fig
