"""The collapse geometry of any classifier and features: NC1–NC4, the field's metrics under their
names (self-duality, CDNV, the bias relation, Papyan et al.'s NC1), NC2/NC3 against a closed-form
prediction, and the imbalance-aware measures. docs/metrics.md maps each key to the metric codes of
Zhu et al. 2021 and rhubarbwu/neural-collapse.

Notation (the package's): K classes, d feature dimension, N samples; ``W`` (K, d) with rows w_k;
``H`` (N, d) with rows h_i; ``b`` (K,) or None; ``labels`` (N,) with y_i in 0..K−1; n_k samples in
class k; ``M`` (K, d) the uncentred class means h̄_k = (1/n_k) Σ_{y_i = k} h_i; P_K = I_K − 11ᵀ/K.

Conventions
-----------
Global mean μ_G, chosen by ``global_mean``; the within-class weighting follows the same choice:

* ``"class-average"`` (default): μ_G = (1/K) Σ_k h̄_k and
  Σ_W = (1/K) Σ_k (1/n_k) Σ_{y_i = k} (h_i − h̄_k)(h_i − h̄_k)ᵀ — every class weighs 1/K, as in
  Fang et al.'s class-averaged budget and in the ETF statements (the centred means sum to 0);
* ``"sample"``: μ_G = (1/N) Σ_i h_i and Σ_W = (1/N) Σ_i (h_i − h̄_{y_i})(h_i − h̄_{y_i})ᵀ
  (Papyan et al.'s "Ave_{i,c}" read literally).

In both, Σ_B = (1/K) Σ_k (h̄_k − μ_G)(h̄_k − μ_G)ᵀ and the centred means M̃ have rows h̄_k − μ_G.
Balanced problems give the same numbers under both conventions (up to round-off).

Numerical tolerances (named here, used nowhere else)
----------------------------------------------------
* :func:`rank_rtol` — an eigenvalue λ_r of Σ_B counts in the pseudo-inverse when
  λ_r > max(K, d)·eps·λ_max.
* :func:`roundoff_atol` — a centred mean h̄_k − μ_G or a within-class deviation h_i − h̄_{y_i} whose
  norm is at most 10·max(N, d)·eps·max_i‖h_i‖ is round-off and is treated as exactly 0.

Degenerate inputs (no NaN where a value makes sense; NaN where none does)
------------------------------------------------------------------------
* NC1: if every centred mean is (numerically) 0, Σ_B = 0 and NC1 is ``0.0`` when every within-class
  deviation is also 0 (all features equal), else ``inf``. NC1 is never negative.
* The cosine of a vector with norm 0 is defined as 0 (equiangularity, max-angle, ``max_abs_cos_m``).
* NC2 (matrix), NC3 and equinorm have no meaning for an all-zero W or all-zero centred means: they
  are ``nan`` then. :meth:`GeometryReport.to_dict` writes every non-finite float (``nan``, ``inf``)
  as ``None``, so the JSON stays valid; the report itself keeps the float.

References
----------
Papyan, Han, Donoho, "Prevalence of neural collapse during the terminal phase of deep learning
training", PNAS 117 (2020) — NC1–NC4.
Zhu, Ding, Zhou, Li, You, Sulam, Qu, "A geometric analysis of neural collapse with unconstrained
features", NeurIPS 2021 — the matrix form of NC2.
Fang, He, Long, Su, "Exploring deep neural networks via layer-peeled model: minority collapse in
imbalanced training", PNAS 118 (2021) — minority collapse, ‖w_k − w_l‖².
Galanti, György, Hutter, "On the role of neural collapse in transfer learning", ICLR 2022 — CDNV.
Dang, Tran, Nguyen, Ho, "Neural collapse for cross-entropy class-imbalanced learning with
unconstrained ReLU features", ICML 2024 — orthogonal class means, ``max_abs_cos_m``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lpm.files import jsonable
from lpm.gram import centring
from lpm.theory import predict

__all__ = [
    "GLOBAL_MEANS",
    "GeometryReport",
    "GlobalMean",
    "cdnv",
    "etf_distance",
    "geometry",
    "measure",
    "pair_separation",
    "rank_rtol",
    "roundoff_atol",
]

GlobalMean = Literal["class-average", "sample"]

#: The accepted values of ``global_mean``.
GLOBAL_MEANS: tuple[str, ...] = ("class-average", "sample")

_EPS = float(np.finfo(np.float64).eps)

#: Safety factor of :func:`roundoff_atol` over the worst-case error of a sum of max(N, d) terms.
_ROUNDOFF_SAFETY = 10.0


def rank_rtol(K: int, d: int) -> float:
    """Relative rank tolerance for the eigenvalues of Σ_B in NC1's pseudo-inverse.

    Parameters
    ----------
    K, d : int
        Number of classes and feature dimension.

    Returns
    -------
    float
        max(K, d)·eps (float64 eps); an eigenvalue λ_r enters Σ_B⁺ only when λ_r > rtol·λ_max.
    """
    return max(K, d) * _EPS


def roundoff_atol(N: int, d: int, scale: float) -> float:
    """Absolute tolerance under which a centred mean or a within-class deviation is round-off.

    Parameters
    ----------
    N, d : int
        Number of samples and feature dimension.
    scale : float
        max_i ‖h_i‖, the size of the features the vectors were computed from.

    Returns
    -------
    float
        10·max(N, d)·eps·scale: a difference of means of N numbers of size ``scale`` cannot be
        resolved below this.
    """
    return _ROUNDOFF_SAFETY * max(N, d) * _EPS * scale


def _unit_frobenius(X: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """X / ‖X‖_F computed without overflow or underflow, or None when X = 0."""
    peak = float(np.max(np.abs(X))) if X.size else 0.0
    if peak == 0.0:
        return None
    Y = X / peak
    return Y / np.linalg.norm(Y)


def _cosines(X: NDArray[np.float64], norms: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cosine matrix of the rows of X, shape (K, K); rows with norm 0 have cosine 0 with all."""
    safe = np.where(norms > 0.0, norms, 1.0)
    U = np.where((norms > 0.0)[:, None], X / safe[:, None], 0.0)
    return np.clip(U @ U.T, -1.0, 1.0)


def etf_distance(
    X: NDArray[np.float64], *, gram: bool = False, target: ArrayLike | None = None
) -> float:
    """NC2 in matrix form: ‖G/‖G‖_F − P_K/sqrt(K−1)‖_F with G = X Xᵀ (Zhu et al. 2021).

    Parameters
    ----------
    X : ndarray, shape=[K, d], or shape=[K, K] with ``gram``
        Rows x_k (W, or the centred class means), or with ``gram=True`` the (K, K) matrix G
        itself (e.g. W M̃ᵀ, for the self-duality metric). 0 exactly for a simplex ETF of any
        scale; nan when G = 0.
    target : array_like, shape=[K, K], optional
        Replace P_K/sqrt(K−1) by Ĝ/‖Ĝ‖_F (a predicted Gram); nan when Ĝ = 0.
    """
    X = np.asarray(X, dtype=np.float64)
    K = X.shape[0]
    if gram:
        G = _unit_frobenius(X)
    else:
        Y = _unit_frobenius(X)
        G = None if Y is None else _unit_frobenius(Y @ Y.T)
    if target is None:
        reference = centring(K) / math.sqrt(K - 1)
    else:
        reference = _unit_frobenius(np.asarray(target, dtype=np.float64))
    if G is None or reference is None:
        return math.nan
    return float(np.linalg.norm(G - reference))


def _equinorm(norms: NDArray[np.float64]) -> float:
    """Std_k ‖x_k‖ / Avg_k ‖x_k‖ (population std); nan when every norm is 0."""
    mean = float(np.mean(norms))
    if mean == 0.0:
        return math.nan
    return float(np.std(norms) / mean)


def _angles(C: NDArray[np.float64], K: int) -> tuple[float, float]:
    """(Std_{k<l} cos_kl, Avg_{k<l} |cos_kl + 1/(K−1)|) of a cosine matrix C (K, K)."""
    upper = C[np.triu_indices(K, k=1)]
    return float(np.std(upper)), float(np.mean(np.abs(upper + 1.0 / (K - 1))))


def _read_only(X: NDArray[np.float64]) -> NDArray[np.float64]:
    """A read-only float64 copy of X (same shape)."""
    Y = np.array(X, dtype=np.float64)
    Y.setflags(write=False)
    return Y


def _class_means(
    H: NDArray[np.float64], labels: NDArray[np.int64], counts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """M (K, d) with rows h̄_k = (1/n_k) Σ_{y_i = k} h_i; every n_k ≥ 1."""
    grouped = H if np.all(labels[:-1] <= labels[1:]) else H[np.argsort(labels, kind="stable")]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.add.reduceat(grouped, starts, axis=0) / counts[:, None]


def _as_float_matrix(name: str, value: ArrayLike) -> NDArray[np.float64]:
    try:
        X = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real numeric array ({exc})") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    return X


def _validate(
    W: ArrayLike,
    H: ArrayLike,
    labels: ArrayLike,
    b: ArrayLike | None,
    minority: Iterable[int] | None,
    global_mean: str,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.float64],
    tuple[int, ...],
]:
    if global_mean not in GLOBAL_MEANS:
        raise ValueError(f"global_mean must be one of {GLOBAL_MEANS}, got {global_mean!r}")
    W = _as_float_matrix("W", W)
    H = _as_float_matrix("H", H)
    K, d = W.shape
    if K < 2:
        raise ValueError(f"W must have K >= 2 rows (classes), got shape {W.shape}")
    if d < 1:
        raise ValueError(f"W must have d >= 1 columns, got shape {W.shape}")
    if H.shape[1] != d:
        raise ValueError(f"H must have shape (N, d) with d = {d} as in W, got shape {H.shape}")
    N = H.shape[0]
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != N:
        raise ValueError(f"labels must have shape (N,) = ({N},) to match H, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if N and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"labels must lie in 0..{K - 1}, got values {y.min()}..{y.max()}")
    counts = np.bincount(y.astype(np.int64), minlength=K)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        raise ValueError(f"every class must have a sample; classes {missing.tolist()} have none")
    if b is None:
        bias = np.zeros(K)
    else:
        try:
            bias = np.asarray(b, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"b must be a real numeric array ({exc})") from None
        if bias.shape != (K,):
            raise ValueError(f"b must have shape (K,) = ({K},), got shape {bias.shape}")
        if not np.all(np.isfinite(bias)):
            raise ValueError("b contains non-finite values (nan or inf)")
    minor = tuple(sorted({int(k) for k in (() if minority is None else minority)}))
    if minor and (minor[0] < 0 or minor[-1] >= K):
        raise ValueError(f"minority classes must lie in 0..{K - 1}, got {list(minor)}")
    return W, H, y.astype(np.int64), bias, minor


@dataclass(frozen=True, eq=False)
class GeometryReport:
    """The collapse geometry of (W, H, b, labels); arrays are read-only float64.

    Attributes
    ----------
    nc1 : float
        (1/K) tr(Σ_W Σ_B⁺) ≥ 0 (Papyan et al. 2020); ``inf`` or ``0.0`` when Σ_B = 0 (module notes).
    nc2_w, nc2_m : float
        ‖G/‖G‖_F − P_K/sqrt(K−1)‖_F with G = W Wᵀ, resp. G = M̃ M̃ᵀ (Zhu et al. 2021);
        ``nan`` for W = 0, resp. M̃ = 0. The ETF target is the balanced one: under imbalance the
        optimum is not an ETF and this is a distance, not a test.
    nc3 : float
        ‖Wᵀ/‖W‖_F − M̃ᵀ/‖M̃‖_F‖_F² ∈ [0, 4]; ``nan`` when W = 0 or M̃ = 0.
    nc4 : float
        Fraction of samples whose argmax_k (w_kᵀh_i + b_k) differs from argmin_k ‖h_i − h̄_k‖
        (ties go to the lowest index in both).
    equinorm_w, equinorm_m : float
        Std_k / Avg_k of ‖w_k‖, resp. ‖h̄_k − μ_G‖; ``nan`` when all norms are 0.
    equiangular_w, equiangular_m : float
        Std over k < l of cos(w_k, w_l), resp. cos(h̄_k − μ_G, h̄_l − μ_G).
    maxangle_w, maxangle_m : float
        Avg over k < l of |cos + 1/(K−1)|, same vectors.
    w_norms, m_norms : ndarray, shape (K,)
        ‖w_k‖ and ‖h̄_k‖ of the uncentred class means.
    w_gram, m_gram, wm_gram : ndarray, shape (K, K)
        W Wᵀ, M Mᵀ (uncentred) and W Mᵀ, i.e. ``wm_gram[j, k]`` = w_j·h̄_k.
    max_abs_cos_m : float
        max over k ≠ l of |cos(h̄_k, h̄_l)| of the uncentred means; 0 for orthogonal means (the ReLU
        regime of Dang et al. 2024).
    minority_w_separation : float or None
        max over minority pairs k < l of ‖w_k − w_l‖² (Fang et al. 2021); None with fewer than two
        minority classes.
    minority : tuple of int
        The minority classes used (0-based, sorted).
    counts : tuple of int
        n_k, shape (K,).
    sigma_b_rank : int
        Number of eigenvalues of Σ_B kept in Σ_B⁺ (0 when Σ_B = 0).
    global_mean_convention : {"class-average", "sample"}
        How μ_G and Σ_W were weighted (module notes).
    global_mean : ndarray, shape (d,)
        μ_G.
    self_duality : float
        ‖W M̃ᵀ/‖W M̃ᵀ‖_F − P_K/sqrt(K−1)‖_F (Zhu et al. 2021's NC3; tding1/Neural-Collapse's
        ``WH_relation_metric``, rhubarbwu/neural-collapse's ``self_duality_error``); ``nan`` when
        W M̃ᵀ = 0. 0 exactly when W and M̃ are one simplex ETF up to scale.
    cdnv : float
        Average over pairs k < l of (σ_k² + σ_l²) / (2‖h̄_k − h̄_l‖²) with
        σ_k² = (1/n_k) Σ_{y_i = k} ‖h_i − h̄_k‖² (Galanti et al. 2022); independent of μ_G.
        A pair of equal means contributes ``inf`` (``nan`` when both classes are also collapsed).
    bias_global_mean : float
        ‖W μ_G + b‖ (Zhu et al. 2021's bias relation; tding1/Neural-Collapse plots it as NC4).
    nc1_papyan : float
        (1/K) tr(Σ_W Σ_B⁺) under Papyan et al.'s convention whatever ``global_mean_convention``
        says: μ_G = (1/N) Σ_i h_i, Σ_W = (1/N) Σ_i (h_i − h̄_{y_i})(·)ᵀ (tding1/Neural-Collapse's
        ``collapse_metric``).
    nc2_w_predicted, nc2_m_predicted, self_duality_predicted : float or None
        ‖G/‖G‖_F − Ĝ/‖Ĝ‖_F‖_F for G = W Wᵀ, M Mᵀ (uncentred) and W Mᵀ against the Grams Ĝ of a
        closed-form prediction (:func:`lpm.theory.predict`): NC2 and NC3 measured against the
        optimum the theorem predicts (imbalanced, ReLU, MSE, SELI) instead of the balanced ETF.
        None without a prediction, or when it does not fix that Gram.
    prediction_reference : str or None
        The paper and theorem of the prediction used.
    """

    nc1: float
    nc2_w: float
    nc2_m: float
    nc3: float
    nc4: float
    equinorm_w: float
    equinorm_m: float
    equiangular_w: float
    equiangular_m: float
    maxangle_w: float
    maxangle_m: float
    w_norms: NDArray[np.float64]
    m_norms: NDArray[np.float64]
    w_gram: NDArray[np.float64]
    m_gram: NDArray[np.float64]
    wm_gram: NDArray[np.float64]
    max_abs_cos_m: float
    minority_w_separation: float | None
    minority: tuple[int, ...]
    counts: tuple[int, ...]
    sigma_b_rank: int
    global_mean_convention: GlobalMean
    global_mean: NDArray[np.float64]
    self_duality: float = math.nan
    cdnv: float = math.nan
    bias_global_mean: float = math.nan
    nc1_papyan: float = math.nan
    nc2_w_predicted: float | None = None
    nc2_m_predicted: float | None = None
    self_duality_predicted: float | None = None
    prediction_reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form: floats, ints, strings, nested lists, None.

        Returns
        -------
        dict
            Every field under its own name (arrays as nested lists in class order); non-finite
            floats (``nan``, ``inf``) become None so that ``json.dumps`` writes valid JSON.
        """
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def pair_separation(X: NDArray[np.float64], classes) -> float:
    """max over pairs k < l of ``classes`` of ‖x_k − x_l‖² (Fang et al. 2021, minority collapse).

    Parameters
    ----------
    X : ndarray, shape=[K, d]
        Rows x_k: the classifier W, or the class means M.
    classes : sequence of int
        The (0-based) rows compared, at least two.

    Returns
    -------
    float
        Computed from differences, so identical rows give exactly 0. A squared distance rather
        than a cosine: collapsed minority classifiers may be exactly 0, where a cosine is noise.
    """
    classes = [int(k) for k in classes]
    if len(classes) < 2:
        raise ValueError(f"need at least two classes to separate, got {classes}")
    X = np.asarray(X, dtype=np.float64)
    return max(float(np.sum((X[k] - X[l]) ** 2)) for k, l in itertools.combinations(classes, 2))


def _centred(
    M: NDArray[np.float64], mu_g: NDArray[np.float64], atol: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(M̃, ‖M̃_k‖): rows h̄_k − μ_G, with rows of norm ≤ atol (round-off) set to exactly 0."""
    M_c = M - mu_g
    norms = np.linalg.norm(M_c, axis=1)
    M_c[norms <= atol] = 0.0
    norms[norms <= atol] = 0.0
    return M_c, norms


def _nc1(
    M_c: NDArray[np.float64],
    deviations: NDArray[np.float64],
    weights: NDArray[np.float64] | float,
    within_zero: bool,
) -> tuple[float, int]:
    """(NC1, rank Σ_B): (1/K) tr(Σ_W Σ_B⁺) with Σ_B = (1/K) M̃ᵀM̃ and Σ_W = Σ_i w_i δ_i δ_iᵀ.

    Σ_B = V diag(s²) Vᵀ with s the singular values of M̃/sqrt(K); eigenvalues λ_r ≤
    :func:`rank_rtol`·λ_max are left out, and tr(Σ_W Σ_B⁺) = Σ_r (Σ_i w_i (v_rᵀδ_i)²)/λ_r is a
    weighted sum of squares, so NC1 ≥ 0. Σ_B = 0 gives 0 when every δ_i = 0, else inf.
    """
    K, d = M_c.shape
    if not np.any(M_c):
        return (0.0 if within_zero else math.inf), 0
    _, s, Vt = np.linalg.svd(M_c / math.sqrt(K), full_matrices=False)
    lam = s**2
    keep = lam > rank_rtol(K, d) * lam[0]
    projected = deviations @ Vt[keep].T
    quad = np.sum(weights * projected.T**2, axis=1)
    return max(0.0, float(np.sum(quad / lam[keep])) / K), int(np.count_nonzero(keep))


def cdnv(H: ArrayLike, labels: ArrayLike, M: ArrayLike | None = None) -> float:
    """Class-distance normalised variance, averaged over the pairs of classes.

    CDNV = (2/(K(K−1))) Σ_{k<l} (σ_k² + σ_l²) / (2‖h̄_k − h̄_l‖²), with
    σ_k² = (1/n_k) Σ_{y_i = k} ‖h_i − h̄_k‖² (Galanti, György, Hutter, "On the role of neural
    collapse in transfer learning", ICLR 2022, Def. 1).

    Parameters
    ----------
    H : array_like, shape=[N, d]
    labels : array_like of int, shape=[N]
        Classes 0..K−1, each present.
    M : array_like, shape=[K, d], optional
        The class means, when already computed.

    Returns
    -------
    float
        0 for collapsed features with distinct means; a pair of equal means gives ``inf``
        (``nan`` when both of its classes are collapsed too). Variances and distances within
        :func:`roundoff_atol` of 0 are taken as 0.
    """
    H = np.asarray(H, dtype=np.float64)
    y = np.asarray(labels)
    K = int(y.max()) + 1
    counts = np.bincount(y, minlength=K)
    M = _class_means(H, y, counts) if M is None else np.asarray(M, dtype=np.float64)
    atol = roundoff_atol(*H.shape, float(np.max(np.linalg.norm(H, axis=1))))
    variances = np.bincount(y, weights=np.sum((H - M[y]) ** 2, axis=1), minlength=K) / counts
    variances[variances <= atol**2] = 0.0
    k, l = np.triu_indices(K, k=1)
    numerator = variances[k] + variances[l]
    distance = 2.0 * np.sum((M[k] - M[l]) ** 2, axis=1)
    distance[distance <= 2.0 * atol**2] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(numerator / distance))


def _predicted_distances(
    W: NDArray[np.float64], M: NDArray[np.float64], prediction: Any
) -> dict[str, Any]:
    """The ``*_predicted`` fields: scale-free distances of W Wᵀ, M Mᵀ, W Mᵀ to a prediction."""
    if prediction is None:
        return {}
    out: dict[str, Any] = {"prediction_reference": str(getattr(prediction, "reference", ""))}
    for key, attr, G in (
        ("nc2_w_predicted", "w_gram", W @ W.T),
        ("nc2_m_predicted", "m_gram", M @ M.T),
        ("self_duality_predicted", "wm_gram", W @ M.T),
    ):
        target = getattr(prediction, attr, None)
        out[key] = None if target is None else etf_distance(G, gram=True, target=target)
    return out


def measure(
    W: ArrayLike,
    H: ArrayLike,
    labels: ArrayLike,
    b: ArrayLike | None = None,
    *,
    minority: Iterable[int] | None = (),
    global_mean: GlobalMean = "class-average",
    prediction: Any = None,
) -> GeometryReport:
    """Measure neural collapse (NC1–NC4) and the imbalance-aware geometry of W and H.

    Parameters
    ----------
    W : array_like, shape (K, d)
        Classifier rows w_k (K ≥ 2).
    H : array_like, shape (N, d)
        Features h_i.
    labels : array_like of int, shape (N,)
        y_i in 0..K−1; every class must appear at least once.
    b : array_like, shape (K,), optional
        Bias, used only by NC4; None means 0.
    minority : iterable of int, optional
        0-based minority classes for ``minority_w_separation``.
    global_mean : {"class-average", "sample"}
        μ_G = (1/K) Σ_k h̄_k with Σ_W = (1/K) Σ_k (1/n_k) Σ_{y_i=k} (h_i − h̄_k)(·)ᵀ, or
        μ_G = (1/N) Σ_i h_i with Σ_W = (1/N) Σ_i (h_i − h̄_{y_i})(·)ᵀ.
    prediction : object, optional
        A closed form with attributes ``w_gram``, ``m_gram``, ``wm_gram`` ((K, K) or None) and
        ``reference`` — e.g. ``lpm.theory.predict(problem)`` — for the ``*_predicted`` metrics.

    Returns
    -------
    GeometryReport
        With Σ_B = (1/K) Σ_k (h̄_k − μ_G)(·)ᵀ and M̃ the rows h̄_k − μ_G:

        * NC1 = (1/K) tr(Σ_W Σ_B⁺), Σ_B⁺ from the eigen-decomposition Σ_B = Σ_r λ_r v_r v_rᵀ
          (computed as the SVD of M̃/sqrt(K)) keeping λ_r > :func:`rank_rtol`·λ_max, evaluated as
          (1/K) Σ_r (v_rᵀ Σ_W v_r)/λ_r with v_rᵀ Σ_W v_r a weighted sum of squares, so NC1 ≥ 0;
        * NC2 = ‖G/‖G‖_F − P_K/sqrt(K−1)‖_F, G = W Wᵀ or M̃ M̃ᵀ, plus equinorm, equiangularity
          and max-angle; NC3 = ‖Wᵀ/‖W‖_F − M̃ᵀ/‖M̃‖_F‖_F²; NC4 = mismatch rate of the classifier
          and the nearest-class-mean rule;
        * Grams, norms, ``max_abs_cos_m`` and ``minority_w_separation``;
        * the field's metrics under their names: ``self_duality``, ``cdnv``,
          ``bias_global_mean``, ``nc1_papyan``, and NC2/NC3 against a prediction (see
          :class:`GeometryReport`; docs/metrics.md maps each to the field's codes).

    Raises
    ------
    ValueError
        On shape mismatches, non-finite entries, labels outside 0..K−1, an empty class, minority
        classes outside 0..K−1, or an unknown ``global_mean`` (one-line message).

    Notes
    -----
    Invariant under a common rotation W → W Q, H → H Q (Q orthogonal) and equivariant under a
    relabelling of the classes. Degenerate cases are described in the module docstring.
    Under imbalance the ``"sample"`` mean is not the centre of the class means, so even exactly
    collapsed ETF features give NC2_m > 0 and NC3 > 0 with it; hence the ``"class-average"``
    default. Neither NC2 is a test of optimality under imbalance, where the optimum is not an ETF.

    References
    ----------
    Papyan, Han, Donoho, PNAS 2020 (NC1–NC4); Zhu et al., NeurIPS 2021 (matrix NC2); Fang et al.,
    PNAS 2021 (minority collapse).

    Examples
    --------
    >>> import numpy as np
    >>> H = np.array([[0.9], [1.1], [-0.9], [-1.1]])
    >>> r = measure(np.array([[1.0], [-1.0]]), H, np.array([0, 0, 1, 1]))
    >>> round(r.nc1, 12), round(r.nc2_w, 12), round(r.nc3, 12)
    (0.005, 0.0, 0.0)
    """
    W, H, y, bias, minor = _validate(W, H, labels, b, minority, global_mean)
    K, d = W.shape
    N = H.shape[0]
    counts = np.bincount(y, minlength=K)

    M = _class_means(H, y, counts)

    scale = float(np.max(np.linalg.norm(H, axis=1))) if N else 0.0
    atol = roundoff_atol(N, d, scale)
    deviations = H - M[y]
    within_zero = bool(np.all(np.linalg.norm(deviations, axis=1) <= atol))
    if global_mean == "class-average":
        mu_g = M.mean(axis=0)
        weights = 1.0 / (K * counts[y])
    else:
        mu_g = H.mean(axis=0)
        weights = np.full(N, 1.0 / N)
    M_c, mc_norms = _centred(M, mu_g, atol)
    nc1, rank = _nc1(M_c, deviations, weights, within_zero)
    if global_mean == "sample":
        nc1_papyan = nc1
    else:
        nc1_papyan = _nc1(_centred(M, H.mean(axis=0), atol)[0], deviations, 1.0 / N, within_zero)[0]

    w_norms = np.linalg.norm(W, axis=1)
    m_norms = np.linalg.norm(M, axis=1)
    equiangular_w, maxangle_w = _angles(_cosines(W, w_norms), K)
    equiangular_m, maxangle_m = _angles(_cosines(M_c, mc_norms), K)
    cos_m = _cosines(M, m_norms)
    max_abs_cos_m = float(np.max(np.abs(cos_m[~np.eye(K, dtype=bool)])))

    W_unit = _unit_frobenius(W)
    M_unit = _unit_frobenius(M_c)
    nc3 = math.nan if W_unit is None or M_unit is None else float(np.sum((W_unit - M_unit) ** 2))
    predicted = _predicted_distances(W, M, prediction)

    logits = H @ W.T + bias
    nearest = np.argmin(np.sum(M**2, axis=1) - 2.0 * (H @ M.T), axis=1)
    nc4 = float(np.mean(np.argmax(logits, axis=1) != nearest))

    separation = pair_separation(W, minor) if len(minor) >= 2 else None

    return GeometryReport(
        nc1=nc1,
        nc2_w=etf_distance(W),
        nc2_m=etf_distance(M_c),
        nc3=nc3,
        nc4=nc4,
        equinorm_w=_equinorm(w_norms),
        equinorm_m=_equinorm(mc_norms),
        equiangular_w=equiangular_w,
        equiangular_m=equiangular_m,
        maxangle_w=maxangle_w,
        maxangle_m=maxangle_m,
        w_norms=_read_only(w_norms),
        m_norms=_read_only(m_norms),
        w_gram=_read_only(W @ W.T),
        m_gram=_read_only(M @ M.T),
        wm_gram=_read_only(W @ M.T),
        max_abs_cos_m=max_abs_cos_m,
        minority_w_separation=separation,
        minority=minor,
        counts=tuple(int(n) for n in counts),
        sigma_b_rank=rank,
        global_mean_convention=global_mean,
        global_mean=_read_only(mu_g),
        self_duality=etf_distance(W @ M_c.T, gram=True),
        cdnv=cdnv(H, y, M),
        bias_global_mean=float(np.linalg.norm(W @ mu_g + bias)),
        nc1_papyan=nc1_papyan,
        **predicted,
    )


def geometry(
    solution: Any,
    *,
    global_mean: GlobalMean = "class-average",
    prediction: Any = "auto",
    minority: Sequence[int] | None = None,
) -> GeometryReport:
    """The geometry of a solution: :func:`measure` on its W, H, b, labels and minority classes.

    For the unregularised model only directions have a limit (the max-margin point, SELI), so
    its geometry is that of W/‖W‖_F and H/‖H‖_F: every caller (``lpm solve``, ``compare``,
    sweeps) reports the same numbers for the same solution.

    Parameters
    ----------
    solution : object
        Anything with ``W`` (K, d), ``H`` (N, d), ``b`` ((K,) or None) and ``problem`` carrying
        ``labels`` (N,) and ``minority_classes`` (0-based; () when absent).
    global_mean : {"class-average", "sample"}
        Convention for μ_G and Σ_W (see :func:`measure`).
    prediction : "auto", None or a prediction
        The closed form the ``*_predicted`` metrics compare with: ``"auto"`` asks
        :func:`lpm.theory.predict` for the problem's (used only when it predicts the optimum or
        the max-margin direction, not a bound); None: no comparison.
    minority : sequence of int, optional
        0-based classes for ``minority_w_separation`` (default: the problem's
        ``minority_classes``; :func:`lpm.compare.compare_geometry` passes the base problem's).

    Returns
    -------
    GeometryReport
        NC1 = (1/K) tr(Σ_W Σ_B⁺), NC2–NC4, the field's metrics and the imbalance-aware
        measures, as in :func:`measure`.

    References
    ----------
    Papyan, Han, Donoho, PNAS 2020; Zhu et al., NeurIPS 2021; Fang et al., PNAS 2021.
    """
    problem = solution.problem
    if isinstance(prediction, str):
        if prediction != "auto":
            raise ValueError(f"prediction {prediction!r} is not known; allowed: 'auto', None")
        prediction = _prediction_of(problem)
    W, H = solution.W, solution.H
    if getattr(problem, "regime", None) == "unregularised":
        W = W / max(float(np.linalg.norm(W)), 1e-300)
        H = H / max(float(np.linalg.norm(H)), 1e-300)
    return measure(
        W,
        H,
        problem.labels,
        getattr(solution, "b", None),
        minority=getattr(problem, "minority_classes", None) if minority is None else minority,
        global_mean=global_mean,
        prediction=prediction,
    )


def _prediction_of(problem: Any) -> Any:
    """lpm.theory's prediction of the optimum (or max-margin direction), else None."""
    try:
        found = predict(problem)
    except (ValueError, TypeError, AttributeError, ArithmeticError, np.linalg.LinAlgError):
        return None  # no closed form (or none computable) for this problem: nothing to compare
    return found if found.kind in ("optimum", "max_margin") else None
