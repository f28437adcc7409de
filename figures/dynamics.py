"""Figure 4 — dynamics with a fixed simplex ETF: CE against DR and MSE under one plain method.

Yang et al. (NeurIPS 2022) fix the classifier to a simplex ETF and argue that their dot-regression
(DR) loss trains better than cross-entropy under imbalance, because its gradient keeps only the
"pull" towards w_y. The figure runs the *same* plain method on the three losses, in the layer-
peeled model with W fixed to the unit ETF (K = 4, d = K − 1 = 3, E_W = E_H = 1):

* the loss of :mod:`lpm.objective` (the one objective), averaged over the N samples:
  CE; MSE ½‖W h − e_y‖²; DR in the paper's form ½(w_yᵀh − sqrt(E_W E_H))² — prefactor ½,
  target sqrt(E_W E_H) = 1. (The authors' released code divides by ‖h‖ and uses the detached
  target ‖w_y‖‖h‖; at E_W = E_H = 1 on the sphere the two agree, inside the ball they do not:
  docs/theory.md §9. The prefactor rescales the gradient, so it matters here.)
* the method: fixed-step projected gradient in the scaled features U of :mod:`lpm.constraints`
  (H = s ⊙ U, the budget a ball in U), U ← P(U − η ∇_U f) with η = 1/L, L = E_W K/(K − 1) the
  largest curvature of the three per-sample losses (MSE's; CE's is at most half of it, DR's E_W).
  Under the per-sample budget this is h_i ← P(h_i − η ∇ℓ(W h_i, y_i)) for every sample; under the
  class-average budget a step of η K n_y/N, the metric in which that budget is a ball.
* the start: the same seeded random features of norm 0.1 for all losses;
* the reference optimum f*, h*_i: the closed form of :mod:`lpm.theory` through the ``theory``
  method where one applies (CE and DR), else a converged, certified solve of :func:`lpm.solve`
  (MSE). (The gradient method stalls short of its tolerance on the zero-loss DR problem under the
  class-average budget: degenerate, sublinear.) A reference that is not trusted is flagged in red
  on its panel.

Curves: the objective gap f(H_t) − f*, NC1 of H_t (:func:`lpm.measure`), and the mean angle
between h_i and its optimum h*_i, against the iteration t. A curve stops where it reaches
round-off (:data:`FLOOR`). d = K − 1 makes every loss's minimiser unique (with d ≥ K the part of h
orthogonal to the ETF's span gets no gradient from MSE or DR and is never removed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from figures.canvas import PAGE, new_figure
from figures.solving import Progress, flags, quiet, solve_points, trusted
from lpm.classifiers import classifier_matrix
from lpm.constraints import feasible_set
from lpm.geometry import measure
from lpm.objective import objective_data, value_and_grad
from lpm.plotting import panel_label
from lpm.problem import Problem

__all__ = ["FLOOR", "TITLE", "compute", "draw", "plain_projected_gradient"]

TITLE = "Fixed-ETF dynamics: CE, DR and MSE under the same plain projected gradient"

K = 4
DIM = K - 1
ENERGY = (1.0, 1.0)
LOSSES = ("ce", "dr", "mse")
#: Norm of every sample's feature at the start.
START_NORM = 0.1
#: Values at or below FLOOR · max(1, |f*|) (gap), FLOOR (NC1) or sqrt(FLOOR) rad (angle) are
#: round-off: the curve ends there.
FLOOR = 1e-14
SETTINGS = (
    ("balanced", (55, 55, 55, 55), "per-sample"),
    ("imbalanced", (100, 100, 10, 10), "per-sample"),
    ("imbalanced", (100, 100, 10, 10), "class-average"),
)


def step_size() -> float:
    """η = 1/L, L = E_W K/(K − 1): the largest eigenvalue of WᵀW for the unit-norm-E_W ETF."""
    return (K - 1) / (ENERGY[0] * K)


def _record_at(iterations: int) -> np.ndarray:
    """Iterations at which the metrics are recorded: 0, then about 40 per decade."""
    grid = np.unique(np.round(np.logspace(0, math.log10(iterations), 40 * 4)).astype(int))
    return np.concatenate([[0], grid[grid <= iterations]])


def plain_projected_gradient(
    problem: Problem,
    reference: np.ndarray,
    f_star: float,
    *,
    eta: float,
    iterations: int,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Run U ← P(U − η ∇_U f) from a seeded random start and record the gap, NC1 and angle.

    Parameters
    ----------
    problem : Problem
        A fixed classifier under energies (the features are the only variables).
    reference : ndarray, shape=[N, d]
        The optimal features h*_i (the angle of h_i is measured to h*_i).
    f_star : float
        The optimal value.
    eta : float
        The fixed step in the scaled variables U (module docstring).
    iterations : int
    seed : int
        Seed of the start (Gaussian directions, every row of norm :data:`START_NORM`).

    Returns
    -------
    dict
        ``t`` (recorded iterations), ``gap`` f − f*, ``nc1``, ``angle`` (degrees, mean over
        samples), each shape=[len(t)].
    """
    data = objective_data([problem])
    fs = feasible_set([problem])
    scale = fs.scale.unsqueeze(-1)
    rng = np.random.default_rng(seed)
    H0 = rng.standard_normal((problem.N, problem.dim))
    H0 *= START_NORM / np.linalg.norm(H0, axis=1, keepdims=True)
    U = fs.project_U(torch.as_tensor(H0)[None] / scale)
    W = classifier_matrix(problem)
    labels = problem.labels
    ref_unit = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    record = set(_record_at(iterations).tolist())
    out: dict[str, list[float]] = {"t": [], "gap": [], "nc1": [], "angle": []}
    for t in range(iterations + 1):
        f, _, grad_H, _ = value_and_grad(None, scale * U, None, data)
        if t in record:
            H = (scale * U)[0].numpy()
            unit = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-300)
            cosines = np.clip((unit * ref_unit).sum(axis=1), -1.0, 1.0)
            out["t"].append(t)
            out["gap"].append(float(f[0]) - f_star)
            out["nc1"].append(measure(W, H, labels).nc1)
            out["angle"].append(float(np.degrees(np.arccos(cosines)).mean()))
        U = fs.project_U(U - eta * scale * grad_H)
    return {k: np.asarray(v) for k, v in out.items()}


def compute(quick: bool = False, progress: Progress = quiet) -> dict[str, Any]:
    """The three losses in the three settings of :data:`SETTINGS`.

    Returns
    -------
    dict
        ``panels``: one entry per setting with ``counts``, ``budget``, and per loss the recorded
        curves plus the reference solve's ``f_star`` and flags.
    """
    iterations = 400 if quick else 4000
    eta = step_size()
    problems = [
        Problem.from_counts(
            counts, dim=DIM, loss=loss, classifier="etf", energy=ENERGY, budget=budget
        )
        for _, counts, budget in SETTINGS
        for loss in LOSSES
    ]
    refs = solve_points(
        problems, label="dynamics: reference optima", progress=progress, method="exact"
    )
    panels = []
    for i, (label, counts, budget) in enumerate(SETTINGS):
        panel: dict[str, Any] = {"label": label, "counts": list(counts), "budget": budget}
        for j, loss in enumerate(LOSSES):
            ref = refs[i * len(LOSSES) + j]
            curves = plain_projected_gradient(
                ref.problem, ref.H, ref.objective, eta=eta, iterations=iterations
            )
            panel[loss] = {
                **curves,
                "f_star": ref.objective,
                "reference": flags(ref),
                "reference_ok": trusted(ref),
            }
        panels.append(panel)
        progress(f"dynamics: {label}, {budget} budget: {iterations} iterations × {len(LOSSES)}")
    return {"eta": eta, "iterations": iterations, "K": K, "dim": DIM, "panels": panels}


_STYLE = {
    "ce": {"color": "C0", "linestyle": "-", "marker": "o", "label": "CE"},
    "dr": {"color": "C1", "linestyle": "--", "marker": "s", "label": "DR (Yang et al.)"},
    "mse": {"color": "C2", "linestyle": ":", "marker": "^", "label": "MSE"},
}


def _visible(t: np.ndarray, y: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The curve up to the first value at or below ``floor`` (round-off)."""
    below = np.nonzero(y <= floor)[0]
    end = below[0] if below.size else len(y)
    return t[:end], y[:end]


def draw(data: dict[str, Any]) -> Figure:
    """Three columns (settings) × three rows (gap, NC1, angle) against the iteration, log–log."""
    fig = new_figure(PAGE, 5.6)
    axes = fig.subplots(3, 3, sharex=True, sharey="row")
    rows = (
        ("gap", r"objective gap $f(H_t) - f^\star$"),
        ("nc1", r"NC1 of $H_t$"),
        ("angle", r"mean angle $\angle(h_i, h_i^\star)$ [deg]"),
    )
    for col, panel in enumerate(data["panels"]):
        quick_end: list[str] = []
        for row, (key, ylabel) in enumerate(rows):
            ax = axes[row, col]
            for loss in LOSSES:
                curve = panel[loss]
                t = np.asarray(curve["t"], dtype=float) + 1.0
                y = np.asarray(curve[key], dtype=float)
                floor = {
                    "gap": FLOOR * max(1.0, abs(curve["f_star"])),
                    "nc1": FLOOR,
                    "angle": math.degrees(math.sqrt(FLOOR)),
                }[key]
                tx, yx = _visible(t, y, floor)
                style = _STYLE[loss]
                if key == "gap" and len(tx) <= 2:
                    quick_end.append(f"{style['label']}: at round-off from $t$ = {len(tx)}")
                marks = np.unique(np.searchsorted(tx, np.logspace(0, 4, 9)))
                ax.plot(
                    tx,
                    yx,
                    color=style["color"],
                    linestyle=style["linestyle"],
                    marker=style["marker"],
                    markevery=[m for m in marks if m < len(tx)],
                    markersize=3.5,
                    label=style["label"] if (row, col) == (0, 0) else None,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            if col == 0:
                ax.set_ylabel(ylabel)
            if row == len(rows) - 1:
                ax.set_xlabel("iteration $t + 1$")
        if quick_end:
            axes[0, col].text(
                0.97,
                0.35,
                "\n".join(quick_end),
                transform=axes[0, col].transAxes,
                ha="right",
                va="top",
                fontsize=6,
                color=_STYLE["mse"]["color"] if len(quick_end) == 1 else "black",
            )
        untrusted = [_STYLE[loss]["label"] for loss in LOSSES if not panel[loss]["reference_ok"]]
        if untrusted:
            axes[0, col].text(
                0.97,
                0.95,
                f"reference optimum not converged or not certified: {', '.join(untrusted)}",
                transform=axes[0, col].transAxes,
                ha="right",
                va="top",
                fontsize=6,
                color="#d62728",
                wrap=True,
            )
        counts = ", ".join(str(c) for c in panel["counts"])
        axes[0, col].set_title(f"{panel['label']}, $n$ = ({counts})\n{panel['budget']} budget")
    axes[0, 0].legend(loc="lower left")
    fig.suptitle(
        rf"fixed simplex ETF, $K$={data['K']}, $d$={data['dim']}, $E_W=E_H=1$; "
        rf"projected gradient, step $\eta$ = {data['eta']:.2f} = $1/L$; curves end at round-off",
        fontsize=8,
    )
    for ax, tag in zip(axes.flat, "abcdefghi"):
        panel_label(ax, f"({tag})")
    return fig
