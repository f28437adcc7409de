"""Gram factorisation, numerical rank and centring (lpm.gram)."""

import numpy as np
import pytest

from lpm.gram import centring, gram_factor, numerical_rank


@pytest.mark.parametrize("rank,d", [(2, 2), (2, 5), (3, 6)])
def test_a_gram_of_rank_at_most_d_is_factored_exactly(rank, d):
    rng = np.random.default_rng(rank + d)
    F = rng.standard_normal((6, rank))
    X = F @ F.T
    out = gram_factor(X, d, 1e-10)
    assert out.F.shape == (6, d) and out.rank == rank
    np.testing.assert_allclose(out.F @ out.F.T, X, atol=1e-12 * np.abs(X).max())
    assert out.dropped < 1e-14


def test_truncation_reports_the_trace_it_drops():
    X = np.diag([3.0, 2.0, 1.0])
    out = gram_factor(X, 2, 1e-10)
    assert out.rank == 3
    assert out.dropped == pytest.approx(1.0 / 6.0, rel=1e-14)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(out.F @ out.F.T)), [0.0, 2.0, 3.0])


def test_one_rank_rule_relative_to_the_largest_value():
    assert numerical_rank(np.array([1.0, 1e-7, 1e-12]), 1e-6) == 1
    assert numerical_rank(np.array([1.0, 1e-7, 1e-12]), 1e-10) == 2
    assert numerical_rank(np.zeros(3), 1e-10) == 0
    assert numerical_rank(np.array([-1e-16, -2.0]), 1e-10) == 0


def test_centring_is_the_projection_that_removes_the_mean():
    P = centring(5)
    np.testing.assert_allclose(P @ P, P, atol=1e-15)
    np.testing.assert_allclose(P, P.T)
    M = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(P @ M, M - M.mean(axis=0), atol=1e-14)
    assert np.linalg.norm(P) == pytest.approx(2.0)
