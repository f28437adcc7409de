"""Simplex ETF and fixed random classifiers (Hypothesis properties)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lpm.classifiers import classifier_matrix, etf_gram, random_classifier, simplex_etf
from lpm.problem import Problem


@st.composite
def k_and_d(draw):
    K = draw(st.integers(2, 12))
    d = draw(st.integers(K - 1, K + 6))
    return K, d, draw(st.integers(0, 2**31))


@given(k_and_d())
def test_etf_properties(kd):
    K, d, seed = kd
    M = simplex_etf(K, d, seed)
    assert M.shape == (K, d)
    assert np.abs(M.sum(axis=0)).max() < 1e-12  # M·1 = 0 (rows sum to zero)
    assert np.abs(M @ M.T - etf_gram(K)).max() < 1e-12
    assert np.linalg.matrix_rank(M, tol=1e-9) == K - 1
    assert np.abs(np.linalg.norm(M, axis=1) - 1).max() < 1e-12


def test_etf_at_d_equals_k_minus_one_and_seeded():
    M = simplex_etf(5, 4, 3)
    assert np.allclose(M @ M.T, etf_gram(5), atol=1e-13)
    assert np.array_equal(M, simplex_etf(5, 4, 3))
    assert not np.allclose(M, simplex_etf(5, 4, 4))


def test_etf_rejects_small_dimension():
    with pytest.raises(ValueError, match="d ≥ K − 1"):
        simplex_etf(4, 2)


@given(k_and_d())
def test_random_classifier_rows_normalised_and_seeded(kd):
    K, d, seed = kd
    W = random_classifier(K, d, seed)
    assert np.abs(np.linalg.norm(W, axis=1) - 1).max() < 1e-12
    assert np.array_equal(W, random_classifier(K, d, seed))
    Wi = random_classifier(K, d, seed, scheme="integer", normalise=False)
    assert np.all(Wi == np.round(Wi)) and Wi.min() >= -100 and Wi.max() <= 99


def test_classifier_matrix_scales_by_energy():
    p = Problem.balanced(4, 2, dim=3, classifier="etf", energy=(4.0, 1.0))
    W = classifier_matrix(p)
    assert np.allclose(W @ W.T, 4.0 * etf_gram(4))
    assert classifier_matrix(Problem.balanced(4, 2, energy=(1, 1))) is None
    r = classifier_matrix(Problem.balanced(4, 2, dim=6, classifier="random", decay=(1, 1)))
    assert np.allclose(np.linalg.norm(r, axis=1), 1.0)
