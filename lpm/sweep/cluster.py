"""Sweeps on Dask: each batch one task on a worker, every row written by the caller once.

Dask (``distributed``) is optional (``pip install 'lpm[dask]'``) and imported only here.

Faults
------
A worker that dies (killed, out of memory, its machine lost) costs at most the tasks it held: the
scheduler runs them again on another worker (or on the worker its nanny restarts). A task is
given up only after it has been on ``distributed.scheduler.allowed-failures`` (3 by default)
workers that died; its batch is then stored as rows of status ``"failed"``, which the next run
solves again. The workers never touch the store: each task's result arrives once, through its
future, and the caller writes it in one transaction; a task that ran twice (once on the worker
that died) is still one future and one write, so no point is lost or stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lpm.sweep.spec import one_line
from lpm.sweep.task import failed_rows, solve_rows

__all__ = ["dask_client", "run_on_dask"]

Batch = tuple[Mapping[str, Any], list[dict[str, Any]]]


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
    from distributed import as_completed

    futures: dict[Any, Batch] = {}
    try:
        for options, items in batches:
            future = client.submit(solve_rows, items, options, pure=False, **task)
            futures[future] = (options, items)
        for future in as_completed(list(futures)):
            options, items = futures.pop(future)
            try:
                rows = future.result()
            except Exception as exc:  # e.g. KilledWorker: stored as failed, retried next run
                rows = failed_rows(items, options, f"{type(exc).__name__}: {exc}")
            record(rows)
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
