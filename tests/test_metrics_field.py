"""Each lpm geometry key against the metric of the field's two metric codes, on shared data.

The reference formulas below are written here, independently, from the definitions of

* Zhu et al. 2021's code (github.com/tding1/Neural-Collapse, ``validate_NC.py`` and ``plot.py``):
  μ_G is the sample mean, Σ_W = (1/N) Σ_i (h_i − μ_{y_i})(·)ᵀ, Σ_B = (1/K) Σ_k (μ_k − μ_G)(·)ᵀ;
* rhubarbwu/neural-collapse (``neural_collapse/measure.py``, ``kernels.py``, ``accumulate.py``):
  the global mean is the mean of the class means by default (``weighted=False``) and the sample
  mean with ``weighted=True``; the within-class covariance is always divided by N.

docs/metrics.md is the table these tests pin: a test per row.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from lpm.geometry import cdnv, measure

SEEDS = (0, 1, 2)
IMBALANCED = (7, 2, 4, 1, 3)
BALANCED = (3, 3, 3, 3)


def shared_data(seed: int, counts: tuple[int, ...], d: int = 6):
    """Gaussian W (K, d), b (K,), class centres and features = centre + noise, shuffled."""
    rng = np.random.default_rng(seed)
    K = len(counts)
    W = rng.standard_normal((K, d))
    b = rng.standard_normal(K)
    centres = 2.0 * rng.standard_normal((K, d))
    labels = rng.permutation(np.repeat(np.arange(K), counts))
    H = centres[labels] + 0.5 * rng.standard_normal((labels.size, d))
    return W, H, labels, b


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# ----------------------------------------------------------------------------- references
def class_means(H, labels):
    K = labels.max() + 1
    return np.array([H[labels == k].mean(axis=0) for k in range(K)])


def etf_target(K):
    return (np.eye(K) - np.ones((K, K)) / K) / np.sqrt(K - 1)


def zhu_nc1(H, labels):
    """validate_NC.py: trace(Σ_W pinv(Σ_B)) / K with the sample mean and Σ_W over N."""
    K, N = labels.max() + 1, len(labels)
    mu = class_means(H, labels)
    mu_G = H.sum(axis=0) / N
    Sigma_W = sum(np.outer(H[i] - mu[labels[i]], H[i] - mu[labels[i]]) for i in range(N)) / N
    Sigma_B = sum(np.outer(mu[k] - mu_G, mu[k] - mu_G) for k in range(K)) / K
    return float(np.trace(Sigma_W @ scipy.linalg.pinv(Sigma_B)) / K)


def zhu_nc2(W):
    """plot.py ``compute_ETF``: ‖W Wᵀ/‖W Wᵀ‖_F − P_K/sqrt(K−1)‖_F."""
    WWT = W @ W.T
    return float(np.linalg.norm(WWT / np.linalg.norm(WWT) - etf_target(W.shape[0])))


def zhu_nc3(W, H, labels):
    """validate_NC.py ``compute_W_H_relation``: M has columns μ_k − μ_G (sample mean)."""
    M = (class_means(H, labels) - H.mean(axis=0)).T
    WH = W @ M
    return float(np.linalg.norm(WH / np.linalg.norm(WH) - etf_target(W.shape[0])))


def zhu_bias(W, H, b):
    """plot.py ``plot_residual``: ‖W μ_G + b‖ with the sample mean."""
    return float(np.linalg.norm(W @ H.mean(axis=0) + b))


def rw_global_mean(H, labels, weighted=False):
    """accumulate.py ``Accumulator.compute``: the mean of the class means, or weighted by n_k."""
    mu = class_means(H, labels)
    if not weighted:
        return mu.mean(axis=0)
    n = np.bincount(labels)
    return n @ mu / n.sum()


def rw_nc1(H, labels, weighted=False):
    """measure.py ``covariance_ratio(metric="pinv")``: V_inter = M̃ᵀM̃/K, V_intra over N."""
    K, N = labels.max() + 1, len(labels)
    mu = class_means(H, labels)
    diff = H - mu[labels]
    V_intra = diff.T @ diff / N
    Mc = mu - rw_global_mean(H, labels, weighted)
    V_inter = Mc.T @ Mc / K
    return float(np.trace(np.linalg.pinv(V_inter) @ V_intra) / K)


def rw_structure_error(A, B):
    """measure.py ``structure_error``: B Aᵀ normalised, minus the ETF entrywise."""
    K = A.shape[0]
    struct = B @ A.T
    struct = struct / np.linalg.norm(struct)
    struct = struct + 1.0 / K / math.sqrt(K - 1)
    struct[np.diag_indices(K)] -= 1.0 / math.sqrt(K - 1)
    return float(np.linalg.norm(struct))


def rw_cdnv(H, labels):
    """kernels.py ``class_dist_norm_vars`` + ``symm_reduce``: mean over pairs k < l of
    ((v_k + v_l)/2) / ‖μ_k − μ_l‖², v_k the mean squared distance of class k to μ_k."""
    K = labels.max() + 1
    mu = class_means(H, labels)
    v = np.array([np.mean(np.sum((H[labels == k] - mu[k]) ** 2, axis=1)) for k in range(K)])
    pairs = [(k, l) for k in range(K) for l in range(k + 1, K)]
    grid = [(v[k] + v[l]) / 2 / np.sum((mu[k] - mu[l]) ** 2) for k, l in pairs]
    return float(sum(grid) / (K * (K - 1) / 2))


def rw_agreement(W, H, labels):
    """accumulate.py ``DecAccumulator`` + measure.py ``clf_ncc_agreement`` (weighted): the share
    of samples where argmax_k w_kᵀh (no bias) equals the nearest uncentred class mean."""
    mu = class_means(H, labels)
    ncc = np.argmin(((H[:, None, :] - mu[None]) ** 2).sum(-1), axis=1)
    lin = np.argmax(H @ W.T, axis=1)
    return float(np.mean(ncc == lin))


def papyan_nc3(W, H, labels, centre):
    """Papyan et al. 2020, Fig. 5: ‖W/‖W‖_F − M̃/‖M̃‖_F‖_F² (M̃ rows μ_k − centre)."""
    Mc = class_means(H, labels) - centre
    return float(np.sum((W / np.linalg.norm(W) - Mc / np.linalg.norm(Mc)) ** 2))


# ----------------------------------------------------------------------------- the table
@pytest.mark.parametrize("seed", SEEDS)
def test_nc1_is_zhus_collapse_metric_under_the_sample_mean(seed):
    W, H, y, b = shared_data(seed, IMBALANCED)
    reference = zhu_nc1(H, y)
    assert close(measure(W, H, y, b, global_mean="sample").nc1, reference)
    assert close(measure(W, H, y, b).nc1_papyan, reference)  # whatever the convention
    assert close(rw_nc1(H, y, weighted=True), reference)
    assert not close(measure(W, H, y, b).nc1, reference)  # the class-average NC1 differs


@pytest.mark.parametrize("seed", SEEDS)
def test_rhubarbwus_default_nc1_mixes_the_conventions(seed):
    """Its default centres at the mean of class means but divides Σ_W by N: equal to lpm's NC1
    on balanced data only."""
    W, H, y, b = shared_data(seed, BALANCED)
    assert close(measure(W, H, y, b).nc1, rw_nc1(H, y))
    W, H, y, b = shared_data(seed, IMBALANCED)
    default = rw_nc1(H, y)
    report = measure(W, H, y, b)
    assert not close(default, report.nc1) and not close(default, report.nc1_papyan)


@pytest.mark.parametrize("seed", SEEDS)
def test_nc2_w_is_the_etf_error_of_the_classifier(seed):
    W, H, y, b = shared_data(seed, IMBALANCED)
    report = measure(W, H, y, b)
    assert close(report.nc2_w, zhu_nc2(W))
    assert close(report.nc2_w, rw_structure_error(W, W))  # simplex_etf_error(W, m_G=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("convention", ["class-average", "sample"])
def test_nc2_m_is_rhubarbwus_simplex_etf_error(seed, convention):
    W, H, y, b = shared_data(seed, IMBALANCED)
    centre = rw_global_mean(H, y, weighted=convention == "sample")
    Mc = class_means(H, y) - centre
    assert close(measure(W, H, y, b, global_mean=convention).nc2_m, rw_structure_error(Mc, Mc))


@pytest.mark.parametrize("seed", SEEDS)
def test_self_duality_is_zhus_nc3_and_rhubarbwus_self_duality_error(seed):
    W, H, y, b = shared_data(seed, IMBALANCED)
    assert close(measure(W, H, y, b, global_mean="sample").self_duality, zhu_nc3(W, H, y))
    Mc = class_means(H, y) - rw_global_mean(H, y)
    assert close(measure(W, H, y, b).self_duality, rw_structure_error(Mc, W))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("convention", ["class-average", "sample"])
def test_nc3_is_papyans_self_duality(seed, convention):
    W, H, y, b = shared_data(seed, IMBALANCED)
    centre = rw_global_mean(H, y, weighted=convention == "sample")
    report = measure(W, H, y, b, global_mean=convention)
    assert close(report.nc3, papyan_nc3(W, H, y, centre))


@pytest.mark.parametrize("seed", SEEDS)
def test_bias_global_mean_is_zhus_residual(seed):
    W, H, y, b = shared_data(seed, IMBALANCED)
    assert close(measure(W, H, y, b, global_mean="sample").bias_global_mean, zhu_bias(W, H, b))
    centre = rw_global_mean(H, y)
    expected = float(np.linalg.norm(W @ centre + b))
    assert close(measure(W, H, y, b).bias_global_mean, expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_cdnv_is_rhubarbwus_variability_cdnv(seed):
    W, H, y, b = shared_data(seed, IMBALANCED)
    reference = rw_cdnv(H, y)
    assert close(measure(W, H, y, b).cdnv, reference)
    assert close(measure(W, H, y, b, global_mean="sample").cdnv, reference)
    assert close(cdnv(H, y), reference)


@pytest.mark.parametrize("seed", SEEDS)
def test_nc4_is_one_minus_rhubarbwus_agreement_without_bias(seed):
    W, H, y, _ = shared_data(seed, IMBALANCED)
    H = H + 0.8 * np.random.default_rng(seed).standard_normal(H.shape)  # some disagreement
    report = measure(W, H, y)
    assert 0.0 < report.nc4 < 1.0
    assert close(report.nc4, 1.0 - rw_agreement(W, H, y))
