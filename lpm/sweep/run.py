"""Running a sweep: solve the points a store lacks, locally or on Dask, and say where it stands.

Pending points are grouped by solve options and structure (K, d, loss, kind of classifier, scale
regime, budget, features, bias) and cut into batches of at most ``batch_size``; each batch is one
:func:`lpm.solve_batch` call, i.e. one tensor program, and one transaction of the store. With
Dask (:mod:`lpm.sweep.cluster`) each batch is one task; rows are written by the caller only
(SQLite has one writer).
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from lpm.problem import Problem
from lpm.sweep.cluster import run_on_dask
from lpm.sweep.spec import SweepSpec, canonical_json, load_spec, one_line
from lpm.sweep.store import (
    connect,
    finished_keys,
    register_spec,
    stored_outcomes,
    write_rows,
)
from lpm.sweep.task import solve_rows

__all__ = ["SweepProgress", "SweepSummary", "run_sweep"]

Point = tuple[str, Problem, dict[str, Any]]


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep is: passed to ``run_sweep(progress=...)`` after each batch.

    Attributes
    ----------
    done : int
        Points this run has written so far (failed ones included).
    total : int
        Points this run solves (those the store lacked when it started).
    batch : int
        Points written by the batch just finished (0 for the event sent before the first batch).
    failed : int
        Of ``done``, the points stored with status ``"failed"``.
    skipped : int
        Points of the spec already finished in the store, not solved again.
    seconds : float
        Wall time since the run started.

    Examples
    --------
    A progress bar (tqdm) from the events::

        bar = tqdm(unit="point")
        def show(event):
            bar.total = event.total
            bar.update(event.batch)
            bar.set_postfix(failed=event.failed)
        run_sweep(spec, store, progress=show)
    """

    done: int
    total: int
    batch: int
    failed: int
    skipped: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"sweep: {self.done}/{self.total} points ({self.failed} failed, "
            f"{self.skipped} already stored), {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class SweepSummary:
    """Where a sweep stands after a :func:`run_sweep` call: this run, and the whole spec's points.

    Attributes
    ----------
    total : int
        Points of the spec (distinct keys).
    done : int
        Points solved and stored by this run (any status but ``"failed"``).
    skipped : int
        Points already finished in the store before this run, not solved again.
    failed : int
        Points of the spec whose stored row has status ``"failed"`` (after a complete run, those
        that failed in it: a failed row is solved again by every run).
    unconverged : int
        Points of the spec stored — by this run or an earlier one — with a status other than
        ``"converged"`` (``"max_iter"``, ``"inaccurate"``, ``"time_limit"``, ...) or converged
        but uncertified (a lower bound exists and its gap did not close).
    uncertified : int
        Of ``unconverged``, the converged but uncertified points.
    statuses : dict of str to int
        Stored status of the spec's points, counted.
    store_rows : int
        Rows in the store (other specs' points included).
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
    uncertified: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    store_rows: int = 0

    @property
    def settled(self) -> bool:
        """Every point of the spec stored converged and, where it has a bound, certified."""
        return (
            self.failed == 0 and self.unconverged == 0 and sum(self.statuses.values()) == self.total
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the fields and ``settled``."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "settled": self.settled}


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
    if device.startswith("cuda") and dask_address is None and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; allowed: cpu")


def _open_store(path: Path) -> sqlite3.Connection:
    if not path.parent.is_dir():
        raise ValueError(f"store {str(path)!r}: directory {str(path.parent)!r} does not exist")
    try:
        return connect(path)
    except sqlite3.DatabaseError as exc:
        raise ValueError(
            one_line(f"store {str(path)!r} cannot be opened as an lpm sweep store: {exc}")
        ) from None


def _batches(
    pending: Sequence[Point], batch_size: int
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Same-options, same-structure groups of at most ``batch_size`` points, in grid order."""
    groups: dict[tuple[str, tuple], list[Point]] = {}
    for point in pending:
        _, problem, info = point
        groups.setdefault((canonical_json(info["solve"]), problem.batch_key), []).append(point)
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


class _Writer:
    """Writes each batch's rows in one transaction, counts them, and reports progress."""

    def __init__(self, conn, spec_hash, progress, total: int, skipped: int, start: float):
        self.conn, self.spec_hash, self.progress = conn, spec_hash, progress
        self.total, self.skipped, self.start = total, skipped, start
        self.done = self.failed = 0

    def report(self, batch: int) -> None:
        if self.progress is not None:
            self.progress(
                SweepProgress(
                    done=self.done + self.failed,
                    total=self.total,
                    batch=batch,
                    failed=self.failed,
                    skipped=self.skipped,
                    seconds=time.perf_counter() - self.start,
                )
            )

    def record(self, rows: list[dict[str, Any]]) -> None:
        write_rows(self.conn, rows, self.spec_hash)
        failed = sum(row["status"] == "failed" for row in rows)
        self.failed += failed
        self.done += len(rows) - failed
        self.report(len(rows))


def _summary(
    conn: sqlite3.Connection, points: Sequence[Point], writer: _Writer, path: Path
) -> SweepSummary:
    """What the store holds for the spec's points after the run, and what the run did."""
    stored = stored_outcomes(conn, (key for key, _, _ in points))
    outcomes = Counter(entry["outcome"] for entry in stored.values())
    (store_rows,) = conn.execute("SELECT COUNT(*) FROM results").fetchone()
    return SweepSummary(
        total=len(points),
        done=writer.done,
        skipped=writer.skipped,
        failed=outcomes["failed"],
        unconverged=outcomes["unconverged"] + outcomes["uncertified"],
        uncertified=outcomes["uncertified"],
        statuses=dict(Counter(entry["status"] for entry in stored.values())),
        store_rows=store_rows,
        seconds=time.perf_counter() - writer.start,
        store=str(path),
    )


def run_sweep(
    spec: SweepSpec | str | Path,
    store: str | Path,
    *,
    dask_address: str | None = None,
    dask_workers: int | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SweepSummary:
    """Solve every point of ``spec`` that ``store`` does not hold yet, and store it.

    Parameters
    ----------
    spec : SweepSpec, or the path of a spec file (read by :func:`lpm.sweep.load_spec`)
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
        1 gives every row its own solve time (``seconds``).
    progress : callable(SweepProgress), optional
        Called once before the first batch (``batch=0``, with the number of points to solve)
        and after each batch is written; ``str(event)`` is a one-line report. An exception it
        raises stops the run; what was written stays.

    Returns
    -------
    SweepSummary
        What this run solved, and where every point of the spec stands in the store.

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
    conn = _open_store(path)
    try:
        register_spec(conn, spec.spec_hash, canonical_json(spec.to_dict()))
        points = spec.points()
        finished = finished_keys(conn)
        pending = [p for p in points if p[0] not in finished]
        writer = _Writer(
            conn, spec.spec_hash, progress, len(pending), len(points) - len(pending), start
        )
        writer.report(0)
        batches = _batches(pending, batch_size)
        task = {"device": device, "geometry_keys": spec.geometry, "global_mean": spec.global_mean}
        if dask_address is None and dask_workers is None:
            for options, items in batches:
                writer.record(solve_rows(items, options, **task))
        else:
            run_on_dask(batches, task, dask_address, dask_workers, writer.record)
        return _summary(conn, points, writer, path)
    finally:
        conn.close()
