"""A training run against the certified optimum of its model, snapshot by snapshot.

For every recorded epoch of a :class:`~lpm.bridge.train.Run`, :func:`trajectory` measures the
network's last layer against the optimum of the matching model at the same counts, d and
(λ_W, λ_H) (:meth:`~lpm.bridge.train.Head.problem`): the three Gram distances of
:mod:`lpm.bridge.measure`, NC1, the largest |cos| between class means, the minority separation
max_{k<l minority}‖w_k − w_l‖² relative to E_W = (1/K)Σ‖w_k‖², per-class norms, the excess
f − f* of the last layer in the model's objective (≥ 0 up to the certificate's gap, because f*
is the certified global minimum and the training loss's last-layer part is f), and the training
error and per-class test accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lpm.bridge.measure import certified_optimum, compare_network
from lpm.bridge.train import Run
from lpm.geometry import pair_separation
from lpm.problem import Problem
from lpm.solution import Solution

__all__ = ["relative_separation", "run_optimum", "trajectory"]


def relative_separation(W: np.ndarray, classes: tuple[int, ...]) -> float | None:
    """max_{k<l in classes} ‖w_k − w_l‖² / E_W with E_W = (1/K)Σ‖w_k‖² (None below two classes;
    0 for W = 0). Scale-free, so trained and optimal classifiers compare directly; 2K/(K−1) for
    a simplex ETF."""
    if len(classes) < 2:
        return None
    energy = float(np.mean(np.sum(np.asarray(W) ** 2, axis=1)))
    return 0.0 if energy == 0.0 else pair_separation(W, classes) / energy


def run_optimum(run: Run, cache: dict | None = None) -> tuple[Problem, Solution]:
    """The matching model of a run and its certified optimum (memoised in ``cache``)."""
    problem = run.head.problem(run.counts, run.config.dim)
    if cache is not None and problem in cache:
        return problem, cache[problem]
    W = run.final.W if problem.fixed_classifier else None
    optimum = certified_optimum(problem, W)
    if cache is not None:
        cache[problem] = optimum
    return problem, optimum


def trajectory(
    run: Run, problem: Problem, optimum: Solution, minority: tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    """One row per snapshot of ``run``, measured against ``optimum`` (see the module docstring).

    Parameters
    ----------
    minority : tuple of int
        Classes of the minority separation and of ``minority_test_accuracy`` (their mean).
    """
    rows = []
    for snap in run.snapshots:
        m = compare_network(snap.H, run.labels, snap.W, None, problem, optimum, minority)
        geo = m.geometry
        rows.append(
            {
                "epoch": snap.epoch,
                "loss": snap.loss,
                "train_error": snap.train_error,
                "test_accuracy": snap.test_accuracy,
                "minority_test_accuracy": (
                    float(np.mean(snap.test_accuracy[list(minority)])) if minority else None
                ),
                "gram_distance": {k: g.distance for k, g in m.grams.items()},
                "gram_raw_distance": {k: g.raw_distance for k, g in m.grams.items()},
                "objective_excess": m.objective_excess,
                "nc1": geo.nc1,
                "max_abs_cos_m": geo.max_abs_cos_m,
                "minority_separation": relative_separation(snap.W, minority),
                "w_norms": geo.w_norms,
                "m_norms": geo.m_norms,
            }
        )
    return rows
