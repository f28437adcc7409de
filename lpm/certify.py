"""Certified lower bounds on the global optimum, from any candidate point, in closed form.

A stationary point is not a theorem. This module turns a candidate (W, H, b) into a number LB with
the proof that no feasible point of the problem has an objective below LB; ``gap = f − LB`` then
bounds the suboptimality of the candidate. Every bound is a weak-duality argument made
rigorous, with its floating-point error subtracted, and it is valid at ANY input point: at a
non-optimal point it is simply loose and the gap is clearly positive.

Step 1 — reduction to class means (Jensen; docs/theory.md §1.1). Replacing every h_i by its class
mean h̄_k keeps the loss (convex in h) from increasing and keeps every budget: class-average
(1/K)Σ_k ‖h̄_k‖² ≤ E_H; per-sample ‖h̄_k‖² ≤ E_H; sphere ‖h̄_k‖² ≤ r² (a relaxation: the means of
points on a sphere fill the ball); decay Σ_i ‖h_i‖² ≥ Σ_k n_k ‖h̄_k‖²; ReLU h̄_k ≥ 0. So a lower
bound of the class-mean problem, in which class k carries the weight π_k = n_k / N, bounds the
per-sample problem.

Step 2 — a convex problem. With a fixed classifier the class-mean problem is convex in (h̄, b).
With a learnable one it is convex in the Gram matrix X ⪰ 0 of [h̄_1..h̄_K, w_1..w_K] (2K × 2K,
docs/theory.md §1.3): the logits are z_kj = X_{k,K+j} + b_j, linear in X, every budget and decay is
linear in diag X, and ReLU features add X_{kl} ≥ 0 on the feature block (the doubly-nonnegative
relaxation: exact for K ≤ 4 with d large enough, since doubly-nonnegative = completely positive up
to 4 × 4; possibly loose beyond, and the gap then says so). The convex problem is exact when an
optimal X has rank ≤ d (rank ≤ K − 1 for free features, docs/theory.md §1.3); otherwise its bound is
valid but below the optimum at dimension d.

Step 3 — weak duality at the candidate. F, the loss part, is convex, so for every X (and b)

    F(X, b) ≥ F(X₀, b₀) + ⟨G, X − X₀⟩ + ⟨g_b, b − b₀⟩,   G = ∇_X F(X₀), g_b = ∇_b F,

or, from any dual point P (a convex solver's), by Fenchel–Young F(L) ≥ Σ_k π_k [⟨u_k, z_k⟩ −
ℓ*(u_k, k)] with u_k = P_k/π_k projected into dom ℓ* (:class:`DualPoint`) — an interior-point
dual is accurate to the solver's tolerance where its primal point is accurate only to its square
root. The bound is the minimum of the affine minorant (plus penalties) over the feasible set, made
finite by multipliers: with S = G + (budget multipliers or decay penalty) − Ω (Ω ≥ 0 on the
feature block for ReLU), a positive diagonal scaling D and τ ≥ ⟨D, X⟩ on the relevant set,

    ⟨S, X⟩ ≥ τ · min(0, λ_min(D^{-1/2} S D^{-1/2})).

* Learnable classifier, energies (``"lpm-sdp-dual"``): the multipliers α, β of the two budgets
  (one α_k per class for the per-sample budget) come from the KKT stationarity S V = 0 of the
  factor V = [h̄; W] (least squares), D = diag(1/E_H, 1/E_W), τ = 2K.
* Learnable classifier, weight decay (``"ufm-nuclear-dual"``): S = G + C with the penalty
  C = diag(λ_H n_k / 2, λ_W / 2); λ_min(C^{-1/2} S C^{-1/2}) = 1 − ‖C_H^{-1/2} (P/2) C_W^{-1/2}‖_op,
  i.e. exactly the operator-norm test ‖∇_Y‖_op ≤ sqrt(λ_W λ_H) of the nuclear-norm program over
  Y = D^{1/2} Z. τ bounds ⟨C, X⟩ on the level set {f ≤ f(candidate)}: since the loss is ≥ 0,
  ⟨C, X⟩ ≤ f(candidate) there, and every minimiser lies in the level set.
* ReLU features, learnable classifier (``"dnn-dual"``): the multiplier Ω of X_HH ≥ 0 is fitted
  by nonnegative least squares to the KKT conditions (K ≤ :data:`DNN_MAX_K`); the bound is of
  the doubly-nonnegative relaxation: valid always, tight when that relaxation is.
* Fixed classifier (``"fixed-linear"``): the linear model minimised over the feasible set of
  the means in closed form — the support function of a ball, of per-class balls, of a ball ∩
  orthant, or the minimum of a strongly convex quadratic under weight decay.
* Free bias: the linear term ⟨g_b, b⟩ is unbounded below unless g_b = 0 exactly, which rounding
  never gives. Every minimiser lies in the level set {f ≤ f(candidate)}, where each class's loss
  is ≤ f/π_k; this bounds the bias (CE: its spread, after fixing its mean, which CE ignores; MSE
  and DR: each entry), and the linear term is minimised over that box: the term is
  ‖g_b‖₁ × (box radius). The bias-balanced dual P − (1/K)1g_bᵀ (:func:`balanced_dual`), whose
  columns sum to 0, makes it vanish to rounding; :func:`certificate` tries both and keeps the
  larger bound. The level set is bounded by the objective at the candidate moved into the
  feasible set; :func:`attach` and :func:`certificate` never pass any other number, and the
  ``objective`` argument of the public functions must be that of a feasible point (a value
  below the optimum would void the bound).
* Penalised bias: min_b ⟨g_b, b⟩ + (λ_b/2)‖b‖² = −‖g_b‖²/(2λ_b), exactly.
* Unregularised learnable CE: the UF-SVM of SELI (docs/theory.md §4); its dual bound from any
  nonnegative margin multipliers, rescaled into the dual feasible set (:func:`svm_lower_bound`).

Floating-point error. Every bound subtracts an allowance ROUNDING_SAFETY·(n + 8)·eps times the
magnitudes of the terms it sums (n = 2K for the Gram certificate), covering the error of the
computed gradient, of the sums and of LAPACK's symmetric eigenvalues (backward stable: the
computed λ_min is exact for a perturbation of norm O(n eps ‖S‖)). So ``gap = f − LB`` is a proof,
not an estimate, up to that explicit allowance.

References
----------
Fang, He, Long, Su, PNAS 118 (2021): the layer-peeled SDP. Burer & Monteiro, Math. Program. 95
(2003): certifying a factorised point through the dual slack matrix. Zhu et al., NeurIPS 2021, and
Tirer & Bruna, ICML 2022: the nuclear-norm form of the regularised model. Thrampoulidis et al.,
NeurIPS 2022: the UF-SVM and SELI.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import torch
from numpy.typing import NDArray

from lpm.certificate import ROUNDING_SAFETY, Certificate, DualPoint, rounding_allowance
from lpm.classifiers import classifier_matrix
from lpm.constraints import feasible_means
from lpm.objective import ObjectiveData, constant_penalty, loss_and_dlogits
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.tolerances import GAP_TOL

__all__ = [
    "DENSE_EIGEN_MAX",
    "DNN_MAX_K",
    "GAP_TOL",
    "ROUNDING_SAFETY",
    "Certificate",
    "DualPoint",
    "attach",
    "balanced_dual",
    "certificate",
    "class_loss",
    "fixed_certificate",
    "gram_certificate",
    "min_eigenvalue_bound",
    "unregularised_mse_certificate",
]

_log = logging.getLogger(__name__)
_EPS = float(np.finfo(np.float64).eps)


#: Largest K for which :func:`attach` fits the doubly-nonnegative multiplier of ReLU features by
#: nonnegative least squares (K(K−1)/2 unknowns, 2Kd equations: 0.3 s at K = 24, d = 24);
#: beyond, :func:`lpm.relaxation.relaxation_bound` gets Ω from a convex solve.
DNN_MAX_K = 24

#: Above this many rows the dual slack's smallest eigenvalue is bounded by a shifted Cholesky
#: factorisation instead of a dense eigendecomposition (:func:`min_eigenvalue_bound`): below it
#: LAPACK's eigvalsh takes milliseconds, above it the factorisation is several times cheaper.
DENSE_EIGEN_MAX = 256

#: The shifted Cholesky test may leave the bound on λ_min this fraction of the gap tolerance
#: (divided by τ) below 0: 1 % of what certification allows.
_EIGEN_RESOLUTION = 1e-2

#: Margin by which the candidate's objective is inflated to bound the level set of the relaxed
#: problem (covers the objective's own rounding and a candidate that violates a budget by ~eps).
_LEVEL_MARGIN = 1e-9


# --------------------------------------------------------------------------------------- losses
def _weights(problem: Problem) -> NDArray[np.float64]:
    return np.asarray(problem.counts, dtype=np.float64) / problem.N


def class_loss(problem: Problem, logits: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """The class-mean loss F = Σ_k π_k ℓ(z_k, k) and its gradient, π_k = n_k / N.

    Uses the one loss implementation, :func:`lpm.objective.loss_and_dlogits`.

    Parameters
    ----------
    logits : ndarray, shape=[K, K]
        Row k: the logits z_k = W h̄_k + b of class k's mean.

    Returns
    -------
    F : float
    P : ndarray, shape=[K, K]
        P[k, j] = ∂F/∂z_kj = π_k ∂ℓ(z_k, k)/∂z_kj.

    Examples
    --------
    >>> p = Problem.balanced(2, 1, dim=1, energy=(1.0, 1.0))
    >>> F, P = class_loss(p, np.array([[1.0, -1.0], [-1.0, 1.0]]))
    >>> round(F, 10)        # log(1 + e^{-2})
    0.126928011
    """
    K = problem.K
    pi = _weights(problem)
    target = problem.dr_target
    zeros = torch.zeros(1, dtype=torch.float64)
    data = ObjectiveData(
        loss=problem.loss,
        labels=torch.arange(K).unsqueeze(0),
        weights=torch.as_tensor(pi).unsqueeze(0),
        mask=torch.ones((1, K), dtype=torch.bool),
        W_fixed=None,
        lam_W=zeros,
        lam_H=zeros,
        lam_b=zeros,
        target=torch.tensor([target], dtype=torch.float64),
        K=K,
    )
    Z = torch.as_tensor(np.asarray(logits, dtype=np.float64)).unsqueeze(0)
    losses, dl = loss_and_dlogits(Z, data)
    losses, dl = losses[0].numpy(), dl[0].numpy()
    return float(pi @ losses), pi[:, None] * dl


def _conjugate_minorant(
    problem: Problem, P: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]]:
    """(c₀, P') with F(L) ≥ c₀ + ⟨P', L⟩ for every logit matrix L: Fenchel–Young,
    ℓ(z, k) ≥ ⟨u, z⟩ − ℓ*(u, k), with u_k = P_k/π_k first projected into dom ℓ*(·, k).

    Conjugates: CE ℓ*(u) = Σ_j p_j log p_j with p = u + e_k in the simplex; MSE
    ℓ*(u) = ½‖u‖² + u_k; DR ℓ*(u) = ½u_k² + t u_k with u_j = 0 for j ≠ k.
    """
    pi, K = _weights(problem), problem.K
    U = np.asarray(P, dtype=np.float64) / pi[:, None]
    eye = np.eye(K)
    if problem.loss == "ce":
        prob = np.maximum(U + eye, 0.0)
        sums = prob.sum(axis=1, keepdims=True)
        prob = np.where(sums > 0, prob / np.where(sums > 0, sums, 1.0), eye)
        U = prob - eye
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = np.where(prob > 0, prob * np.log(prob), 0.0).sum(axis=1)
        conj = ent
    elif problem.loss == "mse":
        conj = 0.5 * (U * U).sum(axis=1) + np.diag(U)
    else:
        t = problem.dr_target
        U = U * eye
        u = np.diag(U)
        conj = 0.5 * u * u + t * u
    return -float(pi @ conj), pi[:, None] * U


# ---------------------------------------------------------------------------- feasible-set sides
def _feature_side(problem: Problem) -> tuple[str, float]:
    """How the class means are bounded: (kind, r²) with kind ``"average"`` (Σ_k ‖h̄_k‖² ≤ K r²),
    ``"per-class"`` (‖h̄_k‖² ≤ r²), ``"decay"`` (penalty (λ_H/2) Σ n_k ‖h̄_k‖²) or ``"none"``."""
    if problem.features == "sphere":
        return "per-class", problem.sphere_radius**2
    if problem.energy is not None:
        kind = "average" if problem.budget == "class-average" else "per-class"
        return kind, problem.energy[1]
    if problem.decay is not None:
        return "decay", 0.0
    return "none", 0.0


def _norm_bounds(
    problem: Problem, upper: float, W_fixed: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Upper bounds on ‖h̄_k‖ and ‖w_j‖ valid on the level set {f ≤ upper}, shape=[K] each."""
    K, counts = problem.K, np.asarray(problem.counts, dtype=np.float64)
    kind, r2 = _feature_side(problem)
    if kind == "average":
        h = np.full(K, math.sqrt(K * r2))
    elif kind == "per-class":
        h = np.full(K, math.sqrt(r2))
    else:  # decay: (λ_H/2) n_k ‖h̄_k‖² ≤ upper (the loss and the other penalties are ≥ 0)
        h = np.sqrt(2.0 * max(upper, 0.0) / (problem.decay[1] * counts))
    if W_fixed is not None:
        w = np.linalg.norm(W_fixed, axis=1)
    elif problem.energy is not None:
        w = np.full(K, math.sqrt(K * problem.energy[0]))
    else:
        w = np.full(K, math.sqrt(2.0 * max(upper, 0.0) / problem.decay[0]))
    return h, w


def _bias_term(
    problem: Problem, g_b: NDArray[np.float64], upper: float, W_fixed: NDArray[np.float64] | None
) -> tuple[float, dict[str, Any]]:
    """A lower bound of min_b [⟨g_b, b⟩ + (λ_b/2)‖b‖²] over the biases that can be optimal (the
    penalty only for a penalised bias).

    Penalised: exactly −‖g_b‖²/(2λ_b). Free: every minimiser lies in the level set
    {f ≤ upper}, where each class's loss is at most upper/π_k; that bounds the bias in a box
    (CE: after shifting b to mean 0, which CE cannot see), and ⟨g_b, b⟩ is minimised over it.
    """
    if problem.bias == "penalised":
        return -float(g_b @ g_b) / (2.0 * problem.decay[2]), {}
    pi = _weights(problem)
    h, w = _norm_bounds(problem, upper, W_fixed)
    if problem.loss == "ce":
        # π_k CE(z_k, k) ≤ upper ⇒ z_kj − z_kk ≤ upper/π_k ⇒ b_j − b_k ≤ upper/π_k + h_k(w_j + w_k);
        # with mean(b) = 0 every |b_j| ≤ that spread.
        box = np.full(problem.K, float(np.max(upper / pi + h * (w.max() + w))))
    elif problem.loss == "mse":
        # ½‖z_k − e_k‖² ≤ upper/π_k ⇒ |b_j| ≤ [j = k] + sqrt(2 upper/π_k) + h_k w_j, for every k.
        eye = np.eye(problem.K)
        box = np.min(eye + np.sqrt(2.0 * upper / pi)[:, None] + np.outer(h, w), axis=0)
    else:  # dr: ½(z_kk − t)² ≤ upper/π_k ⇒ |b_k| ≤ t + sqrt(2 upper/π_k) + h_k w_k
        t = problem.dr_target
        box = t + np.sqrt(2.0 * upper / pi) + h * w
    return -float(np.abs(g_b) @ box), {"bias_box": float(box.max())}


def _upper(
    problem: Problem,
    W: NDArray[np.float64],
    M: NDArray[np.float64],
    bias: NDArray[np.float64],
    objective: float | None,
) -> float:
    """An upper bound on the optimum, for the level-set arguments: the class-mean objective at
    the candidate moved into the feasible set (budgets scaled down to their bounds, ReLU means
    clipped at 0, spherical means put on their sphere; every such point is the collapsed
    per-sample point of a feasible solution), or ``objective`` when that is smaller, plus a
    margin for rounding."""
    counts = np.asarray(problem.counts, dtype=np.float64)
    feature, _ = _feature_side(problem)
    W, M = feasible_means(problem, W, M)
    value, _ = class_loss(problem, M @ W.T + bias)
    value += constant_penalty(problem)
    if problem.decay is not None:
        lam_W, lam_H, lam_b = problem.decay
        if problem.classifier == "learnable":
            value += 0.5 * lam_W * float((W * W).sum())
        if feature == "decay":
            value += 0.5 * lam_H * float(counts @ (M * M).sum(axis=1))
        if problem.bias == "penalised":
            value += 0.5 * lam_b * float(bias @ bias)
    if objective is not None and math.isfinite(objective):
        value = min(value, objective)
    return value + _LEVEL_MARGIN * max(1.0, abs(value))


def _candidate(problem: Problem, b: NDArray[np.float64] | None) -> NDArray[np.float64]:
    if b is None or not problem.has_bias:
        return np.zeros(problem.K)
    return np.asarray(b, dtype=np.float64).reshape(problem.K)


def _minorant(
    problem: Problem, logits0: NDArray[np.float64], dual: DualPoint | None
) -> tuple[float, NDArray[np.float64], float]:
    """(c₀, P, F₀): the affine minorant F(L) ≥ c₀ + ⟨P, L⟩, from the dual's logit gradient when
    given (Fenchel–Young) or else from the linearisation at logits0; F₀ = F(logits0)."""
    F0, P0 = class_loss(problem, logits0)
    if dual is None:
        return F0 - float((P0 * logits0).sum()), P0, F0
    c0, P = _conjugate_minorant(problem, dual.logit_gradient)
    return c0, P, F0


# ------------------------------------------------------------------------ learnable classifier
def gram_certificate(
    problem: Problem,
    W: NDArray[np.float64],
    M: NDArray[np.float64],
    b: NDArray[np.float64] | None = None,
    *,
    objective: float | None = None,
    dual: DualPoint | None = None,
) -> Certificate:
    """Certified lower bound of a learnable-classifier problem, from a point (W, h̄, b) and
    optionally a dual point.

    The bound of the Gram program (module docstring, Step 3):

        LB = c₀ + (budget terms) + τ·min(0, λ_min(D^{-1/2} S D^{-1/2})) + (bias term)
             − (rounding allowance),

    with the affine minorant F(X, b) ≥ c₀ + ⟨P, Z + 1bᵀ⟩ (the linearisation at the point,
    c₀ = F₀ − ⟨P, L₀⟩, or Fenchel–Young at the dual's P), S = [[αA − Ω, P/2], [Pᵀ/2, βB]]
    (energies) or [[C_H − Ω, P/2], [Pᵀ/2, C_W]] (weight decay).

    Parameters
    ----------
    problem : Problem
        A learnable classifier under energies or weight decay (CE or MSE; any features; any bias).
    W : ndarray, shape=[K, d]
    M : ndarray, shape=[K, d]
        Class means h̄_k (any point works; the bound is loose away from the optimum).
    b : ndarray, shape=[K] or None
    objective : float, optional
        The objective of a FEASIBLE point, if one better than the candidate's is known: an upper
        bound on the optimum, which bounds the level set (the decay trace bound, a free bias).
        Default: the class-mean objective at the candidate moved into the feasible set.
    dual : DualPoint, optional
        Dual variables (a convex solver's); multipliers it leaves None are fitted to the KKT
        conditions S V = 0 of V = [h̄; W] by (nonnegative) least squares — Ω only for K ≤
        :data:`DNN_MAX_K`, else 0.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> from lpm.classifiers import simplex_etf
    >>> p = Problem.balanced(3, 2, energy=(1.0, 1.0))
    >>> E = simplex_etf(3, 3)
    >>> round(gram_certificate(p, E, E).lower_bound, 9)   # log(1 + 2 exp(−3/2)), docs/theory.md
    §1.2 0.368981135
    """
    if problem.classifier != "learnable":
        raise ValueError("gram_certificate needs a learnable classifier; use fixed_certificate")
    if problem.regime == "unregularised":
        raise ValueError("the unregularised model has no finite optimum; see svm_lower_bound")
    W = np.asarray(W, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    bias = _candidate(problem, b)
    Z0 = M @ W.T
    c0, P, F0 = _minorant(problem, Z0 + bias, dual)
    upper = _upper(problem, W, M, bias, objective)
    program = _gram_program(problem, W, M, P, upper)
    theta, nonneg = _multipliers(problem, program, dual)
    S, linear, details = _dual_slack(program, theta, nonneg if problem.features == "relu" else None)
    details = {"source": "dual" if dual is not None else "point", **details}
    inv_sqrt = 1.0 / np.sqrt(program.scale)
    S_scaled = S * np.outer(inv_sqrt, inv_sqrt)
    resolution = _EIGEN_RESOLUTION * GAP_TOL * max(1.0, abs(upper)) / program.tau
    lam_min, how = min_eigenvalue_bound(S_scaled, resolution)
    details["eigen_method"] = how
    psd_term = program.tau * min(0.0, lam_min)
    g_b = P.sum(axis=0)
    bias_term = 0.0
    if problem.has_bias:
        bias_term, info = _bias_term(problem, g_b, upper, None)
        details.update(info)
    lb = c0 + linear + psd_term + bias_term + constant_penalty(problem)
    rounding = rounding_allowance(
        2 * problem.K,
        c0,
        F0,
        float(np.abs(P * Z0).sum()),
        float(np.abs(g_b) @ np.abs(bias)),
        linear,
        program.tau * float(np.linalg.norm(S_scaled)),
        bias_term,
        constant_penalty(problem),
    )
    details.update(min_eigenvalue=lam_min, tau=program.tau)
    return Certificate(lb - rounding, _gram_kind(problem), _gram_exact(problem), rounding, details)


def min_eigenvalue_bound(S: NDArray[np.float64], resolution: float) -> tuple[float, str]:
    """A lower bound on the smallest eigenvalue of a symmetric S, and how it was obtained.

    Up to :data:`DENSE_EIGEN_MAX` rows: LAPACK's symmetric eigenvalues (``"eigvalsh"``; backward
    stable, its error is in the certificate's rounding allowance). Beyond, first a shifted
    Cholesky test (``"cholesky"``, a few times cheaper than the eigenvalues): if the
    floating-point Cholesky factorisation of fl(S − sI) runs to completion, then
    S − sI + E = L Lᵀ ⪰ 0 with ‖E‖₂ ≤ γ_{n+1}/(1 − γ_{n+1})·tr(fl(S − sI)),
    γ_m = m·eps/(1 − m·eps) (Rump, BIT 46 (2006), "Verification of positive definiteness",
    Lemma 2.1 and Theorem 2.3), and the shift's own rounding moves the diagonal by at most
    eps·max|S_ii − s|; so

        λ_min(S) ≥ s − 2·[γ_{n+1}/(1 − γ_{n+1})·tr(fl(S − sI)) + eps·max_i |S_ii − s|],

    the factor 2 a safety margin. The shift is s = −(resolution + that error at s = 0): at a
    certified optimum λ_min ≈ 0 and the test passes. When the factorisation breaks down,
    λ_min < s up to rounding, the point's eigenvalue term alone costs more than the resolution,
    and the dense eigenvalues give the bound (a Lanczos or LOBPCG estimate resolves such a
    λ_min, a few 1e-9 below a cluster of K − 1 eigenvalues at 0, no faster than LAPACK at
    2K = 2000).

    Parameters
    ----------
    S : ndarray, shape=[n, n]
    resolution : float
        How far below 0 the bound may stay without mattering (> 0).
    """
    if S.shape[0] > DENSE_EIGEN_MAX:
        bound = _shifted_cholesky_bound(S, -(resolution + _cholesky_error(S, 0.0)))
        if bound is not None:
            return bound, "cholesky"
    return float(np.linalg.eigvalsh(S)[0]), "eigvalsh"


def _cholesky_error(S: NDArray[np.float64], shift: float) -> float:
    """Rump's bound γ_{n+1}/(1 − γ_{n+1})·tr(S − sI) + eps·max_i |S_ii − s| on the backward error
    of a completed Cholesky factorisation of fl(S − sI), times 2 for safety."""
    n = S.shape[0]
    diag = np.abs(np.diag(S) - shift)
    gamma = (n + 1) * _EPS / (1.0 - (n + 1) * _EPS)
    error = gamma / (1.0 - gamma) * float(diag.sum()) + _EPS * float(diag.max())
    return 2.0 * error * (1.0 + 4.0 * n * _EPS)


def _shifted_cholesky_bound(S: NDArray[np.float64], shift: float) -> float | None:
    """The bound λ_min(S) ≥ shift − (rounding) of :func:`min_eigenvalue_bound`, or None when
    the Cholesky factorisation of fl(S − shift·I) breaks down."""
    B = S - shift * np.eye(S.shape[0])
    try:
        scipy.linalg.cholesky(B, lower=True, check_finite=True, overwrite_a=True)
    except np.linalg.LinAlgError:
        return None
    return shift - _cholesky_error(S, shift)


def _gram_kind(problem: Problem) -> str:
    if problem.features == "relu":
        return "dnn-dual"
    return "lpm-sdp-dual" if problem.energy is not None else "ufm-nuclear-dual"


def _gram_exact(problem: Problem) -> bool:
    """Whether the Gram program is exact (not a relaxation) for the problem's features."""
    return problem.features not in ("relu", "sphere")


@dataclass(frozen=True)
class _Budget:
    """A budget of the Gram program, Σ_{i ∈ index} X_ii ≤ count·level: its multiplier θ ≥ 0 adds
    θ to the dual slack's diagonal at ``index`` and −θ·count·level to the bound."""

    name: str
    index: slice | int
    count: int
    level: float


@dataclass(frozen=True)
class _GramProgram:
    """The Gram program at a point, seen from its dual: the slack is

        S = [[0, P/2], [Pᵀ/2, 0]] + diag(fixed + Σ_i θ_i 1_{index_i}) − [[Ω, 0], [0, 0]],

    with Ω ≥ 0 (zero diagonal) the multiplier of X_HH ≥ 0 for ReLU features.

    Attributes
    ----------
    coupling : ndarray, shape=[2K, 2K]
        [[0, P/2], [Pᵀ/2, 0]].
    V : ndarray, shape=[2K, d]
        The factor [h̄; W] at the point.
    fixed_diag : ndarray, shape=[2K]
        The weight-decay penalty's diagonal (0 under energies).
    scale : ndarray, shape=[2K]
        D: the slack is tested as D^{-1/2} S D^{-1/2}.
    tau : float
        τ ≥ ⟨D, X⟩ on the set where the optimum lies.
    budgets : tuple of _Budget
        The budgets with a free multiplier, by name.
    """

    coupling: NDArray[np.float64]
    V: NDArray[np.float64]
    fixed_diag: NDArray[np.float64]
    scale: NDArray[np.float64]
    tau: float
    budgets: tuple[_Budget, ...]


def _gram_program(
    problem: Problem,
    W: NDArray[np.float64],
    M: NDArray[np.float64],
    P: NDArray[np.float64],
    upper: float,
) -> _GramProgram:
    """The budgets (or decay penalties) of the features and of the classifier, with the scaling
    D and the trace bound τ (module docstring, Step 3)."""
    K = problem.K
    coupling = np.zeros((2 * K, 2 * K))
    coupling[:K, K:] = P / 2
    coupling[K:, :K] = P.T / 2
    counts = np.asarray(problem.counts, dtype=np.float64)
    feature, r2 = _feature_side(problem)
    fixed_diag = np.zeros(2 * K)
    scale = np.zeros(2 * K)
    tau = 0.0
    budgets: list[_Budget] = []
    if feature == "average":
        budgets.append(_Budget("alpha", slice(0, K), K, r2))
        scale[:K] = 1.0 / r2
        tau += K
    elif feature == "per-class":
        budgets += [_Budget(f"alpha_{k}", k, 1, r2) for k in range(K)]
        scale[:K] = 1.0 / r2
        tau += K
    else:  # decay: the penalty's diagonal, known
        fixed_diag[:K] = 0.5 * problem.decay[1] * counts
        scale[:K] = fixed_diag[:K]
    if problem.energy is not None:
        budgets.append(_Budget("beta", slice(K, 2 * K), K, problem.energy[0]))
        scale[K:] = 1.0 / problem.energy[0]
        tau += K
    else:
        fixed_diag[K:] = 0.5 * problem.decay[0]
        scale[K:] = fixed_diag[K:]
    if feature == "decay" or problem.energy is None:
        tau += upper  # ⟨C, X⟩ ≤ upper on the level set
    return _GramProgram(coupling, np.vstack([M, W]), fixed_diag, scale, tau, tuple(budgets))


def _multipliers(
    problem: Problem, program: _GramProgram, dual: DualPoint | None
) -> tuple[dict[str, float], NDArray[np.float64]]:
    """The budget multipliers θ by name, and Ω (K × K): the dual's where it gives them, else
    fitted to the KKT stationarity S V = 0 by (nonnegative) least squares — Ω only for ReLU
    features and K ≤ :data:`DNN_MAX_K` (else 0)."""
    K = problem.K
    relu = problem.features == "relu"
    nonneg = np.zeros((K, K))
    if relu and dual is not None and dual.nonneg is not None:
        nonneg = np.maximum(0.5 * (dual.nonneg + dual.nonneg.T), 0.0)
        np.fill_diagonal(nonneg, 0.0)
    names = [budget.name for budget in program.budgets]
    if (
        dual is not None
        and dual.feature is not None
        and (dual.classifier is not None or problem.energy is None)
    ):
        given = [float(v) for v in np.atleast_1d(dual.feature)]
        if problem.energy is not None:
            given.append(float(dual.classifier))
        return dict(zip(names, np.maximum(np.asarray(given), 0.0))), nonneg
    fit_nonneg = relu and (dual is None or dual.nonneg is None) and K <= DNN_MAX_K
    V = program.V
    target = -(_coupling_times(program.coupling, V) + program.fixed_diag[:, None] * V)
    target[:K] += nonneg @ V[:K]
    columns = []
    for budget in program.budgets:
        column = np.zeros_like(V)
        column[budget.index] = V[budget.index]
        columns.append(column)
    theta, fitted = _fit_multipliers(target, columns, V, K, fit_nonneg)
    return dict(zip(names, theta)), fitted if fit_nonneg else nonneg


def _dual_slack(
    program: _GramProgram, theta: dict[str, float], nonneg: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64], float, dict[str, Any]]:
    """(S, the budgets' linear term −Σ_i θ_i·count_i·level_i, details); ``nonneg`` is Ω, or
    None without the constraint X_HH ≥ 0."""
    K = program.V.shape[0] // 2
    diag = program.fixed_diag.copy()
    linear = 0.0
    details: dict[str, Any] = {}
    for budget in program.budgets:
        value = float(theta[budget.name])
        diag[budget.index] += value
        linear -= value * budget.count * budget.level
        details[budget.name] = value
    S = program.coupling.copy()
    S[np.diag_indices(2 * K)] += diag
    if nonneg is not None:
        S[:K, :K] -= nonneg
        details["nonneg_multiplier_max"] = float(nonneg.max(initial=0.0))
    return S, linear, details


def _coupling_times(coupling: NDArray[np.float64], V: NDArray[np.float64]) -> NDArray[np.float64]:
    """[[0, P/2], [Pᵀ/2, 0]] @ V by its two nonzero blocks (half the work of the full product)."""
    K = coupling.shape[0] // 2
    return np.vstack([coupling[:K, K:] @ V[K:], coupling[K:, :K] @ V[:K]])


def _fit_multipliers(
    target: NDArray[np.float64],
    free_cols: list[NDArray[np.float64]],
    V: NDArray[np.float64],
    K: int,
    fit_nonneg: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nonnegative budget multipliers θ (and, for ReLU, Ω ≥ 0 on the pairs k < l) minimising
    ‖Σ_i θ_i col_i − Ω V − target‖_F: the least-squares solution of the KKT stationarity
    S V = 0 at the factor V = [h̄; W]."""
    nonneg = np.zeros((K, K))
    cols = [c.ravel() for c in free_cols]
    pairs = [(k, l) for k in range(K) for l in range(k + 1, K)] if fit_nonneg else []
    M = V[:K]
    for k, l in pairs:
        c = np.zeros_like(V)
        c[k] = -M[l]
        c[l] = -M[k]
        cols.append(c.ravel())
    if not cols:
        return np.zeros(0), nonneg
    A = np.stack(cols, axis=1)
    rhs = target.ravel()
    if pairs:
        from scipy.optimize import nnls

        theta_all, _ = nnls(A, rhs, maxiter=50 * A.shape[1])
    else:
        theta_all = _nonneg_lstsq(A, rhs)
    for (k, l), v in zip(pairs, theta_all[len(free_cols) :]):
        nonneg[k, l] = nonneg[l, k] = v
    return theta_all[: len(free_cols)], nonneg


def _nonneg_lstsq(A: NDArray[np.float64], rhs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least squares over θ ≥ 0 for nearly orthogonal columns (each budget multiplier acts on its
    own block or class): solve, drop the columns that came out negative, refit."""
    theta = np.zeros(A.shape[1])
    keep = np.ones(A.shape[1], dtype=bool)
    for _ in range(A.shape[1] + 1):
        if not keep.any():
            break
        sol, *_ = np.linalg.lstsq(A[:, keep], rhs, rcond=None)
        theta[:] = 0.0
        theta[keep] = sol
        if (sol >= 0).all():
            break
        keep[np.flatnonzero(keep)[sol < 0]] = False
    return np.maximum(theta, 0.0)


# ---------------------------------------------------------------------------- fixed classifier
def fixed_certificate(
    problem: Problem,
    M: NDArray[np.float64],
    b: NDArray[np.float64] | None = None,
    *,
    objective: float | None = None,
    dual: DualPoint | None = None,
) -> Certificate:
    """Certified lower bound of a fixed-classifier problem from class means h̄ (and b).

    The loss F(h̄, b) = Σ_k π_k ℓ(W h̄_k + b, k) is convex; with the affine minorant
    F ≥ c₀ + ⟨P, L⟩ (linearisation at the point, or Fenchel–Young at a dual's P) and g = P W,

        LB = c₀ + min_{h̄ feasible} [⟨g, h̄⟩ (+ (λ_H/2) Σ_k n_k ‖h̄_k‖²)] + (bias term)
             − (rounding allowance),

    the inner minimum in closed form: −sqrt(K E_H)‖g‖_F (class-average ball), −r Σ_k ‖g_k‖
    (per-class balls; spheres relaxed to balls), −Σ_k ‖g_k‖²/(2 λ_H n_k) (decay); ReLU features
    replace −g_k by its positive part (the support function of a ball ∩ orthant).

    Parameters
    ----------
    problem : Problem
        A fixed classifier (``"etf"`` or ``"random"``), any loss, energies or decay (or the
        unregularised model with spherical features).
    M : ndarray, shape=[K, d]
    b : ndarray, shape=[K] or None
    objective : float, optional
        The objective of a FEASIBLE point (bounds a free bias), as for
        :func:`gram_certificate`.
    dual : DualPoint, optional
        Only its ``logit_gradient`` is used.

    Examples
    --------
    >>> from lpm.classifiers import classifier_matrix
    >>> p = Problem.from_counts((100, 100, 10, 10), dim=4, classifier="etf",
    ...                         budget="per-sample", energy=(1.0, 1.0))
    >>> round(fixed_certificate(p, classifier_matrix(p)).lower_bound, 9)   # docs/theory.md §2.2
    0.582657653
    """
    if problem.classifier == "learnable":
        raise ValueError("fixed_certificate needs a fixed classifier; use gram_certificate")
    feature, r2 = _feature_side(problem)
    if feature == "none":
        raise ValueError(
            "the unregularised model with free or ReLU features has no finite optimum; "
            "allowed: energies, decay, or spherical features"
        )
    K = problem.K
    W = classifier_matrix(problem)
    M = np.asarray(M, dtype=np.float64)
    bias = _candidate(problem, b)
    counts = np.asarray(problem.counts, dtype=np.float64)
    c0, P, F0 = _minorant(problem, M @ W.T + bias, dual)
    g = P @ W
    g_b = P.sum(axis=0)
    descent = np.maximum(-g, 0.0) if problem.features == "relu" else -g
    norms = np.linalg.norm(descent, axis=1)
    penalty_const = constant_penalty(problem)
    if feature == "average":
        inner = -math.sqrt(K * r2) * float(np.linalg.norm(norms))
    elif feature == "per-class":
        inner = -math.sqrt(r2) * float(norms.sum())
    else:
        inner = -float((norms**2 / (2.0 * problem.decay[1] * counts)).sum())
    upper = _upper(problem, W, M, bias, objective)
    details: dict[str, Any] = {
        "source": "dual" if dual is not None else "point",
        "gradient_norm": float(np.linalg.norm(g)),
    }
    bias_term = 0.0
    if problem.has_bias:
        bias_term, info = _bias_term(problem, g_b, upper, W)
        details.update(info)
    lb = c0 + inner + bias_term + penalty_const
    rounding = rounding_allowance(
        max(K, problem.dim),
        c0,
        F0,
        float(np.abs(g * M).sum()),
        float(np.abs(g_b) @ np.abs(bias)),
        inner,
        bias_term,
        penalty_const,
    )
    exact = problem.features != "sphere"
    return Certificate(lb - rounding, "fixed-linear", exact, rounding, details)


# -------------------------------------------------------------------------------------- UF-SVM
def unregularised_mse_certificate(problem: Problem) -> Certificate:
    """The lower bound of unregularised MSE, whose minimum is attained at finite points.

    The loss is a sum of squares, so 0 bounds it (``"zero-loss"``), exactly where zero loss is
    attainable: with a learnable classifier when d ≥ K (or d ≥ K − 1 with a bias, since
    I − 1bᵀ has rank K − 1 when bᵀ1 = 1). A learnable classifier without bias at d < K has the
    exact bound of Eckart–Young–Mirsky (``"eckart-young"``): by Jensen the class means carry the
    weights π_k, and Σ_k π_k ½‖z_k − e_k‖² = ½‖D^{1/2}(Z − I)‖_F² with D = diag(π) and
    rank Z ≤ d, whose minimum is ½ × the sum of the K − d smallest π_k.
    """
    K, d = problem.K, problem.dim
    if problem.fixed_classifier or problem.has_bias or d >= K:
        attainable = not problem.fixed_classifier and d >= (K - 1 if problem.has_bias else K)
        return Certificate(0.0, "zero-loss", attainable, 0.0)
    dropped = np.sort(_weights(problem))[: K - d]
    value = 0.5 * float(dropped.sum())
    rounding = rounding_allowance(K, value)
    return Certificate(value - rounding, "eckart-young", True, rounding, {"rank": d})


def balanced_dual(logit_gradient: NDArray[np.float64]) -> DualPoint:
    """The dual point P − (1/K) 1 g_bᵀ, g_b = Pᵀ1: its columns sum to 0, so a free bias costs
    the certificate nothing (up to rounding), while the rows keep their sums (CE's rows sum to 0,
    so the probabilities stay on the simplex up to a clipping that :func:`_conjugate_minorant`
    does). Fenchel–Young makes the minorant of any dual point valid; moving P by O(‖g_b‖)
    loosens it by O(‖g_b‖) only through λ_min, and by O(‖g_b‖²) in its constant.

    Parameters
    ----------
    logit_gradient : ndarray, shape=[K, K]
    """
    P = np.asarray(logit_gradient, dtype=np.float64)
    return DualPoint(logit_gradient=P - P.sum(axis=0)[None, :] / P.shape[0])


# ------------------------------------------------------------------------------------ dispatch
def certificate(solution: Solution) -> Certificate | None:
    """The strongest certificate this module has for a solution's variant, or None.

    The bound from the solution's point; when ``solution.dual`` holds a convex solver's dual
    point, also the bound from it, and the larger is kept.
    The unregularised MSE model attains its minimum: :func:`unregularised_mse_certificate`.
    None for the rest of the unregularised model (CE's infimum is not attained; the UF-SVM bound
    lives in the convex method's info) and for fixed classifiers with free or ReLU features and
    no scale control.
    """
    p = solution.problem
    if p.regime == "unregularised" and p.loss == "mse" and p.features != "sphere":
        return unregularised_mse_certificate(p)
    if p.regime == "unregularised" and not (p.fixed_classifier and p.features == "sphere"):
        return None
    if not math.isfinite(solution.objective):
        return None
    M = solution.means
    b = solution.b if p.has_bias else None
    duals: list[DualPoint | None] = [None]
    if solution.dual is not None:
        duals.append(solution.dual)
    if p.bias == "free":
        # Also the bias-balanced duals: the box term of a free bias is ‖g_b‖₁ × (a box that can be
        # large); a dual whose columns sum to 0 up to rounding removes it at second-order cost.
        W = classifier_matrix(p) if p.fixed_classifier else solution.W
        _, P0 = class_loss(p, M @ W.T + b)
        duals += [balanced_dual(P0)]
        duals += [balanced_dual(d.logit_gradient) for d in duals[1:-1] if d is not None]
    if p.features == "relu" and not p.fixed_classifier:
        # The free-feature bound (Ω = 0) is valid too — H ≥ 0 only raises the optimum — and it
        # is the tight one where the doubly-nonnegative fit at the point is degenerate (every
        # class dead, W = H = 0, λ_W ≠ λ_H: a gap of 1.0 against 3e-13).
        _, P0 = class_loss(p, M @ solution.W.T + (0.0 if b is None else b))
        duals.append(DualPoint(P0, nonneg=np.zeros((p.K, p.K))))
    best: Certificate | None = None
    for dual in duals:
        if p.fixed_classifier:
            cert = fixed_certificate(p, M, b, dual=dual)
        else:
            cert = gram_certificate(p, solution.W, M, b, dual=dual)
        if not math.isfinite(cert.lower_bound):
            continue
        if best is None or cert.lower_bound > best.lower_bound:
            best = cert
    return best


def attach(solution: Solution) -> Solution:
    """The solution with its certified lower bound attached, or unchanged when there is none.

    Cheap (closed forms, one symmetric eigenvalue problem of size 2K; no convex solver) and
    never raises for a valid solution: a certificate that cannot be computed is recorded in
    ``info["certificate_error"]`` and leaves ``certificate`` None.
    """
    try:
        cert = certificate(solution)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError) as err:
        _log.warning("no certificate for %s: %s", solution.problem.describe(), err)
        return solution.with_certificate(None, certificate_error=str(err))
    if cert is None or not math.isfinite(cert.lower_bound):
        return solution
    return solution.with_certificate(cert)
