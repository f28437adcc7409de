"""The NumPy engine of one small reduced problem under energy budgets (lpm.solvers.small)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch

from lpm import Problem, solve
from lpm.solvers import small
from lpm.solvers.lbfgs import CONVERGED, INACCURATE, MAX_ITER, TIME_LIMIT
from lpm.solvers.reduced import Layout, _start, evaluate, reduced_data

VARIANTS = [
    Problem.from_counts(
        (5, 3, 2, 1),
        dim=4,
        loss=loss,
        bias=bias,
        classifier=classifier,
        budget=budget,
        features=features,
        energy=(1.0, 2.0),
    )
    for loss, bias, classifier, budget, features in itertools.product(
        ("ce", "mse", "dr"),
        ("none", "free"),
        ("learnable", "etf"),
        ("class-average", "per-sample"),
        ("free", "relu"),
    )
    if not (loss == "dr" and classifier == "learnable")
]
IDS = [f"{p.loss}-{p.bias}-{p.classifier}-{p.budget}-{p.features}" for p in VARIANTS]


def _x(p: Problem, seed: int) -> np.ndarray:
    """A random flat point (for ReLU features: U ≥ 0 with about a third of it at 0)."""
    P = small.BudgetProblem.of(p)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(small.BudgetProblem.size_of(p))
    if P.relu:
        on_U = P.lower_bounds() == 0.0
        x = np.where(on_U, np.abs(x) * (rng.random(x.size) > 0.3), x)
    return x


@pytest.mark.parametrize("p", VARIANTS, ids=IDS)
def test_value_gradient_and_residual_equal_the_torch_reduced_problem(p):
    P = small.BudgetProblem.of(p)
    lay = Layout.of([p], "cpu", torch.float64)
    data = reduced_data([p], "cpu", torch.float64)
    for seed in range(3):
        x = _x(p, seed)
        f, g, natural = small.evaluate(x, P)
        f_ref, g_ref, res_ref = evaluate(torch.as_tensor(x)[None], lay, data)
        assert abs(f - float(f_ref[0])) <= 1e-13 * max(1.0, abs(f))
        assert np.abs(g - g_ref[0].numpy()).max() <= 1e-13 * max(1.0, np.abs(g).max())
        assert small.residual(f, natural, P) == pytest.approx(float(res_ref[0]), rel=1e-12)


@pytest.mark.parametrize("p", VARIANTS, ids=IDS)
def test_small_engine_reaches_the_torch_engines_optimum(p, monkeypatch):
    """Same start: the NumPy engine converges (the lifted residual, evaluated in torch, ≤ tol)
    on every variant; on the convex ones (fixed classifier, free features) the torch engine
    converges too, to the same objective. (The nonconvex ones may end at different stationary
    points from one start: auto's certificate and restarts decide there.)"""
    sol = solve(p, method="reduced", certify=False)
    assert sol.info["engine"].startswith("numpy-lbfgs-b") and sol.converged, sol.message
    if p.fixed_classifier and p.features == "free":
        monkeypatch.setattr(small, "SMALL_MAX_VARIABLES", 0)
        ref = solve(p, method="reduced", certify=False)
        assert ref.info["engine"] == "lbfgs" and ref.converged
        assert abs(sol.objective - ref.objective) <= 1e-10 * max(1.0, abs(ref.objective))


def test_auto_certifies_through_it():
    p = Problem.step(2, 2, 10, 10, dim=8, energy=(1.0, 1.0))
    sol = solve(p)
    assert sol.certified and sol.info["engine"] == "numpy-lbfgs-b"
    assert sol.objective == pytest.approx(0.3390530913, abs=1e-9)  # docs/theory.md §1.4


def test_stops_honestly_at_max_iter_and_deadline():
    p = Problem.step(5, 5, 2, 10, dim=10, energy=(1.0, 1.0))
    x0 = _start(p, 0, None, Layout.of([p], "cpu", torch.float64))
    short = small.solve_small(p, x0, tol=1e-10, max_iter=3)
    assert short.code == MAX_ITER and short.iterations <= 3 and short.residual > 1e-10
    late = small.solve_small(p, x0, tol=1e-10, max_iter=1000, deadline=time.monotonic() - 1)
    assert late.code == TIME_LIMIT
    full = small.solve_small(p, x0, tol=1e-10, max_iter=1000)
    assert full.code == CONVERGED and full.residual <= 1e-10
    sol = solve(p, method="reduced", max_iter=3, certify=False)
    assert sol.status == "max_iter"


def test_a_stalled_run_is_finished_by_the_torch_lbfgs(monkeypatch):
    """Should the NumPy finish stall, the torch L-BFGS goes on from its point and says so."""
    monkeypatch.setattr(
        small, "_finish", lambda x, P, tol, budget, deadline: (x, 1.0, 0, INACCURATE)
    )
    p = Problem.step(5, 5, 2, 10, dim=10, energy=(1.0, 1.0))
    sol = solve(p, method="reduced", certify=False)
    assert sol.info["engine"] == "numpy-lbfgs-b+lbfgs" and sol.converged


def test_applies_only_to_small_float64_cpu_budget_problems():
    p = Problem.step(2, 2, 10, 10, dim=8, energy=(1.0, 1.0))
    assert small.applies(p, "cpu", "float64")
    assert not small.applies(p, "cpu", "float32")
    assert not small.applies(p, "cuda", "float64")
    assert not small.applies(
        Problem.from_counts((3, 2), dim=2, decay=(1e-2, 1e-2)), "cpu", "float64"
    )
    sphere = Problem.from_counts((3, 2), dim=2, energy=(1, 1), features="sphere")
    assert not small.applies(sphere, "cpu", "float64")
    big = Problem.balanced(70, 2, dim=70, energy=(1, 1))
    assert small.BudgetProblem.size_of(big) > small.SMALL_MAX_VARIABLES
    assert not small.applies(big, "cpu", "float64")
