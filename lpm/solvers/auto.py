"""``method="auto"``: the policy that picks methods by expected cost, then certifies the answer.

The first method, by the variant (every problem of a batch has the same structure):

* a learnable classifier with free features, d ≥ K, and repeated class counts (at most K/2
  distinct counts, K ≥ :data:`SYMMETRIC_MIN_K`; any repetition from K =
  :data:`SYMMETRIC_LARGE_K`) — ``"symmetric"`` first: classes of equal counts are solved as one
  group (:mod:`lpm.solvers.symmetric`; O(G²) numbers for G distinct counts instead of K·d). Its
  answer is kept when certified; otherwise the problem goes on as below;
* free, ReLU or spherical features under budgets or weight decay — ``"reduced"``, L-BFGS on the
  K class means (the Jensen reduction, or for spheres the separability of the features, makes
  it exact; its cost does not grow with N);
* the unregularised model — ``"convex"`` (the UF-SVM, whose solution is the limit direction), or
  the closed form where only it applies; with the squared loss, whose minimum is attained at
  finite points, ``"gradient"``.

Then the certificate (:func:`lpm.certify.attach`). A solution that is not yet *good* (certified,
or converged where no certificate exists) is improved, while the time limit allows, in order of
cost: ReLU features with the doubly-nonnegative certificate get 4× more random starts (boundary
stationary points trap some starts, docs/theory.md §3); a small problem (K ≤
:data:`AUTO_CONVEX_MAX_K`) is solved by the convex program (about a second); an unconverged
reduced solve again on per-sample features by ``"gradient"``; an uncertified nonconvex one by
the global strategies
(:func:`global_search`). A converged answer of a later method replaces the current one when it
ranks better (:func:`lpm.solvers.method.rank`: certified, then converged, then the lower
objective), so ``auto`` never returns an answer worse than that of the method it ran first; its
message says which methods were tried.

The whole call has a wall-clock budget: ``time_limit``, or :func:`default_time_limit` (20 s for
a small problem, more for large K·d and for batches).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from lpm.certify import attach
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.solvers.global_search import improve, needs_global_search
from lpm.solvers.method import METHODS, Method, SolveOptions, rank

__all__ = [
    "AUTO_CONVEX_MAX_K",
    "AUTO_TIME_LIMIT",
    "METHOD",
    "RELU_RESTARTS",
    "SYMMETRIC_LARGE_K",
    "SYMMETRIC_MIN_K",
    "SYMMETRIC_MIN_K_IN_BATCH",
    "default_time_limit",
    "first_method",
    "global_search",
    "uses_symmetric",
]

#: Random starts ``auto`` uses for ReLU features, whose boundary stationary points can trap a
#: single start (docs/theory.md §3); the reduced solver runs them as one batch.
RELU_RESTARTS = 4
#: Largest K at which ``auto`` tries the convex program on an uncertified answer (Clarabel takes
#: ~1 s at K = 20, ~30 s at K = 40).
AUTO_CONVEX_MAX_K = 24
#: Default wall-clock budget of one ``auto`` call on a small problem, in seconds: a safety net,
#: not a pace (small problems are certified in well under a second). Larger batches get more:
#: see :func:`default_time_limit`. A solve that runs out stops with status ``"time_limit"``, its
#: best point and its certified bound.
AUTO_TIME_LIMIT = 20.0
#: Seconds of budget added per 5,000 reduced variables K·d (the long tail K = d = 1000 is
#: certified in about 3 minutes on two cores: it gets 220 s).
AUTO_SECONDS_PER_VARIABLE = 1.0 / 5000
#: Seconds of budget added per further problem of a batch.
AUTO_SECONDS_PER_PROBLEM = 0.1
#: Smallest K at which ``auto`` tries the symmetric solver first (measured on 2 cores: at K = 20
#: with 2 groups it ties with the reduced solver, 0.06 s each; at K = 100–200 it is 6–15×
#: faster).
SYMMETRIC_MIN_K = 20
#: From this K the symmetric solver is tried whenever some counts repeat: its step costs O(G³)
#: against the reduced solver's O(K²d) (measured: a long tail K = d = 1000, n_max = 1000, ρ = 100,
#: 539 groups, certified in 82 s against 282 s).
SYMMETRIC_LARGE_K = 300
#: In a batch, the reduced solver runs all problems as one tensor program; below this K that
#: is cheaper than the symmetric solver problem by problem.
SYMMETRIC_MIN_K_IN_BATCH = 50


def default_time_limit(problems: Sequence[Problem]) -> float:
    """The wall-clock budget of an ``auto`` call without ``time_limit``: :data:`AUTO_TIME_LIMIT`,
    plus :data:`AUTO_SECONDS_PER_VARIABLE` per variable K·d of the reduced problem and
    :data:`AUTO_SECONDS_PER_PROBLEM` per problem after the first."""
    first = problems[0]
    return (
        AUTO_TIME_LIMIT
        + AUTO_SECONDS_PER_VARIABLE * first.K * first.dim
        + AUTO_SECONDS_PER_PROBLEM * (len(problems) - 1)
    )


def first_method(problem: Problem) -> str:
    """The name of the method ``auto`` runs first on ``problem`` (see the module docstring)."""
    if problem.regime == "unregularised":
        if problem.loss == "mse":  # attains its minimum at finite points: the gradient finds one
            return "gradient"
        for name in ("convex", "theory"):
            if METHODS[name].supports(problem) is None:
                return name
        raise ValueError(METHODS["gradient"].supports(problem))
    return "reduced"


def _good(solution: Solution) -> bool:
    return solution.certified or (solution.converged and solution.lower_bound is None)


def _certificate_kind(solution: Solution) -> str | None:
    """The kind of the certificate attached to a solution (its only reader here)."""
    return None if solution.certificate is None else solution.certificate.kind


def global_search(
    problem: Problem, solution: Solution, options: SolveOptions, deadline: float
) -> Solution:
    """Global strategies for an uncertified nonconvex solution (ReLU, spheres, d < K − 1):
    :func:`lpm.solvers.global_search.improve` until the deadline; other variants unchanged."""
    if not needs_global_search(problem):
        return solution
    return improve(problem, solution, options, deadline)


def _certified(solutions: list[Solution], options: SolveOptions) -> list[Solution]:
    return [attach(s) for s in solutions] if options.certify else solutions


def _remaining(deadline: float) -> float:
    return deadline - time.monotonic()


def _rescues(solution: Solution, options: SolveOptions):
    """The next methods to try on a solution that is not good, cheapest first: (label, name,
    options) triples. An iteration cap given by the user applies to every method tried."""
    p = solution.problem
    if p.features == "relu" and _certificate_kind(solution) == "dnn-dual":
        starts = len(solution.restarts) or 1
        more = replace(options, restarts=4 * starts, seed=options.seed + starts, init=None)
        yield f"{4 * starts} more starts", solution.method, more
    if p.K <= AUTO_CONVEX_MAX_K and METHODS["convex"].supports(p) is None:
        yield "convex program", "convex", replace(options, restarts=1)
    if solution.method == "reduced" and not solution.converged:
        yield "per-sample gradient", "gradient", replace(options, restarts=1)


def _improve(solution: Solution, options: SolveOptions, deadline: float) -> Solution:
    """Try the rescues while the answer is not good and time remains; keep the best."""
    best, tried = solution, []
    for label, name, opts in _rescues(solution, options):
        if _good(best) or _remaining(deadline) <= 0:
            break
        opts = replace(opts, time_limit=max(_remaining(deadline), 1e-3))
        other = _certified(METHODS[name].run([solution.problem], opts), options)[0]
        tried.append(f"{label}: {other.status}{', certified' if other.certified else ''}")
        if other.converged and rank(other) < rank(best):  # an unconverged rescue is no answer
            best = other
    if not _good(best) and _remaining(deadline) > 0:
        best = global_search(best.problem, best, options, deadline)
    if not tried:
        return best
    note = f"auto from {solution.method} ({solution.status}); tried " + "; ".join(tried)
    return replace(
        best,
        message=f"{best.message} ({note})",
        info={**best.info, "auto_first": solution.method, "auto_tried": tried},
    )


def uses_symmetric(problem: Problem, batch_size: int = 1) -> bool:
    """Whether ``auto`` tries the class-permutation-symmetric solver first (module docstring):
    it applies, repeated counts leave at most half as many groups as classes (or, from
    K = :data:`SYMMETRIC_LARGE_K`, fewer groups than classes), and the problem is solved alone or
    is large enough (K ≥ :data:`SYMMETRIC_MIN_K_IN_BATCH`) that the batched reduced solver would
    not be cheaper per problem."""
    if METHODS["symmetric"].supports(problem) is not None or problem.K < SYMMETRIC_MIN_K:
        return False
    if batch_size > 1 and problem.K < SYMMETRIC_MIN_K_IN_BATCH:
        return False
    groups = len(set(problem.counts))
    return 2 * groups <= problem.K or (problem.K >= SYMMETRIC_LARGE_K and groups < problem.K)


def _symmetric_first(
    problems: Sequence[Problem], options: SolveOptions, deadline: float
) -> list[Solution | None]:
    """The certified answers of the symmetric solver where :func:`uses_symmetric` (None
    elsewhere, and where it does not certify)."""
    out: list[Solution | None] = []
    for p in problems:
        sol = None
        if uses_symmetric(p, len(problems)) and options.certify and _remaining(deadline) > 0:
            opts = replace(options, restarts=1, time_limit=max(_remaining(deadline), 1e-3))
            sol = _certified(METHODS["symmetric"].run([p], opts), options)[0]
            if not sol.certified:
                sol = None
        out.append(sol)
    return out


def _run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    limit = options.time_limit if options.time_limit is not None else default_time_limit(problems)
    deadline = time.monotonic() + limit
    first = problems[0]
    restarts = options.restarts
    if restarts is None:
        restarts = RELU_RESTARTS if first.features == "relu" else 1
    opts = replace(options, restarts=restarts, time_limit=limit)
    answers = _symmetric_first(problems, opts, deadline)
    rest = [p for p, a in zip(problems, answers) if a is None]
    if rest:
        opts = replace(opts, time_limit=max(_remaining(deadline), 1e-3))
        solved = iter(_certified(METHODS[first_method(first)].run(rest, opts), options))
        answers = [next(solved) if a is None else a for a in answers]
    return [a if a.method == "symmetric" else _improve(a, opts, deadline) for a in answers]


def _supports(problem: Problem) -> str | None:
    try:
        first_method(problem)
    except ValueError as err:
        return str(err)
    return METHODS[first_method(problem)].supports(problem)


METHOD = Method(
    name="auto",
    run=_run,
    supports=_supports,
    description=(
        "the fastest method for the variant (reduced quasi-Newton, per-sample gradient for "
        "spheres, convex for the unregularised model), certified, improved until certified "
        "while time allows"
    ),
)
