"""The feasible sets of the layer-peeled model, and exact Euclidean projections onto them.

Solvers work in scaled features U with H = s ⊙ U (row i multiplied by s_i) so that every feature
constraint becomes a ball, a set of row balls, a set of row spheres or an orthant-and-ball:

* class-average budget (Fang et al.) (1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H:  s_i = sqrt(K n_{y_i}),
  and the set is the Frobenius ball ‖U‖_F² ≤ E_H;
* per-sample budget (Yang et al.) ‖h_i‖² ≤ E_H:  s_i = sqrt(N), rows ‖u_i‖² ≤ E_H / N;
* sphere ‖h_i‖² = E_H (or 1 under decay):  s_i = sqrt(N), rows ‖u_i‖² = E_H / N;
* decay or unregularised, free or ReLU features:  s_i = sqrt(N), no ball.

ReLU features add U ≥ 0; the projection onto {U ≥ 0} ∩ ball is the clipping followed by the
ball's scaling (the ball is centred at the cone's apex). The scaling is a diagonal preconditioner:
a projected-gradient step in U is a step in H preconditioned by s_i², which balances the loss
(weight 1/N per sample) against the budget (weight 1/(K n_k) per sample). The classifier budget
(1/K)Σ‖w_k‖² ≤ E_W is the Frobenius ball ‖W‖_F² ≤ K E_W.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from lpm.problem import Problem

__all__ = ["FeasibleSet", "feasible_means", "feasible_set", "violation"]


@dataclass(frozen=True)
class FeasibleSet:
    """The feasible set of B same-structured problems, in scaled variables (W, U, b).

    Attributes
    ----------
    W_radius : Tensor, shape=[B]
        Radius of the Frobenius ball of W (inf without a classifier budget).
    scale : Tensor, shape=[B, N]
        s_i with H = s ⊙ U (0 on padding).
    kind : str
        ``"none"``, ``"ball"`` (‖U‖_F ≤ r), ``"rows"`` (‖u_i‖ ≤ r_i) or ``"sphere"`` (‖u_i‖ = r_i).
    U_radius : Tensor, shape=[B, N]
        r_i per row (for ``"ball"`` every row of a problem holds the ball's radius).
    nonneg : bool
        ReLU features, U ≥ 0.
    mask : BoolTensor, shape=[B, N]
        True for real samples.
    """

    W_radius: torch.Tensor
    scale: torch.Tensor
    kind: str
    U_radius: torch.Tensor
    nonneg: bool
    mask: torch.Tensor

    def select(self, index: torch.Tensor) -> FeasibleSet:
        """The feasible set of the problems at ``index`` (a LongTensor into the batch)."""
        return FeasibleSet(
            W_radius=self.W_radius[index],
            scale=self.scale[index],
            kind=self.kind,
            U_radius=self.U_radius[index],
            nonneg=self.nonneg,
            mask=self.mask[index],
        )

    def project_W(self, W: torch.Tensor) -> torch.Tensor:
        """Euclidean projection of W, shape=[B, K, d], onto its ball."""
        norm = W.flatten(1).norm(dim=1)
        factor = torch.clamp(self.W_radius / torch.clamp(norm, min=1e-300), max=1.0)
        return W * factor.view(-1, 1, 1)

    def project_U(self, U: torch.Tensor) -> torch.Tensor:
        """Euclidean projection of U, shape=[B, N, d], onto the feature set (padding → 0)."""
        mask = self.mask.unsqueeze(-1).to(U.dtype)
        U = U * mask
        if self.nonneg:
            U = torch.clamp(U, min=0.0)
        if self.kind == "ball":
            norm = U.flatten(1).norm(dim=1)
            radius = self.U_radius[:, 0]
            factor = torch.clamp(radius / torch.clamp(norm, min=1e-300), max=1.0)
            U = U * factor.view(-1, 1, 1)
        elif self.kind in ("rows", "sphere"):
            norm = U.norm(dim=-1)
            if self.kind == "rows":
                factor = torch.clamp(self.U_radius / torch.clamp(norm, min=1e-300), max=1.0)
            else:
                # A zero row has no nearest point on its sphere; any point is one: take e_1.
                zero = norm <= 1e-300
                if bool(zero.any()):
                    U = U.clone()
                    U[..., 0] = torch.where(zero, torch.ones_like(norm), U[..., 0])
                    norm = U.norm(dim=-1)
                factor = self.U_radius / norm
            U = U * (factor * self.mask).unsqueeze(-1)
        return U

    def tangent_U(self, U: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        """Component of G tangent to the row spheres at U (sphere features only)."""
        unit = U / torch.clamp(U.norm(dim=-1, keepdim=True), min=1e-300)
        return G - (G * unit).sum(-1, keepdim=True) * unit


def feasible_set(
    problems: list[Problem] | tuple[Problem, ...],
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> FeasibleSet:
    """The feasible set of a batch of problems with one structure (regime, budget, features)."""
    first = problems[0]
    key = first.batch_key
    for p in problems[1:]:
        if p.batch_key != key:
            raise ValueError(
                "a batch needs problems of one structure (Problem.batch_key: K, d, loss, kind "
                "of classifier, scale regime, budget, features and bias)"
            )
    B, N = len(problems), max(p.N for p in problems)
    W_radius = np.full(B, np.inf)
    scale = np.zeros((B, N))
    U_radius = np.zeros((B, N))
    kind = "none"
    for j, p in enumerate(problems):
        n = p.N
        scale[j, :n] = math.sqrt(n)
        if p.energy is not None:
            E_W, E_H = p.energy
            W_radius[j] = math.sqrt(p.K * E_W)
            if p.features == "sphere":
                kind = "sphere"
                U_radius[j, :n] = math.sqrt(E_H / n)
            elif p.budget == "per-sample":
                kind = "rows"
                U_radius[j, :n] = math.sqrt(E_H / n)
            else:
                kind = "ball"
                counts = np.asarray(p.counts, dtype=np.float64)
                scale[j, :n] = np.sqrt(p.K * counts[p.labels])
                U_radius[j, :n] = math.sqrt(E_H)
        elif p.features == "sphere":
            kind = "sphere"
            U_radius[j, :n] = 1.0 / math.sqrt(n)
    mask = np.zeros((B, N), dtype=bool)
    for j, p in enumerate(problems):
        mask[j, : p.N] = True
    return FeasibleSet(
        W_radius=torch.as_tensor(W_radius, dtype=dtype, device=device),
        scale=torch.as_tensor(scale, dtype=dtype, device=device),
        kind=kind,
        U_radius=torch.as_tensor(U_radius, dtype=dtype, device=device),
        nonneg=first.features == "relu",
        mask=torch.as_tensor(mask, device=device),
    )


def violation(problem: Problem, W: NDArray[np.float64] | None, H: NDArray[np.float64]) -> float:
    """Largest relative violation of the problem's constraints at (W, H); 0 when feasible.

    Budgets are compared relative to their bound (e.g. ((1/K)Σ‖w_k‖² − E_W)/E_W); negative
    features of a ReLU problem relative to the largest feature norm; a sphere by
    |‖h_i‖² − r²| / r².
    """
    H = np.asarray(H, dtype=np.float64)
    worst = 0.0
    if problem.features == "relu":
        scale = max(1.0, float(np.abs(H).max(initial=0.0)))
        worst = max(worst, float(-H.min(initial=0.0)) / scale)
    sq = (H * H).sum(axis=1)
    if problem.features == "sphere":
        r2 = problem.sphere_radius**2
        worst = max(worst, float(np.abs(sq - r2).max() / r2))
    if problem.energy is not None:
        E_W, E_H = problem.energy
        if problem.classifier == "learnable" and W is not None:
            worst = max(worst, (float((np.asarray(W) ** 2).sum()) / problem.K - E_W) / E_W)
        if problem.features != "sphere":
            if problem.budget == "per-sample":
                worst = max(worst, float(sq.max() - E_H) / E_H)
            else:
                counts = np.asarray(problem.counts, dtype=np.float64)
                used = float((sq / counts[problem.labels]).sum() / problem.K)
                worst = max(worst, (used - E_H) / E_H)
    return max(0.0, worst)


def feasible_means(
    problem: Problem, W: NDArray[np.float64], M: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Move a class-mean point (W, M) into the feasible set of the collapsed problem.

    ReLU means are clipped at 0, spherical means put on their sphere (a zero mean on e_1·r),
    budgets that are exceeded scaled down to their bounds ((1/K)Σ‖h̄_k‖² ≤ E_H, or ‖h̄_k‖² ≤ E_H
    per class, and (1/K)Σ‖w_k‖² ≤ E_W). Every point returned is the collapsed per-sample point of
    a feasible solution, so its objective is an upper bound on the optimum.

    Parameters
    ----------
    W : ndarray, shape=[K, d]
    M : ndarray, shape=[K, d]

    Returns
    -------
    (W, M) : the moved point (copies).
    """
    K = problem.K
    W = np.array(W, dtype=np.float64)
    M = np.maximum(M, 0.0) if problem.features == "relu" else np.array(M, dtype=np.float64)
    sq = (M * M).sum(axis=1)
    if problem.features == "sphere":
        r = problem.sphere_radius
        unit = np.zeros_like(M)
        unit[:, 0] = 1.0
        safe = np.where(sq > 0, np.sqrt(sq), 1.0)[:, None]
        M = np.where(sq[:, None] > 0, M / safe, unit) * r
    elif problem.energy is not None:
        E_H = problem.energy[1]
        if problem.budget == "per-sample":
            M = M * np.minimum(1.0, np.sqrt(E_H / np.maximum(sq, 1e-300)))[:, None]
        elif sq.sum() > K * E_H:
            M = M * math.sqrt(K * E_H / sq.sum())
    if problem.energy is not None and problem.classifier == "learnable":
        sw = float((W * W).sum())
        if sw > K * problem.energy[0]:
            W = W * math.sqrt(K * problem.energy[0] / sw)
    return W, M
