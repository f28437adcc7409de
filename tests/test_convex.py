"""The convex programs (lpm.solvers.convex): docs/theory.md's worked optima, honest statuses,
the Gram rank, and — on Hypothesis-drawn small problems — agreement of the gradient solver, the
convex program and the certificate."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lpm
from lpm.certify import GAP_TOL, attach, certificate
from lpm.classifiers import etf_gram
from lpm.constraints import violation
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers import SolveOptions, convex
from lpm.solvers.convex import METHOD, program_kind, solve_convex, supports

#: Clarabel stops at a gap of 1e-10 (SOLVER_TOL); its optimal values sit within ~1e-9 of the
#: optimum on these problems.
VALUE_TOL = 1e-8

#: docs/theory.md quotes the geometry of its worked instances to 4–5 significant digits.
QUOTED = 1e-4

#: Geometry of an interior-point solution: its primal iterate is accurate to about the square root
#: of the solver's gap tolerance (1e-10), i.e. ~1e-5, though its value is accurate to ~1e-10.
PRIMAL = 1e-4

#: The issue's agreement tolerance between gradient solver, convex program and certificate.
AGREE = 1e-7


def run(problem: Problem, **options) -> Solution:
    """The convex method as lpm.solve runs it, with the certificate attached."""
    return attach(METHOD.run([problem], SolveOptions(**options))[0])


def l_star(K: int, E_W: float, E_H: float) -> float:
    return math.log1p((K - 1) * math.exp(-(K / (K - 1)) * math.sqrt(E_W * E_H)))


def check_solution(sol: Solution) -> None:
    """What every Solution of this method must satisfy."""
    p = sol.problem
    assert sol.method == "convex" and sol.dtype == "float64" and sol.device == "cpu"
    assert sol.W.shape == (p.K, p.dim) and sol.H.shape == (p.N, p.dim) and sol.b.shape == (p.K,)
    assert np.allclose(sol.H, sol.means[p.labels], rtol=1e-14, atol=1e-15)  # collapsed features
    bias = sol.b if p.bias != "none" else None
    assert sol.objective == objective(p, sol.W, sol.H, bias)  # the one objective
    assert violation(p, sol.W, sol.H) <= 1e-12  # the recovered point is feasible


# ------------------------------------------------------------------------------------ support
@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        (dict(energy=(1.0, 1.0)), "gram"),
        (dict(energy=(1.0, 1.0), features="relu"), "gram"),
        (dict(decay=(1e-3, 1e-3)), "nuclear"),
        (dict(decay=(1e-3, 1e-3), features="relu"), "gram"),
        (dict(decay=(1e-3, 1e-3), features="sphere"), "gram"),
        (dict(classifier="etf", loss="dr", energy=(1.0, 1.0)), "fixed"),
        (dict(classifier="random", decay=(1e-3, 1e-3)), "fixed"),
        (dict(), "uf-svm"),
        (dict(classifier="etf"), "fixed-svm"),
        (dict(classifier="etf", features="sphere", loss="mse"), "fixed"),
    ],
)
def test_program_kind(kwargs, kind):
    p = Problem.from_counts((3, 2, 1), **kwargs)
    assert supports(p) is None
    assert program_kind(p) == kind


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(loss="mse"),
        dict(bias="free"),
        dict(features="relu"),
        dict(classifier="etf", loss="mse"),
        dict(classifier="etf", features="relu"),
    ],
)
def test_unsupported_unregularised_variants_say_why(kwargs):
    p = Problem.from_counts((3, 2, 1), **kwargs)
    reason = supports(p)
    assert isinstance(reason, str) and "\n" not in reason and "--energy" in reason
    with pytest.raises(ValueError, match="no convex program") as err:
        program_kind(p)
    assert "\n" not in str(err.value)


def test_method_contract():
    assert METHOD.name == "convex"
    p = Problem.from_counts((3, 2), energy=(1.0, 1.0))
    sols = METHOD.run([p, p], SolveOptions())
    assert len(sols) == 2 and all(isinstance(s, Solution) for s in sols)
    for s in sols:
        check_solution(s)
        assert s.converged and s.residual <= s.tol


def test_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="allowed: CLARABEL, SCS"):
        solve_convex(Problem.from_counts((3, 2), energy=(1.0, 1.0)), solver="MOSEK")


# ------------------------------------------------------------------------------ worked optima
@pytest.mark.parametrize(
    ("K", "E_W", "E_H"), [(2, 1.0, 1.0), (3, 1.0, 1.0), (4, 1.0, 1.0), (10, 1.0, 5.0)]
)
def test_balanced_lpm_is_the_etf(K, E_W, E_H):
    # docs/theory.md §1.2.
    p = Problem.balanced(K, 3, dim=K, energy=(E_W, E_H))
    sol = run(p)
    check_solution(sol)
    assert sol.certified and sol.gap <= GAP_TOL
    assert abs(sol.objective - l_star(K, E_W, E_H)) < VALUE_TOL
    assert sol.info["gram_rank"] == K - 1 and sol.info["rank_fits"]
    W, M = sol.W, sol.means
    assert np.linalg.norm(W @ W.T / E_W - etf_gram(K)) < QUOTED
    assert np.abs(M - math.sqrt(E_H / E_W) * W).max() < QUOTED


def test_imbalanced_lpm_worked_instance():
    # docs/theory.md §1.4.
    p = Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0))
    sol = run(p)
    check_solution(sol)
    assert sol.certified
    assert abs(sol.objective - 0.33905309) < 5e-9
    assert sol.info["gram_rank"] == 2
    w2 = (sol.W**2).sum(axis=1)
    h2 = (sol.means**2).sum(axis=1)
    assert np.abs(w2 - [1.7414, 1.7414, 0.2586, 0.2586]).max() < QUOTED
    assert np.abs(h2 - [1.9675, 1.9675, 0.0325, 0.0325]).max() < QUOTED
    assert np.linalg.norm(sol.W.sum(axis=0)) < QUOTED
    G = sol.W @ sol.W.T
    assert G[2, 2] + G[3, 3] - 2 * G[2, 3] < PRIMAL  # minority collapse: ‖w_3 − w_4‖² = 0


def test_per_sample_budget_and_spheres_agree():
    # Spheres are relaxed to balls; for CE with a learnable classifier the balls' constraints are
    # active, so the relaxation is exact and equals the per-sample budget's optimum.
    a = run(Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0), budget="per-sample"))
    b = run(Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0), features="sphere"))
    assert a.certified and b.converged
    assert abs(a.objective - b.objective) < VALUE_TOL
    assert b.certificate.exact is False
    assert b.gap <= GAP_TOL


def test_fixed_etf_worked_instances():
    # docs/theory.md §2.2 (per-sample: L* for any counts) and §2.4 (class-average: 0.45361).
    per = run(
        Problem.from_counts(
            (100, 100, 10, 10), dim=8, classifier="etf", budget="per-sample", energy=(1.0, 1.0)
        )
    )
    assert per.certified and abs(per.objective - l_star(4, 1.0, 1.0)) < VALUE_TOL
    avg = run(Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0)))
    check_solution(avg)
    assert avg.certified and abs(avg.objective - 0.45361) < 1e-5
    norms = np.linalg.norm(avg.means, axis=1)
    assert np.abs(norms - [1.38436, 1.38436, 0.28904, 0.28904]).max() < 1e-5


def test_dot_regression_reaches_zero_at_the_etf():
    # docs/theory.md §2.3: DR's minimum is 0, at h = sqrt(E_H/E_W) w_c.
    p = Problem.from_counts((5, 3, 2), dim=3, classifier="etf", loss="dr", energy=(1.0, 2.0))
    sol = run(p)
    assert sol.certified and sol.objective < VALUE_TOL  # an interior point stops near, not at, 0
    cos = (
        (sol.means * sol.W).sum(1)
        / np.linalg.norm(sol.means, axis=1)
        / np.linalg.norm(sol.W, axis=1)
    )
    assert cos.min() > 1 - PRIMAL


def test_relu_dnn_relaxation_is_tight_on_the_worked_instance():
    # docs/theory.md §3: 0.13149489177, orthogonal nonnegative class means, minority features
    # longer.
    p = Problem.from_counts((100, 100, 10, 10), dim=8, features="relu", decay=(1e-3, 1e-3))
    sol = run(p)
    check_solution(sol)
    assert (sol.H >= 0).all()
    assert sol.converged and sol.certificate.kind == "dnn-dual"
    assert abs(sol.objective - 0.13149489177) < VALUE_TOL
    assert sol.gap <= GAP_TOL  # the doubly-nonnegative relaxation is exact for K ≤ 4
    h2 = (sol.means**2).sum(axis=1)
    assert np.abs(h2 - [0.43647, 0.43647, 1.05320, 1.05320]).max() < PRIMAL
    G = sol.means @ sol.means.T
    assert np.abs(G - np.diag(np.diag(G))).max() < PRIMAL


def test_seli_worked_instance():
    # docs/theory.md §4: UF-SVM value ‖Ẑ‖_* = 20.578476 and WWᵀ ∝ (P D P)^{1/2}.
    p = Problem.from_counts((100, 100, 10, 10), dim=4)
    sol = run(p)
    check_solution(sol)
    assert sol.converged and sol.lower_bound is None  # the infimum (0) is not attained
    assert abs(sol.info["svm_value"] - 20.578476) < 1e-6
    assert 0 <= sol.info["svm_gap"] < 1e-7
    P = np.eye(4) - 0.25
    lam, Q = np.linalg.eigh(P @ np.diag(p.counts).astype(float) @ P)
    root = (Q * np.sqrt(np.clip(lam, 0, None))) @ Q.T
    G = sol.W @ sol.W.T
    assert np.linalg.norm(G / np.linalg.norm(G) - root / np.linalg.norm(root)) < PRIMAL
    w = np.linalg.norm(sol.W, axis=1)
    h = np.linalg.norm(sol.means, axis=1)
    assert np.abs(w - [2.61802, 2.61802, 1.85343, 1.85343]).max() < PRIMAL
    assert np.abs(h - [0.28933, 0.28933, 0.43798, 0.43798]).max() < PRIMAL
    Z = sol.means @ sol.W.T
    assert np.abs(Z - P).max() < PRIMAL  # the logits of class means are the SEL matrix


def test_fixed_classifier_max_margin_direction():
    # Fixed ETF, unregularised: per class min ½ n_k ‖h̄_k‖² s.t. (w_k − w_c)ᵀh̄_k ≥ 1, solved by
    # h̄_k ∝ w_k with margin (K/(K−1))‖h̄_k‖ = 1.
    p = Problem.from_counts((100, 100, 10, 10), dim=4, classifier="etf")
    sol = run(p)
    assert sol.converged and sol.info["svm_gap"] < 1e-7
    expected = 0.5 * sum(p.counts) * ((p.K - 1) / p.K) ** 2
    assert abs(sol.info["svm_value"] - expected) < 1e-7


def test_zhu_balanced_with_penalised_bias():
    # docs/theory.md §5.1: f* = 0.348780384918, b = 0, WWᵀ ∝ ETF Gram.
    p = Problem.balanced(4, 25, dim=4, bias="penalised", decay=(5e-3, 5e-3, 5e-3))
    sol = run(p)
    check_solution(sol)
    assert sol.certified and abs(sol.objective - 0.348780384918) < VALUE_TOL
    assert np.abs(sol.b).max() < PRIMAL
    assert abs((sol.W**2).sum(axis=1).mean() - 13.540942) < QUOTED


@pytest.mark.parametrize(("lam", "value"), [(1e-3, 0.02588456), (5e-3, 0.12062278)])
def test_mse_nuclear_norm_worked_instances(lam, value):
    # docs/theory.md §5.2: soft-thresholded singular values, orthogonal frames.
    p = Problem.from_counts((100, 100, 10, 10), dim=4, loss="mse", decay=(lam, lam))
    sol = run(p)
    check_solution(sol)
    assert sol.info["program"] == "nuclear"
    assert sol.certified and abs(sol.objective - value) < VALUE_TOL
    n = np.asarray(p.counts, dtype=float)
    z = np.maximum(np.sqrt(n) - p.N * lam, 0.0)
    assert np.abs(sol.means @ sol.W.T - np.diag(z / np.sqrt(n))).max() < PRIMAL


def test_mse_free_bias_balanced_is_an_etf():
    # docs/theory.md §5.3: W h̄_k = 0.9 (e_k − 1/K), b = 1/K, value 0.07125.
    p = Problem.balanced(4, 25, dim=4, loss="mse", bias="free", decay=(5e-3, 5e-3))
    sol = run(p)
    assert sol.certified and abs(sol.objective - 0.07125) < VALUE_TOL
    assert np.abs(sol.b - 0.25).max() < PRIMAL
    assert np.abs(sol.means @ sol.W.T - 0.9 * (np.eye(4) - 0.25)).max() < PRIMAL


def test_gram_and_nuclear_programs_agree():
    p = Problem.from_counts((9, 5, 2), dim=3, decay=(4e-3, 2e-3, 1e-3), bias="penalised")
    nuclear = solve_convex(p)
    prob, _ = convex._gram_program(p)
    prob.solve(solver="CLARABEL")
    assert nuclear.info["program"] == "nuclear"
    assert abs(prob.value - nuclear.value) < VALUE_TOL


# -------------------------------------------------------------------- statuses, rank, honesty
def test_rank_above_dimension_is_reported_and_not_converged():
    # d = 2 < K − 1 = 3: the SDP's optimum (the ETF, rank 3) does not fit; the recovered point's
    # objective is above the program's value.
    p = Problem.balanced(4, 2, dim=2, energy=(1.0, 1.0))
    sol = run(p)
    check_solution(sol)
    assert sol.info["gram_rank"] == 3 and sol.info["rank_fits"] is False
    assert sol.status == "inaccurate" and not sol.converged
    assert "rank 3 > d = 2" in sol.message
    assert abs(sol.info["program_value"] - l_star(4, 1.0, 1.0)) < VALUE_TOL
    assert sol.objective > sol.info["program_value"] + 1e-3


def test_infeasible_program_is_reported_as_infeasible():
    # Three fixed random classes in d = 1: two rows share a sign, so no margin can be positive.
    p = Problem.from_counts((1, 1, 1), dim=1, classifier="random")
    sol = run(p)
    assert sol.status == "infeasible" and not sol.converged
    assert sol.lower_bound is None and math.isinf(sol.residual)


def test_iteration_cap_is_never_converged():
    p = Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0))
    sol = run(p, max_iter=2)
    assert sol.status in ("inaccurate", "failed") and not sol.converged


def test_options_that_do_not_apply_are_recorded_honestly():
    sol = run(Problem.from_counts((3, 2), energy=(1.0, 1.0)), dtype="float32")
    assert sol.dtype == "float64" and sol.device == "cpu"


# --------------------------------------------------- gradient = convex = certificate (Hypothesis)
@st.composite
def small_problems(draw):
    K = draw(st.integers(2, 6))
    counts = draw(st.lists(st.integers(1, 12), min_size=K, max_size=K))
    classifier = draw(st.sampled_from(["learnable", "learnable", "etf", "random"]))
    losses = ["ce", "mse"] + (["dr"] if classifier != "learnable" else [])
    loss = draw(st.sampled_from(losses))
    regime = "energy" if loss == "dr" else draw(st.sampled_from(["energy", "decay"]))
    bias = draw(st.sampled_from(["none", "free"] + (["penalised"] if regime == "decay" else [])))
    kw = dict(
        loss=loss, classifier=classifier, bias=bias, classifier_seed=draw(st.integers(0, 1000))
    )
    if regime == "energy":
        kw["energy"] = (draw(st.floats(0.5, 2.0)), draw(st.floats(0.5, 2.0)))
        kw["budget"] = draw(st.sampled_from(["class-average", "per-sample"]))
    else:
        lam = draw(st.floats(1e-3, 1e-2))
        kw["decay"] = (lam, draw(st.floats(1e-3, 1e-2)), lam if bias == "penalised" else 0.0)
    if classifier != "learnable":
        kw["features"] = draw(st.sampled_from(["free", "relu"]))
    return Problem.from_counts(counts, dim=K + draw(st.integers(0, 2)), **kw)


@settings(
    max_examples=int(os.environ.get("LPM_AGREE_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(p=small_problems())
def test_gradient_convex_and_certificate_agree(p):
    grad = lpm.solve(p, max_iter=5000)  # certified by lpm.certify through solve()
    conv = run(p)
    event(f"gradient {grad.status}; convex by {conv.info['solver'].split(' ')[0]}")
    assert conv.converged, conv.message
    check_solution(conv)
    # Validity, with no tolerance but rounding: a certified bound never exceeds the objective of
    # any feasible point, and both solutions are feasible.
    assert conv.lower_bound <= grad.objective + 1e-14
    assert grad.lower_bound <= conv.objective + 1e-14
    # The convex program is certified to the project's gap when Clarabel met its tolerance; a
    # fallback solve (looser) is still within the convex method's residual tolerance.
    scale = max(1.0, abs(conv.objective))
    tight = conv.info["solver"] == "CLARABEL"
    assert conv.gap <= (GAP_TOL if tight else conv.tol) * scale
    if grad.converged:
        value = conv.info["program_value"]
        assert abs(grad.objective - value) <= AGREE * scale
        assert abs(grad.objective - conv.objective) <= AGREE * scale
        assert abs(grad.lower_bound - conv.lower_bound) <= AGREE * scale
        assert grad.gap <= GAP_TOL * max(1.0, abs(grad.objective))
        assert grad.certified


@pytest.mark.slow
def test_k30_gradient_and_convex_agree_and_certificate_is_fast():
    import time

    p = Problem.step(15, 15, 1, 10, dim=30, energy=(1.0, 1.0))
    grad = lpm.solve(p, certify=False)
    start = time.perf_counter()
    cert = certificate(grad)
    t_cert = time.perf_counter() - start
    start = time.perf_counter()
    conv = run(p)
    t_cvx = time.perf_counter() - start
    assert grad.converged and conv.converged
    assert grad.objective - cert.lower_bound <= GAP_TOL * grad.objective
    assert abs(grad.objective - conv.info["program_value"]) < AGREE
    assert t_cert < t_cvx
