"""Sweeps: a grid of problems solved into a resumable SQLite store, locally or on Dask.

A sweep is a TOML file with four sections (every one optional but ``[problem]`` or a count form
in ``[grid]``)::

    name = "minority collapse"          # optional, for the reader
    [problem]                           # the base problem: the keys of the CLI problem flags
    step = "2:2:10:1"                   #   (INTERFACE.md), dashes or underscores alike
    dim = 4
    energy = [1, 1]
    [grid]                              # each key a list; the grid is the Cartesian product
    ratio = [1, 2, 5, 10]               #   a part of the base count form (here R of step)
    energy = [[1, 1], [1, 5]]           #   or a problem key, or a solve option
    [solve]                             # method, dtype, seed, tol, max_iter, restarts
    dtype = "float64"
    [output]
    geometry = ["nc1", "w_norms", "minority_w_separation"]   # default: every key; false: none
    global_mean = "class-average"       # the geometry's convention (lpm.geometry)

Grid keys are: a problem key (``counts``, ``balanced``, ``step``, ``long_tail``, ``dim``, ``loss``,
``classifier``, ``features``, ``bias``, ``energy``, ``budget``, ``decay``, ``classifier_seed``); a
part of the base problem's count form (:data:`COUNT_PARTS`: ``majority``, ``minority``,
``n_minority``, ``ratio`` of ``step``; ``K``, ``n`` of ``balanced``; ``K``, ``n_max``, ``rho`` of
``long_tail``); or a solve option (:data:`SOLVE_KEYS`). The last grid key varies fastest.

Geometry
--------
Each row stores the chosen keys of :class:`lpm.GeometryReport`. Its minority measures
(``minority_w_separation``) use the problem's minority classes, and for a ``step`` form at R = 1
(equal counts, so no minority) its K_B last classes: a phase diagram over R then has the
separation at every R, the balanced ETF value 2K/(K−1)·E_W at R = 1 included.

Keys and resumption
-------------------
Every point has a key: the first 24 hex digits of the SHA-256 of the canonical JSON of
``{"problem": Problem.to_dict(), "solve": options}``. It depends only on what determines the
answer, not on how the grid spelled it, nor on the device or the spec file: growing a grid, or
running a second spec into the same store, solves only the points the store lacks. Two grid
values that give the same problem are one point.

The store is one SQLite table, ``results``, with the key as PRIMARY KEY. A run writes each
finished batch in one transaction, so a crash loses at most the batches in flight, and a finished
row is never written twice nor overwritten. A point whose solve raised (or whose solver reported
``"failed"``) is stored with status ``"failed"`` and the message, and is solved again by the next
run, which replaces that row. A point that stopped at ``max_iter`` or ``inaccurate`` is a
finished, honestly labelled result and is not retried: delete its row (``DELETE FROM results
WHERE status = 'max_iter'``) or change its solve options (a new key) to solve it again.

Execution
---------
Pending points are grouped by solve options and structure (K, d, loss, kind of classifier, scale
regime, budget, features, bias) and cut into batches of at most ``batch_size``; each batch is one
:func:`lpm.solve_batch` call, i.e. one tensor program. With ``dask_address`` (a running
scheduler) or ``dask_workers`` (a ``LocalCluster`` of that many single-threaded processes, started
for the run), each batch is one task, :func:`solve_rows`, a pure function of JSON-able inputs;
rows are gathered as tasks complete and written by the driver only (SQLite has one writer).
Dask (``distributed``) is optional and imported only then.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import lpm
from lpm.geometry import GLOBAL_MEANS, GeometryReport
from lpm.problem import Problem
from lpm.solution import jsonable
from lpm.spec import problem_from_flags

try:  # Python ≥ 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the tomli backport
    tomllib = None

__all__ = [
    "COUNT_PARTS",
    "GEOMETRY_KEYS",
    "MAX_POINTS",
    "PROBLEM_KEYS",
    "SECTIONS",
    "SOLVE_KEYS",
    "STORE_COLUMNS",
    "SweepSpec",
    "SweepSummary",
    "default_store",
    "load_spec",
    "point_key",
    "read_store",
    "run_sweep",
    "solve_rows",
    "store_to_csv",
]

#: Sections of a spec file (top-level ``name`` and ``description`` strings are also allowed).
SECTIONS: tuple[str, ...] = ("problem", "grid", "solve", "output")

#: Keys of ``[problem]`` (and of ``[grid]``): the CLI problem flags, underscores for dashes.
PROBLEM_KEYS: tuple[str, ...] = (
    "counts",
    "balanced",
    "step",
    "long_tail",
    "dim",
    "loss",
    "classifier",
    "features",
    "bias",
    "energy",
    "budget",
    "decay",
    "classifier_seed",
)

#: The four count forms and the names of their parts, in the order of the CLI syntax.
COUNT_PARTS: dict[str, tuple[str, ...]] = {
    "counts": (),
    "balanced": ("K", "n"),
    "step": ("majority", "minority", "n_minority", "ratio"),
    "long_tail": ("K", "n_max", "rho"),
}

#: Keys of ``[solve]`` (and of ``[grid]``): options of :func:`lpm.solve_batch`.
SOLVE_KEYS: tuple[str, ...] = ("method", "dtype", "seed", "tol", "max_iter", "restarts")

#: Keys of ``[output]``.
OUTPUT_KEYS: tuple[str, ...] = ("geometry", "global_mean")

#: Every field of :class:`lpm.GeometryReport`, i.e. what ``[output] geometry`` may list.
GEOMETRY_KEYS: tuple[str, ...] = tuple(f.name for f in fields(GeometryReport))

#: A grid larger than this is refused (a spec typo such as a 10⁶-long list is likelier than intent).
MAX_POINTS = 1_000_000

#: Hex digits of the point key (96 bits: collisions are out of reach for any grid).
KEY_DIGITS = 24

#: Columns of the ``results`` table, in order.
STORE_COLUMNS: tuple[str, ...] = (
    "key",
    "status",
    "converged",
    "certified",
    "objective",
    "residual",
    "lower_bound",
    "gap",
    "iterations",
    "seconds",
    "method",
    "device",
    "params",
    "problem",
    "options",
    "solve",
    "geometry",
    "message",
    "spec_hash",
    "lpm_version",
    "started_at",
    "finished_at",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    converged INTEGER,
    certified INTEGER,
    objective REAL,
    residual REAL,
    lower_bound REAL,
    gap REAL,
    iterations INTEGER,
    seconds REAL,
    method TEXT,
    device TEXT,
    params TEXT NOT NULL,
    problem TEXT NOT NULL,
    options TEXT NOT NULL,
    solve TEXT,
    geometry TEXT,
    message TEXT,
    spec_hash TEXT NOT NULL,
    lpm_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS specs (
    spec_hash TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    first_run TEXT NOT NULL
);
"""

#: A finished row is never replaced; a failed one is, by the next run's answer.
_UPSERT = (
    f"INSERT INTO results ({', '.join(STORE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in STORE_COLUMNS)}) "
    "ON CONFLICT(key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STORE_COLUMNS if c != "key")
    + " WHERE results.status = 'failed'"
)

#: Seconds a writer waits for another process's transaction on the same store.
_SQLITE_TIMEOUT = 60.0

_JSON_COLUMNS = ("params", "problem", "options", "solve", "geometry")


# ------------------------------------------------------------------------------------ JSON
def _canonical(value: Any) -> str:
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(jsonable(value), allow_nan=False)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ------------------------------------------------------------------------------------ spec
def _norm(key: str) -> str:
    return key.replace("-", "_")


def _check_solve_value(where: str, key: str, value: Any) -> Any:
    """A validated solve option (ints and floats normalised), or a one-line ValueError."""
    if key == "method":
        allowed = ("auto", *lpm.METHODS)
        if value not in allowed:
            raise ValueError(
                f"{where} method {value!r} is not known; allowed: {', '.join(allowed)}"
            )
        return value
    if key == "dtype":
        if value not in ("float64", "float32"):
            raise ValueError(f"{where} dtype {value!r} is not known; allowed: float64, float32")
        return value
    if key == "tol":
        ok = not isinstance(value, bool) and isinstance(value, (int, float))
        if not ok or not 0 < float(value) < 1:
            raise ValueError(f"{where} tol must be a number in (0, 1), got {value!r}")
        return float(value)
    low = 0 if key == "seed" else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where} {key} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def _check_output(data: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, str]:
    for key in data:
        if _norm(key) not in OUTPUT_KEYS:
            raise ValueError(
                f"sweep spec [output]: {key!r} is not an output key; allowed: "
                f"{', '.join(OUTPUT_KEYS)}"
            )
    data = {_norm(k): v for k, v in data.items()}
    chosen = data.get("geometry", True)
    if chosen is True or chosen == "all":
        geometry: tuple[str, ...] | None = GEOMETRY_KEYS
    elif chosen is False or chosen == "none":
        geometry = None
    elif isinstance(chosen, list) and all(isinstance(k, str) for k in chosen):
        unknown = [k for k in chosen if k not in GEOMETRY_KEYS]
        if unknown:
            raise ValueError(
                f"sweep spec [output] geometry: {unknown[0]!r} is not a geometry key; allowed: "
                f"{', '.join(GEOMETRY_KEYS)}"
            )
        geometry = tuple(dict.fromkeys(chosen))
    else:
        raise ValueError(
            'sweep spec [output] geometry must be true, false, "all", "none" or a list of '
            f"geometry keys, got {chosen!r}"
        )
    global_mean = data.get("global_mean", "class-average")
    if global_mean not in GLOBAL_MEANS:
        raise ValueError(
            f"sweep spec [output] global_mean {global_mean!r} is not known; allowed: "
            f"{', '.join(GLOBAL_MEANS)}"
        )
    return geometry, global_mean


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: base problem, grid, solve options and what to store.

    Attributes
    ----------
    problem : dict
        Base problem keys (:data:`PROBLEM_KEYS`, underscores), values as the spec gave them.
    grid : tuple of (str, tuple)
        Grid keys in file order, each with its values; the grid is their Cartesian product.
    solve : dict
        Solve options (:data:`SOLVE_KEYS`) shared by every point; a grid key overrides one.
    geometry : tuple of str or None
        Geometry keys stored per row (None: no geometry).
    global_mean : str
        Convention of the geometry (:data:`lpm.geometry.GLOBAL_MEANS`).
    name, description : str
        Free text from the spec.
    source : str
        Where the spec came from (a path, or ``"<dict>"``).

    Examples
    --------
    >>> spec = SweepSpec.from_dict({"problem": {"step": "2:2:2:1", "energy": [1, 1]},
    ...                             "grid": {"ratio": [1, 2, 5]}})
    >>> [p.counts for _, p, _ in spec.points()]
    [(2, 2, 2, 2), (4, 4, 2, 2), (10, 10, 2, 2)]
    """

    problem: dict[str, Any]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    solve: dict[str, Any] = field(default_factory=dict)
    geometry: tuple[str, ...] | None = GEOMETRY_KEYS
    global_mean: str = "class-average"
    name: str = ""
    description: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> SweepSpec:
        """Validate a parsed spec (the TOML's tables as dicts); one-line ValueError if bad.

        Every grid point is built once here, so a spec that loads has no invalid point.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"sweep spec must be a table of sections, got {type(data).__name__}")
        for key, value in data.items():
            if key in ("name", "description"):
                if not isinstance(value, str):
                    raise ValueError(f"sweep spec {key} must be a string, got {value!r}")
            elif key not in SECTIONS:
                raise ValueError(
                    f"sweep spec: {key!r} is not a section; allowed: "
                    f"{', '.join(f'[{s}]' for s in SECTIONS)}, name, description"
                )
            elif not isinstance(value, Mapping):
                raise ValueError(f"sweep spec [{key}] must be a table of keys, got {value!r}")

        problem: dict[str, Any] = {}
        for key, value in data.get("problem", {}).items():
            k = _norm(key)
            if k in SOLVE_KEYS:
                raise ValueError(
                    f"sweep spec [problem]: {key!r} is a solve option; put it in [solve] or "
                    "[grid] (a fixed classifier's seed is classifier_seed)"
                )
            if k not in PROBLEM_KEYS:
                raise ValueError(
                    f"sweep spec [problem]: {key!r} is not a problem key; allowed: "
                    f"{', '.join(PROBLEM_KEYS)}"
                )
            problem[k] = value
        forms = [f for f in COUNT_PARTS if f in problem]
        if len(forms) > 1:
            raise ValueError(
                f"sweep spec [problem] gives {' and '.join(forms)}; give one count form: "
                f"{', '.join(COUNT_PARTS)}"
            )
        form = forms[0] if forms else None
        parts = COUNT_PARTS[form] if form else ()

        solve: dict[str, Any] = {}
        for key, value in data.get("solve", {}).items():
            k = _norm(key)
            if k not in SOLVE_KEYS:
                raise ValueError(
                    f"sweep spec [solve]: {key!r} is not a solve option; allowed: "
                    f"{', '.join(SOLVE_KEYS)} (the device is a run option)"
                )
            solve[k] = _check_solve_value("sweep spec [solve]", k, value)

        grid: list[tuple[str, tuple[Any, ...]]] = []
        size = 1
        for key, values in data.get("grid", {}).items():
            k = _norm(key)
            if k not in PROBLEM_KEYS and k not in SOLVE_KEYS and k not in parts:
                every_part = sorted({p for ps in COUNT_PARTS.values() for p in ps})
                if k in every_part:
                    owners = [f for f, ps in COUNT_PARTS.items() if k in ps]
                    raise ValueError(
                        f"sweep spec [grid]: {key!r} is a part of the count form "
                        f"{' or '.join(owners)}, but [problem] gives {form or 'no count form'}"
                    )
                allowed = [*PROBLEM_KEYS, *parts, *SOLVE_KEYS]
                raise ValueError(
                    f"sweep spec [grid]: {key!r} is not a grid key; allowed: {', '.join(allowed)}"
                )
            if k in COUNT_PARTS and form is not None and k != form:
                raise ValueError(
                    f"sweep spec [grid]: {key!r} is a count form but [problem] gives {form}; "
                    "give one count form"
                )
            if not isinstance(values, list) or not values:
                raise ValueError(
                    f"sweep spec [grid] {key} must be a non-empty list of values, got {values!r}"
                )
            if k in SOLVE_KEYS:
                values = [_check_solve_value("sweep spec [grid]", k, v) for v in values]
            size *= len(values)
            if size > MAX_POINTS:
                raise ValueError(
                    f"sweep spec [grid] has more than {MAX_POINTS} points; split the sweep"
                )
            grid.append((k, tuple(values)))
        if form is None and not any(k in COUNT_PARTS for k, _ in grid):
            raise ValueError(
                "sweep spec needs the classes: one count form in [problem] or [grid] "
                f"(allowed: {', '.join(COUNT_PARTS)})"
            )

        geometry, global_mean = _check_output(data.get("output", {}))
        spec = cls(
            problem=problem,
            grid=tuple(grid),
            solve=solve,
            geometry=geometry,
            global_mean=global_mean,
            name=data.get("name", ""),
            description=data.get("description", ""),
            source=source,
        )
        spec.points()  # every point must be a valid problem
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON (the form whose hash identifies it)."""
        return jsonable(
            {
                "name": self.name,
                "description": self.description,
                "problem": self.problem,
                "grid": {k: list(v) for k, v in self.grid},
                "solve": self.solve,
                "output": {
                    "geometry": list(self.geometry) if self.geometry is not None else False,
                    "global_mean": self.global_mean,
                },
            }
        )

    @property
    def spec_hash(self) -> str:
        """SHA-256 (first :data:`KEY_DIGITS` hex digits) of the canonical JSON of the spec."""
        return hashlib.sha256(_canonical(self.to_dict()).encode()).hexdigest()[:KEY_DIGITS]

    def points(self) -> list[tuple[str, Problem, dict[str, Any]]]:
        """Every grid point, in grid order, once per key.

        Returns
        -------
        list of (key, problem, point)
            ``point`` is ``{"grid": {grid key: value}, "solve": {option: value}, "minority":
            [classes]}``: the point's grid coordinates; the options to pass on
            (``lpm.solve(problem, **point["solve"])`` reproduces the stored row); the classes
            the geometry's minority measures use — the problem's minority classes, or for a
            step form at R = 1 its K_B last classes. Later duplicates of a key are dropped.

        Raises
        ------
        ValueError
            When a grid point is not a valid problem; the message names the point.
        """

        names = [k for k, _ in self.grid]
        out: list[tuple[str, Problem, dict[str, Any]]] = []
        seen: set[str] = set()
        for combo in itertools.product(*(values for _, values in self.grid)):
            coords = dict(zip(names, combo))
            flags = dict(self.problem)
            options = dict(self.solve)
            for k, v in coords.items():
                if k in SOLVE_KEYS:
                    options[k] = v
                elif k in PROBLEM_KEYS:
                    if k in COUNT_PARTS:
                        for form in COUNT_PARTS:
                            flags.pop(form, None)
                    flags[k] = v
            try:
                flags = _set_parts(flags, coords)
                problem = problem_from_flags(flags)
            except ValueError as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in coords.items()) or "the base problem"
                raise ValueError(_one_line(f"sweep spec, grid point {where}: {exc}")) from None
            key = point_key(problem, options)
            if key in seen:
                continue
            seen.add(key)
            minority = _minority(flags, problem)
            out.append((key, problem, {"grid": coords, "solve": options, "minority": minority}))
        return out


def _minority(flags: Mapping[str, Any], problem: Problem) -> list[int]:
    """The classes the geometry's minority measures use (0-based).

    The problem's own minority classes; for a step form whose counts are equal (R = 1), its K_B
    last classes, so that a phase diagram over R has the minority separation at every R.
    """
    if problem.minority_classes or "step" not in flags:
        return list(problem.minority_classes)
    value = flags["step"]
    parts = [p.strip() for p in value.split(":")] if isinstance(value, str) else list(value)
    majority = int(parts[0])
    return list(range(majority, problem.K))


def _set_parts(flags: dict[str, Any], coords: Mapping[str, Any]) -> dict[str, Any]:
    """Replace parts (e.g. ``ratio``) of the flags' count form by grid values."""
    form = next(f for f in COUNT_PARTS if f in flags)
    names = COUNT_PARTS[form]
    chosen = {k: v for k, v in coords.items() if k in names}
    if not chosen:
        return flags
    value = flags[form]
    parts = [p.strip() for p in value.split(":")] if isinstance(value, str) else list(value)
    if len(parts) != len(names):
        raise ValueError(f"{form} takes {':'.join(names)} ({len(names)} values), got {value!r}")
    for i, name in enumerate(names):
        if name in chosen:
            parts[i] = chosen[name]
    return {**flags, form: parts}


def point_key(problem: Problem, options: Mapping[str, Any]) -> str:
    """The store key of a point: SHA-256 of the canonical JSON of its problem and solve options.

    Parameters
    ----------
    problem : Problem
    options : mapping
        Solve options as given (:data:`SOLVE_KEYS`); defaults left out stay out.

    Returns
    -------
    str
        :data:`KEY_DIGITS` hex digits.
    """
    text = _canonical({"problem": problem.to_dict(), "solve": dict(options)})
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_DIGITS]


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec (TOML).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        One line: the file is missing or not TOML, or a key or value is not allowed (the message
        names it and what is allowed).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep spec {str(path)!r} does not exist or is not a file")
    parser = tomllib
    if parser is None:  # pragma: no cover - Python 3.10
        try:
            import tomli as parser
        except ModuleNotFoundError:
            raise ValueError(
                "reading a sweep spec on Python 3.10 needs the 'tomli' package: pip install tomli"
            ) from None
    try:
        data = parser.loads(path.read_text(encoding="utf-8"))
    except (parser.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(_one_line(f"sweep spec {str(path)!r} is not valid TOML: {exc}")) from None
    return SweepSpec.from_dict(data, source=str(path))


def default_store(spec_path: str | Path) -> Path:
    """The store a spec writes to without ``--store``: the spec's path with suffix ``.sqlite``."""
    return Path(spec_path).with_suffix(".sqlite")


# ------------------------------------------------------------------------------------ solving
def _finite(solution: lpm.Solution) -> bool:
    return all(np.all(np.isfinite(x)) for x in (solution.W, solution.H, solution.b))


def _row(
    item: Mapping[str, Any],
    options: Mapping[str, Any],
    solution: lpm.Solution | None,
    geometry_keys: Sequence[str] | None,
    global_mean: str,
    started: str,
    error: str | None = None,
) -> dict[str, Any]:
    """One store row (JSON columns as Python objects; :func:`_write` encodes them)."""
    base = {
        "key": item["key"],
        "params": item.get("params", {}),
        "problem": item["problem"],
        "options": dict(options),
        "started_at": started,
        "finished_at": _now(),
        "lpm_version": lpm.__version__,
    }
    if solution is None:
        return {**base, "status": "failed", "message": error or "failed"}
    summary = {**solution.summary(), "certified": solution.certified}
    geometry, message = None, solution.message
    if geometry_keys is not None and _finite(solution):
        try:
            report = lpm.measure(
                solution.W,
                solution.H,
                solution.problem.labels,
                solution.b,
                minority=item.get("minority", solution.problem.minority_classes),
                global_mean=global_mean,
            ).to_dict()
        except ValueError as exc:  # kept as a finished row: the solve itself is sound
            message = _one_line(f"{message}; no geometry: {exc}")
        else:
            geometry = {k: report[k] for k in geometry_keys}
    return {
        **base,
        "status": solution.status,
        "converged": solution.converged,
        "certified": solution.certified,
        "objective": solution.objective,
        "residual": solution.residual,
        "lower_bound": solution.lower_bound,
        "gap": solution.gap,
        "iterations": solution.iterations,
        "seconds": solution.seconds,
        "method": solution.method,
        "device": solution.device,
        "solve": summary,
        "geometry": geometry,
        "message": message,
    }


def solve_rows(
    items: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
    *,
    device: str = "cpu",
    geometry_keys: Sequence[str] | None = GEOMETRY_KEYS,
    global_mean: str = "class-average",
) -> list[dict[str, Any]]:
    """Solve one batch of points and return their store rows (the task a Dask worker runs).

    A pure function of JSON-able inputs: it reads and writes no file.

    Parameters
    ----------
    items : sequence of dict
        ``{"key": str, "problem": Problem.to_dict(), "params": grid coordinates, "minority":
        classes for the geometry's minority measures}`` (``minority`` optional: default the
        problem's minority classes).
    options : mapping
        Solve options shared by the batch (:data:`SOLVE_KEYS`).
    device : str
    geometry_keys : sequence of str or None
    global_mean : str

    Returns
    -------
    list of dict
        One row per item, in order (:data:`STORE_COLUMNS`, JSON columns still Python objects).
        If the batch raises, each point is solved alone so that only the points that raise are
        rows of status ``"failed"`` (with the exception as ``message``).
    """
    started = _now()
    problems = [Problem.from_dict(item["problem"]) for item in items]
    solutions = _attempt(problems, options, device)
    if isinstance(solutions, str) and len(problems) > 1:
        # A bad point must not sink its batch: solve each alone, so only it is "failed".
        solutions = [_attempt([p], options, device) for p in problems]
        solutions = [s if isinstance(s, str) else s[0] for s in solutions]
    elif isinstance(solutions, str):
        solutions = [solutions]
    rows = []
    for item, solution in zip(items, solutions):
        if isinstance(solution, str):
            rows.append(_row(item, options, None, None, global_mean, started, solution))
        else:
            rows.append(_row(item, options, solution, geometry_keys, global_mean, started))
    return rows


def _attempt(
    problems: list[Problem], options: Mapping[str, Any], device: str
) -> list[lpm.Solution] | str:
    """The solutions of one :func:`lpm.solve_batch` call, or the one-line error it raised."""
    try:
        return lpm.solve_batch(problems, device=device, **options)
    except Exception as exc:  # recorded as a failed row, retried by the next run
        return _one_line(f"{type(exc).__name__}: {exc}")


def _structure(problem: Problem) -> tuple:
    return (
        problem.K,
        problem.dim,
        problem.loss,
        problem.classifier,
        problem.regime,
        problem.budget,
        problem.features,
        problem.bias,
    )


def _batches(
    pending: Sequence[tuple[str, Problem, dict[str, Any]]], batch_size: int
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Same-options, same-structure groups of at most ``batch_size`` points, in grid order."""
    groups: dict[tuple[str, tuple], list[tuple[str, Problem, dict[str, Any]]]] = {}
    for point in pending:
        _, problem, info = point
        groups.setdefault((_canonical(info["solve"]), _structure(problem)), []).append(point)
    out = []
    for group in groups.values():
        options = group[0][2]["solve"]
        for start in range(0, len(group), batch_size):
            items = [
                {
                    "key": key,
                    "problem": problem.to_dict(),
                    "params": info["grid"],
                    "minority": info["minority"],
                }
                for key, problem, info in group[start : start + batch_size]
            ]
            out.append((options, items))
    return out


# ------------------------------------------------------------------------------------ store
def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=_SQLITE_TIMEOUT)
    conn.executescript(_SCHEMA)
    return conn


def _write(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]], spec_hash: str) -> None:
    """Write rows in one transaction (never over a finished row)."""
    records = []
    for row in rows:
        values = []
        for column in STORE_COLUMNS:
            value = spec_hash if column == "spec_hash" else row.get(column)
            if column in _JSON_COLUMNS:
                value = _dumps(value)
            elif isinstance(value, (bool, np.bool_)):
                value = int(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            values.append(value)
        records.append(values)
    with conn:
        conn.executemany(_UPSERT, records)


def _finished_keys(conn: sqlite3.Connection) -> set[str]:
    return {k for (k,) in conn.execute("SELECT key FROM results WHERE status != 'failed'")}


def read_store(path: str | Path) -> list[dict[str, Any]]:
    """Every row of a store, in the order they were first written.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    list of dict
        Keys :data:`STORE_COLUMNS`; JSON columns decoded (``params``, ``problem``, ``options``,
        ``solve``, ``geometry``), ``converged`` and ``certified`` as bool (None for failed rows).

    Raises
    ------
    ValueError
        The file does not exist or is not an lpm sweep store.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"store {str(path)!r} does not exist; run a sweep into it first")
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=_SQLITE_TIMEOUT)
        try:
            cursor = conn.execute(f"SELECT {', '.join(STORE_COLUMNS)} FROM results ORDER BY rowid")
            records = cursor.fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            _one_line(f"store {str(path)!r} is not an lpm sweep store (SQLite: {exc})")
        ) from None
    rows = []
    for record in records:
        row = dict(zip(STORE_COLUMNS, record))
        for column in _JSON_COLUMNS:
            if row[column] is not None:
                row[column] = json.loads(row[column])
        for column in ("converged", "certified"):
            if row[column] is not None:
                row[column] = bool(row[column])
        rows.append(row)
    return rows


#: Scalar columns of the CSV, after the key and the grid coordinates.
_CSV_SCALARS = (
    "status",
    "converged",
    "certified",
    "objective",
    "residual",
    "lower_bound",
    "gap",
    "iterations",
    "seconds",
    "method",
    "device",
    "counts",
    "dim",
    "message",
)


def store_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of :func:`read_store` as CSV text, one line per point.

    Columns: ``key``; the grid coordinates (a grid key that is also a result column is written
    ``grid.<key>``); status, converged, certified, objective, residual, lower_bound, gap,
    iterations, seconds, method, device, counts, dim, message; then every stored geometry key
    (one that is also a result column, such as ``counts``, is written ``geometry.<key>``).
    Lists (counts, Grams, norms) are JSON text; a missing value is empty.
    """
    geometry_keys = list(dict.fromkeys(k for row in rows for k in (row.get("geometry") or {})))
    geometry_columns = [f"geometry.{k}" if k in _CSV_SCALARS else k for k in geometry_keys]
    reserved = {"key", *_CSV_SCALARS, *geometry_columns}
    grid_keys = list(dict.fromkeys(k for row in rows for k in (row.get("params") or {})))
    grid_columns = [f"grid.{k}" if k in reserved else k for k in grid_keys]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["key", *grid_columns, *_CSV_SCALARS, *geometry_columns])

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple, dict)):
            return json.dumps(jsonable(value))
        if isinstance(value, float):
            return repr(value)
        return str(value)

    for row in rows:
        params = row.get("params") or {}
        problem = row.get("problem") or {}
        geometry = row.get("geometry") or {}
        scalars = {**row, "counts": problem.get("counts"), "dim": problem.get("dim")}
        writer.writerow(
            [
                cell(row.get("key")),
                *(cell(params.get(k)) for k in grid_keys),
                *(cell(scalars.get(k)) for k in _CSV_SCALARS),
                *(cell(geometry.get(k)) for k in geometry_keys),
            ]
        )
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ running
@dataclass(frozen=True)
class SweepSummary:
    """What one :func:`run_sweep` call did.

    Attributes
    ----------
    total : int
        Points of the spec (distinct keys).
    done : int
        Points solved and stored by this run (any solution status but ``"failed"``).
    skipped : int
        Points already finished in the store, not solved again.
    failed : int
        Points stored by this run with status ``"failed"`` (retried by the next run).
    unconverged : int
        Of ``done``, the points whose status is not ``"converged"``, or whose certificate did
        not close its gap (a lower bound exists but the point is not certified).
    seconds : float
        Wall time of the run.
    store : str
        The store's path.
    """

    total: int
    done: int
    skipped: int
    failed: int
    unconverged: int
    seconds: float
    store: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _check_run_args(
    dask_address: str | None, dask_workers: int | None, device: str, batch_size: int
) -> None:
    if dask_address is not None and dask_workers is not None:
        raise ValueError("give a Dask scheduler address or a number of local workers, not both")
    if dask_workers is not None and (
        isinstance(dask_workers, bool) or not isinstance(dask_workers, int) or dask_workers < 1
    ):
        raise ValueError(f"dask workers must be a positive integer, got {dask_workers!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a positive integer, got {batch_size!r}")
    device = str(device)
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"device {device!r} is not known; allowed: cpu, cuda, cuda:N")
    if device.startswith("cuda") and dask_address is None:
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; allowed: cpu")


def _dask_client(address: str | None, workers: int | None):
    """A ``distributed.Client`` and the LocalCluster started for it (or None)."""
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise ValueError(
            "running a sweep on Dask needs the 'distributed' package: pip install 'lpm[dask]'"
        ) from None
    if address is not None:
        try:
            return Client(address), None
        except OSError as exc:
            raise ValueError(
                _one_line(f"cannot reach the Dask scheduler at {address!r}: {exc}")
            ) from None
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster), cluster


def _failed_rows(items, options, error: str) -> list[dict[str, Any]]:
    started = _now()
    return [_row(item, options, None, None, "class-average", started, error) for item in items]


def run_sweep(
    spec: SweepSpec | str | Path,
    store: str | Path,
    *,
    dask_address: str | None = None,
    dask_workers: int | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    progress: Callable[[str], None] | None = None,
) -> SweepSummary:
    """Solve every point of ``spec`` that ``store`` does not hold yet, and store it.

    Parameters
    ----------
    spec : SweepSpec, or the path of a spec file (read by :func:`load_spec`)
    store : str or Path
        SQLite file (created with its parent's permission if absent).
    dask_address : str, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``): batches run on its workers.
    dask_workers : int, optional
        Start a local Dask cluster of this many single-threaded worker processes for the run.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (on the workers, with Dask).
    batch_size : int
        Most points per :func:`lpm.solve_batch` call (and per transaction, and per Dask task).
    progress : callable(str), optional
        Called with one line after each batch is written. An exception it raises stops the run;
        what was written stays.

    Returns
    -------
    SweepSummary

    Raises
    ------
    ValueError
        Bad arguments, an unwritable store, or Dask asked for but not installed or unreachable.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    _check_run_args(dask_address, dask_workers, device, batch_size)
    start = time.perf_counter()
    path = Path(store)
    if not path.parent.is_dir():
        raise ValueError(f"store {str(path)!r}: directory {str(path.parent)!r} does not exist")
    try:
        conn = _connect(path)
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            _one_line(f"store {str(path)!r} cannot be opened as an lpm sweep store: {exc}")
        ) from None
    counts = {"done": 0, "failed": 0, "unconverged": 0}
    try:
        spec_hash = spec.spec_hash
        with conn:
            conn.execute(
                "INSERT OR IGNORE INTO specs VALUES (?, ?, ?)",
                (spec_hash, _canonical(spec.to_dict()), _now()),
            )
        points = spec.points()
        finished = _finished_keys(conn)
        pending = [p for p in points if p[0] not in finished]
        skipped = len(points) - len(pending)
        batches = _batches(pending, batch_size)
        task = {"device": device, "geometry_keys": spec.geometry, "global_mean": spec.global_mean}

        def record(rows: list[dict[str, Any]]) -> None:
            _write(conn, rows, spec_hash)
            for row in rows:
                if row["status"] == "failed":
                    counts["failed"] += 1
                else:
                    counts["done"] += 1
                    uncertified = row["lower_bound"] is not None and not row["certified"]
                    counts["unconverged"] += row["status"] != "converged" or uncertified
            if progress is not None:
                finished_now = counts["done"] + counts["failed"]
                progress(
                    f"sweep: {finished_now}/{len(pending)} points ({counts['failed']} failed, "
                    f"{skipped} already stored), {time.perf_counter() - start:.1f} s"
                )

        if dask_address is None and dask_workers is None:
            for options, items in batches:
                record(solve_rows(items, options, **task))
        else:
            _run_dask(batches, task, dask_address, dask_workers, record)
    finally:
        conn.close()
    return SweepSummary(
        total=len(points),
        done=counts["done"],
        skipped=skipped,
        failed=counts["failed"],
        unconverged=counts["unconverged"],
        seconds=time.perf_counter() - start,
        store=str(path),
    )


def _run_dask(batches, task, address, workers, record) -> None:
    """Submit each batch as a task; write rows on the driver as tasks complete."""
    if not batches:
        return
    client, cluster = _dask_client(address, workers)
    futures = {}
    try:
        from distributed import as_completed

        for options, items in batches:
            future = client.submit(solve_rows, items, options, pure=False, **task)
            futures[future] = (options, items)
        for future in as_completed(list(futures)):
            options, items = futures.pop(future)
            try:
                rows = future.result()
            except Exception as exc:  # a lost worker: record the batch as failed, retry next run
                rows = _failed_rows(items, options, _one_line(f"{type(exc).__name__}: {exc}"))
            record(rows)
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
