"""Solvers: docs/theory.md's worked optima, the method contract, batching, seeds, dtypes."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lpm
from lpm.classifiers import etf_gram
from lpm.constraints import violation
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solution import STATUSES
from lpm.solvers import METHODS, solve, solve_batch
from lpm.solvers.gradient import residual as kkt_residual


def balanced_value(K, E_W, E_H):
    """docs/theory.md §1.2: L* = log(1 + (K−1) exp(−(K/(K−1)) sqrt(E_W E_H)))."""
    return math.log1p((K - 1) * math.exp(-(K / (K - 1)) * math.sqrt(E_W * E_H)))


IMB = (100, 100, 10, 10)

# (name, problem, docs/theory.md's value, tolerance: 1e-8 unless docs/theory.md gives fewer digits)
WORKED = [
    ("fang-balanced-K4", Problem.balanced(4, 10, dim=8, energy=(1, 1)), 0.5826576530618, 1e-9),
    ("fang-balanced-K4-d3", Problem.balanced(4, 5, dim=3, energy=(1, 1)), 0.5826576530618, 1e-9),
    ("fang-balanced-K2", Problem.balanced(2, 6, dim=2, energy=(1, 1)), 0.1269280110430, 1e-9),
    ("fang-balanced-K3", Problem.balanced(3, 5, dim=3, energy=(1, 1)), 0.3689811354013, 1e-9),
    ("fang-balanced-K10", Problem.balanced(10, 3, dim=9, energy=(1, 1)), 1.3769349204502, 1e-9),
    ("fang-balanced-K10-E5", Problem.balanced(10, 3, dim=10, energy=(1, 5)), 0.5597815240104, 1e-9),
    ("fang-imbalanced", Problem.from_counts(IMB, dim=8, energy=(1, 1)), 0.3390530913, 1e-8),
    ("fang-imbalanced-d2", Problem.from_counts(IMB, dim=2, energy=(1, 1)), 0.3390530913, 1e-8),
    (
        "yang-etf-per-sample",
        Problem.from_counts(IMB, dim=8, energy=(1, 1), classifier="etf", budget="per-sample"),
        0.5826576530618,
        1e-9,
    ),
    (
        "etf-class-average",
        Problem.from_counts(IMB, dim=8, energy=(1, 1), classifier="etf"),
        0.45361,
        1e-5,
    ),
    (
        "yang-dr",
        Problem.from_counts(
            IMB, dim=8, energy=(1, 1), classifier="etf", loss="dr", budget="per-sample"
        ),
        0.0,
        1e-12,
    ),
    (
        "dang-relu-1e-3",
        Problem.from_counts(IMB, dim=8, decay=(1e-3, 1e-3), features="relu"),
        0.13149489177,
        1e-10,
    ),
    (
        "dang-relu-2e-2",
        Problem.from_counts(IMB, dim=8, decay=(2e-2, 2e-2), features="relu"),
        1.11075757,
        1e-8,
    ),
    (
        "zhu-bias",
        Problem.balanced(4, 25, dim=8, decay=(5e-3, 5e-3, 5e-3), bias="penalised"),
        0.348780384918,
        1e-11,
    ),
    ("mse-1e-3", Problem.from_counts(IMB, dim=8, loss="mse", decay=(1e-3, 1e-3)), 0.02588456, 1e-8),
    ("mse-5e-3", Problem.from_counts(IMB, dim=8, loss="mse", decay=(5e-3, 5e-3)), 0.12062278, 1e-8),
    (
        "mse-free-bias",
        Problem.balanced(4, 25, dim=8, loss="mse", decay=(5e-3, 5e-3), bias="free"),
        0.07125,
        1e-11,
    ),
]


@pytest.mark.parametrize(("name", "problem", "value", "tol"), WORKED, ids=[w[0] for w in WORKED])
def test_worked_optima(name, problem, value, tol):
    restarts = 4 if problem.features == "relu" else 1
    sol = solve(problem, method="gradient", restarts=restarts)
    assert sol.converged, sol.message
    assert sol.residual <= 1e-9
    assert abs(sol.objective - value) <= tol, (sol.objective, value)
    assert sol.H.shape == (problem.N, problem.dim)


def test_balanced_gram_is_the_etf():
    for K, E_W, E_H in [(3, 1.0, 1.0), (5, 2.0, 0.5)]:
        p = Problem.balanced(K, 4, dim=K + 1, energy=(E_W, E_H))
        sol = solve(p, method="gradient")
        assert abs(sol.objective - balanced_value(K, E_W, E_H)) < 1e-10
        assert np.abs(sol.W @ sol.W.T / E_W - etf_gram(K)).max() < 1e-6
        # h_{k,i} = sqrt(E_H/E_W) w_k for every sample.
        C = math.sqrt(E_H / E_W)
        assert np.abs(sol.H - C * sol.W[p.labels]).max() < 1e-6


def test_imbalanced_instance_geometry():
    """docs/theory.md §1.4 at 4 digits: norms, Σ w_k = 0, minority classifiers collapsed."""
    sol = solve(Problem.from_counts(IMB, dim=8, energy=(1, 1)), method="gradient")
    w2 = (sol.W**2).sum(1)
    m2 = (sol.means**2).sum(1)
    assert np.allclose(w2, [1.7414, 1.7414, 0.2586, 0.2586], atol=1e-4)
    assert np.allclose(m2, [1.9675, 1.9675, 0.0325, 0.0325], atol=1e-4)
    assert np.abs(sol.W.sum(0)).max() < 1e-6
    assert ((sol.W[2] - sol.W[3]) ** 2).sum() < 1e-10


SHARED = [
    Problem.balanced(3, 3, dim=3, energy=(1, 1)),
    Problem.from_counts((6, 2, 2), dim=3, energy=(1, 2), budget="per-sample"),
    Problem.from_counts((4, 2, 1), dim=3, classifier="etf", energy=(1, 1)),
    Problem.from_counts((4, 2, 1), dim=3, loss="mse", decay=(1e-2, 1e-2)),
    Problem.from_counts((4, 2, 1), dim=3, features="relu", decay=(1e-2, 1e-2)),
    Problem.from_counts((4, 2, 1), dim=3, features="sphere", classifier="random", energy=(1, 1)),
    Problem.from_counts((4, 2, 2), dim=3, bias="free", decay=(1e-2, 1e-2)),
    Problem.balanced(3, 2, dim=3),
]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_contract(name):
    """Every registered method honours the Solution contract on the problems it supports."""
    method = METHODS[name]
    ran = 0
    for p in SHARED:
        if method.supports(p) is not None:
            assert isinstance(method.supports(p), str) and method.supports(p)
            continue
        sol = solve(p, method=name)
        ran += 1
        assert sol.status in STATUSES
        # auto names the method that produced its answer.
        assert sol.method == name or (name == "auto" and sol.method in METHODS)
        assert sol.W.shape == (p.K, p.dim) and sol.H.shape == (p.N, p.dim) and sol.b.shape == (p.K,)
        if sol.converged and p.regime != "unregularised":
            # The claim is checked independently of the method: the point is feasible, and
            # methods that report the gradient method's residual reproduce it at that point.
            assert violation(p, sol.W, sol.H) <= 1e-6
            if sol.method in ("gradient", "theory", "reduced", "symmetric"):
                b_arg = sol.b if p.bias != "none" else None
                assert kkt_residual(p, sol.W, sol.H, b_arg) <= 1.01 * sol.tol
        b = sol.b if p.bias != "none" else None
        if p.regime != "unregularised":
            assert sol.objective == pytest.approx(
                objective(p, sol.W, sol.H, b), rel=1e-12, abs=1e-14
            )
        if sol.lower_bound is not None:
            assert sol.gap >= -1e-9 * max(1.0, abs(sol.objective))
        assert sol.seconds >= 0 and sol.iterations >= 0
    assert ran > 0


def test_solve_batch_equals_loop():
    problems = [Problem.step(2, 2, 2, r, dim=4, energy=(1, 1)) for r in (1, 2, 5)]
    batch = solve_batch(problems, method="gradient", seed=3)
    for p, sb in zip(problems, batch):
        s1 = solve(p, method="gradient", seed=3)
        assert sb.converged and s1.converged
        assert abs(sb.objective - s1.objective) < 1e-12
        assert np.abs(sb.W @ sb.W.T - s1.W @ s1.W.T).max() < 1e-7


def test_same_seed_same_bits():
    p = Problem.from_counts((5, 3, 2), dim=3, energy=(1, 1))
    a, b = solve(p, method="gradient", seed=7), solve(p, method="gradient", seed=7)
    assert np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H) and a.objective == b.objective
    c = solve(p, method="gradient", seed=8)
    assert not np.array_equal(a.H, c.H)


def test_restarts_keep_the_best_and_report_all():
    p = Problem.from_counts(IMB, dim=8, decay=(1e-3, 1e-3), features="relu")
    sol = solve(p, method="gradient", restarts=3)
    assert len(sol.restarts) == 3 and sol.objective == pytest.approx(min(sol.restarts), abs=1e-15)


def test_float32_is_honest():
    p = Problem.from_counts((20, 20, 5, 5), dim=4, energy=(1, 1))
    s32 = solve(p, method="gradient", dtype="float32", max_iter=3000)
    s64 = solve(p, method="gradient")
    assert s32.dtype == "float32"
    if s32.converged:
        assert s32.residual <= s32.tol
    else:
        assert s32.status in ("max_iter", "inaccurate") and s32.residual > s32.tol
    assert abs(s32.objective - s64.objective) < 1e-4


def test_tight_float32_tolerance_is_never_called_converged():
    """float32 cannot reach 1e-12: once neither the residual nor the objective improves, the
    solve stops as stalled; it never claims convergence."""
    p = Problem.from_counts((20, 20, 5, 5), dim=4, energy=(1, 1))
    sol = solve(p, method="gradient", dtype="float32", tol=1e-12, max_iter=5000)
    assert not sol.converged and sol.status == "inaccurate"
    assert "float32" in sol.message and sol.iterations < 5000


def test_unregularised_refused_by_gradient_and_bad_options():
    with pytest.raises(ValueError, match="infimum at infinity"):
        solve(Problem.balanced(3, 2, dim=3), method="gradient")
    p = Problem.balanced(3, 2, dim=3, energy=(1, 1))
    with pytest.raises(ValueError, match="allowed: cpu, cuda"):
        solve(p, device="tpu")
    with pytest.raises(ValueError, match="allowed: float64, float32"):
        solve(p, dtype="float16")
    with pytest.raises(ValueError, match="method 'nope' is not known"):
        solve(p, method="nope")
    with pytest.raises(ValueError, match="restarts"):
        solve(p, restarts=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            solve(p, device="cuda")


@st.composite
def counts_strategy(draw, K_max=5, n_max=12):
    K = draw(st.integers(2, K_max))
    return tuple(draw(st.lists(st.integers(1, n_max), min_size=K, max_size=K)))


@settings(max_examples=8, deadline=None)
@given(counts_strategy(), st.floats(0.25, 4.0), st.floats(0.25, 4.0), st.integers(0, 3))
def test_fixed_etf_per_sample_optimum_is_scaled_classifier(counts, E_W, E_H, extra):
    """Yang et al. 2022 (docs/theory.md §2.2): h_i = sqrt(E_H/E_W) w_{y_i} for every sample, any
    counts."""
    K = len(counts)
    p = Problem.from_counts(
        counts, dim=K - 1 + extra, classifier="etf", energy=(E_W, E_H), budget="per-sample"
    )
    sol = solve(p, method="gradient")
    assert sol.converged
    assert np.abs(sol.H - math.sqrt(E_H / E_W) * sol.W[p.labels]).max() < 1e-6
    assert abs(sol.objective - balanced_value(K, E_W, E_H)) < 1e-9


@settings(max_examples=6, deadline=None)
@given(counts_strategy(K_max=4, n_max=8), st.floats(0.5, 3.0), st.floats(0.5, 3.0))
def test_within_class_collapse_at_converged_ce_optima(counts, E_W, E_H):
    p = Problem.from_counts(counts, dim=len(counts), energy=(E_W, E_H))
    sol = solve(p, method="gradient")
    assert sol.converged
    assert lpm.geometry(sol).nc1 <= 1e-8


@pytest.mark.gpu
def test_cuda_matches_cpu():
    p = Problem.from_counts(IMB, dim=8, energy=(1, 1))
    gpu, cpu = solve(p, method="gradient", device="cuda"), solve(p, method="gradient")
    assert gpu.converged and gpu.device.startswith("cuda")
    assert abs(gpu.objective - cpu.objective) < 1e-9


def test_auto_certifies_where_projected_gradient_crawls():
    """An ill-conditioned instance (class 0's optimal features are ~0.005 long, d = K − 1) on
    which projected gradient slows to a crawl: auto's reduced quasi-Newton certifies it, at the
    convex program's value; the plain gradient method reports that it did not converge."""
    p = Problem.from_counts((3, 13, 29, 29, 39), dim=4, energy=(2.859375, 0.2))
    grad = solve(p, method="gradient", max_iter=1500)
    assert not grad.converged
    sol = solve(p)
    assert sol.method == "reduced" and sol.certified
    convex = solve(p, method="convex")
    assert abs(sol.objective - convex.objective) < 1e-6


def test_auto_answers_an_unconverged_first_solve_by_the_next_methods(monkeypatch):
    """With the first method cut short (the reduced solver stopped after 2 steps), auto tries the
    convex program, keeps its certified answer and says what it tried."""
    from dataclasses import replace as dc_replace

    reduced = METHODS["reduced"]

    def cut_short(problems, options):
        return reduced.run(problems, dc_replace(options, max_iter=2))

    monkeypatch.setitem(METHODS, "reduced", dc_replace(reduced, run=cut_short))
    p = Problem.from_counts((3, 13, 29, 29, 39), dim=4, energy=(2.859375, 0.2))
    sol = solve(p)
    assert sol.certified and sol.method == "convex"
    assert sol.info["auto_first"] == "reduced" and "tried convex program" in sol.message


def test_auto_gives_relu_more_starts_when_the_certificate_rejects_the_first():
    """At d = K the ReLU model traps most random starts at a dead-minority point (objective
    0.18115 against 0.13149489177, docs/theory.md §3); the certificate rejects it and auto
    retries."""
    p = Problem.from_counts(IMB, dim=4, decay=(1e-3, 1e-3), features="relu")
    sol = solve(p)
    assert sol.certified
    assert abs(sol.objective - 0.13149489177) < 1e-10


# ------------------------------------------------------------------------ the reduced engine
REDUCIBLE = [p for p in SHARED if METHODS["reduced"].supports(p) is None] + [
    Problem.from_counts((5, 3, 2), dim=3, loss="mse", energy=(1, 1), bias="free"),
    Problem.from_counts((5, 3, 2), dim=4, features="relu", energy=(1, 2), budget="per-sample"),
    Problem.from_counts((5, 3, 2), dim=2, classifier="random", energy=(1, 1)),
    Problem.from_counts((6, 2, 1), dim=3, loss="dr", classifier="etf", energy=(1, 1)),
]


@pytest.mark.parametrize("p", REDUCIBLE, ids=[p.describe()[:60] for p in REDUCIBLE])
def test_reduced_agrees_with_per_sample_and_convex(p):
    """The class-mean solve reaches the per-sample optimum (the Jensen reduction) and the convex
    program's value; its residual is the per-sample method's, at the lifted point."""
    starts = 4 if p.features == "relu" else 1
    red = solve(p, method="reduced", restarts=starts)
    per = solve(p, method="gradient", restarts=starts)
    assert red.converged, red.message
    assert red.info["formulation"] == "class-means" and per.info["formulation"] == "per-sample"
    if per.converged:
        assert abs(red.objective - per.objective) <= 1e-9 * max(1.0, abs(per.objective))
    else:  # projected gradient stalls on dot-regression's flat minimum; it is not lower
        assert red.objective <= per.objective + 1e-12
    b = red.b if p.bias != "none" else None
    assert kkt_residual(p, red.W, red.H, b) == pytest.approx(red.residual, rel=1e-6, abs=1e-14)
    assert np.abs(red.H - red.means[p.labels]).max() <= 1e-14 * max(1.0, np.abs(red.H).max())
    if p.features == "free" or p.K <= 4:
        convex = solve(p, method="convex")
        assert red.objective >= convex.objective - 1e-6
        assert red.objective <= convex.objective + 1e-6


def test_reduced_residual_is_the_per_sample_residual_away_from_the_optimum():
    """The residual is evaluated in closed form on the class means; it equals the per-sample
    method's residual at the lifted point also where it is far from 0."""
    for p in REDUCIBLE:
        sol = solve(p, method="reduced", max_iter=2, certify=False)
        b = sol.b if p.bias != "none" else None
        assert sol.residual > 1e-6
        assert kkt_residual(p, sol.W, sol.H, b) == pytest.approx(sol.residual, rel=1e-9)


def test_reduced_finds_optima_strictly_inside_the_budgets():
    """MSE with large budgets: the optimum (zero loss) lies strictly inside both balls; the
    reparametrised budget must be left, not stuck on its boundary."""
    p = Problem.from_counts((5, 3, 2), dim=4, loss="mse", energy=(50, 50))
    sol = solve(p, method="reduced")
    assert sol.converged and sol.objective < 1e-12
    assert (sol.W**2).sum() / p.K < 0.99 * 50
    convex = solve(p, method="convex")
    assert abs(sol.objective - convex.objective) < 1e-6


def test_reduced_same_seed_same_bits_and_batch_equals_loop():
    problems = [Problem.step(2, 2, 2, r, dim=4, energy=(1, 1)) for r in (1, 3, 7)]
    batch = solve_batch(problems, method="reduced", seed=5)
    again = solve_batch(problems, method="reduced", seed=5)
    for a, b in zip(batch, again):
        assert np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H)
    for p, sb in zip(problems, batch):
        s1 = solve(p, method="reduced", seed=5)
        assert sb.converged and s1.converged and sb.certified
        assert abs(sb.objective - s1.objective) < 1e-11


def test_warm_start_from_a_neighbouring_problem():
    """A solution of a neighbouring problem (same K, d) starts the next solve: same optimum,
    fewer iterations (the threshold's bisection and sweeps use it)."""
    a = Problem.step(2, 2, 10, 5, dim=4, energy=(1, 1))
    b = Problem.step(2, 2, 10, 6, dim=4, energy=(1, 1))
    cold = solve(b, method="reduced")
    warm = solve(b, method="reduced", init=solve(a, method="reduced"))
    assert warm.info["warm_start"] and not cold.info["warm_start"]
    assert warm.converged and abs(warm.objective - cold.objective) < 1e-11
    assert warm.iterations < cold.iterations
    other_shape = solve(Problem.balanced(3, 2, dim=3, energy=(1, 1)), method="reduced")
    assert not solve(b, method="reduced", init=other_shape).info["warm_start"]


def test_time_limit_stops_with_the_best_point_and_a_bound():
    p = Problem.long_tail(60, 20, 10, dim=60, energy=(1, 1))
    sol = solve(p, time_limit=0.05)
    assert sol.status == "time_limit" and not sol.converged and not sol.certified
    assert sol.lower_bound is None or sol.lower_bound <= sol.objective
    assert violation(p, sol.W, sol.H) <= 1e-9
    for bad in (0, -1.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="time_limit must be a positive number"):
            solve(p, time_limit=bad)


def test_auto_is_never_worse_than_the_method_it_wraps():
    """d < K − 1 (the convex program is not exact there): auto converges where the per-sample
    gradient does, to an objective at least as low (issue: it stopped at max_iter)."""
    p = Problem.step(5, 5, 2, 1, dim=2, energy=(1, 1))
    sol, grad = solve(p), solve(p, method="gradient")
    assert grad.converged and sol.converged
    assert sol.objective <= grad.objective + 1e-9


def test_compact_lbfgs_equals_the_two_loop_recursion():
    """The compact representation H_k g (with masked pairs and a ring buffer) equals the two-loop
    recursion, the reference implementation kept for this test."""
    from lpm.solvers.lbfgs import _inverse_hessian_times, _two_loop

    gen = torch.Generator().manual_seed(0)
    B, m, n = 3, 5, 12
    A = torch.randn(B, n, n, generator=gen, dtype=torch.float64)
    A = A @ A.transpose(1, 2) + torch.eye(n, dtype=torch.float64)
    S = torch.randn(B, m, n, generator=gen, dtype=torch.float64)
    Y = torch.bmm(S, A)
    valid = torch.rand(B, m, generator=gen) > 0.3
    gamma = torch.rand(B, generator=gen, dtype=torch.float64) + 0.1
    g = torch.randn(B, n, generator=gen, dtype=torch.float64)
    order = [(2 - j) % m for j in range(m)]  # newest pair in slot 2
    reference = _two_loop(g, S, Y, 1 / (S * Y).sum(2), valid, gamma, order)
    SY, YY = torch.bmm(S, Y.transpose(1, 2)), torch.bmm(Y, Y.transpose(1, 2))
    compact = _inverse_hessian_times(g, S, Y, SY, YY, valid, gamma, order)
    assert torch.allclose(compact, reference, rtol=1e-12, atol=1e-12)


SPHERES = [
    Problem.from_counts(
        (9, 4), dim=2, features="sphere", bias="penalised", decay=(1.18e-3, 0.03, 1e-3)
    ),
    Problem.from_counts((10, 10, 2, 2), dim=4, features="sphere", energy=(1, 1)),
    Problem.from_counts(
        (10, 10, 2, 2), dim=4, features="sphere", decay=(1e-2, 1e-2), loss="mse", bias="free"
    ),
    Problem.balanced(8, 3, dim=7, features="sphere", energy=(1, 2), classifier="etf"),
]


@pytest.mark.parametrize("p", SPHERES, ids=lambda p: f"K{p.K}-{p.loss}-{p.regime}-{p.bias}")
def test_spheres_are_solved_on_class_means(p):
    """Spherical features reduce to one point of the sphere per class (separability): the
    reduced answer's residual is the per-sample method's at the lifted point, and auto certifies
    it (the first problem, a Hypothesis draw, ran out of a 20 s budget on per-sample features)."""
    red = solve(p, method="reduced")
    b = red.b if p.has_bias else None
    assert red.converged and red.info["formulation"] == "class-means"
    assert kkt_residual(p, red.W, red.H, b) == pytest.approx(red.residual, rel=1e-6, abs=1e-14)
    assert violation(p, red.W, red.H) <= 1e-12
    sol = solve(p, time_limit=20)
    assert sol.certified and sol.objective == pytest.approx(red.objective, rel=1e-9)
