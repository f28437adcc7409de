"""What ``lpm bench`` runs: lpm against a baseline measured in the same run, on the same problem.

Speed is measured here, not by timed tests: every row holds the time of lpm and of a baseline on
the same machine in the same run, their ratio (baseline / lpm: > 1 means lpm is faster), and the
accuracy each side reached against a stated tolerance (:mod:`benchmarks.report`). A ratio is
meaningful only on a row whose ``accurate`` is true.

Benchmarks (:data:`BENCHMARKS`, one module each):

* ``batch-vs-loop`` — :func:`lpm.solve_batch` on a grid of ratios against a loop of
  :func:`lpm.solve` (same seeds, same answers);
* ``gradient-vs-scipy`` — lpm's projected gradient against SciPy's L-BFGS-B on the regularised
  CE model, both to Zhu et al.'s closed-form optimum;
* ``certificate-vs-cvxpy`` — gradient + dual certificate against the layer-peeled SDP in cvxpy
  (skipped with a note where method ``"convex"`` is not registered);
* ``relu-restarts`` — the ReLU model's random restarts batched against one by one;
* ``engine-vs-lbfgs`` — ``lpm.solve`` (reduced quasi-Newton + certificate) against the plain
  torch L-BFGS anchor on balanced and step profiles up to K = 200;
* ``many-problems`` — 256 small imbalanced problems, :func:`lpm.solve_batch` against a loop of
  the anchor;
* ``engine-vs-scipy`` — the regularised model (CE, ReLU features) against SciPy's L-BFGS-B;
* ``engine-vs-nuclear`` — small regularised problems against a nuclear-norm cvxpy program;
* ``engine-vs-scs`` — step profiles K = 100 and 200 against the layer-peeled SDP solved by SCS;
* ``relu-global`` — a certified global optimum of a K = 10 ReLU model against its closed form;
* ``long-tail`` — a certified K = 1000 long tail against the target time.

The anchors are written in :mod:`benchmarks.anchors` as a user of torch, SciPy and cvxpy would;
``python -m benchmarks.scaling`` draws time against K, ``python -m benchmarks.gpu`` runs the
GPU measurements (benchmarks/RESULTS.md has the numbers and the commands).

Timings: a warm-up, then the best of 3 repeats (quick: 1 or 2) by ``time.perf_counter``
(:mod:`benchmarks.timing`). ``quick=True`` also shrinks the instances.

Examples
--------
>>> import benchmarks
>>> rows = benchmarks.run(quick=True, names=["batch-vs-loop"])  # doctest: +SKIP
>>> rows[0]["ratio"], rows[0]["accurate"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import (
    batch_vs_loop,
    certificate_vs_cvxpy,
    engine_vs_lbfgs,
    engine_vs_nuclear,
    engine_vs_scipy,
    engine_vs_scs,
    gradient_vs_scipy,
    long_tail,
    many_problems,
    relu_global,
    relu_restarts,
)
from benchmarks.report import ROW_KEYS, machine

__all__ = ["BENCHMARKS", "ROW_KEYS", "machine", "run"]

#: Every benchmark by name: a function (quick, device) -> list of rows.
BENCHMARKS: dict[str, Callable[[bool, str], list[dict[str, Any]]]] = {
    module.NAME: module.run
    for module in (
        batch_vs_loop,
        gradient_vs_scipy,
        certificate_vs_cvxpy,
        relu_restarts,
        engine_vs_lbfgs,
        many_problems,
        engine_vs_scipy,
        engine_vs_nuclear,
        engine_vs_scs,
        relu_global,
        long_tail,
    )
}


def run(
    quick: bool = False,
    device: str = "cpu",
    names: Sequence[str] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the benchmarks and return their rows.

    Parameters
    ----------
    quick : bool
        Smaller instances and fewer repeats (a minute or two on a laptop CPU, against several
        minutes for the full run, dominated by the K = 60 SDP).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``: where lpm solves (SciPy and cvxpy baselines run on
        the CPU wherever lpm runs; the row's ``notes`` say so).
    names : sequence of str, optional
        Benchmarks to run (:data:`BENCHMARKS`), in this order; default all.
    progress : callable(row), optional
        Called with each row as soon as it is measured.

    Returns
    -------
    list of dict
        Rows with the keys :data:`ROW_KEYS` (see :mod:`benchmarks.report`).

    Raises
    ------
    ValueError
        An unknown name, or an unknown or unavailable device (one line, with what is allowed).
    """
    chosen = list(BENCHMARKS) if names is None else list(dict.fromkeys(names))
    for name in chosen:
        if name not in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} is not known; allowed: {', '.join(BENCHMARKS)}")
    device = str(device)
    if device != "cpu" and not (device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"device {device!r} is not known; allowed: cpu, cuda, cuda:N")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; allowed: cpu")
    rows: list[dict[str, Any]] = []
    for name in chosen:
        for row in BENCHMARKS[name](quick, device):
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows
