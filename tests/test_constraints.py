"""The feasible sets and their projections (lpm.constraints): a projection is idempotent, lands
in the set, is non-expansive on the convex sets, and satisfies the variational inequality
⟨u − P(u), y − P(u)⟩ ≤ 0 for every feasible y (the characterisation of the Euclidean
projection onto a closed convex set)."""

import numpy as np
import pytest
import torch

from lpm.constraints import feasible_means, feasible_set, violation
from lpm.problem import Problem

#: Features of each kind of feasible set; every batch has two problems of different N, so that
#: padding rows are exercised.
STRUCTURES = {
    "ball": dict(energy=(1.0, 0.7)),
    "rows": dict(energy=(1.0, 0.7), budget="per-sample"),
    "sphere": dict(energy=(1.0, 0.7), features="sphere"),
    "relu-ball": dict(energy=(1.0, 0.7), features="relu"),
    "relu-rows": dict(energy=(1.0, 0.7), features="relu", budget="per-sample"),
    "relu-decay": dict(decay=(1e-2, 1e-2), features="relu"),
    "decay": dict(decay=(1e-2, 1e-2)),
    "sphere-decay": dict(decay=(1e-2, 1e-2), features="sphere"),
}
CONVEX = [name for name in STRUCTURES if "sphere" not in name]


def _batch(kwargs):
    problems = [
        Problem.from_counts((4, 2, 1), dim=3, **kwargs),
        Problem.from_counts((2, 1, 1), dim=3, **kwargs),
    ]
    return problems, feasible_set(problems)


def _random_U(fs, rng, scale):
    B, N = fs.scale.shape
    return torch.as_tensor(scale * rng.standard_normal((B, N, 3)))


def _per_problem_norm(X):
    return X.flatten(1).norm(dim=1)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
@pytest.mark.parametrize("seed", range(4))
def test_projection_is_idempotent_and_feasible(name, seed):
    rng = np.random.default_rng(seed)
    problems, fs = _batch(STRUCTURES[name])
    for scale in (0.01, 1.0, 100.0):
        P = fs.project_U(_random_U(fs, rng, scale))
        torch.testing.assert_close(fs.project_U(P), P, rtol=1e-14, atol=1e-15)
        H = fs.scale.unsqueeze(-1) * P
        for j, p in enumerate(problems):
            assert torch.all(H[j, p.N :] == 0)  # padding stays zero
            assert violation(p, None, H[j, : p.N].numpy()) <= 1e-12
    W = torch.as_tensor(10 * rng.standard_normal((2, 3, 3)))
    PW = fs.project_W(W)
    torch.testing.assert_close(fs.project_W(PW), PW, rtol=1e-14, atol=0.0)
    for j, p in enumerate(problems):
        assert violation(p, PW[j].numpy(), H[j, : p.N].numpy()) <= 1e-12


@pytest.mark.parametrize("name", CONVEX)
@pytest.mark.parametrize("seed", range(4))
def test_projection_onto_a_convex_set_is_non_expansive_and_optimal(name, seed):
    rng = np.random.default_rng(10 + seed)
    _, fs = _batch(STRUCTURES[name])
    U, V = _random_U(fs, rng, 3.0), _random_U(fs, rng, 3.0)
    PU, PV = fs.project_U(U), fs.project_U(V)
    assert torch.all(_per_problem_norm(PU - PV) <= _per_problem_norm(U - V) + 1e-14)
    mask = fs.mask.unsqueeze(-1).to(U.dtype)
    for _ in range(5):  # y feasible: ⟨u − P(u), y − P(u)⟩ ≤ 0 (on the real rows)
        Y = fs.project_U(_random_U(fs, rng, 3.0))
        inner = ((U - PU) * mask * (Y - PU)).flatten(1).sum(1)
        assert torch.all(inner <= 1e-12)
    W, Z = (torch.as_tensor(5 * rng.standard_normal((2, 3, 3))) for _ in range(2))
    assert torch.all(
        _per_problem_norm(fs.project_W(W) - fs.project_W(Z)) <= _per_problem_norm(W - Z) + 1e-14
    )


def test_points_inside_the_set_do_not_move():
    rng = np.random.default_rng(5)
    _, fs = _batch(STRUCTURES["ball"])
    inside = fs.project_U(_random_U(fs, rng, 1.0)) * 0.5
    torch.testing.assert_close(fs.project_U(inside), inside, rtol=0.0, atol=0.0)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_feasible_means_are_feasible(name):
    rng = np.random.default_rng(6)
    p = Problem.from_counts((4, 2, 1), dim=3, **STRUCTURES[name])
    W, M = feasible_means(p, 10 * rng.standard_normal((3, 3)), 10 * rng.standard_normal((3, 3)))
    assert violation(p, W, M[p.labels]) <= 1e-12
