"""Problem: constructors, derived quantities and validation messages."""

import math

import numpy as np
import pytest

from lpm.problem import Problem


def test_step_constructor_and_derived():
    p = Problem.step(majority=2, minority=2, n_minority=10, ratio=10, energy=(1.0, 1.0))
    assert p.counts == (100, 100, 10, 10)
    assert (p.K, p.N, p.dim) == (4, 220, 4)
    assert p.minority_classes == (2, 3)
    assert not p.is_balanced
    assert p.imbalance_ratio == 10
    assert p.labels.tolist() == [0] * 100 + [1] * 100 + [2] * 10 + [3] * 10
    assert p.regime == "energy"


def test_balanced_long_tail_from_counts():
    b = Problem.balanced(3, 4, decay=(1e-3, 1e-3))
    assert b.counts == (4, 4, 4) and b.is_balanced and b.minority_classes == ()
    assert b.decay == (1e-3, 1e-3, 0.0)
    lt = Problem.long_tail(5, 100, 10.0, energy=(1, 1))
    expected = tuple(round(100 * 10 ** (-(k - 1) / 4)) for k in range(1, 6))
    assert lt.counts == expected and lt.counts[0] == 100 and lt.counts[-1] == 10
    assert Problem.from_counts([3, 5], dim=7).dim == 7


def test_round_trip_dict():
    p = Problem.step(2, 3, 4, 2.5, dim=6, loss="mse", decay=(1e-3, 2e-3, 1e-2), bias="penalised")
    assert Problem.from_dict(p.to_dict()) == p


def test_unregularised_and_scales():
    p = Problem.balanced(3, 2)
    assert p.regime == "unregularised"
    q = Problem.balanced(3, 2, classifier="etf", energy=(4.0, 9.0), features="sphere")
    assert q.classifier_norm == 2.0 and q.sphere_radius == 3.0


BAD = [
    (dict(counts=(3,), dim=2), "at least K = 2"),
    (dict(counts=(3, -1), dim=2), "positive integers"),
    (dict(counts=(3, 0), dim=2), "positive integers"),
    (dict(counts=(3, 1.5), dim=2), "positive integers"),
    (dict(counts=(3, 3), dim=0), "dim must be a positive integer"),
    (dict(counts=(3, 3), dim=2, loss="hinge"), "allowed: ce, mse, dr"),
    (dict(counts=(3, 3), dim=2, classifier="fixed"), "allowed: learnable, etf, random"),
    (dict(counts=(3, 3), dim=2, energy=(1.0,)), "two numbers"),
    (dict(counts=(3, 3), dim=2, energy=(math.nan, 1.0)), "finite"),
    (dict(counts=(3, 3), dim=2, energy=(math.inf, 1.0)), "finite"),
    (dict(counts=(3, 3), dim=2, energy=(0.0, 1.0)), "positive"),
    (dict(counts=(3, 3), dim=2, decay=(-1.0, 1.0)), "positive"),
    (dict(counts=(3, 3), dim=2, energy=(1, 1), decay=(1, 1)), "exclude each other"),
    (dict(counts=(3, 3), dim=2, loss="dr", energy=(1, 1)), "fixed classifier"),
    (dict(counts=(3, 3), dim=2, loss="dr", classifier="etf", decay=(1, 1)), "needs energy"),
    (dict(counts=(3, 3, 3, 3), dim=2, classifier="etf", energy=(1, 1)), "dim ≥ K − 1"),
    (dict(counts=(3, 3), dim=2, bias="penalised", decay=(1, 1)), "LB > 0"),
    (dict(counts=(3, 3), dim=2, bias="free", decay=(1, 1, 1)), "only with bias 'penalised'"),
    (dict(counts=(3, 3), dim=2, budget="global"), "allowed: class-average, per-sample"),
]


@pytest.mark.parametrize(("kwargs", "words"), BAD)
def test_bad_input_is_one_line_value_error(kwargs, words):
    with pytest.raises(ValueError) as err:
        Problem(**kwargs)
    msg = str(err.value)
    assert words in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: Problem.step(2, 2, 0, 5), "nB must be an integer ≥ 1"),
        (lambda: Problem.step(2, 2, 3, 0.5), "ratio R must be a finite number ≥ 1"),
        (lambda: Problem.step(2, 2, 3, 1.5), "must be an integer number of samples"),
        (lambda: Problem.long_tail(5, 100, 0.5), "rho must be"),
        (lambda: Problem.balanced(1, 3), "K must be an integer ≥ 2"),
    ],
)
def test_constructor_errors(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_labels_read_only():
    p = Problem.balanced(2, 2)
    with pytest.raises(ValueError):
        p.labels[0] = 1
    assert np.all(np.diff(p.labels) >= 0)


def test_budget_needs_energy():
    with pytest.raises(ValueError, match="applies only with energy"):
        Problem.balanced(3, 2, decay=(1e-3, 1e-3), budget="per-sample")


def test_batch_key_groups_what_one_tensor_program_can_hold():
    base = Problem.from_counts((5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0))
    same = [
        Problem.from_counts((9, 9, 1), dim=3, classifier="random", energy=(3.0, 0.5)),
        Problem.from_counts(
            (5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0), classifier_seed=4
        ),
    ]
    other = [
        Problem.from_counts((5, 3, 2), dim=4, classifier="etf", energy=(1.0, 2.0)),
        Problem.from_counts((5, 3, 2, 1), dim=3, classifier="etf", energy=(1.0, 2.0)),
        Problem.from_counts((5, 3, 2), dim=3, energy=(1.0, 2.0)),
        Problem.from_counts((5, 3, 2), dim=3, classifier="etf", decay=(1e-2, 1e-2)),
        Problem.from_counts(
            (5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0), budget="per-sample"
        ),
        Problem.from_counts((5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0), features="relu"),
        Problem.from_counts((5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0), bias="free"),
        Problem.from_counts((5, 3, 2), dim=3, classifier="etf", energy=(1.0, 2.0), loss="mse"),
    ]
    assert all(p.batch_key == base.batch_key for p in same)
    assert all(p.batch_key != base.batch_key for p in other)


def test_class_weights_and_bias():
    p = Problem.from_counts((6, 3, 1), dim=2, energy=(1.0, 1.0))
    np.testing.assert_allclose(p.class_weights, [0.6, 0.3, 0.1])
    assert not p.has_bias
    assert Problem.from_counts((6, 3, 1), dim=2, energy=(1.0, 1.0), bias="free").has_bias
