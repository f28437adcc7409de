"""Gram matrices: factorisation at an inner dimension, numerical rank, centring.

A Gram matrix X = F Fᵀ (2K × 2K for the stacked [h̄_1..h̄_K, w_1..w_K] of the layer-peeled
program, K × K for a classifier or class means) determines its factor F only up to rotation;
every method that passes from a Gram matrix to a point at dimension d, or reads a rank off one,
does it here.

One rank rule: the number of eigenvalues (or singular values) above ``rtol`` times the largest,
0 when the largest is not positive. The tolerance says how accurately the matrix is known, so it
is the caller's: an exact closed form resolves 1e-10, an interior-point solution only 1e-6.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["GramFactor", "centring", "gram_factor", "numerical_rank"]


def numerical_rank(values: NDArray[np.float64], rtol: float) -> int:
    """The number of ``values`` (eigenvalues of a PSD matrix, or singular values, in any order)
    above ``rtol`` × the largest; 0 when the largest is not positive.

    Examples
    --------
    >>> numerical_rank(np.array([2.0, 1e-12, 1.0]), 1e-10)
    2
    """
    values = np.asarray(values, dtype=np.float64)
    top = float(values.max(initial=0.0))
    if top <= 0.0:
        return 0
    return int((values > rtol * top).sum())


class GramFactor(NamedTuple):
    """A factor F with F Fᵀ ≈ X at inner dimension d.

    Attributes
    ----------
    F : ndarray, shape=[n, d]
        The top min(d, n) eigenpairs, F = Q_d Λ_d^{1/2} (negative eigenvalues clipped to 0).
    rank : int
        The numerical rank of X (:func:`numerical_rank` of its eigenvalues).
    dropped : float
        The fraction of X's (positive) trace that the truncation to d left out: 0 exactly when
        rank ≤ d, up to the clipped round-off.
    """

    F: NDArray[np.float64]
    rank: int
    dropped: float


def gram_factor(X: NDArray[np.float64], d: int, rtol: float) -> GramFactor:
    """Factor a symmetric PSD matrix at inner dimension d: X ≈ F Fᵀ with F of shape [n, d].

    Parameters
    ----------
    X : ndarray, shape=[n, n]
        Symmetrised before use, (X + Xᵀ)/2.
    d : int
        Inner dimension (columns of F beyond n are 0).
    rtol : float
        The rank rule's tolerance.

    Examples
    --------
    >>> F = gram_factor(np.array([[1.0, 1.0], [1.0, 1.0]]), 1, 1e-10)
    >>> F.rank, round(float(abs(F.F[0, 0])), 12), F.dropped
    (1, 1.0, 0.0)
    """
    X = 0.5 * (X + X.T)
    lam, Q = np.linalg.eigh(X)
    lam, Q = lam[::-1], Q[:, ::-1]
    rank = numerical_rank(lam, rtol)
    keep = min(d, X.shape[0])
    pos = np.clip(lam[:keep], 0.0, None)
    F = np.zeros((X.shape[0], d))
    F[:, :keep] = Q[:, :keep] * np.sqrt(pos)
    total = float(np.clip(lam, 0.0, None).sum())
    dropped = float(np.clip(lam[keep:], 0.0, None).sum()) / total if total > 0 else 0.0
    return GramFactor(F, rank, dropped)


def centring(K: int) -> NDArray[np.float64]:
    """P_K = I_K − 11ᵀ/K, shape=[K, K]: the projection that removes the mean of K rows
    (P_K M has rows h̄_k − (1/K)Σ_l h̄_l); ‖P_K‖_F = sqrt(K − 1).

    Examples
    --------
    >>> centring(2)
    array([[ 0.5, -0.5],
           [-0.5,  0.5]])
    """
    return np.eye(K) - np.full((K, K), 1.0 / K)
