"""Tests of lpm.testing: every assertion passes on a true statement and fails on a false one,
with a message that shows the claim, the measured value, the tolerance and the reproducer."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import lpm
from lpm import theory
from lpm.classifiers import etf_gram
from lpm.problem import Problem
from lpm.testing import (
    assert_certified_optimum,
    assert_equinorm,
    assert_gram_close,
    assert_matches_prediction,
    assert_minority_collapse,
    assert_within_class_collapse,
    command_line,
    gram_distance,
)

BALANCED = Problem.balanced(3, 2, dim=3, energy=(1.0, 1.0))
#: Fang et al. 2021: at R = 50 the two minority classifiers of a 2 + 2 step problem collapse.
COLLAPSED = Problem.step(majority=2, minority=2, n_minority=1, ratio=50, energy=(1.0, 1.0))
#: At R = 2 they do not.
SEPARATED = Problem.step(majority=2, minority=2, n_minority=1, ratio=2, energy=(1.0, 1.0))


@pytest.fixture(scope="module")
def balanced():
    return lpm.solve(BALANCED)


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        call(*args, **kwargs)
    return str(info.value)


def _shows_reproducer(message: str, problem: Problem) -> None:
    assert problem.describe() in message
    assert command_line(problem) in message
    assert "tolerance:" in message and "measured:" in message


# ----------------------------------------------------------------------------- certified
def test_certified_optimum_passes_on_a_certified_solve(balanced):
    assert_certified_optimum(balanced)


def test_certified_optimum_fails_on_an_unconverged_solve():
    sol = lpm.solve(SEPARATED, method="gradient", max_iter=3)
    message = _message(assert_certified_optimum, sol)
    assert "not a certified optimum" in message and f"status {sol.status}" in message
    assert f"residual {sol.residual:.3g}" in message
    _shows_reproducer(message, SEPARATED)


def test_certified_optimum_fails_without_a_certificate(balanced):
    message = _message(assert_certified_optimum, replace(balanced, certificate=None))
    assert "gap none" in message


# ----------------------------------------------------------------------------- Grams
def test_gram_close_to_the_etf(balanced):
    W = balanced.W
    assert_gram_close(W @ W.T, "etf", 1e-6, problem=BALANCED)
    assert_gram_close(W @ W.T, etf_gram(3), 1e-6)  # E_W = 1: the ETF Gram itself
    assert_gram_close(W @ W.T, theory.predict(BALANCED).w_gram, 1e-6)


def test_gram_close_fails_with_the_distance():
    G = np.diag([1.0, 1.0, 0.0])
    distance = gram_distance(G, "etf")
    message = _message(assert_gram_close, G, "etf", 1e-3, problem=BALANCED, what="W Wᵀ")
    assert "W Wᵀ is not close to etf" in message and f"{distance:.6g}" in message
    assert "tolerance: 0.001" in message
    _shows_reproducer(message, BALANCED)


def test_orthogonal_target():
    assert gram_distance(np.diag([4.0, 0.25, 0.0]), "orthogonal") == 0.0
    assert_gram_close(np.diag([4.0, 0.25, 0.0]), "orthogonal", 0.0)
    G = np.array([[1.0, 0.5], [0.5, 1.0]])
    assert gram_distance(G, "orthogonal") == pytest.approx(math.sqrt(0.5) / math.sqrt(2.5))
    assert "not close to orthogonal" in _message(assert_gram_close, G, "orthogonal", 0.1)


def test_array_targets_are_relative_or_normalised():
    T = etf_gram(4)
    assert gram_distance(1.01 * T, T) == pytest.approx(0.01)
    assert gram_distance(7.0 * T, T, normalise=True) == pytest.approx(0.0, abs=1e-15)
    assert "‖G − T‖_F/‖T‖_F = 6" in _message(assert_gram_close, 7.0 * T, T, 1e-6)


def test_gram_distance_rejects_bad_input():
    with pytest.raises(ValueError, match="allowed: etf, orthogonal, an array"):
        gram_distance(np.eye(2), "simplex")
    with pytest.raises(ValueError, match="square"):
        gram_distance(np.ones((2, 3)), "etf")
    with pytest.raises(ValueError, match="differs"):
        gram_distance(np.eye(2), np.eye(3))


# ----------------------------------------------------------------------------- collapse
def test_within_class_collapse(balanced):
    assert_within_class_collapse(balanced)
    H = balanced.H.copy()
    H[0] += 0.1
    message = _message(assert_within_class_collapse, H, BALANCED.labels, tol=1e-6)
    assert "not collapsed to their class means" in message and "max_i ‖h_i − h̄_y‖" in message
    assert "1e-06" in message
    assert_within_class_collapse((balanced.H, BALANCED.labels))
    with pytest.raises(AssertionError):
        assert_within_class_collapse(replace(balanced, H=H), tol=1e-6)


def test_minority_collapse_at_a_large_ratio_only():
    assert_minority_collapse(lpm.solve(COLLAPSED))
    sol = lpm.solve(SEPARATED)
    message = _message(assert_minority_collapse, sol)
    assert "minority classifiers have not collapsed" in message
    assert "minority classes [2, 3]" in message
    _shows_reproducer(message, SEPARATED)
    with pytest.raises(ValueError, match="two minority classes"):
        assert_minority_collapse(sol, minority=[1])


def test_equinorm_holds_per_sample_and_fails_class_average():
    """Yang et al. 2022 (per-sample budget: equinorm) against the class-average budget."""
    per_sample = Problem.from_counts(
        (4, 1, 1), dim=3, classifier="etf", energy=(1.0, 1.0), budget="per-sample"
    )
    assert_equinorm(lpm.solve(per_sample))
    assert_equinorm(lpm.solve(per_sample), which="classifier")
    class_average = replace(per_sample, budget="class-average")
    message = _message(assert_equinorm, lpm.solve(class_average))
    assert "the means are not equinorm" in message
    _shows_reproducer(message, class_average)


# ----------------------------------------------------------------------------- predictions
def test_matches_prediction(balanced):
    assert_matches_prediction(balanced)
    imbalanced = Problem.from_counts((4, 1, 1), dim=3, energy=(1.0, 1.0))
    wrong = theory.lpm_balanced(BALANCED)  # the balanced ETF, claimed for an imbalanced problem
    message = _message(assert_matches_prediction, lpm.solve(imbalanced), wrong)
    assert "predicted" in message and "Fang" in message
    _shows_reproducer(message, imbalanced)


# ----------------------------------------------------------------------------- command line
def test_command_line_writes_every_non_default_flag():
    p = Problem.from_counts(
        (3, 2, 1),
        dim=4,
        loss="mse",
        classifier="random",
        features="relu",
        bias="penalised",
        decay=(1e-3, 2e-3, 0.1),
        classifier_seed=7,
    )
    assert command_line(p) == (
        "lpm solve --counts 3,2,1 --dim 4 --loss mse --classifier random --features relu "
        "--bias penalised --decay 0.001,0.002,0.1 --classifier-seed 7"
    )
    q = Problem.from_counts((2, 1), dim=2, energy=(1 / 3, 2.0), budget="per-sample")
    assert command_line(q) == (
        "lpm solve --counts 2,1 --dim 2 --energy 0.3333333333333333,2.0 --budget per-sample"
    )
