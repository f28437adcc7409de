"""The fuzz harness: its independent checker on hand-made points, and a small fuzz batch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import fuzz
from lpm.classifiers import classifier_matrix
from lpm.objective import objective as package_objective
from lpm.problem import Problem


def _point(problem: Problem, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = classifier_matrix(problem)
    if W is None:
        W = rng.standard_normal((problem.K, problem.dim))
    H = rng.standard_normal((problem.N, problem.dim))
    return W, H, rng.standard_normal(problem.K) if problem.bias != "none" else np.zeros(problem.K)


def test_objective_by_hand():
    p = Problem.balanced(2, 1, dim=1, energy=(1.0, 1.0))
    W, H = np.array([[1.0], [-1.0]]), np.array([[1.0], [-1.0]])
    assert fuzz.objective(p, W, H, np.zeros(2)) == pytest.approx(math.log1p(math.exp(-2.0)))
    q = Problem.balanced(2, 1, dim=1, loss="mse", decay=(0.5, 0.25))
    # MSE: logits (1, −1) against e_0 and (−1, 1) against e_1: ½·1 per sample; penalties
    # ½·0.5·‖W‖² = 0.5 and ½·0.25·‖H‖² = 0.25.
    assert fuzz.objective(q, W, H, np.zeros(2)) == pytest.approx(0.5 + 0.5 + 0.25)


@pytest.mark.parametrize(
    "problem",
    [
        Problem.from_counts((3, 5, 2), dim=2, decay=(0.1, 0.2)),
        Problem.from_counts((3, 5, 2), dim=4, loss="mse", bias="penalised", decay=(0.1, 0.2, 0.3)),
        Problem.from_counts((3, 5), dim=3, loss="dr", classifier="etf", energy=(2.0, 3.0)),
        Problem.from_counts((4, 1, 2), dim=2, classifier="random", energy=(2.0, 0.5), bias="free"),
    ],
)
def test_objective_agrees_with_the_package_where_conventions_agree(problem):
    W, H, b = _point(problem)
    bias = b if problem.bias != "none" else None
    assert fuzz.objective(problem, W, H, b) == pytest.approx(
        package_objective(problem, W, H, bias), rel=1e-12
    )


def test_fixed_classifier_penalty_is_a_flag():
    p = Problem.from_counts((3, 5, 2), dim=3, classifier="etf", decay=(0.1, 0.2))
    W, H, b = _point(p)
    with_penalty = fuzz.objective(p, W, H, b, fixed_penalty=True)
    without = fuzz.objective(p, W, H, b, fixed_penalty=False)
    assert with_penalty - without == pytest.approx(0.5 * 0.1 * p.K)  # unit rows


def test_violation_finds_each_broken_constraint():
    p = Problem.from_counts((2, 3), dim=2, energy=(1.0, 1.0), features="relu")
    W = np.array([[0.6, 0.0], [0.0, 0.6]])
    H = np.full((5, 2), 0.5)
    assert fuzz.violation(p, W, H, np.zeros(2)) == 0.0
    assert fuzz.violation(p, 2 * W, H, np.zeros(2)) > 0.1  # classifier budget
    assert fuzz.violation(p, W, 2 * H, np.zeros(2)) > 0.1  # class-average feature budget
    assert fuzz.violation(p, W, H - 0.6, np.zeros(2)) > 0.05  # negative ReLU features
    assert fuzz.violation(p, W, H, np.ones(2)) > 0.1  # a bias where there is none
    q = Problem.from_counts((2, 3), dim=2, energy=(1.0, 1.0), budget="per-sample")
    H2 = H.copy()
    H2[4] = [1.0, 1.0]  # one sample over its budget, the class average still within
    assert fuzz.violation(q, W, H2, np.zeros(2)) > 0.5
    s = Problem.from_counts((2, 3), dim=2, energy=(1.0, 2.0), features="sphere")
    assert fuzz.violation(s, W, np.ones((5, 2)), np.zeros(2)) == 0.0
    assert fuzz.violation(s, W, H, np.zeros(2)) > 0.1
    e = Problem.from_counts((2, 3), dim=2, classifier="etf", decay=(0.1, 0.1))
    We = classifier_matrix(e)
    assert fuzz.violation(e, We, H, np.zeros(2)) < 1e-15
    assert fuzz.violation(e, 1.1 * We, H, np.zeros(2)) > 0.05


def test_judge_flags_false_certificates_and_invalid_bounds():
    p = Problem.balanced(2, 1, dim=1, energy=(1.0, 1.0))
    W, H = np.array([[1.0], [-1.0]]), np.array([[1.0], [-1.0]])
    f = math.log1p(math.exp(-2.0))  # the optimum (Fang et al.'s balanced theorem at K = 2)
    honest = {"W": W, "H": H, "b": np.zeros(2), "objective": f, "lower_bound": f - 1e-12,
              "certified": True, "status": "converged", "method": "x", "seconds": 0.1}  # fmt: skip
    optimum = [(W, H, np.zeros(2))]
    case = fuzz.judge(fuzz.Case(0, p.to_dict(), "float64"), p, honest, optimum, time_limit=30)
    assert case.flags == []
    worse = {**honest, "W": 0.5 * W, "objective": fuzz.objective(p, 0.5 * W, H, np.zeros(2))}
    worse["lower_bound"] = worse["objective"] - 1e-12
    case = fuzz.judge(fuzz.Case(1, p.to_dict(), "float64"), p, worse, optimum, time_limit=30)
    assert {"false_certificate", "invalid_bound"} <= set(case.flags)
    lying = {**honest, "objective": f + 0.1}
    case = fuzz.judge(fuzz.Case(2, p.to_dict(), "float64"), p, lying, [], time_limit=30)
    assert {"objective_mismatch", "false_certificate"} <= set(case.flags)
    slow = {**honest, "seconds": 31.0}
    case = fuzz.judge(fuzz.Case(3, p.to_dict(), "float64"), p, slow, optimum, time_limit=30)
    assert case.flags == ["over_time"]


def test_search_finds_a_known_optimum():
    p = Problem.balanced(3, 2, dim=3, energy=(1.0, 1.0))
    points = fuzz.search(p, starts=2, seed=0)
    values = [fuzz.objective(p, W, M[p.labels], b) for W, M, b in points]
    assert all(fuzz.violation(p, W, M[p.labels], b) <= 1e-9 for W, M, b in points)
    # Fang et al.'s balanced optimum at K = 3, E_W = E_H = 1: log(1 + 2 e^{−3/2}).
    assert min(values) == pytest.approx(math.log1p(2 * math.exp(-1.5)), abs=1e-6)


def test_random_problems_are_valid_and_varied():
    rng = np.random.default_rng(0)
    drawn = [fuzz.random_problem(rng)[0] for _ in range(60)]
    assert {p.features for p in drawn} == {"free", "relu", "sphere"}
    assert {p.regime for p in drawn} == {"energy", "decay"}
    assert all(2 <= p.K <= 8 for p in drawn)


@pytest.mark.slow
def test_small_fuzz_batch_finds_no_false_certificate():
    counts, cases = fuzz.run(10, seed=2024, time_limit=30.0, starts=2, max_samples=2000)
    assert counts["problems"] == 10
    for key in ("false_certificate", "invalid_bound", "crash_or_nan"):
        assert counts[key] == 0, fuzz.table(counts, cases)
