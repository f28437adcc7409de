"""The class-permutation-symmetric solver: its objective is the full one at the lifted point, the
lifted point is symmetric and feasible, its optimum is the reduced solver's, and ``auto`` uses it
only where it pays and never keeps an uncertified answer of it."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lpm
from lpm.constraints import violation
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solvers import METHODS, solve, solve_batch
from lpm.solvers.auto import uses_symmetric
from lpm.solvers.gradient import residual as kkt_residual
from lpm.solvers.symmetric import Groups, _Model, lift, solve_symmetric, supports

COUNTS = (5, 5, 3, 1, 1, 2, 5)

VARIANTS = [
    dict(energy=(1.0, 1.0)),
    dict(energy=(1.0, 2.0), budget="per-sample"),
    dict(energy=(0.5, 1.5), loss="mse"),
    dict(energy=(1.0, 1.0), bias="free"),
    dict(decay=(1e-2, 2e-3)),
    dict(decay=(1e-2, 2e-3, 1e-3), bias="penalised"),
    dict(decay=(5e-3, 5e-3), loss="mse", bias="free"),
]


def _lifted(p, x):
    model = _Model(p, Groups.of(p))
    with torch.no_grad():
        f = float(model.value(torch.as_tensor(x)))
    W, M, b = model.lifted(torch.as_tensor(x))
    return f, W, M, b


def test_groups_are_the_classes_of_equal_counts():
    g = Groups.of(Problem.from_counts(COUNTS, dim=7, energy=(1, 1)))
    assert g.G == 4 and sorted(g.sizes.tolist()) == [1, 1, 2, 3]
    for k, n in enumerate(COUNTS):
        assert g.counts[g.index[k]] == n


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}" for k in v))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), extra=st.integers(0, 3))
def test_symmetric_objective_is_the_objective_of_the_lifted_point(variant, seed, extra):
    """At any point of the symmetric parameters the lifted (W, H, b) is feasible and has the
    same objective; it is invariant under permutations within a group."""
    p = Problem.from_counts(COUNTS, dim=len(COUNTS) + extra, **variant)
    model = _Model(p, Groups.of(p))
    x = model.start(seed) + np.random.default_rng(seed).standard_normal(sum(model.sizes.values()))
    f, W, M, b = _lifted(p, x)
    H = M[p.labels]
    assert violation(p, W, H) <= 1e-12
    assert f == pytest.approx(objective(p, W, H, b if p.has_bias else None), rel=1e-12, abs=1e-14)
    # Swapping two classes of one group (rows and feature coordinates alike) fixes the point.
    k, j = 0, 1  # counts 5 and 5
    rows, cols = np.arange(p.K), np.arange(p.dim)
    rows[[k, j]] = cols[[k, j]] = [j, k]
    for X in (M, W):
        assert np.allclose(X[rows][:, cols], X, atol=1e-14)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}" for k in v))
def test_symmetric_optimum_is_the_reduced_optimum(variant):
    """Symmetric criticality: the symmetric solve converges on the full residual, is certified,
    and has the reduced solver's objective."""
    p = Problem.from_counts(COUNTS, dim=len(COUNTS), **variant)
    sym = solve(p, method="symmetric")
    red = solve(p, method="reduced")
    assert sym.method == "symmetric" and sym.converged and sym.certified
    assert sym.objective == pytest.approx(red.objective, rel=1e-10, abs=1e-12)
    b = sym.b if p.has_bias else None
    assert kkt_residual(p, sym.W, sym.H, b) <= 1.01 * sym.tol
    assert sym.info["groups"] == 4 and sym.info["formulation"] == "class-means, symmetric"


def test_long_tail_with_repeated_counts():
    """A long tail whose counts repeat (K = 60, 34 distinct counts) at d > K."""
    p = Problem.long_tail(60, 50, 50, dim=64, energy=(1.0, 1.0))
    sym = solve(p, method="symmetric")
    assert sym.certified and sym.info["groups"] < p.K
    assert sym.objective == pytest.approx(solve(p, method="reduced").objective, rel=1e-10)


@pytest.mark.parametrize(
    ("problem", "words"),
    [
        (Problem.from_counts((3, 3, 1), dim=2, energy=(1, 1)), "needs d ≥ K"),
        (Problem.from_counts((3, 3, 1), dim=3, energy=(1, 1), classifier="etf"), "fixed"),
        (Problem.from_counts((3, 3, 1), dim=3, decay=(1e-2, 1e-2), features="relu"), "free"),
        (Problem.from_counts((3, 3, 1), dim=3), "unregularised"),
    ],
)
def test_symmetric_refuses_with_a_reason(problem, words):
    assert words in supports(problem)
    with pytest.raises(ValueError, match="cannot solve this problem") as err:
        solve(problem, method="symmetric")
    assert "\n" not in str(err.value)


def test_symmetric_honours_the_time_limit():
    p = Problem.long_tail(200, 100, 100, dim=200, energy=(1.0, 1.0))
    sol = solve(p, method="symmetric", time_limit=0.05, certify=False)
    assert sol.status in ("time_limit", "converged")
    assert sol.seconds < 5


def test_auto_uses_it_where_it_pays():
    step = Problem.step(10, 10, 2, 10, dim=20, energy=(1, 1))
    assert uses_symmetric(step)
    assert solve(step).method == "symmetric"
    assert not uses_symmetric(Problem.step(3, 3, 2, 10, dim=6, energy=(1, 1)))  # K < 20
    assert not uses_symmetric(Problem.long_tail(30, 100, 100, dim=30, energy=(1, 1)))
    assert not uses_symmetric(step, batch_size=4)  # small K in a batch: batched reduced
    assert not uses_symmetric(replace(step, dim=19))
    # From K = 300 any repetition counts (162 groups of 300 classes), none does not.
    assert uses_symmetric(Problem.long_tail(300, 300, 100, dim=300, energy=(1, 1)))
    assert not uses_symmetric(Problem.from_counts(range(1, 301), dim=300, energy=(1, 1)))
    batch = solve_batch([step, replace(step, energy=(1.0, 2.0))])
    assert all(s.method == "reduced" and s.certified for s in batch)


def test_auto_goes_on_when_the_symmetric_answer_is_not_certified(monkeypatch):
    """An uncertified symmetric answer (here cut to 2 iterations) is dropped: auto solves the
    problem by the reduced solver as before."""
    symmetric = METHODS["symmetric"]

    def cut_short(problems, options):
        return symmetric.run(problems, replace(options, max_iter=2))

    monkeypatch.setitem(METHODS, "symmetric", replace(symmetric, run=cut_short))
    p = Problem.step(10, 10, 2, 10, dim=20, energy=(1, 1))
    sol = solve(p)
    assert sol.method == "reduced" and sol.certified


def test_solve_symmetric_names_the_reason():
    with pytest.raises(ValueError, match="needs d ≥ K"):
        solve_symmetric(Problem.from_counts((2, 2, 1), dim=2, energy=(1, 1)))
    assert lpm.METHODS["symmetric"].supports(Problem.balanced(3, 2, dim=3, energy=(1, 1))) is None


def test_lift_of_zero_parameters_is_zero():
    p = Problem.from_counts((2, 2, 1), dim=4, energy=(1, 1))
    g = Groups.of(p)
    W, M, b = lift(p, g, np.zeros(2), np.zeros((2, 2)), np.zeros(2), np.zeros((2, 2)), None)
    assert not W.any() and not M.any() and not b.any() and W.shape == (3, 4)


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(
    groups=st.lists(st.tuples(st.integers(1, 60), st.integers(1, 8)), min_size=2, max_size=6),
    variant=st.sampled_from(VARIANTS),
    extra=st.integers(0, 4),
)
def test_symmetric_answers_agree_with_the_reduced_solver(groups, variant, extra):
    """Random repeated counts (2–6 groups of 1–8 classes), every variant: a certified symmetric
    answer is the reduced solver's optimum, and neither side falls below the other's bound."""
    counts = tuple(n for n, size in groups for _ in range(size))
    p = Problem.from_counts(counts, dim=len(counts) + extra, **variant)
    sym = solve(p, method="symmetric")
    red = solve(p, method="reduced")
    assert sym.converged, sym.message
    scale = max(1.0, abs(red.objective))
    if sym.certified:
        assert red.objective >= sym.lower_bound - 1e-9 * scale
        assert sym.objective <= red.objective + 1e-8 * scale
    if red.certified:
        assert sym.objective >= red.lower_bound - 1e-9 * scale
