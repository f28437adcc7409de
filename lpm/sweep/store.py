"""The results store: one SQLite table of rows, one per point key, written once.

The table ``results`` has the point key as PRIMARY KEY. A run writes each finished batch in one
transaction, so a crash loses at most the batches in flight, and a finished row is never written
twice nor overwritten. A row of status ``"failed"`` (the solve raised) is the one exception: the
next run solves its point again and replaces it. A second table, ``specs``, keeps every spec run
into the store, by hash.

Timing columns
--------------
``seconds`` is the point's own solve time, measured only where it can be: when the point was
solved alone (a batch of one). Points solved together as one tensor program share one wall time,
so for them ``seconds`` is empty and ``batch_seconds`` (the wall time of the whole
:func:`lpm.solve_batch` call) and ``batch_size`` (the points it solved) say what was measured.
Run with ``batch_size=1`` when per-point times matter. Stores written before these columns
existed are migrated on their next run: their ``seconds`` was a batch time, so it moves to
``batch_seconds`` (with ``batch_size`` unknown); :func:`read_store` reads an unmigrated store
the same way. The ``solve`` column is the solution's own summary (:meth:`lpm.Solution.summary`),
whose ``seconds`` is the solver's, for the whole batch.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from lpm.solution import jsonable
from lpm.sweep.spec import one_line
from lpm.sweep.table import to_dataframe, to_parquet

__all__ = [
    "SCHEMA_VERSION",
    "SQLITE_TIMEOUT",
    "STORE_COLUMNS",
    "StoreRows",
    "connect",
    "default_store",
    "finished_keys",
    "outcome",
    "read_store",
    "register_spec",
    "stored_outcomes",
    "timestamp",
    "write_rows",
]

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
    "batch_seconds",
    "batch_size",
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

#: The version of the table layout, kept in SQLite's ``user_version`` (0: before timing columns).
SCHEMA_VERSION = 2

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
    batch_seconds REAL,
    batch_size INTEGER,
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

#: Columns added by schema version 2, with their SQL types.
_ADDED_COLUMNS = {"batch_seconds": "REAL", "batch_size": "INTEGER"}

#: A finished row is never replaced; a failed one is, by the next run's answer.
_UPSERT = (
    f"INSERT INTO results ({', '.join(STORE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in STORE_COLUMNS)}) "
    "ON CONFLICT(key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STORE_COLUMNS if c != "key")
    + " WHERE results.status = 'failed'"
)

#: Seconds a writer waits for another process's transaction on the same store.
SQLITE_TIMEOUT = 60.0

_JSON_COLUMNS = ("params", "problem", "options", "solve", "geometry")


def timestamp() -> str:
    """The time now, as the store writes it (UTC, ISO 8601, milliseconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_store(spec_path: str | Path) -> Path:
    """The store a spec writes to without ``--store``: the spec's path with suffix ``.sqlite``."""
    return Path(spec_path).with_suffix(".sqlite")


def outcome(row: Mapping[str, Any]) -> str:
    """Where a stored point stands: settled, uncertified, unconverged or failed.

    Settled: status ``"converged"`` and, where a lower bound exists, certified. Uncertified:
    converged, with a bound whose gap did not close. Failed: the solve raised (retried by the next
    run). Unconverged: any other status (``"max_iter"``, ``"inaccurate"``, ``"time_limit"``, or a
    status this version does not know): a finished, honestly labelled row that is not retried.
    """
    status = row["status"]
    if status == "failed":
        return "failed"
    if status != "converged":
        return "unconverged"
    if row.get("lower_bound") is not None and not row.get("certified"):
        return "uncertified"
    return "settled"


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store of an older layout to :data:`SCHEMA_VERSION`, in one locked transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
        missing = {c: t for c, t in _ADDED_COLUMNS.items() if c not in columns}
        for column, sql_type in missing.items():
            conn.execute(f"ALTER TABLE results ADD COLUMN {column} {sql_type}")
        if "batch_seconds" in missing:  # the old 'seconds' was the batch's wall time
            conn.execute("UPDATE results SET batch_seconds = seconds, seconds = NULL")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) a store for writing, migrated to the current layout."""
    conn = sqlite3.connect(str(path), timeout=SQLITE_TIMEOUT)
    try:
        conn.executescript(_SCHEMA)
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def register_spec(conn: sqlite3.Connection, spec_hash: str, spec_json: str) -> None:
    """Remember a spec run into the store (once per hash)."""
    with conn:
        conn.execute(
            "INSERT OR IGNORE INTO specs VALUES (?, ?, ?)", (spec_hash, spec_json, timestamp())
        )


def _sql_value(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS:
        return None if value is None else json.dumps(jsonable(value), allow_nan=False)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_rows(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]], spec_hash: str) -> None:
    """Write rows in one transaction (never over a finished row)."""
    records = [
        [_sql_value(c, spec_hash if c == "spec_hash" else row.get(c)) for c in STORE_COLUMNS]
        for row in rows
    ]
    with conn:
        conn.executemany(_UPSERT, records)


def finished_keys(conn: sqlite3.Connection) -> set[str]:
    """Keys of the rows a run does not solve again (every status but ``"failed"``)."""
    return {k for (k,) in conn.execute("SELECT key FROM results WHERE status != 'failed'")}


def stored_outcomes(conn: sqlite3.Connection, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Status and :func:`outcome` of the stored rows among ``keys``, by key."""
    wanted = set(keys)
    query = "SELECT key, status, certified, lower_bound FROM results"
    out = {}
    for key, status, certified, lower_bound in conn.execute(query):
        if key in wanted:
            row = {"status": status, "certified": certified, "lower_bound": lower_bound}
            out[key] = {"status": status, "outcome": outcome(row)}
    return out


class StoreRows(list):
    """The rows of a store (a list of dicts, as :func:`read_store` returns them) and its tables.

    Examples
    --------
    >>> rows = read_store("phase.sqlite")                     # doctest: +SKIP
    >>> df = rows.to_pandas()                                 # doctest: +SKIP
    >>> df.pivot_table("minority_w_separation", "ratio", "energy")  # doctest: +SKIP
    """

    def to_pandas(self):
        """The rows as a pandas DataFrame (:func:`lpm.sweep.table.to_dataframe`)."""
        return to_dataframe(self)

    def to_parquet(self, path: str | Path) -> Path:
        """Write the rows as a Parquet file (:func:`lpm.sweep.table.to_parquet`)."""
        return to_parquet(self, path)


def _select_list(columns: set[str]) -> str:
    """SELECT expressions of :data:`STORE_COLUMNS` for a table that may predate some of them."""
    if "batch_seconds" not in columns:  # an unmigrated store: its 'seconds' is a batch time
        renamed = {"seconds": "NULL", "batch_seconds": "seconds", "batch_size": "NULL"}
        return ", ".join(f"{renamed.get(c, c)} AS {c}" for c in STORE_COLUMNS)
    return ", ".join(STORE_COLUMNS)


def _read_records(path: Path) -> list[tuple]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
        query = f"SELECT {_select_list(columns)} FROM results ORDER BY rowid"
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def read_store(path: str | Path) -> StoreRows:
    """Every row of a store, in the order they were first written.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    StoreRows
        A list of dicts with keys :data:`STORE_COLUMNS`; JSON columns decoded (``params``,
        ``problem``, ``options``, ``solve``, ``geometry``), ``converged`` and ``certified`` as
        bool (None for failed rows). ``.to_pandas()`` gives a DataFrame, ``.to_parquet(path)``
        a Parquet file.

    Raises
    ------
    ValueError
        The file does not exist or is not an lpm sweep store.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"store {str(path)!r} does not exist; run a sweep into it first")
    try:
        records = _read_records(path)
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            one_line(f"store {str(path)!r} is not an lpm sweep store (SQLite: {exc})")
        ) from None
    rows = StoreRows()
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
