"""Solvers: one entry point, :func:`solve`, and a registry of methods.

A method is a :class:`Method`: a name, a function ``run(problems, options) -> list[Solution]``
that solves same-structured problems together, and ``supports(problem) -> str | None`` that
returns None when the method applies and otherwise the reason it does not. Every method listed in
:data:`METHODS` is run by the contract tests of ``tests/test_solvers.py::test_method_contract``.

``method="auto"`` solves by projected gradient and attaches the strongest certificate
:mod:`lpm.certify` has for the variant; problems that the gradient method cannot pose (the
unregularised model, whose infimum is at infinity) go to the convex programs. A gradient solve
that ends unconverged or uncertified on a small problem (K ≤ ``AUTO_CONVEX_MAX_K``) is solved
again by the convex program, and the certified answer of the two is returned, with the reason in
its message (the convex program works on class means, which the Jensen reduction of THEORY.md
§1.1 proves is exact; its per-sample features are the class means).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from lpm.problem import Problem
from lpm.solution import Solution
from lpm.tolerances import DEFAULT_MAX_ITER, default_tol

__all__ = ["METHODS", "Method", "SolveOptions", "solve", "solve_batch"]

#: Restarts that ``method="auto"`` uses for ReLU features, whose boundary stationary points can
#: trap a single start (THEORY.md §3).
RELU_RESTARTS = 4
#: Largest K for which ``method="auto"`` falls back on the convex program when the gradient
#: method does not converge or is not certified (Clarabel takes ~1 s at K = 20, ~30 s at K = 40).
AUTO_CONVEX_MAX_K = 24
#: Iteration budget of the gradient method under ``auto`` where the convex fallback exists
#: (well-posed problems converge in 10–1,000 steps; slower ones are answered faster by cvxpy).
AUTO_GRADIENT_MAX_ITER = 5000


@dataclass(frozen=True)
class SolveOptions:
    """Options shared by every method.

    Attributes
    ----------
    device : "cpu" or "cuda"
    dtype : "float64" or "float32"
    seed : int
        Seed of the first random start; start j uses seed + j.
    tol : float or None
        Residual tolerance (None: the table of :mod:`lpm.tolerances`).
    max_iter : int or None
    restarts : int
        Random starts solved together; the best converged one is kept.
    certify : bool
        Attach a certified lower bound where :mod:`lpm.certify` has one.
    callback : callable(iteration, residuals) or None
        Progress of long solves.
    """

    device: str = "cpu"
    dtype: str = "float64"
    seed: int = 0
    tol: float | None = None
    max_iter: int | None = None
    restarts: int = 1
    certify: bool = True
    callback: Callable | None = None


@dataclass(frozen=True)
class Method:
    """A registered solution method."""

    name: str
    run: Callable[[Sequence[Problem], SolveOptions], list[Solution]]
    supports: Callable[[Problem], str | None]
    description: str


def _gradient_supports(problem: Problem) -> str | None:
    if problem.regime == "unregularised" and problem.loss != "mse":
        return (
            "the unregularised model has its infimum at infinity (only directions converge); "
            "use --method convex (the max-margin program whose solution is SELI) or add "
            "--energy or --decay"
        )
    return None


def _gradient_run(problems: Sequence[Problem], options: SolveOptions) -> list[Solution]:
    from lpm.solvers.gradient import spg

    tol = options.tol if options.tol is not None else default_tol("gradient", options.dtype)
    max_iter = options.max_iter if options.max_iter is not None else DEFAULT_MAX_ITER[options.dtype]
    starts = max(1, options.restarts)
    batch = [p for p in problems for _ in range(starts)]
    seeds = [options.seed + j for _ in problems for j in range(starts)]
    sols = spg(
        batch,
        seeds=seeds,
        device=options.device,
        dtype=options.dtype,
        tol=tol,
        max_iter=max_iter,
        callback=options.callback,
    )
    out = []
    for i in range(len(problems)):
        group = sols[i * starts : (i + 1) * starts]
        out.append(_best(group) if starts > 1 else group[0])
    return out


def _best(group: list[Solution]) -> Solution:
    """The converged start of lowest objective (or, with none converged, of lowest residual)."""
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


#: The registry: every method by name. Modules listed in ``_METHOD_MODULES`` add theirs.
METHODS: dict[str, Method] = {
    "gradient": Method(
        "gradient",
        _gradient_run,
        _gradient_supports,
        "spectral projected gradient on per-sample features (torch, CPU or CUDA, batched)",
    ),
}

#: Modules of ``lpm.solvers`` that each define ``METHOD`` (a :class:`Method`) to register.
_METHOD_MODULES: tuple[str, ...] = ("convex", "closed_form")

for _name in _METHOD_MODULES:
    _method = importlib.import_module(f"lpm.solvers.{_name}").METHOD
    METHODS[_method.name] = _method


def _check_options(options: SolveOptions) -> None:
    if options.device not in ("cpu", "cuda") and not str(options.device).startswith("cuda:"):
        raise ValueError(f"device {options.device!r} is not known; allowed: cpu, cuda")
    if str(options.device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA device; allowed: cpu")
    if options.dtype not in ("float64", "float32"):
        raise ValueError(f"dtype {options.dtype!r} is not known; allowed: float64, float32")
    if options.tol is not None and not (0 < options.tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {options.tol!r}")
    if options.max_iter is not None and options.max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {options.max_iter!r}")
    if options.restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {options.restarts!r}")
    if options.seed < 0:
        raise ValueError(f"seed must be a nonnegative integer, got {options.seed!r}")


def _choose(problem: Problem, method: str) -> Method:
    if method == "auto":
        if _gradient_supports(problem) is None:
            return METHODS["gradient"]
        for name in ("convex", "theory"):
            m = METHODS.get(name)
            if m is not None and m.supports(problem) is None:
                return m
        raise ValueError(_gradient_supports(problem))
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not known; allowed: auto, {', '.join(METHODS)}")
    reason = METHODS[method].supports(problem)
    if reason is not None:
        raise ValueError(f"method {method!r} cannot solve this problem: {reason}")
    return METHODS[method]


def _structure_key(problem: Problem) -> tuple:
    return (
        problem.K,
        problem.dim,
        problem.loss,
        problem.classifier == "learnable",
        problem.regime,
        problem.budget if problem.regime == "energy" else None,
        problem.features,
        problem.bias != "none",
    )


def solve_batch(problems: Sequence[Problem], *, method: str = "auto", **options) -> list[Solution]:
    """Solve many problems; same-structured ones are solved together as one tensor program.

    Problems with the same K, d, loss, kind of classifier, scale regime, budget, kind of features
    and presence of a bias form one batch (their sample counts may differ); the results equal
    those of solving each problem alone with the same seed (up to the order of floating-point
    sums). Options as in :func:`solve`.

    Returns
    -------
    list of Solution, in the order of ``problems``.
    """
    opts = SolveOptions(**options)
    _check_options(opts)
    problems = list(problems)
    chosen = [_choose(p, method) for p in problems]
    auto = method == "auto"
    if auto and any(p.features == "relu" for p in problems) and "restarts" not in options:
        opts_relu = replace(opts, restarts=RELU_RESTARTS)
    else:
        opts_relu = opts
    groups: dict[tuple, list[int]] = {}
    for i, (p, m) in enumerate(zip(problems, chosen)):
        groups.setdefault((m.name, *_structure_key(p)), []).append(i)
    out: list[Solution | None] = [None] * len(problems)
    for key, idx in groups.items():
        m = METHODS[key[0]]
        group_opts = opts_relu if problems[idx[0]].features == "relu" else opts
        if (
            auto
            and m.name == "gradient"
            and opts.max_iter is None
            and _has_fallback(problems[idx[0]])
        ):
            group_opts = replace(group_opts, max_iter=AUTO_GRADIENT_MAX_ITER)
        for i, sol in zip(idx, m.run([problems[i] for i in idx], group_opts)):
            out[i] = sol
    if opts.certify:
        out = [_certify(s) for s in out]
    if auto:
        out = [_fallback(s, opts) for s in out]
    return out


def _has_fallback(problem: Problem) -> bool:
    """Whether ``auto`` can answer this problem by the convex program."""
    convex = METHODS.get("convex")
    return (
        convex is not None and problem.K <= AUTO_CONVEX_MAX_K and convex.supports(problem) is None
    )


def _fallback(solution: Solution, options: SolveOptions) -> Solution:
    """For ``auto``: answer an unconverged or uncertified gradient solve of a small problem by
    the convex program, when that one is certified."""
    p = solution.problem
    good = solution.certified or (solution.converged and solution.lower_bound is None)
    tight_relu = solution.certificate is not None and solution.certificate.kind == "dnn-dual"
    if not good and tight_relu and solution.method == "gradient":
        # Boundary stationary points trap some starts (THEORY.md §3): try more of them first
        # (only where the doubly-nonnegative certificate can tell the global optimum).
        starts = len(solution.restarts) or 1
        more = replace(options, restarts=4 * starts, seed=options.seed + starts)
        retry = METHODS["gradient"].run([p], more)[0]
        if options.certify:
            retry = _certify(retry)
        if retry.certified:
            return replace(retry, message=f"{retry.message} (after {starts} + {4 * starts} starts)")
    if good or solution.method != "gradient" or not _has_fallback(p):
        return solution
    other = METHODS["convex"].run([p], replace(options, restarts=1))[0]
    if options.certify:
        other = _certify(other)
    if not other.certified:
        return solution
    note = f"gradient: {solution.status}, {solution.message}; answered by the convex program"
    return replace(
        other,
        message=f"{other.message} ({note})",
        info={
            **other.info,
            "gradient_status": solution.status,
            "gradient_residual": solution.residual,
        },
    )


def _certify(solution: Solution) -> Solution:
    """Attach a certified lower bound when :mod:`lpm.certify` has one for the variant."""
    from lpm.certify import attach  # certify imports the objective, not the solvers

    return attach(solution)


def solve(problem: Problem, *, method: str = "auto", **options) -> Solution:
    """Solve one problem.

    Parameters
    ----------
    problem : Problem
    method : str
        ``"auto"`` (projected gradient plus a certificate where one exists) or a name of
        :data:`METHODS`.
    **options
        Fields of :class:`SolveOptions`: device, dtype, seed, tol, max_iter, restarts, certify,
        callback.

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
