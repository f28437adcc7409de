"""Train a small MLP to the terminal phase with the last-layer heads of the seed papers.

The network is x ↦ h = φ(x) ∈ R^d (an MLP with ReLU hidden layers; optionally a ReLU on h
itself), followed by the head's classifier W (K × d), no bias. Training is full-batch (every
step sees all N training samples), in float64, on the CPU, single-threaded and deterministic.

The heads (:data:`HEADS`) and the exact training loss, whose last-layer part *is* the matching
model's objective (the backbone's weights carry no penalty):

* ``learnable-ce`` — learnable W, (1/N) Σ_i CE(W h_i, y_i) + (λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F²,
  ‖H‖_F² summed over the N training features: the regularised unconstrained-feature model
  (Zhu et al. 2021; the loss averaged over N, penalties (λ/2)‖·‖²);
* ``etf-ce`` — W fixed to a simplex ETF with unit rows (:func:`lpm.simplex_etf`), the same loss
  without the constant W term;
* ``etf-dr`` — W fixed to the ETF, features normalised to the sphere ‖h‖² = E_H, Yang et al.'s
  (2022) dot-regression (1/N) Σ_i ½(w_{y_i}ᵀh_i − sqrt(E_W E_H))² with E_W = 1: the model
  ``Problem(loss="dr", classifier="etf", energy=(1, E_H), budget="per-sample")``;
* ``random-ce`` — W fixed to seeded Gaussian rows of unit norm (:func:`lpm.random_classifier`,
  Shalev et al. 2020), CE and (λ_H/2)‖H‖_F²;
* ``relu-ce`` — ``learnable-ce`` with a ReLU on the features (Dang et al. 2024), the model with
  H ≥ 0.

Example
-------
>>> from lpm.bridge.data import digits, long_tailed
>>> from lpm.bridge.train import HEADS, TrainConfig, train
>>> run = train(long_tailed(digits(), 10), HEADS["etf-ce"], TrainConfig(epochs=20, record_every=10))
>>> [s.epoch for s in run.snapshots]
[0, 10, 20]
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray

from lpm.bridge.data import Dataset
from lpm.classifiers import random_classifier, simplex_etf
from lpm.problem import Problem

__all__ = ["HEADS", "Head", "Run", "Snapshot", "TrainConfig", "deterministic", "train"]


@dataclass(frozen=True)
class Head:
    """A last-layer head: classifier, loss, features and their penalties.

    Attributes
    ----------
    name : str
    classifier : {"learnable", "etf", "random"}
    loss : {"ce", "dr"}
    relu : bool
        A ReLU on the features (H ≥ 0).
    decay : (λ_W, λ_H)
        Penalties of the CE heads ((λ_W/2)‖W‖² applies to a learnable W only).
    energy_h : float
        E_H of the dot-regression head (features on the sphere ‖h‖² = E_H; E_W = 1).
    classifier_seed : int
        Seed of a fixed classifier (the same as the model's ``classifier_seed``).
    """

    name: str
    classifier: Literal["learnable", "etf", "random"] = "learnable"
    loss: Literal["ce", "dr"] = "ce"
    relu: bool = False
    decay: tuple[float, float] = (5e-3, 5e-3)
    energy_h: float = 1.0
    classifier_seed: int = 0

    def problem(self, counts: tuple[int, ...], dim: int) -> Problem:
        """The matching model at these counts and d (no bias, CE or DR)."""
        if self.loss == "dr":
            return Problem(
                counts=counts,
                dim=dim,
                loss="dr",
                classifier=self.classifier,
                energy=(1.0, self.energy_h),
                budget="per-sample",
                classifier_seed=self.classifier_seed,
            )
        return Problem(
            counts=counts,
            dim=dim,
            classifier=self.classifier,
            features="relu" if self.relu else "free",
            decay=(*self.decay, 0.0),
            classifier_seed=self.classifier_seed,
        )


#: The heads of the seed papers, by name.
HEADS: dict[str, Head] = {
    "learnable-ce": Head("learnable-ce"),
    "etf-ce": Head("etf-ce", classifier="etf"),
    "etf-dr": Head("etf-dr", classifier="etf", loss="dr"),
    "random-ce": Head("random-ce", classifier="random"),
    "relu-ce": Head("relu-ce", relu=True),
}


@dataclass(frozen=True)
class TrainConfig:
    """Training options: full-batch Adam for ``epochs`` steps, a snapshot every ``record_every``.

    Attributes
    ----------
    epochs, record_every : int
    lr : float
        Adam's step size.
    width, depth : int
        Hidden width and number of hidden layers of the MLP.
    dim : int
        d, the feature dimension.
    seed : int
        Seed of the network's initialisation.
    """

    epochs: int = 3000
    record_every: int = 150
    lr: float = 1e-3
    width: int = 64
    depth: int = 2
    dim: int = 32
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The last layer at one epoch (training features in the order of ``Run.labels``)."""

    epoch: int
    H: NDArray[np.float64]
    W: NDArray[np.float64]
    loss: float
    train_error: float
    test_accuracy: NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Run:
    """One training run: its head, configuration, data and snapshots."""

    head: Head
    config: TrainConfig
    dataset: str
    counts: tuple[int, ...]
    labels: NDArray[np.int64]
    snapshots: tuple[Snapshot, ...]
    seconds: float

    @property
    def final(self) -> Snapshot:
        return self.snapshots[-1]


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seeded, single-threaded, deterministic torch inside the block; global state restored."""
    threads = torch.get_num_threads()
    enabled = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(enabled)
            torch.set_num_threads(threads)


def _backbone(p: int, config: TrainConfig, relu: bool) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    width_in = p
    for _ in range(config.depth):
        layers += [torch.nn.Linear(width_in, config.width), torch.nn.ReLU()]
        width_in = config.width
    layers.append(torch.nn.Linear(width_in, config.dim))
    if relu:
        layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).double()


def _classifier(head: Head, K: int, d: int) -> torch.Tensor:
    if head.classifier == "etf":
        return torch.as_tensor(simplex_etf(K, d, head.classifier_seed))
    if head.classifier == "random":
        return torch.as_tensor(random_classifier(K, d, head.classifier_seed))
    return (torch.randn(K, d, dtype=torch.float64) / math.sqrt(d)).requires_grad_(True)


def _features(backbone: torch.nn.Module, X: torch.Tensor, head: Head) -> torch.Tensor:
    H = backbone(X)
    if head.loss == "dr":
        H = math.sqrt(head.energy_h) * H / H.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return H


def _loss(H: torch.Tensor, W: torch.Tensor, y: torch.Tensor, head: Head) -> torch.Tensor:
    if head.loss == "dr":
        target = math.sqrt(head.energy_h)  # sqrt(E_W E_H) with E_W = 1
        return 0.5 * torch.mean(((H * W[y]).sum(dim=1) - target) ** 2)
    value = torch.nn.functional.cross_entropy(H @ W.T, y) + 0.5 * head.decay[1] * H.pow(2).sum()
    if head.classifier == "learnable":
        value = value + 0.5 * head.decay[0] * W.pow(2).sum()
    return value


def _accuracy(logits: torch.Tensor, y: torch.Tensor, K: int) -> NDArray[np.float64]:
    right = (logits.argmax(dim=1) == y).double()
    hits = torch.zeros(K, dtype=torch.float64).index_add_(0, y, right)
    return (hits / torch.bincount(y, minlength=K).clamp_min(1)).numpy()


def train(
    data: Dataset,
    head: Head,
    config: TrainConfig = TrainConfig(),
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Train the MLP with ``head`` on ``data`` and record the last layer.

    Parameters
    ----------
    data : Dataset
    head : Head
    config : TrainConfig
    progress : callable(str), optional
        One line per snapshot.

    Returns
    -------
    Run
        Snapshots at epoch 0, every ``record_every`` epochs, and at ``epochs``.
    """
    start = time.perf_counter()
    K = data.K
    with deterministic(config.seed):
        X = torch.as_tensor(data.X_train)
        y = torch.as_tensor(data.y_train)
        X_test, y_test = torch.as_tensor(data.X_test), torch.as_tensor(data.y_test)
        backbone = _backbone(X.shape[1], config, head.relu)
        W = _classifier(head, K, config.dim)
        params = list(backbone.parameters()) + ([W] if W.requires_grad else [])
        optimiser = torch.optim.Adam(params, lr=config.lr)
        snapshots = []
        for epoch in range(config.epochs + 1):
            H = _features(backbone, X, head)
            loss = _loss(H, W, y, head)
            if epoch % config.record_every == 0 or epoch == config.epochs:
                with torch.no_grad():
                    test_logits = _features(backbone, X_test, head) @ W.T
                    snap = Snapshot(
                        epoch,
                        H.detach().numpy().copy(),
                        W.detach().numpy().copy(),
                        float(loss),
                        float(((H @ W.T).argmax(dim=1) != y).double().mean()),
                        _accuracy(test_logits, y_test, K),
                    )
                snapshots.append(snap)
                if progress is not None:
                    progress(
                        f"  {head.name} epoch {epoch}: loss {snap.loss:.4g}, "
                        f"train error {snap.train_error:.3g}"
                    )
            if epoch == config.epochs:
                break
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return Run(
        head,
        config,
        data.name,
        data.counts,
        data.y_train.copy(),
        tuple(snapshots),
        time.perf_counter() - start,
    )
