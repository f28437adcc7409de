"""Plotting helpers that draw on a given matplotlib ``ax``: theory against numbers, Grams, phases.

The library never saves or shows a figure: every helper takes an ``Axes``, draws on it and returns
the artists it made. ``figures/`` composes them into the project's figures (and owns the style
file); a user can call them on any axes of their own.

Conventions (the project's figures follow them, and the helpers make them the default):

* **theory is a line, a numerical optimum is a marker** — :func:`theory_line` and
  :func:`numeric_points`;
* **a point that did not converge is never plotted as data**: :func:`numeric_points` draws it as
  a hollow red ✕ under the legend entry :data:`NOT_CONVERGED_LABEL` (a converged point whose
  certificate leaves a gap — a non-global stationary point — is flagged the same way), at the
  value the solver stopped at, so the reader sees where and that it is untrusted;
* thresholds are thin dotted lines (:func:`threshold_line`);
* Gram matrices are annotated heat maps (:func:`gram_heatmap`), so signs and sizes read in
  greyscale too.

Examples
--------
>>> from matplotlib.figure import Figure
>>> ax = Figure().subplots()
>>> _ = theory_line(ax, [1, 2, 3], [1.0, 0.5, 0.2], label="theory")
>>> arts = numeric_points(ax, [1, 2, 3], [1.0, 0.5, 0.3], [True, True, False], label="solver")
>>> sorted({a.get_label() for a in arts})
['not converged or not certified', 'solver']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.colors import Normalize
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

__all__ = [
    "NOT_CONVERGED_LABEL",
    "NOT_CONVERGED_STYLE",
    "gram_heatmap",
    "not_converged_handle",
    "numeric_points",
    "panel_label",
    "phase_map",
    "theory_line",
    "threshold_line",
]

#: Legend entry of every point whose solve did not converge.
NOT_CONVERGED_LABEL = "not converged or not certified"

#: How a point whose solve did not converge is drawn: a hollow red ✕, never a data marker.
NOT_CONVERGED_STYLE: dict[str, Any] = {
    "marker": "X",
    "markersize": 6.5,
    "markerfacecolor": "none",
    "markeredgecolor": "#d62728",
    "markeredgewidth": 1.0,
    "linestyle": "none",
    "zorder": 5,
}

#: |entry| above which an annotated Gram cell is dark enough to need white text (RdBu-like maps).
_DARK_CELL = 0.55


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if len({a.size for a in out}) != 1:
        raise ValueError(
            f"x, y (and converged) must have the same length, got {[a.size for a in out]}"
        )
    return out


def _has_label(ax: Axes, label: str) -> bool:
    return any(artist.get_label() == label for artist in ax.get_lines())


def theory_line(
    ax: Axes,
    x: ArrayLike,
    y: ArrayLike,
    *,
    label: str | None = None,
    color: Any = "black",
    linestyle: str = "-",
    **kwargs: Any,
) -> Line2D:
    """Draw a closed-form prediction as a line.

    Parameters
    ----------
    ax : Axes
    x, y : array_like, shape=[m]
        The prediction on a grid (dense enough to look smooth); NaN breaks the line.
    label, color, linestyle
        Legend text and line style (theory in black or grey by default, numbers in colour).
    **kwargs
        Passed to ``ax.plot``.

    Returns
    -------
    Line2D
    """
    xs, ys = _arrays(x, y)
    (line,) = ax.plot(xs, ys, color=color, linestyle=linestyle, label=label, zorder=2, **kwargs)
    return line


def numeric_points(
    ax: Axes,
    x: ArrayLike,
    y: ArrayLike,
    converged: ArrayLike,
    *,
    label: str | None = None,
    color: Any = None,
    marker: str = "o",
    filled: bool = True,
    **kwargs: Any,
) -> list[Line2D]:
    """Draw numerical optima as markers, and the unconverged ones as hollow red ✕.

    Parameters
    ----------
    ax : Axes
    x, y : array_like, shape=[m]
        Abscissae and values (the value the solver stopped at, for an unconverged point).
    converged : array_like of bool, shape=[m]
        True where the point may be drawn as data (converged, and certified where a
        certificate exists); False points are drawn with
        :data:`NOT_CONVERGED_STYLE` and labelled :data:`NOT_CONVERGED_LABEL` (once per axes).
    label, color, marker
        Legend text, colour and marker of the converged points.
    filled : bool
        Filled markers (default) or hollow ones (for a second series of the same colour).
    **kwargs
        Passed to ``ax.plot`` for the converged points.

    Returns
    -------
    list of Line2D
        The converged points' artist, then the unconverged points' artist when there are any.
    """
    xs, ys, ok = _arrays(x, y, converged)
    ok = ok.astype(bool)
    style: dict[str, Any] = {"marker": marker, "linestyle": "none", "zorder": 4}
    if color is not None:
        style["color"] = color
    style.update(kwargs)
    (good,) = ax.plot(xs[ok], ys[ok], label=label, **style)
    if filled:
        good.set_markeredgecolor("black")
        good.set_markeredgewidth(0.5)
    else:
        good.set_markerfacecolor("none")
        good.set_markeredgecolor(good.get_color())
    artists = [good]
    if (~ok).any():
        bad_label = None if _has_label(ax, NOT_CONVERGED_LABEL) else NOT_CONVERGED_LABEL
        (bad,) = ax.plot(xs[~ok], ys[~ok], label=bad_label, **NOT_CONVERGED_STYLE)
        artists.append(bad)
    return artists


def not_converged_handle() -> Line2D:
    """A legend handle for :data:`NOT_CONVERGED_LABEL` (for legends assembled by hand)."""
    return Line2D([], [], label=NOT_CONVERGED_LABEL, **NOT_CONVERGED_STYLE)


def threshold_line(
    ax: Axes,
    value: float,
    *,
    axis: Literal["x", "y"] = "x",
    label: str | None = None,
    color: Any = "0.35",
    linestyle: str = ":",
    **kwargs: Any,
) -> Line2D:
    """Mark a threshold (a closed-form critical value) by a thin line across the axes.

    Parameters
    ----------
    value : float
        Where the threshold lies on ``axis``.
    axis : "x" or "y"
        A vertical line at x = value, or a horizontal one at y = value.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis {axis!r} is not known; allowed: x, y")
    draw = ax.axvline if axis == "x" else ax.axhline
    return draw(value, color=color, linestyle=linestyle, linewidth=0.9, label=label, **kwargs)


def gram_heatmap(
    ax: Axes,
    G: ArrayLike,
    *,
    normalise: bool = True,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    class_labels: Sequence[str] | None = None,
    cmap: str = "RdBu_r",
    fontsize: float = 6.0,
) -> AxesImage:
    """Draw a K × K Gram matrix as an annotated heat map on a symmetric colour scale.

    Parameters
    ----------
    G : array_like, shape=[K, K]
        A Gram matrix (e.g. W Wᵀ or M Mᵀ).
    normalise : bool
        Divide by the largest diagonal entry, so that matrices of different scales compare and
        the colour scale is [−1, 1] (an all-zero matrix is drawn as zeros).
    annotate : bool
        Write each entry in its cell (the number carries the sign in a greyscale print).
    class_labels : sequence of str, optional
        Tick labels of the K classes (default: 1..K).

    Returns
    -------
    AxesImage
        Colour scale [−1, 1] when normalised, else symmetric about 0 at max |G|.
    """
    A = np.asarray(G, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"G must be a square K × K matrix, got shape {A.shape}")
    K = A.shape[0]
    if normalise:
        top = float(np.max(np.abs(np.diag(A)))) if K else 0.0
        A = A / top if top > 0 else np.zeros_like(A)
        vlim = 1.0
    else:
        vlim = float(np.max(np.abs(A))) or 1.0
    image = ax.imshow(A, cmap=cmap, norm=Normalize(-vlim, vlim), interpolation="nearest")
    labels = list(class_labels) if class_labels is not None else [str(k + 1) for k in range(K)]
    ax.set_xticks(range(K), labels)
    ax.set_yticks(range(K), labels)
    ax.tick_params(length=0, pad=1.5)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if annotate:
        for i in range(K):
            for j in range(K):
                value = A[i, j]
                text = fmt.format(0.0 if abs(value) < 5e-3 * vlim else value)
                dark = abs(value) > _DARK_CELL * vlim
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color="white" if dark else "black",
                )
    return image


def phase_map(
    ax: Axes,
    x: ArrayLike,
    y: ArrayLike,
    Z: ArrayLike,
    *,
    converged: ArrayLike | None = None,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    log_x: bool = True,
    log_y: bool = False,
) -> QuadMesh:
    """Draw a quantity on a grid of two parameters as coloured cells, flagging unconverged cells.

    Parameters
    ----------
    x : array_like, shape=[m]
        Cell centres along the horizontal axis (increasing).
    y : array_like, shape=[p]
        Cell centres along the vertical axis (increasing).
    Z : array_like, shape=[p, m]
        Z[i, j] is the value at (x[j], y[i]).
    converged : array_like of bool, shape=[p, m], optional
        False cells get a hollow red ✕ (:data:`NOT_CONVERGED_STYLE`, legend
        :data:`NOT_CONVERGED_LABEL`) on top of their colour.
    log_x, log_y : bool
        Cells are centred on the points in log (geometric) or linear coordinates; the axis
        scale is set to match.

    Returns
    -------
    QuadMesh
        For a colour bar.
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    Zs = np.asarray(Z, dtype=np.float64)
    if Zs.shape != (ys.size, xs.size):
        raise ValueError(
            f"Z must have shape (len(y), len(x)) = {(ys.size, xs.size)}, got {Zs.shape}"
        )
    mesh = ax.pcolormesh(
        _edges(xs, log_x),
        _edges(ys, log_y),
        Zs,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="flat",
        rasterized=True,
    )
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.grid(False)
    if converged is not None:
        ok = np.asarray(converged, dtype=bool)
        if ok.shape != Zs.shape:
            raise ValueError(f"converged must have the shape of Z {Zs.shape}, got {ok.shape}")
        if (~ok).any():
            gx, gy = np.meshgrid(xs, ys)
            bad_label = None if _has_label(ax, NOT_CONVERGED_LABEL) else NOT_CONVERGED_LABEL
            ax.plot(gx[~ok], gy[~ok], label=bad_label, **NOT_CONVERGED_STYLE)
    return mesh


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges halfway between centres (geometrically on a log axis)."""
    if centres.size < 2 or np.any(np.diff(centres) <= 0):
        raise ValueError("grid centres must be at least two increasing numbers")
    if log and np.any(centres <= 0):
        raise ValueError("a log axis needs positive grid centres")
    c = np.log(centres) if log else centres
    mid = (c[1:] + c[:-1]) / 2
    edges = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def panel_label(ax: Axes, text: str) -> None:
    """Write a panel tag such as ``(a)`` at the top left, outside the axes."""
    ax.text(
        -0.02,
        1.02,
        text,
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        fontweight="bold",
    )
