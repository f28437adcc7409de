"""The one objective: analytic gradients against autograd, a slow reference, stability."""

import numpy as np
import pytest
import torch

from lpm.classifiers import classifier_matrix
from lpm.objective import constant_penalty, objective, objective_data, value_and_grad
from lpm.problem import Problem

VARIANTS = [
    dict(loss="ce", energy=(1.0, 1.0)),
    dict(loss="ce", decay=(1e-2, 2e-2, 3e-2), bias="penalised"),
    dict(loss="ce", decay=(1e-2, 2e-2), bias="free"),
    dict(loss="mse", decay=(1e-2, 2e-2)),
    dict(loss="mse", energy=(2.0, 0.5), bias="free"),
    dict(loss="dr", classifier="etf", energy=(2.0, 3.0)),
    dict(loss="ce", classifier="random", decay=(1e-2, 2e-2)),
]


def _random_point(p, rng):
    W = rng.standard_normal((p.K, p.dim))
    H = rng.standard_normal((p.N, p.dim))
    b = rng.standard_normal(p.K) if p.bias != "none" else None
    return W, H, b


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_gradients_match_autograd(kwargs):
    rng = np.random.default_rng(0)
    problems = [
        Problem.from_counts((3, 2, 1), dim=4, **kwargs),
        Problem.from_counts((1, 1, 2), dim=4, **kwargs),
    ]
    data = objective_data(problems)
    N = max(p.N for p in problems)
    W = torch.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    H = torch.tensor(rng.standard_normal((2, N, 4)), requires_grad=True)
    b = (
        torch.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        if problems[0].bias != "none"
        else None
    )
    Wa = None if problems[0].fixed_classifier else W
    f, gW, gH, gb = value_and_grad(Wa, H, b, data)
    f.sum().backward()
    assert torch.allclose(gH, H.grad, atol=1e-13)
    if Wa is not None:
        assert torch.allclose(gW, W.grad, atol=1e-13)
    if b is not None:
        assert torch.allclose(gb, b.grad, atol=1e-13)
    # Padding rows (problem 1 has N = 4, padded to 6 with nonzero H) carry no gradient.
    padding = gH[1, problems[1].N :]
    assert padding.shape[0] == 2 and torch.all(padding == 0)
    assert torch.all(H[1, problems[1].N :] != 0)


def _reference(p, W, H, b):
    """Slow, obvious per-sample loop."""
    if p.fixed_classifier:
        W = classifier_matrix(p)
    total = 0.0
    for h, y in zip(H, p.labels):
        z = W @ h + (b if b is not None else 0.0)
        if p.loss == "ce":
            total += np.log(np.exp(z - z.max()).sum()) + z.max() - z[y]
        elif p.loss == "mse":
            e = np.zeros(p.K)
            e[y] = 1
            total += 0.5 * ((z - e) ** 2).sum()
        else:
            total += 0.5 * (z[y] - np.sqrt(p.energy[0] * p.energy[1])) ** 2
    value = total / p.N
    if p.decay is not None:
        lw, lh, lb = p.decay
        value += 0.5 * lw * (W**2).sum()  # a fixed classifier's too: the objective as stated
        value += 0.5 * lh * (H**2).sum()
        if b is not None:
            value += 0.5 * lb * (b**2).sum()
    return value


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_objective_matches_slow_reference(kwargs):
    rng = np.random.default_rng(1)
    p = Problem.from_counts((3, 2, 1), dim=4, **kwargs)
    W, H, b = _random_point(p, rng)
    assert objective(p, W, H, b) == pytest.approx(_reference(p, W, H, b), rel=1e-13, abs=1e-15)


def test_a_fixed_classifier_pays_its_decay_penalty():
    """f = loss + (λ_W/2)‖W‖² + (λ_H/2)‖H‖² for a fixed classifier too: its penalty is constant,
    not absent (0.14 of the 1.468 here)."""
    p = Problem.from_counts((42, 103, 118, 24), dim=5, classifier="etf", decay=(0.08276, 0.01969))
    W = classifier_matrix(p)
    H = np.random.default_rng(3).standard_normal((p.N, p.dim))
    logits = H @ W.T
    loss = float(np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(p.N), p.labels]))
    stated = loss + 0.5 * 0.08276 * float((W**2).sum()) + 0.5 * 0.01969 * float((H**2).sum())
    assert objective(p, None, H) == pytest.approx(stated, rel=1e-13)
    assert constant_penalty(p) == pytest.approx(0.5 * 0.08276 * float((W**2).sum()), rel=1e-15)


def test_stable_at_extreme_scales():
    p = Problem.balanced(3, 2, dim=3, energy=(1e4, 1e4))
    rng = np.random.default_rng(2)
    W, H, _ = _random_point(p, rng)
    value = objective(p, 1e2 * W, 1e2 * H)
    assert np.isfinite(value) and value >= 0
    q = Problem.balanced(3, 2, dim=3, decay=(1e-8, 1e-8))
    assert np.isfinite(objective(q, 1e3 * W, 1e3 * H))


def test_objective_rejects_wrong_shapes():
    p = Problem.balanced(3, 2, dim=3, energy=(1, 1))
    with pytest.raises(ValueError, match="H must have shape"):
        objective(p, np.zeros((3, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="W must have shape"):
        objective(p, np.zeros((2, 3)), np.zeros((6, 3)))
