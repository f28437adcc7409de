"""The one objective of the family: losses, penalties and their gradients, batched in torch.

For a batch of B problems of the same K and d (sample counts may differ: shorter problems are
padded with samples of weight 0), with W (B, K, d), H (B, N, d) and b (B, K),

    f(W, H, b) = Σ_i a_i ℓ(W h_i + b, y_i) + (λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F² + (λ_b/2)‖b‖²,

where a_i = 1/N for the problem's samples (the loss is averaged over N) and 0 for padding, and
the per-sample loss ℓ(z, y) on logits z ∈ R^K is

* ``ce``  cross-entropy  log Σ_j exp(z_j) − z_y (computed by log-sum-exp);
* ``mse`` ½‖z − e_y‖² to one-hot targets;
* ``dr``  dot-regression ½(z_y − t)² with t = sqrt(E_W E_H) (Yang et al. 2022).

The decays λ are 0 outside the regularised model. A fixed classifier's penalty (λ_W/2)‖W‖_F² is a
constant, and part of f all the same (it has no gradient); :func:`constant_penalty` gives it,
with the other term constant on the feasible set, for the programs that leave W or H out. The
layer-peeled constraints are not part of f: see :mod:`lpm.constraints`. Every solver,
certificate, check and test evaluates the objective here; :func:`objective` is the NumPy entry
point for one problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from lpm.classifiers import classifier_matrix
from lpm.problem import Problem

__all__ = [
    "ObjectiveData",
    "constant_penalty",
    "loss_and_dlogits",
    "objective",
    "objective_data",
    "value_and_grad",
]


@dataclass(frozen=True)
class ObjectiveData:
    """Tensors describing the objective of B same-shaped problems.

    Attributes
    ----------
    loss : str
        ``"ce"``, ``"mse"`` or ``"dr"`` (one loss for the whole batch).
    labels : LongTensor, shape=[B, N]
        y_i, padded with 0.
    weights : Tensor, shape=[B, N]
        a_i: 1/N_b for a sample of problem b, 0 for padding.
    mask : BoolTensor, shape=[B, N]
        True for real samples.
    W_fixed : Tensor, shape=[B, K, d] or None
        The fixed classifier, or None for a learnable one.
    lam_W, lam_H, lam_b : Tensor, shape=[B]
        Decays (0 where absent).
    target : Tensor, shape=[B]
        DR target sqrt(E_W E_H) (unused by other losses).
    K : int
        Number of classes.
    """

    loss: str
    labels: torch.Tensor
    weights: torch.Tensor
    mask: torch.Tensor
    W_fixed: torch.Tensor | None
    lam_W: torch.Tensor
    lam_H: torch.Tensor
    lam_b: torch.Tensor
    target: torch.Tensor
    K: int

    def select(self, index: torch.Tensor) -> ObjectiveData:
        """The objective of the problems at ``index`` (a LongTensor into the batch)."""
        return ObjectiveData(
            loss=self.loss,
            labels=self.labels[index],
            weights=self.weights[index],
            mask=self.mask[index],
            W_fixed=None if self.W_fixed is None else self.W_fixed[index],
            lam_W=self.lam_W[index],
            lam_H=self.lam_H[index],
            lam_b=self.lam_b[index],
            target=self.target[index],
            K=self.K,
        )


def objective_data(
    problems: list[Problem] | tuple[Problem, ...],
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
) -> ObjectiveData:
    """Stack the objectives of same-K, same-d, same-loss problems into one batch."""
    if not problems:
        raise ValueError("need at least one problem")
    first = problems[0]
    for p in problems[1:]:
        if (p.K, p.dim, p.loss, p.classifier == "learnable") != (
            first.K,
            first.dim,
            first.loss,
            first.classifier == "learnable",
        ):
            raise ValueError(
                "a batch needs problems of one K, one dim, one loss and one kind of classifier "
                "(learnable or fixed)"
            )
    B, N = len(problems), max(p.N for p in problems)
    labels = np.zeros((B, N), dtype=np.int64)
    weights = np.zeros((B, N))
    mask = np.zeros((B, N), dtype=bool)
    lam = np.zeros((B, 3))
    target = np.zeros(B)
    for j, p in enumerate(problems):
        labels[j, : p.N] = p.labels
        weights[j, : p.N] = 1.0 / p.N
        mask[j, : p.N] = True
        if p.decay is not None:
            lam[j] = p.decay
            if p.bias != "penalised":
                lam[j, 2] = 0.0
        target[j] = p.dr_target
    W_fixed = None
    if first.fixed_classifier:
        W_fixed = torch.as_tensor(
            np.stack([classifier_matrix(p) for p in problems]), dtype=dtype, device=device
        )

    def t(a):
        return torch.as_tensor(a, dtype=dtype, device=device)

    return ObjectiveData(
        loss=first.loss,
        labels=torch.as_tensor(labels, device=device),
        weights=t(weights),
        mask=torch.as_tensor(mask, device=device),
        W_fixed=W_fixed,
        lam_W=t(lam[:, 0]),
        lam_H=t(lam[:, 1]),
        lam_b=t(lam[:, 2]),
        target=t(target),
        K=first.K,
    )


def loss_and_dlogits(Z: torch.Tensor, data: ObjectiveData) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample losses ℓ(z_i, y_i) and their gradients ∂ℓ/∂z_i.

    Parameters
    ----------
    Z : Tensor, shape=[B, N, K]
        Logits z_i = W h_i + b.

    Returns
    -------
    losses : Tensor, shape=[B, N]
    dlogits : Tensor, shape=[B, N, K]
        CE: softmax(z) − e_y;  MSE: z − e_y;  DR: (z_y − t) e_y.
    """
    labels = data.labels.unsqueeze(-1)
    z_true = torch.gather(Z, -1, labels).squeeze(-1)
    if data.loss == "ce":
        lse = torch.logsumexp(Z, dim=-1)
        losses = lse - z_true
        dl = torch.exp(Z - lse.unsqueeze(-1))  # softmax, reusing the log-sum-exp
        dl.scatter_add_(-1, labels, -torch.ones_like(labels, dtype=Z.dtype))
    elif data.loss == "mse":
        dl = Z.clone()
        dl.scatter_add_(-1, labels, -torch.ones_like(labels, dtype=Z.dtype))
        losses = 0.5 * (dl * dl).sum(-1)
    elif data.loss == "dr":
        r = z_true - data.target.unsqueeze(-1)
        losses = 0.5 * r * r
        dl = torch.zeros_like(Z).scatter_(-1, labels, r.unsqueeze(-1))
    else:
        raise ValueError(f"loss {data.loss!r} is not known; allowed: ce, mse, dr")
    return losses, dl


def value_and_grad(
    W: torch.Tensor | None,
    H: torch.Tensor,
    b: torch.Tensor | None,
    data: ObjectiveData,
    *,
    need_grad: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The objective f and its gradients for a batch.

    Parameters
    ----------
    W : Tensor, shape=[B, K, d] or None
        Learnable classifier; None uses ``data.W_fixed``.
    H : Tensor, shape=[B, N, d]
        Per-sample features (rows of padding are ignored: their weight is 0).
    b : Tensor, shape=[B, K] or None
        Bias, or None for no bias.

    Returns
    -------
    f : Tensor, shape=[B]
    grad_W : Tensor, shape=[B, K, d] or None (None for a fixed classifier)
    grad_H : Tensor, shape=[B, N, d]
    grad_b : Tensor, shape=[B, K] or None
    """
    Wm = data.W_fixed if W is None else W
    Z = torch.bmm(H, Wm.transpose(1, 2))
    if b is not None:
        Z = Z + b.unsqueeze(1)
    losses, dl = loss_and_dlogits(Z, data)
    f = (data.weights * losses).sum(-1)
    mask = data.mask.unsqueeze(-1).to(H.dtype)
    sq_H = ((H * mask) ** 2).sum((1, 2))
    f = f + 0.5 * data.lam_H * sq_H
    f = f + 0.5 * data.lam_W * (Wm * Wm).sum((1, 2))  # for a fixed W, a constant
    if b is not None:
        f = f + 0.5 * data.lam_b * (b * b).sum(-1)
    if not need_grad:
        return f, None, None, None
    G = dl * data.weights.unsqueeze(-1)  # (B, N, K)
    grad_H = torch.bmm(G, Wm) + data.lam_H.view(-1, 1, 1) * H * mask
    grad_W = None
    if W is not None:
        grad_W = torch.bmm(G.transpose(1, 2), H) + data.lam_W.view(-1, 1, 1) * W
    grad_b = None
    if b is not None:
        grad_b = G.sum(1) + data.lam_b.unsqueeze(-1) * b
    return f, grad_W, grad_H, grad_b


def constant_penalty(problem: Problem) -> float:
    """The part of the objective that is constant on the feasible set, for the programs and
    bounds that pose the problem without it: (λ_W/2)‖W‖_F² of a fixed classifier under weight
    decay, plus (λ_H/2)·N·r² for spherical features under weight decay (every ‖h_i‖² is r²).

    Examples
    --------
    >>> p = Problem.balanced(2, 1, dim=1, classifier="etf", decay=(0.5, 0.1))
    >>> round(constant_penalty(p), 12)     # (0.5/2)·‖W‖², the unit ETF's ‖W‖² = K = 2
    0.5
    """
    value = 0.0
    if problem.features == "sphere" and problem.decay is not None:
        value += 0.5 * problem.decay[1] * problem.N * problem.sphere_radius**2
    if problem.fixed_classifier and problem.decay is not None:
        W = classifier_matrix(problem)
        value += 0.5 * problem.decay[0] * float((W * W).sum())
    return value


def objective(
    problem: Problem,
    W: NDArray[np.float64] | None,
    H: NDArray[np.float64],
    b: NDArray[np.float64] | None = None,
) -> float:
    """The objective of one problem at (W, H, b), in float64.

    Parameters
    ----------
    W : ndarray, shape=[K, d] or None
        Ignored (may be None) for a fixed classifier, whose matrix the problem defines.
    H : ndarray, shape=[N, d]
    b : ndarray, shape=[K] or None
        Required exactly when ``problem.has_bias``.

    Examples
    --------
    >>> p = Problem.balanced(2, 1, dim=1, energy=(1.0, 1.0))
    >>> round(objective(p, np.array([[1.0], [-1.0]]), np.array([[1.0], [-1.0]])), 10)
    0.126928011
    """
    data = objective_data([problem])
    H = np.asarray(H, dtype=np.float64)
    if H.shape != (problem.N, problem.dim):
        raise ValueError(f"H must have shape (N, d) = {(problem.N, problem.dim)}, got {H.shape}")
    Wt = None
    if problem.classifier == "learnable":
        W = np.asarray(W, dtype=np.float64)
        if W.shape != (problem.K, problem.dim):
            raise ValueError(
                f"W must have shape (K, d) = {(problem.K, problem.dim)}, got {W.shape}"
            )
        Wt = torch.as_tensor(W)[None]
    bt = None
    if problem.has_bias:
        if b is None:
            raise ValueError(f"bias {problem.bias!r} needs b of shape (K,)")
        bt = torch.as_tensor(np.asarray(b, dtype=np.float64).reshape(problem.K))[None]
    f, *_ = value_and_grad(Wt, torch.as_tensor(H)[None], bt, data, need_grad=False)
    return float(f[0])
