"""Solvers: one entry point, :func:`solve`, and a registry of methods.

A method is a :class:`Method` (:mod:`lpm.solvers.method`): a name, a function
``run(problems, options) -> list[Solution]`` that solves same-structured problems together, and
``supports(problem) -> str | None``. :data:`METHODS` lists them all; every entry is run by the
contract tests of ``tests/test_solvers.py::test_method_contract``:

* ``auto`` (:mod:`lpm.solvers.auto`) — the policy: the cheapest method for the variant, the
  certificate, and further methods until the answer is certified or the time limit is reached;
* ``reduced`` (:mod:`lpm.solvers.reduced`) — L-BFGS on the K class means (the Jensen reduction),
  lifted to collapsed per-sample features;
* ``symmetric`` (:mod:`lpm.solvers.symmetric`) — the reduced problem restricted to points
  invariant under permutations of classes of equal counts (learnable classifier, free features,
  d ≥ K): O(G²) numbers for G distinct counts, lifted to K class means;
* ``gradient`` (:mod:`lpm.solvers.gradient`) — spectral projected gradient on per-sample features
  from a random start (within-class collapse is found, not assumed);
* ``convex`` (:mod:`lpm.solvers.convex`) — the cvxpy programs;
* ``theory`` (:mod:`lpm.solvers.closed_form`) — the closed forms of the papers;
* ``global`` (:mod:`lpm.solvers.global_search`) — for the nonconvex variants (ReLU, spheres,
  d < K − 1): a local solve, then closed-form, relaxation-guided, structured and random starts.

:func:`solve_batch` groups problems of one structure into one call of the method, and with
``certify`` attaches the certificate of :mod:`lpm.certify` to every answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from lpm.certify import attach
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers import auto, closed_form, convex, global_search, reduced, symmetric
from lpm.solvers.auto import AUTO_TIME_LIMIT, RELU_RESTARTS
from lpm.solvers.gradient import spg
from lpm.solvers.method import METHODS, Method, SolveOptions, best_start
from lpm.tolerances import DEFAULT_MAX_ITER, default_tol

__all__ = [
    "AUTO_TIME_LIMIT",
    "METHODS",
    "RELU_RESTARTS",
    "Method",
    "SolveOptions",
    "solve",
    "solve_batch",
]


def _gradient_supports(problem: Problem) -> str | None:
    if problem.regime == "unregularised" and problem.loss != "mse":
        return (
            "the unregularised model has its infimum at infinity (only directions converge); "
            "use --method convex (the max-margin program whose solution is SELI) or add "
            "--energy or --decay"
        )
    return None


def _gradient_run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    tol = options.tol if options.tol is not None else default_tol("gradient", options.dtype)
    max_iter = options.max_iter if options.max_iter is not None else DEFAULT_MAX_ITER[options.dtype]
    starts = options.restarts or 1
    batch = [p for p in problems for _ in range(starts)]
    seeds = [options.seed + j for _ in problems for j in range(starts)]
    deadline = None if options.time_limit is None else time.monotonic() + options.time_limit
    sols = spg(
        batch,
        seeds=seeds,
        device=options.device,
        dtype=options.dtype,
        tol=tol,
        max_iter=max_iter,
        callback=options.callback,
        deadline=deadline,
    )
    sols = [replace(s, info={**s.info, "formulation": "per-sample"}) for s in sols]
    if starts == 1:
        return sols
    return [best_start(sols[i * starts : (i + 1) * starts]) for i in range(len(problems))]


for _method in (
    auto.METHOD,
    reduced.METHOD,
    symmetric.METHOD,
    Method(
        "gradient",
        _gradient_run,
        _gradient_supports,
        "spectral projected gradient on per-sample features (torch, CPU or CUDA, batched)",
    ),
    convex.METHOD,
    closed_form.METHOD,
    global_search.METHOD,
):
    METHODS[_method.name] = _method


def _choose(problem: Problem, method: str) -> Method:
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not known; allowed: {', '.join(METHODS)}")
    reason = METHODS[method].supports(problem)
    if reason is not None:
        if method == "auto":
            raise ValueError(reason)
        raise ValueError(f"method {method!r} cannot solve this problem: {reason}")
    return METHODS[method]


def solve_batch(problems: Sequence[Problem], *, method: str = "auto", **options) -> list[Solution]:
    """Solve many problems; same-structured ones are solved together as one tensor program.

    Problems with the same K, d, loss, kind of classifier, scale regime, budget, kind of features
    and presence of a bias form one batch (their sample counts may differ); the results equal
    those of solving each problem alone with the same seed (up to the order of floating-point
    sums). Options as in :func:`solve`; a ``time_limit`` is shared by the whole call.

    Returns
    -------
    list of Solution, in the order of ``problems``.
    """
    opts = SolveOptions(**options)
    problems = list(problems)
    chosen = [_choose(p, method) for p in problems]
    deadline = None if opts.time_limit is None else time.monotonic() + opts.time_limit
    groups: dict[tuple, list[int]] = {}
    for i, (p, m) in enumerate(zip(problems, chosen)):
        groups.setdefault((m.name, *p.batch_key), []).append(i)
    out: list[Solution | None] = [None] * len(problems)
    for key, idx in groups.items():
        group_opts = opts
        if deadline is not None:
            group_opts = replace(opts, time_limit=max(deadline - time.monotonic(), 1e-3))
        if opts.init is not None and not isinstance(opts.init, Solution):
            group_opts = replace(group_opts, init=[opts.init_for(i, problems[i]) for i in idx])
        sols = METHODS[key[0]].run([problems[i] for i in idx], group_opts)
        if opts.certify and key[0] != "auto":  # auto certifies as it goes
            sols = [attach(s) for s in sols]
        for i, sol in zip(idx, sols):
            out[i] = sol
    return out


def solve(problem: Problem, *, method: str = "auto", **options) -> Solution:
    """Solve one problem.

    Parameters
    ----------
    problem : Problem
    method : str
        ``"auto"`` (the cheapest method for the variant, certified; :mod:`lpm.solvers.auto`) or a
        name of :data:`METHODS`.
    **options
        Fields of :class:`SolveOptions`: device, dtype, seed, tol, max_iter, restarts, certify,
        callback, time_limit, init.

    Returns
    -------
    Solution

    Examples
    --------
    >>> from lpm.problem import Problem
    >>> sol = solve(Problem.balanced(4, 5, dim=4, energy=(1.0, 1.0)))
    >>> sol.converged, round(sol.objective, 10)
    (True, 0.5826576531)
    """
    return solve_batch([problem], method=method, **options)[0]
