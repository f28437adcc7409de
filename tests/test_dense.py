"""The dense NumPy engine of one reduced problem under weight decay (lpm.solvers.dense)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch

from lpm import Problem, solve, solve_batch
from lpm.solvers import dense, reduced
from lpm.solvers.reduced import Layout, evaluate, reduced_data

VARIANTS = [
    Problem.from_counts(
        (5, 3, 2, 1),
        dim=3,
        loss=loss,
        bias=bias,
        classifier=classifier,
        decay=(1e-2, 2e-2, 3e-2 if bias == "penalised" else 0.0),
    )
    for loss, bias, classifier in itertools.product(
        ("ce", "mse"), ("none", "free", "penalised"), ("learnable", "etf")
    )
]
IDS = [f"{p.loss}-{p.bias}-{p.classifier}" for p in VARIANTS]
RELU = [
    Problem.from_counts((5, 3, 2, 1), dim=3, features="relu", decay=(1e-2, 2e-2)),
    Problem.from_counts(
        (5, 3, 2, 1), dim=3, features="relu", loss="mse", bias="penalised", decay=(1e-2, 2e-2, 3e-2)
    ),
    Problem.from_counts((5, 3, 2, 1), dim=3, features="relu", classifier="etf", decay=(1e-2, 2e-2)),
]
RELU_IDS = [f"relu-{p.loss}-{p.bias}-{p.classifier}" for p in RELU]


def _torch(p: Problem, x: np.ndarray):
    """f, gradient and lifted residual of the torch reduced problem (the reference)."""
    lay = Layout.of([p], "cpu", torch.float64)
    f, g, res = evaluate(torch.as_tensor(x)[None], lay, reduced_data([p], "cpu", torch.float64))
    return float(f[0]), g[0].numpy(), float(res[0])


@pytest.mark.parametrize("p", VARIANTS, ids=IDS)
def test_value_gradient_and_residual_equal_the_torch_reduced_problem(p):
    P = dense.DenseProblem.of(p)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal(P.size)
        f, g = dense.value_and_grad(x, P)
        f_ref, g_ref, res_ref = _torch(p, x)
        assert abs(f - f_ref) <= 1e-12 * max(1.0, abs(f_ref))
        assert np.abs(g - g_ref).max() <= 1e-12 * max(1.0, np.abs(g_ref).max())
        assert dense.residual(f, g, P) == pytest.approx(res_ref, rel=1e-12)


@pytest.mark.parametrize("p", VARIANTS, ids=IDS)
def test_hessian_equals_finite_differences_of_the_gradient(p):
    P = dense.DenseProblem.of(p)
    x = np.random.default_rng(1).standard_normal(P.size)
    H = dense.hessian(x, P)
    step = 1e-6
    columns = [
        (dense.value_and_grad(x + step * e, P)[1] - dense.value_and_grad(x - step * e, P)[1])
        / (2 * step)
        for e in np.eye(P.size)
    ]
    assert np.abs(H - H.T).max() <= 1e-14 * np.abs(H).max()
    assert np.abs(H - np.array(columns).T).max() <= 1e-7 * max(1.0, np.abs(H).max())


def test_applies_only_to_small_float64_cpu_decay_problems_with_free_or_relu_features():
    p = Problem.from_counts((5, 3, 2), dim=3, decay=(1e-2, 1e-2))
    assert dense.applies(p, "cpu", "float64")
    assert not dense.applies(p, "cpu", "float32")
    assert not dense.applies(p, "cuda", "float64")
    assert not dense.applies(Problem.from_counts((5, 3, 2), dim=3, energy=(1, 1)), "cpu", "float64")
    relu = Problem.from_counts((5, 3, 2), dim=3, decay=(1e-2, 1e-2), features="relu")
    assert dense.applies(relu, "cpu", "float64")
    sphere = Problem.from_counts((5, 3, 2), dim=3, decay=(1e-2, 1e-2), features="sphere")
    assert not dense.applies(sphere, "cpu", "float64")
    big = Problem.balanced(30, 2, dim=30, decay=(1e-2, 1e-2))
    assert dense.DenseProblem.size_of(big) > dense.DENSE_MAX_VARIABLES
    assert not dense.applies(big, "cpu", "float64")


@pytest.mark.parametrize("p", VARIANTS, ids=IDS)
def test_the_dense_engine_reaches_the_torch_engines_optimum(p, monkeypatch):
    """Same start, same optimum: the dense engine's answer agrees with the batched torch
    L-BFGS's to 1e-10 relative, and its residual is the torch evaluation's."""
    sol = solve(p, method="reduced", certify=False)
    assert sol.info["engine"] == "dense-newton" and sol.converged, sol.message
    monkeypatch.setattr(dense, "DENSE_MAX_VARIABLES", 0)
    ref = solve(p, method="reduced", certify=False)
    assert ref.info["engine"] == "lbfgs" and ref.converged
    assert abs(sol.objective - ref.objective) <= 1e-10 * max(1.0, abs(ref.objective))
    assert sol.residual <= sol.tol


def test_benchmark_instances_are_certified_by_the_dense_engine():
    p = Problem.from_counts((50, 20, 10, 5, 2, 1), dim=6, decay=(1e-3, 1e-3))
    sol = solve(p, seed=0)
    assert sol.certified and sol.info["engine"] == "dense-newton"
    for seed in range(1, 4):  # other random starts, same optimum
        other = solve(p, seed=seed, method="reduced", certify=False)
        assert abs(other.objective - sol.objective) <= 1e-12 * abs(sol.objective)


def test_stops_honestly_at_max_iter_and_deadline():
    p = Problem.from_counts((50, 20, 10, 5, 2, 1), dim=6, decay=(1e-3, 1e-3))
    x0 = np.random.default_rng(0).standard_normal(dense.DenseProblem.size_of(p))
    short = dense.solve_dense(p, x0, tol=1e-10, max_iter=2)
    assert short.code == dense.MAX_ITER and short.iterations == 2 and short.residual > 1e-10
    late = dense.solve_dense(p, x0, tol=1e-10, max_iter=1000, deadline=time.monotonic() - 1)
    assert late.code == dense.TIME_LIMIT and late.residual > 1e-10
    newton_only = dense.solve_dense(p, x0, tol=1e-10, max_iter=1000, switch=float("inf"))
    assert newton_only.code == dense.CONVERGED and newton_only.residual <= 1e-10
    sol = solve(p, method="reduced", max_iter=2, certify=False)
    assert sol.status == "max_iter" and sol.info["engine"] == "dense-newton"


def test_small_batches_loop_over_the_dense_engine_large_ones_stay_batched(monkeypatch):
    problems = [Problem.from_counts((5, 3, n), dim=3, decay=(1e-2, 1e-2)) for n in (1, 2)]
    looped = solve_batch(problems, method="reduced", certify=False)
    assert [s.info["engine"] for s in looped] == ["dense-newton"] * 2
    monkeypatch.setattr(reduced, "_DENSE_LOOP_NUMBERS", dense.DenseProblem.size_of(problems[0]))
    batched = solve_batch(problems, method="reduced", certify=False)
    assert [s.info["engine"] for s in batched] == ["lbfgs"] * 2
    for a, b in zip(looped, batched):
        assert a.converged and b.converged
        assert abs(a.objective - b.objective) <= 1e-10 * max(1.0, abs(b.objective))


@pytest.mark.parametrize("p", RELU, ids=RELU_IDS)
def test_relu_residual_is_the_projected_one_of_the_torch_reduced_problem(p):
    """With U ≥ 0 the residual is the per-sample gradient mapping; points on the bound (a third
    of the coordinates at 0) and inside it agree with the torch evaluation."""
    P = dense.DenseProblem.of(p)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = P.project(rng.standard_normal(P.size))
        f, g = dense.value_and_grad(x, P)
        f_ref, g_ref, res_ref = _torch(p, x)
        assert abs(f - f_ref) <= 1e-12 * max(1.0, abs(f_ref))
        assert np.abs(g - g_ref).max() <= 1e-12 * max(1.0, np.abs(g_ref).max())
        assert dense.residual(f, g, P, x) == pytest.approx(res_ref, rel=1e-12)


@pytest.mark.parametrize("p", RELU, ids=RELU_IDS)
def test_relu_solves_stay_feasible_and_converge(p):
    """L-BFGS-B's bounds and the projected Newton step keep U ≥ 0; the answer converges on the
    torch evaluation of the lifted residual."""
    sol = solve(p, method="reduced", certify=False)
    assert sol.info["engine"] == "dense-newton" and sol.converged, sol.message
    assert sol.H.min() >= 0.0


def test_relu_benchmark_instance_reaches_the_closed_form():
    """Dang et al.'s instance (docs/theory.md §3): every start of auto's batch ends at the
    certified optimum 0.13149489177 or is beaten by one that does."""
    p = Problem.from_counts((100, 100, 10, 10), dim=8, decay=(1e-3, 1e-3), features="relu")
    sol = solve(p)
    assert sol.certified and sol.info["engine"] == "dense-newton"
    assert sol.objective == pytest.approx(0.13149489177, abs=1e-10)
