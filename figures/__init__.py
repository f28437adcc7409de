"""The theory figures of ``lpm``: one module per figure, each compute → draw → save.

Every figure module defines

* ``TITLE`` — one line;
* ``compute(quick, progress) -> dict`` — the numbers, from certified or converged solves and the
  closed forms of :mod:`lpm.theory` (every numerical point carries its ``converged`` flag);
* ``draw(data) -> Figure`` — the drawing, with no mathematics: it reads ``data`` only.

:func:`build` runs them under the one style file ``lpm.mplstyle`` on Agg canvases (no display, and
no change to pyplot's global backend: the figures never touch pyplot),
and writes ``NAME.png`` (300 dpi), ``NAME.pdf`` (vector) and ``NAME.json`` (the numbers drawn,
with every solve's status) into ``out``, each file whole or not at all (a killed build leaves the
previous file, never half of one). ``lpm figures`` is the command line over it.

Importing this package is cheap (the names of the figures only): matplotlib, torch and the
solvers are imported when a figure is built, so that ``lpm figures --help`` answers at once.

Examples
--------
>>> import figures
>>> figures.FIGURES[:3]
('phase', 'gallery', 'relu')
"""

from __future__ import annotations

import importlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lpm.files import atomic_write, check_directory
from lpm.solution import jsonable

__all__ = ["FIGURES", "STYLE", "build", "module"]

#: The figures, in the order of the paper they illustrate (module ``figures.<name>``).
FIGURES: tuple[str, ...] = (
    "phase",
    "gallery",
    "relu",
    "dynamics",
    "seli",
    "classifiers",
    "decay",
)

#: The one style file of every figure.
STYLE: Path = Path(__file__).with_name("lpm.mplstyle")

#: Resolution of the PNG files (the PDF is vector); previews are small copies for the README.
PNG_DPI = 300
PREVIEW_DPI = 110


def module(name: str) -> Any:
    """The module of figure ``name`` (one of :data:`FIGURES`)."""
    _check_names([name])
    return importlib.import_module(f"figures.{name}")


def _check_names(names: Sequence[str]) -> None:
    for name in names:
        if name not in FIGURES:
            raise ValueError(f"unknown figure {name!r}; allowed: {', '.join(FIGURES)}")


def build(
    names: Sequence[str] | None = None,
    out: str | Path = "figures/out",
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
    *,
    preview: str | Path | None = None,
) -> list[Path]:
    """Compute, draw and save figures.

    Parameters
    ----------
    names : sequence of str, optional
        Figures to build, from :data:`FIGURES` (default: all, in that order).
    out : str or Path
        Output folder (created if needed).
    quick : bool
        Coarser grids and shorter runs (every figure still drawn from converged solves).
    progress : callable(str), optional
        Receives one line per step of long computations and one per finished figure.
    preview : str or Path, optional
        Also write a small ``NAME.png`` there (the README's previews).

    Returns
    -------
    list of Path
        ``NAME.png`` and ``NAME.pdf`` of every figure, in order.

    Raises
    ------
    ValueError
        For a name not in :data:`FIGURES`, or an ``out`` or ``preview`` that cannot be a folder
        of new files (a file, no permission; see :func:`lpm.files.check_directory`), before
        anything is computed.
    """
    chosen = list(FIGURES) if names is None else list(names)
    if isinstance(names, str):
        raise ValueError(f"names must be a list of figure names, got the string {names!r}")
    _check_names(chosen)
    out_dir = Path(out)
    preview_dir = None if preview is None else Path(preview)
    for folder in (out_dir, preview_dir):
        if folder is not None:
            check_directory(folder)
    import matplotlib.style

    from figures.solving import quiet

    report = progress if progress is not None else quiet
    out_dir.mkdir(parents=True, exist_ok=True)
    if preview_dir is not None:
        preview_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in chosen:
        start = time.perf_counter()
        report(f"{name}: computing ({'quick' if quick else 'full'})")
        data, seconds = _compute(name, quick, report)
        with matplotlib.style.context(STYLE):
            fig = module(name).draw(data)
            png, pdf = out_dir / f"{name}.png", out_dir / f"{name}.pdf"
            _save_figure(fig, png, dpi=PNG_DPI)
            _save_figure(fig, pdf)
            if preview_dir is not None:
                _save_figure(fig, preview_dir / f"{name}.png", dpi=PREVIEW_DPI)
        _save_data(out_dir / f"{name}.json", name, quick, seconds, data)
        paths += [png, pdf]
        report(f"{name}: done in {time.perf_counter() - start:.1f} s -> {png}, {pdf}")
    return paths


def _compute(name: str, quick: bool, report: Callable[[str], None]) -> tuple[dict, float]:
    """The data of figure ``name`` and the seconds its computation took."""
    from figures.solving import one_thread

    start = time.perf_counter()
    with one_thread(), warnings.catch_warnings():
        # cvxpy warns on an inaccurate solve; the solve's status already says so, and the
        # figure draws that point as untrusted.
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        data = module(name).compute(quick, report)
    return data, time.perf_counter() - start


def _save_figure(fig: Any, path: Path, **kwargs: Any) -> None:
    with atomic_write(path) as handle:
        fig.savefig(handle, format=path.suffix[1:], **kwargs)


def _save_data(path: Path, name: str, quick: bool, seconds: float, data: dict) -> None:
    from figures.solving import cpu_count

    meta = {
        "figure": name,
        "title": module(name).TITLE,
        "quick": quick,
        "compute_seconds": seconds,
        "cpu_cores": cpu_count(),
    }
    with atomic_write(path, "w") as handle:
        handle.write(json.dumps({"meta": meta, "data": jsonable(data)}, indent=1, allow_nan=False))
