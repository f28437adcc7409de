"""The figures' canvas: print sizes and a pyplot-free Agg figure.

Sizes are those of a two-column journal page: :data:`COLUMN` wide for a single panel, :data:`PAGE`
wide for a row of panels; the style file ``lpm.mplstyle`` sets fonts of 7–9 pt for these sizes.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["COLUMN", "PAGE", "new_figure"]

#: Width of one column of a two-column page, inches.
COLUMN = 3.4
#: Width of a full page of text, inches.
PAGE = 7.0


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size (inches) on an Agg canvas, outside pyplot's state.

    Create it inside ``matplotlib.style.context(figures.STYLE)`` (as :func:`figures.build` does)
    so that the style's layout and fonts apply.
    """
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig
