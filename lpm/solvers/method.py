"""What a solution method is: its options, its contract, the registry, and how answers compare.

A method is a :class:`Method`: a name, a function ``run(problems, options) -> list[Solution]``
that solves same-structured problems together, and ``supports(problem) -> str | None`` that
returns None when the method applies and otherwise the reason it does not. :data:`METHODS` lists
every method by name; :mod:`lpm.solvers` fills it, and the contract tests of
``tests/test_solvers.py::test_method_contract`` run every entry.

This module imports no method, so that methods which call other methods (``auto``) can import
the registry without a cycle: they look methods up in :data:`METHODS` when they run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from lpm.problem import Problem
from lpm.solution import Solution

__all__ = ["METHODS", "Method", "SolveOptions", "best_start", "rank"]


@dataclass(frozen=True)
class SolveOptions:
    """Options shared by every method, validated on construction.

    Attributes
    ----------
    device : "cpu", "cuda" or "cuda:N"
    dtype : "float64" or "float32"
    seed : int
        Seed of the first random start; start j uses seed + j.
    tol : float or None
        Residual tolerance (None: the table of :mod:`lpm.tolerances`).
    max_iter : int or None
    restarts : int or None
        Random starts solved together; the best converged one is kept (None: the method's
        default, 1; ``auto`` uses :data:`lpm.solvers.auto.RELU_RESTARTS` for ReLU features).
    certify : bool
        Attach a certified lower bound where :mod:`lpm.certify` has one.
    callback : callable(iteration, residuals) or None
        Progress of long solves.
    time_limit : float or None
        Wall-clock seconds for the whole call (a batch shares it). A method that runs out stops
        with status ``"time_limit"`` and its best point so far (certified where it can be).
        None: no limit, except that ``method="auto"`` applies
        :func:`lpm.solvers.auto.default_time_limit`.
    init : Solution, sequence of Solution, or None
        Warm start: the classifier, class means and bias of a solution of a problem with the same
        K and d (one for every problem, or one per problem). Methods that start from a point
        (``"reduced"``) use it; the others ignore it.
    """

    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    tol: float | None = None
    max_iter: int | None = None
    restarts: int | None = None
    certify: bool = True
    callback: Callable | None = None
    time_limit: float | None = None
    init: Solution | Sequence[Solution] | None = None

    def __post_init__(self) -> None:
        device = str(self.device)
        if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
            raise ValueError(f"device {self.device!r} is not known; allowed: cpu, cuda")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; allowed: cpu")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype {self.dtype!r} is not known; allowed: float64, float32")
        if self.tol is not None and not (0 < self.tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {self.tol!r}")
        if self.max_iter is not None and self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.restarts is not None and self.restarts < 1:
            raise ValueError(f"restarts must be a positive integer, got {self.restarts!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be a nonnegative integer, got {self.seed!r}")
        limit = self.time_limit
        if limit is not None and (
            isinstance(limit, bool)
            or not isinstance(limit, (int, float))
            or not math.isfinite(limit)
            or limit <= 0
        ):
            raise ValueError(f"time_limit must be a positive number of seconds, got {limit!r}")
        init = self.init
        if init is not None and not isinstance(init, Solution):
            if not all(isinstance(s, Solution) for s in init):
                raise ValueError("init must be a Solution or a sequence of Solutions")

    def init_for(self, index: int, problem: Problem) -> Solution | None:
        """The warm start of the ``index``-th problem, or None when it has none that fits."""
        init = self.init
        if init is not None and not isinstance(init, Solution):
            init = list(init)[index] if len(init) > index else None
        if init is None or (init.problem.K, init.problem.dim) != (problem.K, problem.dim):
            return None
        return init


@dataclass(frozen=True)
class Method:
    """A registered solution method."""

    name: str
    run: Callable[[Sequence[Problem], SolveOptions], list[Solution]]
    supports: Callable[[Problem], str | None]
    description: str


#: The registry: every method by name (filled by :mod:`lpm.solvers`).
METHODS: dict[str, Method] = {}


def rank(solution: Solution) -> tuple:
    """Sort key of candidate answers to one problem, best first: certified, then converged, then
    (among converged) the lower objective, else the lower residual."""
    if solution.certified:
        return (0, solution.objective)
    if solution.converged:
        return (1, solution.objective)
    residual = solution.residual if math.isfinite(solution.residual) else math.inf
    return (2, residual)


def best_start(group: Sequence[Solution]) -> Solution:
    """The best of several starts of one problem (:func:`rank` without certificates: the
    converged start of lowest objective, or with none converged the one of lowest residual),
    with every start's objective in ``restarts`` and status in ``info["restart_status"]``."""
    converged = [s for s in group if s.converged]
    best = (
        min(converged, key=lambda s: s.objective)
        if converged
        else min(group, key=lambda s: s.residual)
    )
    return replace(
        best,
        restarts=tuple(s.objective for s in group),
        info={**best.info, "restart_status": [s.status for s in group]},
    )
