"""Sweeps on Dask: each batch one task on a worker, every row written by the caller once.

Dask (``distributed``) is optional (``pip install 'lpm[dask]'``) and imported only here.

Faults
------
A worker that dies (killed, out of memory, its machine lost) costs at most the tasks it held: the
scheduler runs them again on another worker (or on the worker its nanny restarts). A task is
given up only after it has been on ``distributed.scheduler.allowed-failures`` (3 by default)
workers that died; its batch is then stored as rows of status ``"failed"``, which the next run
solves again. A finished task whose result cannot be fetched (lost with its worker before the
caller read it, a broken connection) is submitted again, up to :data:`SUBMISSIONS` times.

The workers never touch the store: each task's result arrives once, through its future, and the
caller writes it in one transaction; a task that ran twice (once on the worker that died) is still
one future and one write, so no point is lost or stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lpm.sweep.spec import one_line
from lpm.sweep.task import failed_rows, solve_rows

__all__ = ["SUBMISSIONS", "dask_client", "run_on_dask"]

Batch = tuple[Mapping[str, Any], list[dict[str, Any]]]

_log = logging.getLogger(__name__)

#: Times a batch is submitted when its result cannot be fetched (a lost result, a broken
#: connection); a task killed with its workers (``KilledWorker``) is not submitted again.
SUBMISSIONS = 3


def dask_client(address: str | None, workers: int | None):
    """A ``distributed.Client`` and the ``LocalCluster`` started for it (None with an address).

    Raises
    ------
    ValueError
        ``distributed`` is not installed, or the scheduler at ``address`` cannot be reached.
    """
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
                one_line(f"cannot reach the Dask scheduler at {address!r}: {exc}")
            ) from None
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster), cluster


def run_on_dask(
    batches: Sequence[Batch],
    task: Mapping[str, Any],
    address: str | None,
    workers: int | None,
    record: Callable[[list[dict[str, Any]]], None],
) -> None:
    """Submit each batch as a :func:`solve_rows` task; ``record`` its rows as tasks complete.

    ``task`` holds the keyword arguments of :func:`solve_rows` shared by every batch. A task
    that fails for good (see the module's Faults) is recorded as failed rows.
    """
    if not batches:
        return
    client, cluster = dask_client(address, workers)  # a clear error if Dask is missing
    from distributed import KilledWorker, as_completed

    futures: dict[Any, tuple[Mapping[str, Any], list[dict[str, Any]], int]] = {}

    def submit(options: Mapping[str, Any], items: list[dict[str, Any]], attempt: int):
        future = client.submit(solve_rows, items, options, pure=False, **task)
        futures[future] = (options, items, attempt)
        return future

    try:
        pending = as_completed([submit(options, items, 1) for options, items in batches])
        for future in pending:
            options, items, attempt = futures.pop(future)
            try:
                rows = future.result()
            except KilledWorker as exc:  # the scheduler has retried it already
                rows = failed_rows(items, options, f"KilledWorker: {exc}")
            except Exception as exc:  # its result was lost on the way: submit it again
                if attempt < SUBMISSIONS:
                    _log.warning(
                        "sweep: a batch of %d points is submitted again (%s: %s)",
                        len(items),
                        type(exc).__name__,
                        one_line(exc),
                    )
                    pending.add(submit(options, items, attempt + 1))
                    continue
                rows = failed_rows(items, options, f"{type(exc).__name__}: {exc}")
            record(rows)
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
