"""Certified lower bounds (lpm.certify): tight at exact optima, valid everywhere, and able to fail.

Layers: exact optima of docs/theory.md certified to round-off; gradient solves certified through
``lpm.solve``; non-optimal points rejected with a gap at least their true suboptimality; and
Hypothesis: at random points of random small problems the bound never exceeds the convex
program's optimal value.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpm
from lpm.certify import (
    GAP_TOL,
    Certificate,
    DualPoint,
    attach,
    certificate,
    class_loss,
    fixed_certificate,
    gram_certificate,
)
from lpm.classifiers import classifier_matrix, simplex_etf
from lpm.objective import objective
from lpm.problem import Problem
from lpm.relaxation import relaxation_bound
from lpm.solvers.convex import fixed_svm_lower_bound, solve_convex, svm_lower_bound

#: A bound proved at an exact optimum (closed form) must meet it to round-off: its rounding
#: allowance is ~1e-13 for these sizes, and the computed gradient is exact to ~1e-15.
EXACT_TOL = 1e-11

#: Agreement with the convex program's value: Clarabel stops at 1e-10 (gap), so its value can sit
#: ~1e-9 above the true optimum; a valid bound must not exceed it by more.
PROGRAM_TOL = 1e-8


def l_star(K: int, E_W: float, E_H: float) -> float:
    """docs/theory.md §1.2: log(1 + (K−1) exp(−(K/(K−1)) sqrt(E_W E_H)))."""
    return math.log1p((K - 1) * math.exp(-(K / (K - 1)) * math.sqrt(E_W * E_H)))


def collapsed(problem: Problem, M: np.ndarray) -> np.ndarray:
    """Per-sample features equal to their class means."""
    return np.asarray(M)[problem.labels]


# ------------------------------------------------------------------------- exact optima, tight
@pytest.mark.parametrize(
    ("K", "E_W", "E_H"), [(2, 1.0, 1.0), (3, 1.0, 1.0), (4, 1.0, 1.0), (10, 1.0, 5.0)]
)
def test_balanced_etf_is_certified_at_closed_form(K, E_W, E_H):
    p = Problem.balanced(K, 3, dim=K, energy=(E_W, E_H))
    E = simplex_etf(K, K, seed=1)
    W, M = math.sqrt(E_W) * E, math.sqrt(E_H) * E
    f = objective(p, W, collapsed(p, M))
    assert abs(f - l_star(K, E_W, E_H)) < 1e-13
    cert = gram_certificate(p, W, M)
    assert cert.kind == "lpm-sdp-dual" and cert.exact
    assert 0.0 <= f - cert.lower_bound < EXACT_TOL


def test_fixed_etf_per_sample_is_certified_for_any_imbalance():
    # docs/theory.md §2.2: h = sqrt(E_H/E_W) w_k is optimal whatever the counts.
    p = Problem.from_counts(
        (100, 100, 10, 10), dim=8, classifier="etf", budget="per-sample", energy=(1.0, 2.0)
    )
    M = math.sqrt(2.0) * classifier_matrix(p)
    f = objective(p, None, collapsed(p, M))
    assert abs(f - l_star(4, 1.0, 2.0)) < 1e-13
    cert = fixed_certificate(p, M)
    assert cert.kind == "fixed-linear"
    assert 0.0 <= f - cert.lower_bound < EXACT_TOL


def _relu_closed_form(counts, lam, d):
    """docs/theory.md §3: the ReLU UFM optimum (orthogonal means, centred scaled classifier)."""
    K, N = len(counts), sum(counts)
    n = np.asarray(counts, dtype=float)
    q = N * np.sqrt(lam * lam * (K - 1) / (K * n))
    t = np.where(q < (K - 1) / K, np.log(np.maximum((K - 1) * (1 - q) / q, 1.0)), 0.0)
    a = np.sqrt(t * np.sqrt(lam * (K - 1) / (lam * n * K)))
    ratio = np.sqrt(lam * n * K / (lam * (K - 1)))
    M = np.zeros((K, d))
    M[np.arange(K), np.arange(K)] = a
    P = np.eye(K) - 1.0 / K
    W = P @ (ratio[:, None] * M)
    s = np.sqrt(lam * lam * n * (K - 1) / K)
    value = float(((n / N) * np.log1p((K - 1) * np.exp(-t)) + s * t).sum())
    return W, M, value


@pytest.mark.parametrize("lam", [1e-3, 2e-2])
def test_relu_closed_form_is_certified_by_the_dnn_relaxation(lam):
    p = Problem.from_counts((100, 100, 10, 10), dim=8, features="relu", decay=(lam, lam))
    W, M, value = _relu_closed_form(p.counts, lam, p.dim)
    f = objective(p, W, collapsed(p, M))
    assert abs(f - value) < 1e-12
    expected = {1e-3: 0.13149489177, 2e-2: 1.11075757}[lam]
    assert abs(f - expected) < 1e-8
    cert = gram_certificate(p, W, M, objective=f)
    assert cert.kind == "dnn-dual" and not cert.exact
    # Tight: the doubly-nonnegative relaxation is exact for K ≤ 4.
    assert 0.0 <= f - cert.lower_bound < 1e-9


def test_relu_without_nonneg_multiplier_is_valid_but_loose():
    # The free-feature bound (Ω = 0) is a valid bound of the ReLU problem, and lower than the
    # ReLU optimum: the ReLU constraint matters here.
    lam = 1e-3
    p = Problem.from_counts((100, 100, 10, 10), dim=8, features="relu", decay=(lam, lam))
    W, M, value = _relu_closed_form(p.counts, lam, p.dim)
    free = Problem.from_counts(p.counts, dim=8, decay=(lam, lam))
    free_opt = solve_convex(free).value
    loose = gram_certificate(
        p, W, M, dual=DualPoint(logit_gradient=class_loss(p, M @ W.T)[1], nonneg=np.zeros((4, 4)))
    )
    assert loose.lower_bound <= free_opt + PROGRAM_TOL
    assert value - loose.lower_bound > 1e-3


def test_mse_closed_form_is_certified_by_the_operator_norm_test():
    # docs/theory.md §5.2: soft-thresholded singular values; value 0.02588456 at λ = 1e-3.
    lam = 1e-3
    p = Problem.from_counts((100, 100, 10, 10), dim=4, loss="mse", decay=(lam, lam))
    n = np.asarray(p.counts, dtype=float)
    z = np.maximum(np.sqrt(n) - p.N * lam, 0.0)
    W = np.diag(np.sqrt(z))
    M = np.diag(np.sqrt(z / n))
    f = objective(p, W, collapsed(p, M))
    assert abs(f - 0.02588456) < 1e-8
    cert = gram_certificate(p, W, M)
    assert cert.kind == "ufm-nuclear-dual"
    assert 0.0 <= f - cert.lower_bound < EXACT_TOL
    # The decay certificate is the operator-norm test: λ_min = 1 − ‖∇_Y‖_op / sqrt(λ_W λ_H).
    assert cert.details["min_eigenvalue"] > -1e-9


def test_zhu_balanced_with_penalised_bias_is_certified():
    # docs/theory.md §5.1: K = 4, n = 25, λ = 5e-3: ρ = 13.540942, f* = 0.348780384918, b = 0.
    K, n, lam = 4, 25, 5e-3
    p = Problem.balanced(K, n, dim=K, bias="penalised", decay=(lam, lam, lam))
    alpha = math.sqrt(lam / (lam * n))
    beta = alpha * K / (K - 1)
    pp = (K - 1) * math.sqrt(n * lam * lam)
    rho = math.log((K - 1) * (1 - pp) / pp) / beta
    assert abs(rho - 13.540942) < 1e-6
    W = math.sqrt(rho) * simplex_etf(K, K)
    M = alpha * W
    f = objective(p, W, collapsed(p, M), np.zeros(K))
    assert abs(f - 0.348780384918) < 1e-11
    cert = gram_certificate(p, W, M, np.zeros(K))
    assert 0.0 <= f - cert.lower_bound < EXACT_TOL


# ------------------------------------------------------------------ solve() attaches certificates
def test_solve_attaches_a_certificate_and_converged_means_certified():
    p = Problem.step(2, 2, 2, 5, energy=(1.0, 1.0))
    sol = lpm.solve(p)
    assert sol.converged
    assert sol.lower_bound is not None and sol.certificate.kind == "lpm-sdp-dual"
    assert sol.certificate.gap_tol == GAP_TOL and sol.lower_bound == sol.certificate.lower_bound
    assert 0.0 <= sol.gap <= GAP_TOL * max(1.0, abs(sol.objective))
    assert sol.certified
    json.dumps(lpm.solution.jsonable(sol.summary()))  # the certificate is plain JSON


def test_the_certificate_survives_save_and_load(tmp_path):
    sol = lpm.solve(Problem.from_counts((4, 2, 1), dim=3, energy=(1.0, 1.0)))
    again = lpm.solution.load(lpm.solution.save(sol, tmp_path / "sol"))
    assert again.certificate.kind == sol.certificate.kind
    assert again.lower_bound == sol.lower_bound and again.certified == sol.certified
    assert again.certificate.gap_tol == sol.certificate.gap_tol


def test_worked_imbalanced_lpm_is_certified():
    # docs/theory.md §1.4: 0.33905309 at n = (100, 100, 10, 10), E_W = E_H = 1.
    sol = lpm.solve(Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0)))
    assert sol.certified
    assert abs(sol.lower_bound - 0.33905309) < 5e-9


def test_fixed_etf_under_class_average_budget_is_certified():
    # docs/theory.md §2.4: 0.45361, not the uniform-norm 0.58266.
    p = Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0))
    sol = lpm.solve(p)
    assert sol.certified and sol.certificate.kind == "fixed-linear"
    assert abs(sol.objective - 0.45361) < 1e-5


def test_dimension_below_rank_is_not_certified():
    # d = 2 < K − 1: the factorised optimum (0.62652, docs/theory.md §1.2) lies above the SDP value
    # (L* = 0.58266), so a converged solve keeps a gap of at least the difference (the
    # linearisation at a point that is not the SDP's optimum is looser still) and is not
    # certified.
    p = Problem.balanced(4, 2, dim=2, energy=(1.0, 1.0))
    sol = lpm.solve(p)
    assert sol.converged and not sol.certified
    assert abs(sol.objective - 0.62652) < 1e-5
    assert sol.lower_bound <= l_star(4, 1.0, 1.0) + 1e-12
    assert sol.gap >= sol.objective - l_star(4, 1.0, 1.0) > 0.04


# ------------------------------------------------------------------- the certificate can fail
def test_etf_point_of_an_imbalanced_problem_is_rejected():
    p = Problem.from_counts((100, 100, 10, 10), energy=(1.0, 1.0))
    E = simplex_etf(4, 4)
    f = objective(p, E, collapsed(p, E))  # the balanced optimum's geometry: 0.58266
    optimum = solve_convex(p).value  # 0.33905309
    cert = gram_certificate(p, E, E)
    assert cert.lower_bound <= optimum + PROGRAM_TOL
    assert f - cert.lower_bound >= f - optimum - PROGRAM_TOL
    assert f - cert.lower_bound > 0.2


def test_etf_point_of_the_fixed_classifier_class_average_problem_is_rejected():
    # Uniform-norm features are optimal for the per-sample budget but not for the class-average
    # one (docs/theory.md §2.4): the certificate must tell the two apart.
    p = Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0))
    M = classifier_matrix(p)
    f = objective(p, None, collapsed(p, M))
    cert = fixed_certificate(p, M)
    assert f - cert.lower_bound >= f - 0.4536123449 - 1e-9
    assert f - cert.lower_bound > 0.1


@pytest.mark.parametrize("size", [1e-2, 1e-3])
def test_perturbed_optimum_is_rejected(size):
    p = Problem.step(2, 2, 2, 5, energy=(1.0, 1.0))
    sol = lpm.solve(p)
    assert sol.certified
    rng = np.random.default_rng(3)
    W = sol.W + size * rng.standard_normal(sol.W.shape)
    M = sol.means + size * rng.standard_normal(sol.means.shape)
    # Back onto the budgets, so that the point is feasible and its objective an upper bound.
    W *= math.sqrt(p.K * 1.0 / (W * W).sum())
    M *= math.sqrt(p.K * 1.0 / (M * M).sum())
    f = objective(p, W, collapsed(p, M))
    excess = f - sol.lower_bound  # ≥ the true suboptimality of the perturbed point
    assert excess > 0
    cert = gram_certificate(p, W, M)
    gap = f - cert.lower_bound
    assert gap >= excess - 1e-10
    assert gap > 1e3 * GAP_TOL


def test_perturbed_bias_is_rejected():
    # A free MSE bias shifted off its optimum: the bias gradient is no longer 0 and the box bound
    # of the certificate turns it into a clearly positive gap.
    p = Problem.from_counts((3, 2, 2), dim=3, loss="mse", bias="free", decay=(1e-2, 1e-2))
    r = solve_convex(p)
    W, M, b = r.W, r.M, r.b
    f0 = objective(p, W, collapsed(p, M), b)
    good = gram_certificate(p, W, M, b, dual=r.dual)
    assert f0 - good.lower_bound < GAP_TOL
    shifted = b + 0.05
    f1 = objective(p, W, collapsed(p, M), shifted)
    bad = gram_certificate(p, W, M, shifted)
    assert f1 - bad.lower_bound >= f1 - r.value - PROGRAM_TOL
    assert f1 - bad.lower_bound > 1e-4


# ------------------------------------------------------------------- validity at random points
_VARIANTS = [
    # (classifier, loss, features, bias, scale, budget)
    ("learnable", "ce", "free", "none", "energy", "class-average"),
    ("learnable", "ce", "free", "none", "energy", "per-sample"),
    ("learnable", "ce", "free", "free", "energy", "class-average"),
    ("learnable", "mse", "free", "none", "energy", "class-average"),
    ("learnable", "ce", "free", "none", "decay", None),
    ("learnable", "ce", "free", "penalised", "decay", None),
    ("learnable", "mse", "free", "free", "decay", None),
    ("learnable", "ce", "relu", "none", "decay", None),
    ("learnable", "ce", "relu", "none", "energy", "class-average"),
    ("learnable", "ce", "sphere", "none", "energy", None),
    ("etf", "ce", "free", "none", "energy", "class-average"),
    ("etf", "dr", "free", "free", "energy", "per-sample"),
    ("random", "mse", "relu", "penalised", "decay", None),
    ("random", "ce", "free", "free", "decay", None),
    ("etf", "ce", "sphere", "none", "decay", None),
]


def _problem(variant, counts, scale, dim_extra, seed):
    classifier, loss, features, bias, regime, budget = variant
    K = len(counts)
    kw = dict(loss=loss, classifier=classifier, features=features, bias=bias, classifier_seed=seed)
    if regime == "energy":
        kw["energy"] = (scale, 1.0 / scale + 0.5)
        if budget is not None:
            kw["budget"] = budget
    else:
        lam = 2e-3 * scale
        kw["decay"] = (lam, lam, lam if bias == "penalised" else 0.0)
    return Problem.from_counts(counts, dim=K + dim_extra, **kw)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    variant=st.sampled_from(_VARIANTS),
    counts=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    scale=st.floats(0.5, 2.0),
    dim_extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
    spread=st.floats(0.01, 2.0),
)
def test_bound_never_exceeds_the_optimum_at_random_points(
    variant, counts, scale, dim_extra, seed, spread
):
    p = _problem(variant, counts, scale, dim_extra, seed)
    rng = np.random.default_rng(seed)
    K, d = p.K, p.dim
    W = spread * rng.standard_normal((K, d))
    M = spread * rng.standard_normal((K, d))
    if p.features == "relu":
        M = np.abs(M) - 0.1 * spread  # mostly nonnegative: infeasible points are allowed too
    b = spread * rng.standard_normal(K) if p.bias != "none" else None
    if p.fixed_classifier:
        cert = fixed_certificate(p, M, b)
    else:
        cert = gram_certificate(p, W, M, b)
    assert isinstance(cert, Certificate) and math.isfinite(cert.lower_bound)
    assert 0.0 < cert.rounding < 1e-9 * max(1.0, abs(cert.lower_bound)) + 1e-9
    optimum = solve_convex(p).value
    # The relaxations (ReLU, spheres) are solved as such by the convex method, and every bound
    # of this module bounds that relaxation's value too.
    assert cert.lower_bound <= optimum + PROGRAM_TOL * max(1.0, abs(optimum))


# ------------------------------------------------------------------------------ UF-SVM bounds
def test_svm_bound_meets_seli_value_and_is_valid_for_any_multipliers():
    # docs/theory.md §4: the UF-SVM value is ‖Ẑ‖_* = Σ sqrt(eig(P D P)) = 20.578476.
    p = Problem.from_counts((100, 100, 10, 10), dim=4)
    P = np.eye(4) - 0.25
    eig = np.linalg.eigvalsh(P @ np.diag(p.counts) @ P)
    seli = float(np.sqrt(eig[eig > 1e-9]).sum())  # P D P has a null eigenvalue (1 ∈ its kernel)
    assert abs(seli - 20.578476) < 1e-6
    sol = lpm.solve(p, method="convex") if "convex" in lpm.METHODS else None
    r = solve_convex(p)
    mu = np.asarray(r.info["margin_multipliers"])
    bound = svm_lower_bound(p, mu)
    assert abs(bound - seli) < 1e-7
    assert bound <= seli + 1e-12
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert svm_lower_bound(p, rng.uniform(0, 10, (4, 4))) <= seli + 1e-9
    if sol is not None:
        assert sol.info["svm_gap"] < 1e-7


def test_fixed_svm_bound_is_valid_for_any_multipliers():
    p = Problem.from_counts((5, 3, 2), dim=3, classifier="etf")
    value = solve_convex(p).value
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert fixed_svm_lower_bound(p, rng.uniform(0, 5, (3, 3))) <= value + 1e-9


# ------------------------------------------------------------------------------------ attach
def test_attach_leaves_the_unregularised_model_alone():
    p = Problem.from_counts((3, 2), dim=2)
    r = solve_convex(p)
    sol = lpm.Solution(
        problem=p,
        W=r.W,
        H=collapsed(p, r.M),
        b=np.zeros(2),
        objective=objective(p, r.W, collapsed(p, r.M)),
        residual=0.0,
        status="converged",
        method="convex",
        tol=1e-6,
    )
    assert certificate(sol) is None
    assert attach(sol).lower_bound is None


def test_attach_prefers_the_stronger_of_point_and_dual_bounds():
    p = Problem.from_counts((8, 8, 2, 2), energy=(1.0, 1.0))
    r = solve_convex(p)
    H = collapsed(p, r.M)
    f = objective(p, r.W, H)
    base = lpm.Solution(
        problem=p,
        W=r.W,
        H=H,
        b=np.zeros(4),
        objective=f,
        residual=0.0,
        status="converged",
        method="convex",
        tol=1e-6,
        info=dict(r.info),
        dual=r.dual,
    )
    with_dual = attach(base)
    point_only = gram_certificate(p, r.W, r.M)
    dual_only = gram_certificate(p, r.W, r.M, dual=r.dual)
    assert with_dual.lower_bound == max(point_only.lower_bound, dual_only.lower_bound)
    # The interior-point dual is the more accurate: its bound is within GAP_TOL.
    assert with_dual.gap <= GAP_TOL
    # Without the dual only the point's bound is left.
    # (attach takes the class means from H, which differ from the program's in the last bit.)
    alone = attach(replace(base, dual=None)).lower_bound
    assert math.isclose(alone, point_only.lower_bound, rel_tol=1e-14)


def test_certificate_functions_reject_the_wrong_classifier():
    learnable = Problem.balanced(3, 2, energy=(1.0, 1.0))
    fixed = Problem.balanced(3, 2, classifier="etf", energy=(1.0, 1.0))
    with pytest.raises(ValueError, match="fixed classifier"):
        fixed_certificate(learnable, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="learnable classifier"):
        gram_certificate(fixed, np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no finite optimum"):
        gram_certificate(Problem.balanced(3, 2), np.zeros((3, 3)), np.zeros((3, 3)))


def test_certificate_at_zero_and_at_huge_points_stays_finite_and_valid():
    p = Problem.from_counts((4, 1, 1), dim=3, bias="free", energy=(1.0, 1.0))
    optimum = solve_convex(p).value
    for s in (0.0, 1e3):
        W = s * np.ones((3, 3))
        cert = gram_certificate(p, W, W, np.full(3, s))
        assert math.isfinite(cert.lower_bound)
        assert cert.lower_bound <= optimum + PROGRAM_TOL


@pytest.mark.slow
def test_k60_imbalanced_lpm_is_certified_quickly():
    import time

    p = Problem.step(30, 30, 1, 10, dim=60, energy=(1.0, 1.0))
    sol = lpm.solve(p, certify=False)
    start = time.perf_counter()
    cert = certificate(sol)
    seconds = time.perf_counter() - start
    assert sol.converged
    assert sol.objective - cert.lower_bound <= GAP_TOL * max(1.0, sol.objective)
    assert seconds < 5.0


def test_relaxation_bound_recovers_what_the_cheap_relu_certificate_leaves_out(monkeypatch):
    import lpm.certify as certify

    lam = 1e-3
    p = Problem.from_counts((100, 100, 10, 10), dim=8, features="relu", decay=(lam, lam))
    W, M, _ = _relu_closed_form(p.counts, lam, p.dim)
    f = objective(p, W, collapsed(p, M))
    sol = lpm.Solution(
        problem=p,
        W=W,
        H=collapsed(p, M),
        b=np.zeros(4),
        objective=f,
        residual=0.0,
        status="converged",
        method="theory",
        tol=1e-10,
    )
    # Above DNN_MAX_K the cheap certificate does not fit Ω: its bound is the free-feature one.
    monkeypatch.setattr(certify, "DNN_MAX_K", 2)
    cheap = certificate(sol)
    assert cheap.kind == "dnn-dual" and f - cheap.lower_bound > 1e-3
    tight = relaxation_bound(sol)
    assert tight.lower_bound <= f + 1e-14
    assert f - tight.lower_bound < GAP_TOL
    with pytest.raises(ValueError, match="finite optimum"):
        relaxation_bound(
            lpm.Solution(
                problem=Problem.from_counts((2, 1), dim=2),
                W=np.zeros((2, 2)),
                H=np.zeros((3, 2)),
                b=np.zeros(2),
                objective=1.0,
                residual=0.0,
                status="converged",
                method="x",
                tol=1.0,
            )
        )


def test_relu_beyond_k4_gradient_and_dnn_bound():
    # K = 5: the doubly-nonnegative cone is larger than the completely positive one, so the
    # relaxation could be loose; on this instance it is tight (orthogonal optimal means).
    p = Problem.from_counts((20, 20, 4, 4, 4), dim=5, features="relu", decay=(1e-3, 1e-3))
    sol = lpm.solve(p, restarts=2)
    assert sol.converged and sol.certificate.kind == "dnn-dual"
    assert sol.certificate.exact is False
    assert 0.0 <= sol.gap < GAP_TOL


def test_relu_all_dead_with_unequal_decays_is_certified():
    """Every class dead (W = H = 0, value log K) with λ_W ≠ λ_H: the doubly-nonnegative fit at
    the zero point is degenerate, and the free-feature bound (valid: H ≥ 0 only raises the
    optimum) certifies the optimum."""
    import math

    import lpm

    p = lpm.Problem.from_counts((40, 20, 10), dim=3, decay=(0.4, 0.1), features="relu")
    sol = lpm.solve(p, method="gradient")
    assert abs(sol.objective - math.log(3)) < 1e-12
    assert sol.certified and sol.gap <= 1e-10


# ------------------------------------------------------------------ the eigenvalue step at scale
@pytest.mark.parametrize("shift", [0.0, 1e-13, 1e-9, 0.3])
def test_the_shifted_cholesky_bound_is_below_the_smallest_eigenvalue(shift):
    """Above DENSE_EIGEN_MAX rows the bound on λ_min comes from a Cholesky test: it must never
    exceed the true λ_min (a PSD slack with a 150-fold cluster at 0, shifted down), and be within
    resolution + rounding of it when λ_min is near 0."""
    import lpm.certify as certify

    rng = np.random.default_rng(3)
    n = 300
    F = rng.standard_normal((n, n // 2))
    S = F @ F.T / n - shift * np.eye(n)
    exact = float(np.linalg.eigvalsh(S)[0])
    bound, how = certify.min_eigenvalue_bound(S, 1e-12)
    assert n > certify.DENSE_EIGEN_MAX
    assert bound <= exact
    if shift <= 1e-13:
        assert how == "cholesky" and exact - bound < 1e-9
    else:  # a clearly negative λ_min: the factorisation breaks down, the dense value answers
        assert how == "eigvalsh" and bound == exact


def test_a_large_certificate_by_cholesky_agrees_with_the_dense_one(monkeypatch):
    import lpm.certify as certify

    K = 130  # 2K = 260 rows, above DENSE_EIGEN_MAX
    p = Problem.balanced(K, 1, dim=K, energy=(1.0, 1.0))
    E = simplex_etf(K, K)
    f = objective(p, E, E)
    fast = gram_certificate(p, E, E)
    monkeypatch.setattr(certify, "DENSE_EIGEN_MAX", 10**6)
    dense = gram_certificate(p, E, E)
    assert (
        fast.details["eigen_method"] == "cholesky" and dense.details["eigen_method"] == "eigvalsh"
    )
    assert fast.lower_bound <= dense.lower_bound + 1e-15 and fast.lower_bound <= f
    assert f - fast.lower_bound < 0.1 * GAP_TOL * f


def test_a_fixed_classifier_under_decay_is_certified_with_its_constant_penalty():
    """The objective includes (λ_W/2)‖W‖² of the fixed classifier (1.46843, not the 1.30291
    without it); the bound shifts by the same constant, so the gap still closes."""
    p = Problem.from_counts((42, 103, 118, 24), dim=5, classifier="etf", decay=(0.08276, 0.01969))
    sol = lpm.solve(p)
    assert sol.certified and sol.certificate.kind == "fixed-linear"
    assert abs(sol.objective - 1.46843) < 5e-6
    assert 0.0 <= sol.gap <= GAP_TOL * sol.objective


@pytest.mark.parametrize(
    "kwargs,kind,value",
    [
        (dict(dim=3), "zero-loss", 0.0),
        (dict(dim=2, bias="free"), "zero-loss", 0.0),
        # d < K without bias: the best rank-2 fit drops the smallest class, ½·π_min = 1/18.
        (dict(dim=2), "eckart-young", 1.0 / 18.0),
    ],
)
def test_unregularised_mse_attains_its_minimum_and_is_certified(kwargs, kind, value):
    p = Problem.from_counts((5, 3, 1), loss="mse", **kwargs)
    sol = lpm.solve(p)
    assert sol.certified and sol.certificate.kind == kind and sol.certificate.exact
    assert abs(sol.objective - value) < 1e-12
    assert sol.lower_bound <= sol.objective


def test_unregularised_mse_with_a_fixed_classifier_keeps_the_trivial_bound():
    # The ETF's rows span 1^⊥, so e_k is off by (1/K)1: the minimum is 1/(2K) > 0, above the
    # bound 0, which is valid but not exact here: converged, not certified.
    p = Problem.from_counts((5, 3, 1), dim=3, loss="mse", classifier="etf")
    sol = lpm.solve(p)
    assert sol.converged and not sol.certified
    assert sol.certificate.exact is False and sol.lower_bound == 0.0
    assert abs(sol.objective - 1.0 / 6.0) < 1e-12
