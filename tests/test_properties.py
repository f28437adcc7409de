"""The theorem statements of proofs_check as Hypothesis properties over random problems.

Each property draws a problem inside the statement's hypotheses (random K, d ≥ K − 1, counts,
energies, decays), solves it with the package's solvers, and compares with the closed form of
:mod:`lpm.theory` through invariants (objective, Gram matrices, norms), with the tolerances of
``proofs_check`` (each documented where it is defined). Where a statement is FALSE outside its
hypotheses — a learnable classifier under imbalance is an ETF; a fixed ETF with the class-average
budget is equinorm — a test runs the false property under Hypothesis and shows that Hypothesis
finds a counterexample, while the same property holds where the theorem says it does.

Problems, counts, budgets and dimensions are drawn by :mod:`lpm.strategies` (they shrink to few
classes, balanced counts and round budgets), and the claims are stated with :mod:`lpm.testing`
(whose failures print the ``lpm solve`` line of the counterexample). Profiles
(tests/conftest.py): ``dev`` (default, few examples) and ``ci`` (``HYPOTHESIS_PROFILE=ci``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import lpm
from lpm import theory
from lpm.classifiers import etf_gram
from lpm.geometry import etf_distance
from lpm.problem import Problem
from lpm.strategies import class_counts, decays, dims, energies, problems
from lpm.testing import (
    assert_equinorm,
    assert_gram_close,
    assert_matches_prediction,
    assert_within_class_collapse,
)
from lpm.threshold import COLLAPSE_RTOL, minority_separation
from proofs_check.agreement import (
    CONVEX_GRAM_RTOL,
    CONVEX_RTOL,
    GRAM_RTOL,
    OBJECTIVE_RTOL,
    gram_error,
    relative_error,
    solve_all,
)
from proofs_check.dr_same_minimiser import DR_ALIGN_TOL, DR_POSITION_TOL, DR_SOLVE_TOL
from proofs_check.within_class_collapse import NC1_TOL


# ----------------------------------------------------------------------------- strategies
def imbalanced_counts(min_K: int = 2, max_K: int = 5, max_n: int = 30):
    """Counts with at least two distinct values (a genuinely imbalanced problem)."""
    return class_counts(min_K=min_K, max_K=max_K, max_n=max_n, imbalanced=True)


def balanced_counts(max_K: int = 6, max_n: int = 4):
    return class_counts(max_K=max_K, max_n=max_n, imbalanced=False)


def _dim(draw, K: int, extra: int = 3) -> int:
    return draw(dims(K, max_extra=extra))


def _assert_prediction(sol, prediction):
    """Converged, with the objective and Grams of the closed form (lpm.testing's tolerances:
    objective 1e-8 and Gram 1e-6 relative; 1e-6 and 1e-4 for the convex method)."""
    assert sol.converged, sol.message
    assert_matches_prediction(sol, prediction)


# ----------------------------------------------------------------------------- statements
@given(data=st.data(), counts=balanced_counts(), energy=energies())
def test_balanced_lpm_optimum_is_the_etf(data, counts, energy):
    """Fang et al. 2021, Thm 3: balanced, d ≥ K − 1, either budget."""
    budget = data.draw(st.sampled_from(["class-average", "per-sample"]))
    K = len(counts)
    p = Problem.from_counts(counts, dim=_dim(data.draw, K), energy=energy, budget=budget)
    _assert_prediction(lpm.solve(p), theory.lpm_balanced(p))


@given(data=st.data(), counts=imbalanced_counts(), energy=energies())
def test_fixed_etf_per_sample_collapses_for_any_counts(data, counts, energy):
    """Yang et al. 2022: h_i = sqrt(E_H/E_W) w_{y_i}, value L*, whatever the counts."""
    K = len(counts)
    p = Problem.from_counts(
        counts, dim=_dim(data.draw, K), classifier="etf", budget="per-sample", energy=energy
    )
    sol = lpm.solve(p)
    _assert_prediction(sol, theory.fixed_etf(p))
    C = math.sqrt(energy[1] / energy[0])
    deviation = np.linalg.norm(sol.H - C * sol.W[p.labels], axis=1).max()
    assert deviation / math.sqrt(energy[1]) <= GRAM_RTOL


@given(data=st.data(), counts=imbalanced_counts(max_n=15), energy=energies())
def test_dot_regression_has_the_cross_entropy_minimiser(data, counts, energy):
    """Yang et al. 2022, DR loss: value 0 at h_i = sqrt(E_H/E_W) w_{y_i} (tolerances: the DR
    loss is quartic along the sphere, see proofs_check.dr_same_minimiser)."""
    K = len(counts)
    p = Problem.from_counts(
        counts,
        dim=_dim(data.draw, K),
        loss="dr",
        classifier="etf",
        budget="per-sample",
        energy=energy,
    )
    dr = lpm.solve(p, method="gradient", tol=DR_SOLVE_TOL)
    ce = lpm.solve(replace(p, loss="ce"), method="gradient")
    assert dr.converged and ce.converged
    assert dr.objective <= OBJECTIVE_RTOL
    radius = math.sqrt(energy[1])
    align = (dr.H * dr.W[p.labels]).sum(1) / (np.linalg.norm(dr.H, axis=1) * math.sqrt(energy[0]))
    assert (1.0 - align).max() <= DR_ALIGN_TOL
    assert np.linalg.norm(dr.H - ce.H, axis=1).max() / radius <= DR_POSITION_TOL


@given(data=st.data(), counts=imbalanced_counts(min_K=3, max_n=40), energy=energies())
def test_sdp_value_equals_the_factorised_optimum(data, counts, energy):
    """Fang et al. 2021, convex relaxation: exact at any d ≥ K − 1 (docs/theory.md §1.3).

    The factorised side is the projected-gradient solve. When it stalls short of its tolerance
    (status "inaccurate": a solver limitation, e.g. counts (3, 13, 29, 29, 39), d = 4,
    E = (2.859375, 0.2), found by the ``ci`` profile and now in the solver's tests) only the value
    is compared — at the SDP's tolerance 1e-6, which a stalled point of residual ~1e-6 still
    meets (its value error is second order) — and not its Gram, which is first order.
    """
    K = len(counts)
    p = Problem.from_counts(counts, dim=_dim(data.draw, K, extra=2), energy=energy)
    grad = lpm.solve(p, method="gradient")
    sdp = solve_all([p], method="convex")[0]
    assert sdp.converged, sdp.message
    assert grad.converged or grad.status == "inaccurate", grad.message
    assert relative_error(grad.objective, sdp.info["program_value"]) <= CONVEX_RTOL
    if grad.converged:
        assert gram_error(grad.W @ grad.W.T, sdp.W @ sdp.W.T) <= CONVEX_GRAM_RTOL
    assert sdp.info["gram_rank"] <= K - 1


@given(
    KA=st.integers(1, 3),
    KB=st.integers(2, 3),
    energy=energies(),
    ratios=st.lists(st.integers(1, 60), min_size=2, max_size=2, unique=True),
)
def test_minority_separation_never_increases_with_the_ratio(KA, KB, energy, ratios):
    """Fang et al. 2021, Thm 5 (numerics): D_w(R) is non-increasing, and D_w(1) is the ETF's."""
    K = KA + KB
    lo, hi = sorted(ratios)
    problems = [
        Problem.from_counts((r,) * KA + (1,) * KB, dim=K, energy=energy) for r in (1, lo, hi)
    ]
    s1, slo, shi = solve_all(problems, method="convex")
    assert s1.converged and slo.converged and shi.converged
    d1, dlo, dhi = (minority_separation(s, KB) for s in (s1, slo, shi))
    assert abs(d1 - 2 * energy[0] * K / (K - 1)) <= CONVEX_GRAM_RTOL * d1
    assert dhi <= dlo + COLLAPSE_RTOL * energy[0]


_VARIANTS = {
    "lpm": {"energy": (1.0, 1.0)},
    "lpm per-sample": {"energy": (1.0, 1.0), "budget": "per-sample"},
    "fixed etf": {"energy": (1.0, 1.0), "classifier": "etf", "budget": "per-sample"},
    "fixed etf class-average": {"energy": (1.0, 1.0), "classifier": "etf"},
    "relu decay": {"features": "relu", "decay": (1e-3, 1e-3)},
    "ce decay penalised bias": {"bias": "penalised", "decay": (5e-3, 5e-3, 5e-3)},
    "mse decay": {"loss": "mse", "decay": (1e-3, 1e-3)},
    "fixed random per-sample": {
        "energy": (1.0, 2.0),
        "classifier": "random",
        "budget": "per-sample",
    },
}


@given(
    variant=st.sampled_from(sorted(_VARIANTS)),
    counts=imbalanced_counts(max_n=20),
    extra=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_every_variant_collapses_within_classes(variant, counts, extra, seed):
    """NC1 = 0 at the per-sample optimum, from a random start, in every variant."""
    p = Problem.from_counts(counts, dim=len(counts) + extra, **_VARIANTS[variant])
    sol = lpm.solve(p, method="gradient", seed=seed)
    assert sol.converged, sol.message
    assert_within_class_collapse(sol, tol=GRAM_RTOL)
    assert lpm.geometry(sol).nc1 <= NC1_TOL


#: Multiples of a class's collapse threshold τ_k drawn by the ReLU property: the band (0.8, 1.25)
#: around 1 is left out, since at τ_k the margin t_k and its curvature vanish together and
#: first-order solves slow down to a stall above the 1e-10 residual (seen: 1.9e-8 at exactly τ_k).
_RELU_FACTORS = st.one_of(st.floats(0.05, 0.8), st.floats(1.25, 3.0))


@given(data=st.data(), counts=imbalanced_counts(max_K=4, max_n=30), factor=_RELU_FACTORS)
def test_relu_features_are_orthogonal_with_the_predicted_norms(data, counts, factor):
    """Dang et al. 2024 (constants re-derived): λ_Wλ_H = factor × the smallest class's τ_k;
    ``auto`` answers an uncertified solve by the convex program (boundary stationary points).

    Certification itself is not asserted: with every class dead (W = H = 0) and λ_W ≠ λ_H the
    doubly-nonnegative certificate stays loose at the exact optimum (counts (3, 4), factor 2,
    λ_W/λ_H = 1/2: gap 0.69 at objective log K) — reported to lpm.certify's owner.
    """
    K = len(counts)
    product = factor * float(min(theory.relu_collapse_threshold(counts)))
    ratio = data.draw(st.sampled_from([0.5, 1.0, 2.0]))
    lam = (math.sqrt(product * ratio), math.sqrt(product / ratio))
    p = Problem.from_counts(
        counts, dim=K + data.draw(st.integers(0, 2)), features="relu", decay=lam
    )
    sol = lpm.solve(p)
    _assert_prediction(sol, theory.relu_ufm(p))


@given(
    data=st.data(),
    counts=balanced_counts(max_n=20),
    lam=decays(),
    bias=st.sampled_from(["none", "free", "penalised"]),
)
def test_regularised_ce_is_a_scaled_etf(data, counts, lam, bias):
    """Zhu et al. 2021: balanced CE under decay, any bias (b = 0 when penalised)."""
    decay = (*lam[:2], 1e-2 if bias == "penalised" else 0.0)
    K = len(counts)
    p = Problem.from_counts(counts, dim=_dim(data.draw, K), decay=decay, bias=bias)
    sol = lpm.solve(p)
    prediction = theory.zhu_regularised_ce(p)
    _assert_prediction(sol, prediction)
    if bias == "penalised":
        assert np.abs(sol.b).max() <= GRAM_RTOL
    elif bias == "free":
        assert np.abs(sol.b - sol.b.mean()).max() <= GRAM_RTOL


@given(data=st.data(), counts=imbalanced_counts(max_n=40), lam=st.floats(1e-3, 3e-2))
def test_mse_without_bias_is_an_orthogonal_frame(data, counts, lam):
    """Bias-free MSE (docs/theory.md §5.2): z_k = (sqrt(n_k) − N sqrt(λ_Wλ_H))_+.

    λ ≥ 1e-3: at λ = 1e-4 with λ_W/λ_H = 1/16 the gradient solver stalls at residual ~1e-5 (the
    near-zero-loss regime, which converges sublinearly; counts (1, 1, 1, 2, 11)) — a limit of
    the solver, reported, not of the statement.
    """
    K = len(counts)
    ratio = data.draw(st.sampled_from([0.5, 1.0, 2.0]))
    p = Problem.from_counts(
        counts,
        dim=K + data.draw(st.integers(0, 2)),
        loss="mse",
        decay=(lam * ratio, lam / ratio),
    )
    _assert_prediction(lpm.solve(p), theory.mse_ufm(p))


@given(data=st.data(), counts=balanced_counts(max_n=30), lam=st.floats(1e-4, 3e-2))
def test_mse_with_a_free_bias_is_an_etf(data, counts, lam):
    """Balanced MSE with a free bias (docs/theory.md §5.3): an ETF of logits and b = 1/K."""
    K = len(counts)
    p = Problem.from_counts(
        counts, dim=_dim(data.draw, K), loss="mse", bias="free", decay=(lam, lam)
    )
    sol = lpm.solve(p)
    _assert_prediction(sol, theory.mse_ufm(p))
    assert np.abs(sol.b - 1.0 / K).max() <= GRAM_RTOL


@given(data=st.data(), counts=imbalanced_counts(max_n=50))
def test_unregularised_geometry_is_seli(data, counts):
    """Thrampoulidis et al. 2022: the UF-SVM's normalised Grams and value ‖P_K Y‖_*."""
    K = len(counts)
    p = Problem.from_counts(counts, dim=_dim(data.draw, K, extra=2))
    sol = solve_all([p], method="convex")[0]
    prediction = theory.seli(p)
    assert sol.converged, sol.message
    assert relative_error(sol.info["svm_value"], prediction.objective) <= CONVEX_RTOL
    for observed, predicted in (
        (sol.W @ sol.W.T, prediction.w_gram),
        (sol.means @ sol.means.T, prediction.m_gram),
    ):
        unit = observed / np.linalg.norm(observed)
        assert gram_error(unit, predicted / np.linalg.norm(predicted)) <= CONVEX_GRAM_RTOL


@given(
    counts=balanced_counts(max_n=5),
    extra=st.integers(0, 6),
    energy=energies(),
    seed=st.integers(0, 10_000),
)
def test_a_random_classifier_never_beats_the_etf_bound(counts, extra, energy, seed):
    """Shalev et al. (bound derived, docs/theory.md §6): the balanced optimum on the sphere is at
    least the ETF value."""
    p = Problem.from_counts(
        counts,
        dim=len(counts) + extra,
        classifier="random",
        features="sphere",
        energy=energy,
        classifier_seed=seed,
    )
    sol = lpm.solve(p)
    assert sol.converged, sol.message
    bound = theory.random_classifier_bound(p).objective
    assert sol.objective >= bound - OBJECTIVE_RTOL * max(1.0, bound)


# ----------------------------------------------------------------------------- false statements
#: Counterexample searches: generation only (shrinking would re-solve dozens of problems), no
#: example database (the test must find its counterexample afresh every run).
SEARCH = settings(max_examples=10, phases=[Phase.generate], database=None)


#: The layer-peeled model of Fang et al. 2021 (CE, learnable W, free features, no bias).
LEARNABLE_LPM = dict(loss="ce", classifier="learnable", features="free", bias="none")
#: The same with the classifier fixed to a simplex ETF (Yang et al. 2022).
FIXED_ETF = dict(LEARNABLE_LPM, classifier="etf")


def _learnable_is_etf(p: Problem) -> None:
    """The FALSE claim 'the learnable LPM optimum is a simplex ETF' on one problem."""
    sol = lpm.solve(p)
    assert sol.converged
    target = p.energy[0] * etf_gram(p.K)
    assert_gram_close(sol.W @ sol.W.T, target, GRAM_RTOL, problem=p, what="W Wᵀ")


def test_hypothesis_refutes_learnable_is_etf_under_imbalance():
    """Hypothesis finds an imbalanced problem whose optimum is not an ETF (Fang et al. 2021)."""

    @SEARCH
    @given(problems(**LEARNABLE_LPM, regime="energy", min_K=3, max_n=30, imbalanced=True))
    def claim(p):
        _learnable_is_etf(p)

    with pytest.raises(AssertionError, match="W Wᵀ is not close to the target Gram"):
        claim()


@given(problems(**LEARNABLE_LPM, regime="energy", budget="class-average", imbalanced=False))
def test_learnable_is_etf_when_balanced(p):
    """The same claim where the theorem makes it true: balanced counts."""
    _learnable_is_etf(p)


@given(problems(**LEARNABLE_LPM, regime="energy", max_K=2, imbalanced=True))
def test_two_learnable_classes_are_an_etf_for_any_counts(p):
    """K = 2: only w_1 − w_2 enters the loss, so w_1 = −w_2 at any counts (why K ≥ 3 above)."""
    sol = lpm.solve(p)
    assert sol.converged
    assert_gram_close(sol.W @ sol.W.T, "etf", GRAM_RTOL, problem=p)
    assert etf_distance(sol.W) <= GRAM_RTOL


def _fixed_etf_is_equinorm(p: Problem) -> None:
    """The claim 'the fixed-ETF optimum has ‖h̄_k‖ = sqrt(E_H) for every k' on one problem."""
    sol = lpm.solve(p)
    assert sol.converged
    assert_equinorm(sol, tol=GRAM_RTOL)
    norms = np.linalg.norm(sol.means, axis=1)
    E_H = p.energy[1]
    assert np.abs(norms - math.sqrt(E_H)).max() <= GRAM_RTOL * math.sqrt(E_H)


def test_hypothesis_refutes_fixed_etf_equinorm_with_class_average_budget():
    """Hypothesis finds imbalanced counts where the class-average optimum is not equinorm."""

    @SEARCH
    @given(problems(**FIXED_ETF, regime="energy", budget="class-average", imbalanced=True))
    def claim(p):
        _fixed_etf_is_equinorm(p)

    with pytest.raises(AssertionError, match="the means are not equinorm"):
        claim()


@given(problems(**FIXED_ETF, regime="energy", budget="per-sample", imbalanced=True))
def test_fixed_etf_is_equinorm_with_the_per_sample_budget(p):
    """The same claim with the per-sample budget: true (Yang et al. 2022)."""
    _fixed_etf_is_equinorm(p)


@given(counts=imbalanced_counts(), energy=energies())
def test_class_average_fixed_etf_matches_its_derived_optimum(counts, energy):
    """What the class-average optimum IS (docs/theory.md §2.4, derived in lpm.theory)."""
    p = Problem.from_counts(counts, dim=len(counts), classifier="etf", energy=energy)
    _assert_prediction(lpm.solve(p), theory.fixed_etf_class_average(p))
