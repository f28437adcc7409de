"""Sweeps: a grid of problems solved into a resumable SQLite store, locally or on Dask.

A sweep is a TOML file with four sections (every one optional but ``[problem]`` or a count form
in ``[grid]``)::

    name = "minority collapse"          # optional, for the reader
    [problem]                           # the base problem: the keys of the CLI problem flags
    step = "2:2:10:1"                   #   (docs: the command line), dashes or underscores alike
    dim = 4
    energy = [1, 1]
    [grid]                              # each key a list; the grid is the Cartesian product
    ratio = [1, 2, 5, 10]               #   a part of the base count form (here R of step)
    energy = [[1, 1], [1, 5]]           #   or a problem key, or a solve option
    [solve]                             # method, dtype, seed, tol, max_iter, restarts, time_limit
    dtype = "float64"
    [output]
    geometry = ["nc1", "w_norms", "minority_w_separation"]   # default: every key; false: none
    global_mean = "class-average"       # the geometry's convention (lpm.geometry)

Grid keys are: a problem key (``counts``, ``balanced``, ``step``, ``long_tail``, ``dim``, ``loss``,
``classifier``, ``features``, ``bias``, ``energy``, ``budget``, ``decay``, ``classifier_seed``); a
part of the base problem's count form (:data:`COUNT_PARTS`: ``majority``, ``minority``,
``n_minority``, ``ratio`` of ``step``; ``K``, ``n`` of ``balanced``; ``K``, ``n_max``, ``rho`` of
``long_tail``); or a solve option (:data:`SOLVE_KEYS`). The last grid key varies fastest.

The package has one module a concept:

- :mod:`lpm.sweep.spec` — the spec and the key of a point: SHA-256 of the canonical JSON of
  ``{"problem": Problem.to_dict(), "solve": options}``, so growing a grid, or running a second spec
  into the same store, solves only the points the store lacks, and two grid values that give the
  same problem are one point;
- :mod:`lpm.sweep.store` — the SQLite store: one row per key, a finished row never written twice
  nor overwritten, a ``"failed"`` row solved again by the next run; the timing columns;
- :mod:`lpm.sweep.task` — one batch solved into rows (:func:`solve_rows`, what a worker runs);
- :mod:`lpm.sweep.run` — :func:`run_sweep`: batching, progress events, the summary of where the
  sweep stands (the whole spec's points in the store, not only this run);
- :mod:`lpm.sweep.cluster` — the same on Dask, and what a lost worker costs (at most its task);
- :mod:`lpm.sweep.table` — rows as CSV, a pandas DataFrame or a Parquet file.

Geometry
--------
Each row stores the chosen keys of :class:`lpm.GeometryReport`. Its minority measures
(``minority_w_separation``) use the problem's minority classes, and for a ``step`` form at R = 1
(equal counts, so no minority) its K_B last classes: a phase diagram over R then has the
separation at every R, the balanced ETF value 2K/(K−1)·E_W at R = 1 included.

Examples
--------
>>> from lpm import sweep                                             # doctest: +SKIP
>>> summary = sweep.run_sweep("phase.toml", "phase.sqlite")           # doctest: +SKIP
>>> summary.settled, summary.unconverged                              # doctest: +SKIP
>>> df = sweep.read_store("phase.sqlite").to_pandas()                 # doctest: +SKIP
"""

from lpm.sweep.run import SweepProgress, SweepSummary, run_sweep
from lpm.sweep.spec import (
    COUNT_PARTS,
    GEOMETRY_KEYS,
    MAX_POINTS,
    OUTPUT_KEYS,
    PROBLEM_KEYS,
    SECTIONS,
    SOLVE_KEYS,
    SweepSpec,
    load_spec,
    point_key,
)
from lpm.sweep.store import STORE_COLUMNS, StoreRows, default_store, outcome, read_store
from lpm.sweep.table import RESULT_COLUMNS, store_to_csv, to_dataframe, to_parquet
from lpm.sweep.task import solve_rows

__all__ = [
    "COUNT_PARTS",
    "GEOMETRY_KEYS",
    "MAX_POINTS",
    "OUTPUT_KEYS",
    "PROBLEM_KEYS",
    "RESULT_COLUMNS",
    "SECTIONS",
    "SOLVE_KEYS",
    "STORE_COLUMNS",
    "StoreRows",
    "SweepProgress",
    "SweepSpec",
    "SweepSummary",
    "default_store",
    "load_spec",
    "outcome",
    "point_key",
    "read_store",
    "run_sweep",
    "solve_rows",
    "store_to_csv",
    "to_dataframe",
    "to_parquet",
]
