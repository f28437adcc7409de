"""Small real and synthetic data sets, made long-tailed, for training to the terminal phase.

* :func:`digits` — scikit-learn's bundled handwritten digits (1,797 images of 8×8 pixels, K = 10;
  shipped with the package, nothing is downloaded), split once into train and test with a fixed
  seed, stratified by class;
* :func:`gaussian_mixture` — K Gaussian classes in R^p (scikit-learn's ``make_blobs``), seeded;
* :func:`long_tailed` — the training set subsampled to n_k = round(n_max · ρ^(−k/(K−1))),
  k = 0..K−1 (so n_0 = n_max and n_{K−1} = n_max/ρ); the test set is left balanced;
* :func:`step_imbalanced` — K_A classes of n_A training samples and K − K_A of n_A/R (Fang et al.'s
  step profile).

Example
-------
>>> from lpm.bridge.data import digits, long_tailed
>>> data = long_tailed(digits(), rho=10, n_max=100)
>>> data.counts
(100, 77, 60, 46, 36, 28, 22, 17, 13, 10)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Dataset", "digits", "gaussian_mixture", "long_tailed", "step_imbalanced"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays; training samples grouped by class (0..K−1).

    Attributes
    ----------
    name : str
    X_train : ndarray, shape=[N, p]
    y_train : ndarray of int, shape=[N]
    X_test : ndarray, shape=[N_test, p]
    y_test : ndarray of int, shape=[N_test]
    """

    name: str
    X_train: NDArray[np.float64]
    y_train: NDArray[np.int64]
    X_test: NDArray[np.float64]
    y_test: NDArray[np.int64]

    @property
    def K(self) -> int:
        """Number of classes."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def counts(self) -> tuple[int, ...]:
        """n_k, training samples per class."""
        return tuple(int(n) for n in np.bincount(self.y_train, minlength=self.K))


def _grouped(name: str, X, y, X_test, y_test) -> Dataset:
    order = np.argsort(y, kind="stable")
    return Dataset(
        name,
        np.asarray(X[order], dtype=np.float64),
        np.asarray(y[order], dtype=np.int64),
        np.asarray(X_test, dtype=np.float64),
        np.asarray(y_test, dtype=np.int64),
    )


def digits(split_seed: int = 0, test_fraction: float = 0.4) -> Dataset:
    """scikit-learn's digits, pixels scaled to [0, 1], stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X / 16.0, y, test_size=test_fraction, random_state=split_seed, stratify=y
    )
    return _grouped("digits", X_tr, y_tr, X_te, y_te)


def gaussian_mixture(
    K: int = 10,
    p: int = 32,
    n_train: int = 120,
    n_test: int = 100,
    spread: float = 3.0,
    seed: int = 0,
) -> Dataset:
    """K unit-variance Gaussian classes in R^p, centres uniform in [−spread, spread]^p.

    Parameters
    ----------
    n_train, n_test : int
        Samples per class in each split.
    """
    from sklearn.datasets import make_blobs

    centres = np.random.default_rng(seed).uniform(-spread, spread, size=(K, p))
    X, y = make_blobs(
        n_samples=[n_train + n_test] * K, centers=centres, cluster_std=1.0, random_state=seed
    )
    test = np.zeros(len(y), dtype=bool)
    for k in range(K):
        test[np.flatnonzero(y == k)[:n_test]] = True
    return _grouped("gaussian-mixture", X[~test], y[~test], X[test], y[test])


def _subsample(data: Dataset, counts: tuple[int, ...], seed: int, label: str) -> Dataset:
    rng = np.random.default_rng(seed)
    have = data.counts
    keep = []
    for k, n in enumerate(counts):
        if n > have[k]:
            raise ValueError(f"class {k} has {have[k]} training samples, {n} asked for")
        keep.append(np.sort(rng.choice(np.flatnonzero(data.y_train == k), n, replace=False)))
    index = np.concatenate(keep)
    return Dataset(
        f"{data.name} {label}",
        data.X_train[index],
        data.y_train[index],
        data.X_test,
        data.y_test,
    )


def long_tailed(data: Dataset, rho: float, n_max: int = 100, seed: int = 0) -> Dataset:
    """The training set subsampled to n_k = max(1, round(n_max ρ^(−k/(K−1)))), k = 0..K−1."""
    K = data.K
    counts = tuple(max(1, round(n_max * float(rho) ** (-k / (K - 1)))) for k in range(K))
    return _subsample(data, counts, seed, f"long-tailed rho={rho:g}")


def step_imbalanced(
    data: Dataset, majority: int, n_major: int, ratio: float, seed: int = 0
) -> Dataset:
    """Classes 0..majority−1 keep n_A = n_major samples, the others n_A/R (an integer)."""
    n_minor = n_major / float(ratio)
    if abs(n_minor - round(n_minor)) > 1e-9 or round(n_minor) < 1:
        raise ValueError(f"n_A/R = {n_minor:g} must be a positive integer")
    counts = (n_major,) * majority + (round(n_minor),) * (data.K - majority)
    return _subsample(data, counts, seed, f"step R={ratio:g}")
