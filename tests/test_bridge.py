"""Tests of lpm.bridge: trained networks against the certified optimum.

Exact cases first (the Gram distance, an optimum measured against itself), then the command line
on files the project did not produce (a network trained here with plain torch), bad files, the
training's determinism and objective, and (slow) ``lpm bridge --quick`` end to end.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

import lpm
from lpm import cli
from lpm.bridge.data import digits, gaussian_mixture, long_tailed, step_imbalanced
from lpm.bridge.measure import (
    fixed_classifier_optimum,
    gram_distance,
    load_network,
    measure_network,
)
from lpm.bridge.train import HEADS, TrainConfig, train
from lpm.classifiers import classifier_matrix
from lpm.objective import objective
from lpm.problem import Problem

DECAY = (5e-3, 5e-3)


def run_cli(capsys, args: list[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ Gram distance
def test_gram_distance_matches_a_scalar_minimisation():
    rng = np.random.default_rng(0)
    for _ in range(5):
        A, B = rng.standard_normal((2, 4, 3))
        G, G_star = A @ A.T, B @ B.T + 0.5 * A @ A.T
        brute = minimize_scalar(
            lambda c, G=G, G_star=G_star: np.linalg.norm(G - c * G_star),
            bounds=(0, 100),
            method="bounded",
            options={"xatol": 1e-12},
        )
        assert gram_distance(G, G_star) == pytest.approx(brute.fun / np.linalg.norm(G), abs=1e-7)


def test_gram_distance_exact_cases():
    G = lpm.etf_gram(4)
    assert gram_distance(7.0 * G, G) == pytest.approx(0.0, abs=1e-15)
    assert gram_distance(-G, G) == 1.0  # no positive multiple helps: c* = 0
    assert gram_distance(G, np.zeros((4, 4))) == 1.0
    assert math.isnan(gram_distance(np.zeros((4, 4)), G))
    # Orthogonal in the Frobenius sense: c* = 0 and the distance is 1.
    assert gram_distance(np.diag([1.0, -1.0]), np.eye(2)) == 1.0


# ------------------------------------------------------------------------------ measure_network
def test_an_optimum_measured_against_its_model_is_at_distance_zero():
    p = Problem.step(majority=2, minority=2, n_minority=3, ratio=4, dim=4, decay=(*DECAY, 0.0))
    opt = lpm.solve(p)
    r = measure_network(opt.H, p.labels, opt.W, decay=DECAY)
    assert r.optimum.certified
    for g in r.grams.values():
        assert g.distance < 1e-6 and g.raw_distance < 1e-6 and g.scale == pytest.approx(1, 1e-6)
    assert abs(r.objective_excess) < 1e-8
    assert r.geometry.minority == (2, 3)


def test_a_perturbed_layer_is_farther_and_above_the_optimum():
    p = Problem.balanced(3, 5, dim=3, decay=(*DECAY, 0.0))
    opt = lpm.solve(p)
    rng = np.random.default_rng(1)
    H = opt.H + 0.3 * rng.standard_normal(opt.H.shape)
    r = measure_network(H, p.labels, opt.W, decay=DECAY)
    assert r.grams["means"].distance > 1e-3
    assert r.objective_excess > 0
    # Shuffling the samples changes nothing: the comparison reads counts, not positions.
    order = rng.permutation(p.N)
    r2 = measure_network(H[order], p.labels[order], opt.W, decay=DECAY)
    assert r2.grams["means"].distance == pytest.approx(r.grams["means"].distance, rel=1e-12)
    assert r2.objective_excess == pytest.approx(r.objective_excess, rel=1e-9)


def test_fixed_classifier_newton_agrees_with_the_solver():
    p = Problem.long_tail(4, 20, 5, dim=6, classifier="etf", decay=(*DECAY, 0.0))
    ours = fixed_classifier_optimum(classifier_matrix(p), p)
    ref = lpm.solve(p)
    assert ours.certified and ref.certified
    assert ours.objective == pytest.approx(ref.objective, abs=1e-9)
    assert np.allclose(ours.means, ref.means, atol=1e-6)


def test_energy_auto_takes_the_networks_own_budgets():
    rng = np.random.default_rng(2)
    H, W = rng.standard_normal((12, 3)), rng.standard_normal((3, 3))
    y = np.repeat(np.arange(3), 4)
    r = measure_network(H, y, W)
    assert r.problem.energy == pytest.approx(
        (np.mean(np.sum(W**2, 1)), np.mean(np.sum(H**2, 1)))  # balanced: class-average = mean
    )
    assert r.objective_excess >= -1e-8  # the network is feasible (on the budgets) for its model


# ------------------------------------------------------------------------------ command line
def _train_plain_torch_net(seed: int = 0):
    """A 2-layer MLP trained here with plain torch, independent of lpm.bridge."""
    g = torch.Generator().manual_seed(seed)
    K, n, p, d = 3, 10, 5, 4
    X = torch.randn(K * n, p, generator=g, dtype=torch.float64) + 3 * torch.eye(
        K, p
    ).repeat_interleave(n, 0)
    y = torch.arange(K).repeat_interleave(n)
    net = torch.nn.Sequential(torch.nn.Linear(p, 16), torch.nn.Tanh(), torch.nn.Linear(16, d))
    net = net.double()
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(0.3 * torch.randn(param.shape, generator=g, dtype=torch.float64))
    W = (0.3 * torch.randn(K, d, generator=g, dtype=torch.float64)).requires_grad_(True)
    opt = torch.optim.Adam([*net.parameters(), W], lr=2e-2)
    for _ in range(150):
        H = net(X)
        loss = torch.nn.functional.cross_entropy(H @ W.T, y)
        loss = loss + 0.5 * DECAY[0] * W.pow(2).sum() + 0.5 * DECAY[1] * H.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net(X).detach().numpy(), y.numpy(), W.detach().numpy()


def test_measure_a_network_the_project_did_not_produce(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    try:
        H, y, W = _train_plain_torch_net()
    finally:
        torch.set_num_threads(threads)
    for name, value in (("H", H), ("y", y), ("W", W)):
        np.save(tmp_path / f"{name}.npy", value)
    files = ["--features", str(tmp_path / "H.npy"), "--labels", str(tmp_path / "y.npy")]
    files += ["--classifier", str(tmp_path / "W.npy")]
    code, out, err = run_cli(capsys, ["measure", *files, "--decay", "5e-3,5e-3", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["optimum"]["certified"] is True
    assert data["model"]["decay"][:2] == list(DECAY)
    for g in data["gram_distance"].values():
        assert 0 <= g["distance"] <= 1
    # Trained on the model's objective itself: never below the certified optimum.
    assert data["objective_excess"] >= -1e-8
    assert data["geometry"]["nc1"] >= 0
    # The same arrays as one .npz, and the text report.
    np.savez(tmp_path / "net.npz", H=H, labels=y, W=W)
    code, out, err = run_cli(capsys, ["measure", str(tmp_path / "net.npz"), "--energy", "auto"])
    assert code == 0, err
    assert "Gram distance" in out and "certified" in out


def _bad_cases(tmp_path):
    rng = np.random.default_rng(0)
    H, W, y = rng.standard_normal((9, 3)), rng.standard_normal((3, 3)), np.repeat(np.arange(3), 3)
    save = lambda name, value: (np.save(tmp_path / name, value), str(tmp_path / name))[1]  # noqa: E731
    good_H, good_y, good_W = save("H.npy", H), save("y.npy", y), save("W.npy", W)
    nan_H = H.copy()
    nan_H[0, 0] = np.nan
    (tmp_path / "text.npy").write_text("not an array")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "nokeys.npz", H=H, W=W)
    triple = ["--features", good_H, "--labels", good_y, "--classifier", good_W]
    return {
        "nan": ["--features", save("nan.npy", nan_H), *triple[2:]],
        "labels out of range": [*triple[:2], "--labels", save("y9.npy", y + 5), *triple[4:]],
        "mismatched N": ["--features", save("H8.npy", H[:8]), *triple[2:]],
        "wrong shape": [*triple[:4], "--classifier", save("W1.npy", W[0])],
        "float labels": [*triple[:2], "--labels", save("yf.npy", y.astype(float)), *triple[4:]],
        "not npy": ["--features", str(tmp_path / "text.npy"), *triple[2:]],
        "pickle": ["--features", str(tmp_path / "obj.npy"), *triple[2:]],
        "missing keys": [str(tmp_path / "nokeys.npz")],
        "missing file": ["--features", str(tmp_path / "nope.npy"), *triple[2:]],
        "missing flag": triple[:4],
        "bad decay": [*triple, "--decay", "1,2,3"],
        "negative decay": [*triple, "--decay=-1,1"],
        "random without decay": [*triple, "--classifier-model", "random"],
    }


def test_bad_files_get_one_line_and_exit_2(tmp_path, capsys):
    for case, args in _bad_cases(tmp_path).items():
        code, out, err = run_cli(capsys, ["measure", *args])
        assert code == cli.EXIT_BAD_INPUT, (case, err)
        assert out == "", case
        assert len(err.splitlines()) == 1 and err.startswith("lpm: error: "), (case, err)
        assert "Traceback" not in err


def test_bad_arrays_raise_the_same_words_in_python(tmp_path):
    H, y, W = np.ones((4, 2)), np.array([0, 1, 1, 5]), np.eye(2)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        measure_network(H, y, W)
    np.savez(tmp_path / "net.npz", H=H, W=W)
    with pytest.raises(ValueError, match="lacks key"):
        load_network(tmp_path / "net.npz")


# ------------------------------------------------------------------------------ data and training
def test_data_ship_with_the_package_and_subsample_as_asked():
    data = digits()
    assert data.K == 10 and data.X_train.shape[1] == 64
    assert len(data.y_train) + len(data.y_test) == 1797
    lt = long_tailed(data, rho=100, n_max=100)
    assert lt.counts == (100, 60, 36, 22, 13, 8, 5, 3, 2, 1)
    assert np.array_equal(lt.X_test, data.X_test)  # the test set stays balanced
    step = step_imbalanced(data, 5, 100, 20)
    assert step.counts == (100,) * 5 + (5,) * 5
    with pytest.raises(ValueError, match="positive integer"):
        step_imbalanced(data, 5, 100, 30)
    assert gaussian_mixture(K=3, p=4, n_train=5, n_test=2).counts == (5, 5, 5)


TINY = TrainConfig(epochs=4, record_every=2, width=8, dim=10)


def _tiny_data():
    return long_tailed(digits(), rho=4, n_max=12)


def test_training_is_deterministic_and_restores_torch_state():
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    before = torch.random.get_rng_state()
    data = _tiny_data()
    a = train(data, HEADS["learnable-ce"], TINY)
    b = train(data, HEADS["learnable-ce"], TINY)
    assert [s.epoch for s in a.snapshots] == [0, 2, 4]
    for s, t in zip(a.snapshots, b.snapshots):
        assert np.array_equal(s.H, t.H) and np.array_equal(s.W, t.W)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("head", ["learnable-ce", "relu-ce", "etf-dr", "random-ce", "etf-ce"])
def test_the_training_loss_is_the_models_objective(head):
    """The last-layer part of the training loss equals lpm's objective of the matching model
    (for a fixed classifier under decay, up to the constant (λ_W/2)‖W‖² when lpm counts it)."""
    data = _tiny_data()
    run = train(data, HEADS[head], TINY)
    problem = run.head.problem(run.counts, TINY.dim)
    assert np.array_equal(run.labels, problem.labels)
    for snap in run.snapshots:
        fixed = problem.fixed_classifier
        if fixed:
            assert np.allclose(snap.W, classifier_matrix(problem), atol=1e-12)
        value = objective(problem, None if fixed else snap.W, snap.H)
        if fixed and problem.decay is not None:
            value_no_w = value - 0.5 * problem.decay[0] * float(np.sum(snap.W**2))
            assert min(abs(value - snap.loss), abs(value_no_w - snap.loss)) < 1e-10
        else:
            assert value == pytest.approx(snap.loss, abs=1e-10)


@pytest.mark.slow
def test_lpm_bridge_quick_end_to_end(tmp_path, capsys):
    code, out, err = run_cli(capsys, ["bridge", "--quick", "--out", str(tmp_path)])
    assert code == 0, err
    data = json.loads((tmp_path / "bridge.json").read_text())
    assert data["certified"] is True and data["quick"] is True
    for name in ("collapse", "accuracy", "relu", "distance"):
        assert name in data
    for name in ("bridge_collapse", "bridge_accuracy", "bridge_relu", "bridge_distance"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
    rows = data["collapse"]["rows"]
    assert rows[0]["model_separation"] == pytest.approx(
        20 / 9, rel=1e-4
    )  # R = 1: the ETF's 2K/(K−1)
    assert "minority collapse" in out
