"""Tests of lpm.geometry: docs/theory.md §7 worked values, degenerate inputs, properties."""

from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lpm
from lpm import theory
from lpm.geometry import GeometryReport, cdnv, geometry, measure
from lpm.problem import Problem
from lpm.strategies import class_counts, dims

PROPERTY = settings(max_examples=30, deadline=None)

SCALARS = (
    "nc1",
    "nc2_w",
    "nc2_m",
    "nc3",
    "nc4",
    "equinorm_w",
    "equinorm_m",
    "equiangular_w",
    "equiangular_m",
    "maxangle_w",
    "maxangle_m",
    "max_abs_cos_m",
    "self_duality",
    "cdnv",
    "bias_global_mean",
    "nc1_papyan",
)
GRAMS = ("w_gram", "m_gram", "wm_gram")


# --------------------------------------------------------------------------------------------
# Helpers: an ETF, random problems, and a slow, obvious reference NC1.


def simplex_etf(K: int, d: int) -> np.ndarray:
    """Rows m_k (K, d) of a unit-norm simplex ETF: M Mᵀ = K/(K−1) P_K (needs d ≥ K−1)."""
    P = np.eye(K) - 1.0 / K
    eigval, eigvec = np.linalg.eigh(P)
    B = eigvec[:, eigval > 0.5]  # (K, K−1) orthonormal basis of 1^⊥
    M = np.zeros((K, d))
    M[:, : K - 1] = math.sqrt(K / (K - 1)) * B
    return M


def random_problem(seed: int, K: int, d: int, counts: list[int], noise: float = 0.3):
    """Gaussian W (K, d), b (K,), class means, and features = mean + noise, shuffled."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((K, d))
    b = rng.standard_normal(K)
    means = rng.standard_normal((K, d))
    labels = rng.permutation(np.repeat(np.arange(K), counts))
    H = means[labels] + noise * rng.standard_normal((labels.size, d))
    return W, H, labels, b, rng


def reference_nc1(H: np.ndarray, labels: np.ndarray, K: int, convention: str) -> float:
    """NC1 by loops and np.linalg.pinv, for generic (full-rank Σ_B) data only."""
    d = H.shape[1]
    means = np.array([H[labels == k].mean(axis=0) for k in range(K)])
    mu = means.mean(axis=0) if convention == "class-average" else H.mean(axis=0)
    sigma_b = sum(np.outer(m - mu, m - mu) for m in means) / K
    sigma_w = np.zeros((d, d))
    for k in range(K):
        members = H[labels == k]
        scatter = sum(np.outer(h - means[k], h - means[k]) for h in members)
        if convention == "class-average":
            sigma_w += scatter / (K * len(members))
        else:
            sigma_w += scatter / H.shape[0]
    return float(np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-10, hermitian=True)) / K)


def assert_same_geometry(a: GeometryReport, b: GeometryReport, rtol: float = 1e-9) -> None:
    for name in SCALARS:
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or math.isclose(
            x, y, rel_tol=rtol, abs_tol=1e-10
        ), (
            name,
            x,
            y,
        )
    for name in ("w_norms", "m_norms", *GRAMS):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=1e-10)


@st.composite
def shapes(draw, min_count: int = 1, balanced: bool = False):
    """K in 2..6, d in K−1..8, n_k in min_count..min_count + 4 (lpm.strategies' counts, which
    shrink to few, balanced classes), and a seed."""
    counts = draw(class_counts(max_K=6, max_n=5, imbalanced=False if balanced else None))
    K = len(counts)
    d = draw(dims(K, max_extra=8 - max(1, K - 1)))
    seed = draw(st.integers(0, 2**32 - 1))
    return K, d, [n + min_count - 1 for n in counts], seed


# --------------------------------------------------------------------------------------------
# Worked values of docs/theory.md §7.


def test_two_classes_worked_values():
    H = np.array([[0.9], [1.1], [-0.9], [-1.1]])
    report = measure(np.array([[1.0], [-1.0]]), H, np.array([0, 0, 1, 1]))
    assert report.nc1 == pytest.approx(0.005, abs=1e-15)  # Σ_W = 0.01, Σ_B = 1
    assert report.nc2_w == pytest.approx(0.0, abs=1e-15)
    assert report.nc2_m == pytest.approx(0.0, abs=1e-15)
    assert report.nc3 == pytest.approx(0.0, abs=1e-15)
    assert report.nc4 == 0.0
    np.testing.assert_allclose(report.m_norms, [1.0, 1.0])
    np.testing.assert_allclose(report.wm_gram, [[1.0, -1.0], [-1.0, 1.0]])


@pytest.mark.parametrize("d", [2, 5])
def test_exact_etf_is_collapsed(d):
    M = simplex_etf(3, d)
    labels = np.repeat(np.arange(3), 2)
    report = measure(2 * M, M[labels], labels)
    for name in (
        "nc1",
        "nc2_w",
        "nc2_m",
        "nc3",
        "nc4",
        "equinorm_w",
        "equiangular_m",
        "maxangle_w",
    ):
        assert getattr(report, name) < 1e-12, name
    np.testing.assert_allclose(report.w_gram, 4 * 1.5 * (np.eye(3) - 1 / 3), atol=1e-12)
    assert report.sigma_b_rank == 2


def test_moving_one_pair_gives_one_over_450():
    # Σ_W = (1/6)·2·0.01 e1e1ᵀ, Σ_B = (1/2) I_2, so NC1 = (1/3)·2·(1/300) = 1/450.
    M = simplex_etf(3, 2)
    labels = np.repeat(np.arange(3), 2)
    H = M[labels].copy()
    H[0, 0] += 0.1
    H[1, 0] -= 0.1
    for convention in ("class-average", "sample"):
        report = measure(2 * M, H, labels, global_mean=convention)
        assert report.nc1 == pytest.approx(1 / 450, abs=1e-6)
        assert report.nc1 == pytest.approx(1 / 450, rel=1e-12)


@pytest.mark.parametrize("K", [2, 3, 4, 6])
def test_etf_gram_target_for_every_K(K):
    M = simplex_etf(K, K + 1)
    labels = np.arange(K)
    report = measure(M, M, labels)
    assert report.nc2_w < 1e-12 and report.nc2_m < 1e-12
    assert report.maxangle_m < 1e-12 and report.equiangular_w < 1e-12


# --------------------------------------------------------------------------------------------
# Conventions and degenerate inputs.


def test_conventions_differ_under_imbalance():
    H = np.array([[2.0], [0.0], [0.0], [0.0]])
    labels = np.array([0, 1, 1, 1])
    W = np.array([[1.0], [-1.0]])
    by_class = measure(W, H, labels)
    by_sample = measure(W, H, labels, global_mean="sample")
    assert by_class.global_mean_convention == "class-average"
    np.testing.assert_allclose(by_class.global_mean, [1.0])
    np.testing.assert_allclose(by_sample.global_mean, [0.5])
    assert by_class.nc2_m == pytest.approx(0.0, abs=1e-15)  # centred means ±1: an ETF for K = 2
    assert by_sample.nc2_m > 0.1


def test_zero_classifier_is_nan_and_json_null():
    M = simplex_etf(3, 2)
    labels = np.repeat(np.arange(3), 2)
    report = measure(np.zeros((3, 2)), M[labels], labels)
    assert math.isnan(report.nc2_w) and math.isnan(report.nc3) and math.isnan(report.equinorm_w)
    assert report.equiangular_w == 0.0  # cosines with a zero vector are 0
    data = report.to_dict()
    assert data["nc2_w"] is None and data["nc3"] is None
    assert report.nc1 < 1e-12 and report.nc2_m < 1e-12
    json.dumps(data, allow_nan=False)


def test_all_features_equal_gives_zero_nc1():
    # 0.1 averaged three times is not exactly 0.1: the round-off tolerance must absorb it.
    H = np.full((6, 3), 0.1)
    labels = np.array([0, 0, 0, 1, 1, 2])
    report = measure(np.eye(3), H, labels)
    assert report.nc1 == 0.0 and report.sigma_b_rank == 0
    assert math.isnan(report.nc2_m) and math.isnan(report.nc3)


def test_equal_means_with_spread_gives_infinite_nc1():
    H = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    report = measure(np.eye(2), H, np.array([0, 0, 1, 1]))
    assert report.nc1 == math.inf
    assert report.to_dict()["nc1"] is None


def test_rank_deficient_between_class_scatter():
    # Classes 2 and 3 share a mean: rank Σ_B = 2 < K − 1; spread off range(Σ_B) is ignored.
    rng = np.random.default_rng(0)
    means = np.array([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 0], [0, 0, 0]])
    labels = np.repeat(np.arange(4), 3)
    H = means[labels] + 0.1 * rng.standard_normal((12, 3))
    H -= np.array([H[labels == k].mean(axis=0) for k in range(4)])[labels] - means[labels]
    report = measure(rng.standard_normal((4, 3)), H, labels)
    assert report.sigma_b_rank == 2
    assert 0 < report.nc1 < 1e-2
    assert report.nc1 == pytest.approx(reference_nc1(H, labels, 4, "class-average"), rel=1e-9)


def test_minority_separation():
    W = np.array([[5.0, 5.0], [1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    H = np.eye(4, 2)
    labels = np.array([0, 1, 2, 3])
    assert measure(W, H, labels).minority_w_separation is None
    assert measure(W, H, labels, minority=[2]).minority_w_separation is None
    # pairs among {1, 2, 3}: ‖(1,−2)‖² = 5, ‖(2,0)‖² = 4, ‖(1,2)‖² = 5
    report = measure(W, H, labels, minority=(3, 1, 2))
    assert report.minority_w_separation == 5.0 and report.minority == (1, 2, 3)
    W_collapsed = W.copy()
    W_collapsed[1:] = 0.0  # exactly collapsed minority classifiers: 0, never a noisy cosine
    assert measure(W_collapsed, H, labels, minority=(1, 2, 3)).minority_w_separation == 0.0


def test_orthogonal_nonnegative_means_have_zero_cosine():
    # The ReLU regime: disjoint supports, different lengths, and one class dead (mean 0).
    means = np.array([[2.0, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 0]])
    labels = np.array([0, 0, 1, 2, 2, 3])
    report = measure(np.eye(4), means[labels], labels)
    assert report.max_abs_cos_m == 0.0
    np.testing.assert_allclose(report.m_norms, [2.0, 0.5, 1.5, 0.0])
    np.testing.assert_allclose(report.m_gram, np.diag([4.0, 0.25, 2.25, 0.0]))
    skewed = means[labels] + np.array([1.0, 1.0, 0, 0])
    assert measure(np.eye(4), skewed, labels).max_abs_cos_m > 0.5


def test_nc4_counts_classifier_and_nearest_mean_disagreements():
    H = np.array([[1.0], [3.0], [-1.0], [-3.0]])
    labels = np.array([0, 0, 1, 1])
    W = np.array([[1.0], [-1.0]])
    assert measure(W, H, labels).nc4 == 0.0
    # A bias of 2.5 for class 1 flips h = 1 (logits 1 < 1.5), whose nearest mean is 2: 1 in 4.
    assert measure(W, H, labels, b=np.array([0.0, 2.5])).nc4 == 0.25


def test_geometry_reads_a_solution():
    W, H, labels, b, _ = random_problem(1, 4, 5, [3, 3, 2, 2])
    problem = SimpleNamespace(labels=labels, minority_classes=(2, 3))
    solution = SimpleNamespace(W=W, H=H, b=b, problem=problem)
    direct = measure(W, H, labels, b, minority=(2, 3), global_mean="sample")
    report = geometry(solution, global_mean="sample")
    assert_same_geometry(report, direct, rtol=0)
    assert report.minority_w_separation == direct.minority_w_separation is not None


def test_report_is_frozen_and_plain():
    W, H, labels, b, _ = random_problem(2, 3, 4, [2, 3, 4])
    report = measure(W, H, labels, b, minority=(1, 2))
    with pytest.raises(FrozenInstanceError):
        report.nc1 = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        report.w_gram[0, 0] = 1.0
    data = report.to_dict()
    interface = {"nc1", "nc2_w", "nc2_m", "nc3", "nc4", "w_norms", "m_norms", "w_gram", "m_gram"}
    assert interface | {"wm_gram", "max_abs_cos_m", "minority_w_separation"} <= set(data)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert isinstance(data["wm_gram"][0][0], float) and len(data["wm_gram"]) == 3


def _bad_inputs():
    W = np.eye(3, 2)
    H = np.ones((4, 2))
    y = np.array([0, 1, 2, 2])
    return [
        ("W 1-D", dict(W=np.ones(3), H=H, labels=y)),
        ("one class", dict(W=np.ones((1, 2)), H=H, labels=np.zeros(4, int))),
        ("H width", dict(W=W, H=np.ones((4, 3)), labels=y)),
        ("labels length", dict(W=W, H=H, labels=y[:3])),
        ("labels 2-D", dict(W=W, H=H, labels=y[None, :])),
        ("labels float", dict(W=W, H=H, labels=y.astype(float))),
        ("label too big", dict(W=W, H=H, labels=np.array([0, 1, 2, 3]))),
        ("negative label", dict(W=W, H=H, labels=np.array([0, 1, 2, -1]))),
        ("empty class", dict(W=W, H=H, labels=np.array([0, 0, 2, 2]))),
        ("bias shape", dict(W=W, H=H, labels=y, b=np.ones(2))),
        ("nan", dict(W=W, H=np.full((4, 2), np.nan), labels=y)),
        ("minority", dict(W=W, H=H, labels=y, minority=(0, 3))),
        ("convention", dict(W=W, H=H, labels=y, global_mean="median")),
    ]


@pytest.mark.parametrize(("case", "kwargs"), _bad_inputs(), ids=[c for c, _ in _bad_inputs()])
def test_bad_input_raises_one_line_value_error(case, kwargs):
    with pytest.raises(ValueError) as info:
        measure(**kwargs)
    message = str(info.value)
    assert message and "\n" not in message, case


# --------------------------------------------------------------------------------------------
# Hypothesis properties.


@PROPERTY
@given(
    data=st.data(),
    K=st.integers(2, 5),
    d=st.integers(1, 6),
    convention=st.sampled_from(["class-average", "sample"]),
)
def test_metrics_are_never_negative_on_arbitrary_bounded_inputs(data, K, d, convention):
    # Raw Hypothesis floats: zeros, duplicates and equal means are all drawn here.
    entries = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
    N = data.draw(st.integers(K, 3 * K))
    W = data.draw(hnp.arrays(np.float64, (K, d), elements=entries))
    H = data.draw(hnp.arrays(np.float64, (N, d), elements=entries))
    extra = data.draw(st.lists(st.integers(0, K - 1), min_size=N - K, max_size=N - K))
    labels = np.array(list(range(K)) + extra)
    report = measure(W, H, labels, global_mean=convention)
    assert report.nc1 >= 0.0  # possibly inf: Σ_B = 0 with spread, documented
    assert 0.0 <= report.nc4 <= 1.0
    assert 0.0 <= report.max_abs_cos_m <= 1.0
    for name in ("nc2_w", "nc2_m", "nc3", "equinorm_w", "equinorm_m"):
        value = getattr(report, name)
        assert math.isnan(value) or value >= 0.0, name
    assert math.isnan(report.nc3) or report.nc3 <= 4.0 + 1e-12
    assert math.isnan(report.self_duality) or 0.0 <= report.self_duality <= 2.0 + 1e-12
    assert math.isnan(report.cdnv) or report.cdnv >= 0.0  # possibly inf: equal means
    assert report.bias_global_mean >= 0.0 and report.nc1_papyan >= 0.0
    assert math.isnan(report.nc2_w) == (not np.any(W))
    for name in ("equiangular_w", "equiangular_m", "maxangle_w", "maxangle_m"):
        assert math.isfinite(getattr(report, name)), name
    json.dumps(report.to_dict(), allow_nan=False)


@PROPERTY
@given(shape=shapes(), convention=st.sampled_from(["class-average", "sample"]))
def test_nc1_matches_the_slow_reference(shape, convention):
    K, d, counts, seed = shape
    W, H, labels, _, _ = random_problem(seed, K, d, counts)
    report = measure(W, H, labels, global_mean=convention)
    assert report.nc1 == pytest.approx(reference_nc1(H, labels, K, convention), rel=1e-8)


@PROPERTY
@given(shape=shapes())
def test_invariant_under_a_common_rotation(shape):
    K, d, counts, seed = shape
    W, H, labels, b, rng = random_problem(seed, K, d, counts)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    before = measure(W, H, labels, b, minority=range(K))
    after = measure(W @ Q, H @ Q, labels, b, minority=range(K))
    assert_same_geometry(before, after)
    assert after.minority_w_separation == pytest.approx(before.minority_w_separation, rel=1e-9)
    np.testing.assert_allclose(after.global_mean, before.global_mean @ Q, atol=1e-12)


@PROPERTY
@given(shape=shapes(), convention=st.sampled_from(["class-average", "sample"]))
def test_equivariant_under_relabelling(shape, convention):
    K, d, counts, seed = shape
    W, H, labels, b, rng = random_problem(seed, K, d, counts)
    perm = rng.permutation(K)  # class k becomes class perm[k]
    order = rng.permutation(labels.size)  # and the samples are shuffled
    W_new, b_new = np.empty_like(W), np.empty_like(b)
    W_new[perm], b_new[perm] = W, b
    minority = (0, K - 1)
    before = measure(W, H, labels, b, minority=minority, global_mean=convention)
    after = measure(
        W_new,
        H[order],
        perm[labels[order]],
        b_new,
        minority=perm[list(minority)],
        global_mean=convention,
    )
    for name in SCALARS:
        x, y = getattr(before, name), getattr(after, name)
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-10), (name, x, y)
    assert after.minority_w_separation == pytest.approx(before.minority_w_separation, rel=1e-12)
    np.testing.assert_allclose(after.w_norms[perm], before.w_norms, rtol=1e-12)
    np.testing.assert_allclose(after.m_norms[perm], before.m_norms, rtol=1e-12)
    for name in GRAMS:
        np.testing.assert_allclose(
            getattr(after, name)[np.ix_(perm, perm)], getattr(before, name), rtol=1e-12, atol=1e-12
        )
    np.testing.assert_allclose(after.global_mean, before.global_mean, rtol=1e-12, atol=1e-12)


@PROPERTY
@given(
    shape=shapes(), c=st.floats(1e-2, 1e2), convention=st.sampled_from(["class-average", "sample"])
)
def test_scaling_the_features(shape, c, convention):
    K, d, counts, seed = shape
    W, H, labels, _, _ = random_problem(seed, K, d, counts)
    before = measure(W, H, labels, global_mean=convention)
    after = measure(W, c * H, labels, global_mean=convention)
    for name in (
        "nc1",
        "nc2_m",
        "nc3",
        "nc4",
        "equinorm_m",
        "equiangular_m",
        "max_abs_cos_m",
        "self_duality",
        "cdnv",
        "nc1_papyan",
    ):
        assert getattr(after, name) == pytest.approx(getattr(before, name), rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(after.m_gram, c**2 * before.m_gram, rtol=1e-9, atol=1e-12 * c**2)
    np.testing.assert_allclose(after.wm_gram, c * before.wm_gram, rtol=1e-9, atol=1e-12 * c)
    np.testing.assert_array_equal(after.w_gram, before.w_gram)


@PROPERTY
@given(shape=shapes(balanced=True))
def test_balanced_problems_agree_across_conventions(shape):
    K, d, counts, seed = shape
    W, H, labels, b, _ = random_problem(seed, K, d, counts)
    by_class = measure(W, H, labels, b, global_mean="class-average")
    by_sample = measure(W, H, labels, b, global_mean="sample")
    assert_same_geometry(by_class, by_sample)
    np.testing.assert_allclose(by_class.global_mean, by_sample.global_mean, atol=1e-12)


@PROPERTY
@given(shape=shapes(min_count=3), convention=st.sampled_from(["class-average", "sample"]))
def test_no_collapse_is_found_in_noisy_features(shape, convention):
    # Unit-variance noise around random means: Hypothesis must not find NC1 ≈ 0. The value is
    # also bounded below by (1/K) tr(Π Σ_W Π)/λ_max(Σ_B), Π the projector onto range(Σ_B).
    K, d, counts, seed = shape
    W, H, labels, _, _ = random_problem(seed, K, d, counts, noise=1.0)
    report = measure(W, H, labels, global_mean=convention)
    means = np.array([H[labels == k].mean(axis=0) for k in range(K)])
    centred = means - report.global_mean
    _, s, Vt = np.linalg.svd(centred / math.sqrt(K), full_matrices=False)
    basis = Vt[s > 1e-8 * s[0]]
    deviations = (H - means[labels]) @ basis.T
    weights = (
        1.0 / (K * np.bincount(labels)[labels])
        if convention == "class-average"
        else np.full(labels.size, 1.0 / labels.size)
    )
    bound = float(weights @ np.sum(deviations**2, axis=1)) / (K * s[0] ** 2)
    assert report.nc1 >= bound * (1 - 1e-9)
    assert report.nc1 > 1e-5


@PROPERTY
@given(shape=shapes(), convention=st.sampled_from(["class-average", "sample"]))
def test_collapsed_features_have_zero_nc1_and_nc4(shape, convention):
    K, d, counts, seed = shape
    rng = np.random.default_rng(seed)
    M = simplex_etf(K, d) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
    labels = rng.permutation(np.repeat(np.arange(K), counts))
    report = measure(3.0 * M, 0.5 * M[labels], labels, global_mean=convention)
    assert report.nc1 < 1e-20 and report.nc4 == 0.0 and report.cdnv < 1e-20
    assert report.nc2_w < 1e-12
    # The sample mean of imbalanced ETF features is not 0: the means centred at it are not an ETF.
    if convention == "class-average" or len(set(counts)) == 1:
        assert report.nc2_m < 1e-12 and report.nc3 < 1e-20 and report.self_duality < 1e-12


# --------------------------------------------------------------------------------------------
# The field's metrics and the metrics against a prediction (docs/metrics.md).


def test_field_metrics_worked_values():
    # Two classes at ±1 with spread ±0.1: σ_k² = 0.01, ‖h̄_1 − h̄_2‖² = 4, so CDNV = 0.02/8.
    H = np.array([[0.9], [1.1], [-0.9], [-1.1]])
    W = np.array([[1.0], [-1.0]])
    report = measure(W, H, np.array([0, 0, 1, 1]), b=np.array([0.5, 0.5]))
    assert report.cdnv == pytest.approx(0.0025, rel=1e-12)
    assert report.self_duality == pytest.approx(0.0, abs=1e-15)  # W M̃ᵀ ∝ P_2
    assert report.bias_global_mean == pytest.approx(math.sqrt(0.5), rel=1e-12)  # μ_G = 0
    assert report.nc1_papyan == pytest.approx(report.nc1, rel=1e-12)  # balanced


def test_field_metrics_of_degenerate_inputs():
    M = simplex_etf(3, 2)
    labels = np.repeat(np.arange(3), 2)
    report = measure(np.zeros((3, 2)), M[labels], labels)
    assert math.isnan(report.self_duality) and report.cdnv == 0.0
    assert report.to_dict()["self_duality"] is None
    H = np.full((6, 2), 0.3)  # every class at the same point: CDNV is 0/0
    assert math.isnan(measure(np.eye(3, 2), H, labels).cdnv)
    H[0, 0] += 1.0  # class 1 moves away; classes 2 and 3 still share a mean, both collapsed
    assert math.isnan(measure(np.eye(3, 2), H, labels).cdnv)
    H[2, 0] += 0.5  # class 2 spreads about the mean it shares with class 3
    H[3, 0] -= 0.5
    assert measure(np.eye(3, 2), H, labels).cdnv == math.inf


def test_cdnv_is_a_mean_over_pairs():
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), [3, 1, 2, 5])
    H = rng.standard_normal((labels.size, 3))
    M = np.array([H[labels == k].mean(axis=0) for k in range(4)])
    var = [np.mean(np.sum((H[labels == k] - M[k]) ** 2, axis=1)) for k in range(4)]
    pairs = [(k, l) for k in range(4) for l in range(k + 1, 4)]
    expected = np.mean([(var[k] + var[l]) / (2 * np.sum((M[k] - M[l]) ** 2)) for k, l in pairs])
    assert cdnv(H, labels) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "problem",
    [
        Problem.from_counts((4, 1, 1), dim=3, classifier="etf", energy=(1.0, 1.0)),
        Problem.from_counts((4, 2, 1), dim=4, features="relu", decay=(1e-2, 1e-2)),
        Problem.balanced(3, 2, energy=(1.0, 1.0)),
    ],
    ids=["fixed-etf-class-average", "relu", "balanced"],
)
def test_certified_optima_sit_on_their_predicted_grams(problem):
    """At a certified optimum, NC2/NC3 against the closed form vanish even where the optimum is
    not an ETF (Gram tolerance 1e-6 relative, as in proofs_check)."""
    sol = lpm.solve(problem)
    assert sol.certified
    report = geometry(sol)
    assert report.prediction_reference == theory.predict(problem).reference
    for key in ("nc2_w_predicted", "nc2_m_predicted", "self_duality_predicted"):
        assert getattr(report, key) <= 1e-6, key
    if not problem.is_balanced:
        assert report.nc2_w > 1e-2 or report.nc2_m > 1e-2  # not an ETF, yet on the prediction


def test_predicted_metrics_are_none_without_a_prediction():
    sol = lpm.solve(Problem.from_counts((4, 1, 1), dim=3, energy=(1.0, 1.0)))
    report = geometry(sol)  # the learnable imbalanced LPM has no closed form
    assert report.nc2_w_predicted is None and report.prediction_reference is None
    assert geometry(sol, prediction=None).to_dict()["nc2_m_predicted"] is None
    with pytest.raises(ValueError, match="allowed: 'auto', None"):
        geometry(sol, prediction="theory")


def test_a_wrong_prediction_is_measured_as_a_distance():
    sol = lpm.solve(Problem.from_counts((4, 1, 1), dim=3, classifier="etf", energy=(1.0, 1.0)))
    balanced = theory.lpm_balanced(Problem.balanced(3, 2, dim=3, energy=(1.0, 1.0)))
    report = measure(sol.W, sol.H, sol.problem.labels, prediction=balanced)
    assert report.nc2_w_predicted < 1e-9  # the fixed classifier is the ETF the theorem predicts
    assert report.nc2_m_predicted > 1e-2  # the class means are not
    data = report.to_dict()
    assert set(data) >= {"self_duality", "cdnv", "bias_global_mean", "nc1_papyan"}
    json.dumps(data, allow_nan=False)


def test_unregularised_geometry_is_that_of_the_directions():
    # Only directions have a limit without energies or decay: every caller reports the geometry
    # of W/‖W‖_F and H/‖H‖_F, whatever scale the solver stopped at.
    problem = Problem.from_counts((3, 2, 2), dim=3)
    rng = np.random.default_rng(5)
    W, H = rng.normal(size=(3, 3)), rng.normal(size=(7, 3))
    small = geometry(SimpleNamespace(problem=problem, W=W, H=H, b=None), prediction=None)
    large = geometry(SimpleNamespace(problem=problem, W=40 * W, H=3 * H, b=None), prediction=None)
    direct = measure(W / np.linalg.norm(W), H / np.linalg.norm(H), problem.labels)
    for key in ("w_norms", "m_norms", "w_gram", "wm_gram", "nc1", "nc2_w"):
        np.testing.assert_allclose(getattr(small, key), getattr(direct, key), atol=1e-12)
        np.testing.assert_allclose(getattr(large, key), getattr(direct, key), atol=1e-12)
