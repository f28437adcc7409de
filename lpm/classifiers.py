"""Fixed classifiers: the simplex equiangular tight frame and seeded random frames.

The simplex ETF of K classes in R^d is a K × d matrix whose rows m_k satisfy

    Σ_k m_k = 0,   ‖m_k‖ = 1,   m_kᵀ m_l = −1/(K−1) (k ≠ l),

i.e. its Gram is (K/(K−1)) P_K with P_K = I_K − (1/K) 11ᵀ; its rank is K − 1. Papyan, Han and
Donoho (PNAS 2020) define it as sqrt(K/(K−1)) U P_K with UᵀU = I_K, which needs d ≥ K. The frame
itself lives in a (K − 1)-dimensional subspace, so this module builds it for any d ≥ K − 1: an
orthonormal basis of 1^⊥ ⊂ R^K (K − 1 columns), mapped isometrically into R^d by a seeded random
orthonormal matrix.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from lpm.gram import centring
from lpm.problem import Problem

__all__ = ["classifier_matrix", "etf_gram", "random_classifier", "simplex_etf"]


def _random_orthonormal(rows: int, cols: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """rows × cols matrix with orthonormal columns (rows ≥ cols), Haar-distributed."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))


def etf_gram(K: int) -> NDArray[np.float64]:
    """Gram matrix of the unit simplex ETF, (K/(K−1)) (I_K − 11ᵀ/K), shape=[K, K]."""
    if K < 2:
        raise ValueError(f"a simplex ETF needs K ≥ 2 classes, got {K}")
    return (K / (K - 1)) * centring(K)


def simplex_etf(K: int, d: int, seed: int | np.random.Generator = 0) -> NDArray[np.float64]:
    """Simplex ETF with unit rows, shape=[K, d], for any d ≥ K − 1.

    Parameters
    ----------
    K : int
        Number of classes, K ≥ 2.
    d : int
        Dimension, d ≥ K − 1 (d = K − 1 included, where the QR construction of the released code
        of Yang et al. fails).
    seed : int or Generator
        Chooses the rotation of the frame; the Gram matrix does not depend on it.

    Returns
    -------
    W : ndarray, shape=[K, d]
        Rows w_k with W Wᵀ = (K/(K−1)) (I − 11ᵀ/K), so that Σ_k w_k = 0 and
        cos(w_k, w_l) = −1/(K−1) for k ≠ l.

    Examples
    --------
    >>> W = simplex_etf(4, 3)
    >>> bool(np.allclose(W @ W.T, etf_gram(4)))
    True
    """
    if K < 2:
        raise ValueError(f"a simplex ETF needs K ≥ 2 classes, got {K}")
    if d < K - 1:
        raise ValueError(f"a simplex ETF of K = {K} classes needs d ≥ K − 1 = {K - 1}, got d = {d}")
    rng = np.random.default_rng(seed)
    # Orthonormal basis B of 1^⊥ in R^K, shape (K, K−1): the last K−1 columns of a Householder-like
    # completion of 1/sqrt(K). QR of [1 | I] is exact and deterministic.
    ones = np.ones((K, 1)) / np.sqrt(K)
    q, _ = np.linalg.qr(np.hstack([ones, np.eye(K)[:, : K - 1]]))
    basis = q[:, 1:K]  # (K, K−1), columns orthonormal and orthogonal to 1
    frame = np.sqrt(K / (K - 1)) * basis  # rows: the ETF in R^{K−1}
    embed = _random_orthonormal(d, K - 1, rng)  # (d, K−1), isometry R^{K−1} → R^d
    return frame @ embed.T


def random_classifier(
    K: int,
    d: int,
    seed: int | np.random.Generator = 0,
    *,
    normalise: bool = True,
    scheme: str = "gaussian",
) -> NDArray[np.float64]:
    """Fixed random classifier (Shalev, Shalev and Keshet 2020), shape=[K, d].

    Parameters
    ----------
    scheme : "gaussian" or "integer"
        ``"gaussian"``: i.i.d. N(0, 1) entries; ``"integer"``: i.i.d. integers uniform in
        [−100, 99], as the authors' released code draws them.
    normalise : bool
        Scale every row to unit norm (the project's convention for a fixed classifier).
    """
    if K < 2 or d < 1:
        raise ValueError(f"a classifier needs K ≥ 2 and d ≥ 1, got K = {K}, d = {d}")
    rng = np.random.default_rng(seed)
    if scheme == "gaussian":
        W = rng.standard_normal((K, d))
    elif scheme == "integer":
        W = rng.integers(-100, 100, size=(K, d)).astype(np.float64)
    else:
        raise ValueError(f"scheme {scheme!r} is not known; allowed: gaussian, integer")
    if normalise:
        norms = np.linalg.norm(W, axis=1, keepdims=True)
        W = W / np.where(norms == 0, 1.0, norms)
    return W


def classifier_matrix(problem: Problem) -> NDArray[np.float64] | None:
    """The fixed classifier of a problem, rows of norm ``problem.classifier_norm``; None when the
    classifier is learnable."""
    if problem.classifier == "learnable":
        return None
    if problem.classifier == "etf":
        rows = simplex_etf(problem.K, problem.dim, problem.classifier_seed)
    else:
        rows = random_classifier(problem.K, problem.dim, problem.classifier_seed)
    return problem.classifier_norm * rows
