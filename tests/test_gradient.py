"""The projected-gradient solver's own options: a wall-clock deadline and a given start."""

import time

import numpy as np
import pytest

from lpm.problem import Problem
from lpm.solvers.gradient import spg

PROBLEM = Problem.from_counts((4, 2, 1), dim=3, energy=(1.0, 1.0))


def test_a_passed_deadline_stops_every_problem_with_time_limit():
    sols = spg([PROBLEM, PROBLEM], seeds=[0, 1], deadline=time.monotonic() - 1.0)
    assert [s.status for s in sols] == ["time_limit", "time_limit"]
    assert all(not s.converged and s.iterations == 0 for s in sols)


def test_a_start_at_the_optimum_converges_at_once_to_the_same_point():
    first = spg([PROBLEM], seeds=[3])[0]
    assert first.converged
    again = spg([PROBLEM], init=[(first.W, first.H, None)])[0]
    assert again.converged and again.iterations <= 1
    assert abs(again.objective - first.objective) <= 1e-12
    np.testing.assert_allclose(again.W @ again.W.T, first.W @ first.W.T, atol=1e-8)


def test_an_infeasible_start_is_projected_first():
    rng = np.random.default_rng(0)
    start = (10 * rng.standard_normal((3, 3)), 10 * rng.standard_normal((7, 3)), None)
    sol = spg([PROBLEM], init=[start])[0]
    assert sol.converged
    assert abs(sol.objective - spg([PROBLEM])[0].objective) <= 1e-10


def test_a_start_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="H must have shape"):
        spg([PROBLEM], init=[(np.zeros((3, 3)), np.zeros((6, 3)), None)])
    with pytest.raises(ValueError, match="one start per problem"):
        spg([PROBLEM, PROBLEM], init=[(None, np.zeros((7, 3)), None)])
