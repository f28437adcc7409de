"""Tables of sweep rows: CSV text, a pandas DataFrame, a Parquet file.

The three share one layout, one line per point: ``key``; the grid coordinates (a grid key that is
also a result column is written ``grid.<key>``); the result columns :data:`RESULT_COLUMNS`
(status, converged, certified, objective, residual, lower_bound, gap, iterations, seconds,
batch_seconds, batch_size, method, device, counts, dim, message); then every stored geometry key
(one that is also a result column, such as ``counts``, is written ``geometry.<key>``). A value the
row lacks is empty (CSV), NA (DataFrame) or null (Parquet).

pandas and pyarrow are optional (``pip install 'lpm[pandas]'``) and imported only here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lpm.solution import jsonable

__all__ = ["RESULT_COLUMNS", "store_to_csv", "to_dataframe", "to_parquet"]

#: Result columns of the tables, after the key and the grid coordinates.
RESULT_COLUMNS: tuple[str, ...] = (
    "status",
    "converged",
    "certified",
    "objective",
    "residual",
    "lower_bound",
    "gap",
    "iterations",
    "seconds",
    "batch_seconds",
    "batch_size",
    "method",
    "device",
    "counts",
    "dim",
    "message",
)

_BOOLEAN = ("converged", "certified")
_INTEGER = ("iterations", "batch_size", "dim")
_FLOAT = ("objective", "residual", "lower_bound", "gap", "seconds", "batch_seconds")

Rows = Sequence[Mapping[str, Any]]


def _layout(rows: Rows) -> tuple[list[str], list[str], list[str]]:
    """The header, the grid keys and the geometry keys of a table of ``rows``."""
    geometry_keys = list(dict.fromkeys(k for row in rows for k in (row.get("geometry") or {})))
    geometry_columns = [f"geometry.{k}" if k in RESULT_COLUMNS else k for k in geometry_keys]
    reserved = {"key", *RESULT_COLUMNS, *geometry_columns}
    grid_keys = list(dict.fromkeys(k for row in rows for k in (row.get("params") or {})))
    grid_columns = [f"grid.{k}" if k in reserved else k for k in grid_keys]
    header = ["key", *grid_columns, *RESULT_COLUMNS, *geometry_columns]
    return header, grid_keys, geometry_keys


def _records(rows: Rows) -> tuple[list[str], list[list[Any]]]:
    """The header and one list of Python values per row."""
    header, grid_keys, geometry_keys = _layout(rows)
    records = []
    for row in rows:
        params = row.get("params") or {}
        problem = row.get("problem") or {}
        geometry = row.get("geometry") or {}
        results = {**row, "counts": problem.get("counts"), "dim": problem.get("dim")}
        records.append(
            [
                row.get("key"),
                *(params.get(k) for k in grid_keys),
                *(results.get(k) for k in RESULT_COLUMNS),
                *(geometry.get(k) for k in geometry_keys),
            ]
        )
    return header, records


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(jsonable(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def store_to_csv(rows: Rows) -> str:
    """Rows of :func:`lpm.sweep.read_store` as CSV text, one line per point.

    Columns as in the module's layout; lists (counts, Grams, norms) are JSON text.
    """
    header, records = _records(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in record] for record in records)
    return buffer.getvalue()


def _import(name: str):
    try:
        return __import__(name)
    except ModuleNotFoundError:
        raise ValueError(
            f"sweep tables as DataFrames or Parquet need the '{name}' package: "
            "pip install 'lpm[pandas]'"
        ) from None


def to_dataframe(rows: Rows):
    """Rows of :func:`lpm.sweep.read_store` as a pandas DataFrame, one row per point.

    Columns as in the module's layout. ``converged`` and ``certified`` are nullable booleans,
    ``iterations``, ``batch_size`` and ``dim`` nullable integers, the numbers float64 (NaN where
    missing); lists (counts, Grams, norms) stay Python lists.

    Examples
    --------
    >>> df = to_dataframe(read_store("phase.sqlite"))       # doctest: +SKIP
    >>> df[df.certified].groupby("ratio").objective.mean()  # doctest: +SKIP
    """
    pd = _import("pandas")
    header, records = _records(rows)
    frame = pd.DataFrame(records, columns=header, dtype=object)
    for column in _BOOLEAN:
        frame[column] = frame[column].astype("boolean")
    for column in _INTEGER:
        frame[column] = frame[column].astype("Int64")
    for column in _FLOAT:
        frame[column] = frame[column].astype("float64")
    return frame.infer_objects()


def _arrow_ready(frame):
    """The frame with every column pyarrow cannot type (mixed lists and scalars) as JSON text."""
    pa = _import("pyarrow")
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        try:
            pa.array(list(frame[column]), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            frame[column] = [None if v is None else json.dumps(jsonable(v)) for v in frame[column]]
    return frame


def to_parquet(rows: Rows, path: str | Path) -> Path:
    """Write rows of :func:`lpm.sweep.read_store` as a Parquet file (pyarrow), atomically.

    The table of :func:`to_dataframe`; lists are Parquet lists, except in a column that mixes
    lists with scalars or strings (a grid that spelled one key two ways), written as JSON text.
    The file is written beside ``path`` and renamed onto it, so a crash never leaves half a file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        pandas or pyarrow is not installed, or ``path`` cannot be written (one line, naming why).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"parquet {str(path)!r}: directory {str(parent)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"parquet {str(path)!r} is a directory; give a file path")
    frame = _arrow_ready(to_dataframe(rows))
    try:
        handle, temporary = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ValueError(f"parquet {str(path)!r}: cannot write in {str(parent)!r}: {exc}") from None
    os.close(handle)
    try:
        frame.to_parquet(temporary, engine="pyarrow", index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
