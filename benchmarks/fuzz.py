"""Fuzz ``lpm.solve``: random problems over every variant, each answer checked independently.

``python -m benchmarks.fuzz --n 400 --seed S [--time-limit 30] [--json PATH]``

Each random problem (K = 2–8, counts 1–200 with ratios up to 1000, energies 0.05–1e4, decays
1e-8–1, free, ReLU and spherical features, learnable, ETF and random classifiers, CE, MSE and DR,
biases, both budgets, float32 too) is solved by ``lpm.solve(p)`` (``method="auto"``) in a child
process under a wall-clock limit, and the answer is judged by code that shares nothing with
``lpm.objective`` or ``lpm.constraints``:

* :func:`objective` — the model's objective written from its definition in plain NumPy: the loss
  averaged over N, plus (λ_W/2)‖W‖² + (λ_H/2)‖H‖² (+ (λ_b/2)‖b‖²) under weight decay;
* :func:`violation` — the largest relative violation of the model's constraints: the budgets
  (1/K)Σ‖w_k‖² ≤ E_W and (1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H (class-average) or ‖h_i‖² ≤ E_H
  (per-sample), ReLU features ≥ 0, spherical features of norm² E_H (1 under decay), a fixed
  classifier equal to the problem's, of row norm sqrt(E_W) (1 under decay), no bias where none;
* :func:`search` — a few random starts of an independent local method (SciPy L-BFGS-B on a
  parametrisation whose every point is feasible, on the class means; its values from its own
  torch implementation of the collapsed objective), whose best points are judged by the two
  checks above and compared with the certified lower bound and the reported objective.

Counted (:data:`COUNTS`): false certificates (certified, but the checks disagree with the reported
objective or feasibility, or a feasible point lies below the objective), invalid bounds (a
feasible point below ``lower_bound``), solves over the time limit, crashes and NaN, and
suboptimal uncertified answers (the search found a clearly better point). A fixed classifier
under weight decay has a constant (λ_W/2)‖W‖² that the package has left out of its objective:
``--fixed-penalty`` (include, the stated formula, default) or ``--no-fixed-penalty`` picks the
checker's convention, and a disagreement that the other convention explains is counted as
``convention``, not as an error.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

import lpm
from lpm.classifiers import classifier_matrix

__all__ = [
    "COUNTS",
    "Case",
    "judge",
    "main",
    "objective",
    "random_problem",
    "run",
    "search",
    "violation",
]

#: What the table counts, in its order.
COUNTS = (
    "problems",
    "certified",
    "false_certificate",
    "invalid_bound",
    "over_time",
    "crash_or_nan",
    "refused",
    "suboptimal_uncertified",
    "objective_mismatch",
    "infeasible",
    "convention",
)
#: Relative agreement demanded between the reported objective and the independent one.
OBJECTIVE_RTOL = 1e-8
#: Relative constraint violation beyond which a returned point is infeasible (float64; a convex
#: solver's point is feasible to ~1e-9, a float32 one is rounded in float64 by the package).
FEASIBILITY_TOL = 1e-6
#: A solve still running at this multiple of the time limit is killed (and counted over time).
HARD_LIMIT = 1.5
#: A searched point below a value by more than this (relative to max(1, |value|)) beats it.
BEAT_RTOL = 1e-6


# ------------------------------------------------------------------------- random problems
def random_problem(rng: np.random.Generator, max_samples: int = 20_000) -> tuple[lpm.Problem, str]:
    """A random valid problem of the fuzz distribution and a dtype (float32 one time in ten)."""
    while True:
        try:
            return _draw(rng, max_samples), ("float32" if rng.random() < 0.1 else "float64")
        except ValueError:
            continue  # an invalid combination (e.g. DR with a learnable classifier): draw again


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _draw(rng: np.random.Generator, max_samples: int) -> lpm.Problem:
    K = int(rng.integers(2, 9))
    n_min = int(rng.integers(1, 201))
    ratio = _log_uniform(rng, 1.0, 1000.0) if rng.random() < 0.7 else 1.0
    cap = max(n_min, max_samples // K)
    if rng.random() < 0.5:  # step profile
        n_maj = min(cap, max(n_min, round(n_min * ratio)))
        split = int(rng.integers(1, K))
        counts = (n_maj,) * split + (n_min,) * (K - split)
    else:
        counts = tuple(
            min(cap, max(1, round(n_min * _log_uniform(rng, 1.0, ratio)))) for _ in range(K)
        )
    kwargs: dict[str, Any] = {
        "dim": int(rng.integers(1, K + 3)),
        "loss": str(rng.choice(["ce", "mse", "dr"], p=[0.5, 0.35, 0.15])),
        "classifier": str(rng.choice(["learnable", "etf", "random"], p=[0.6, 0.2, 0.2])),
        "features": str(rng.choice(["free", "relu", "sphere"], p=[0.4, 0.35, 0.25])),
        "classifier_seed": int(rng.integers(0, 100)),
    }
    if rng.random() < 0.55:
        kwargs["energy"] = (_log_uniform(rng, 0.05, 1e4), _log_uniform(rng, 0.05, 1e4))
        kwargs["budget"] = str(rng.choice(["class-average", "per-sample"]))
        kwargs["bias"] = str(rng.choice(["none", "free"], p=[0.8, 0.2]))
    else:
        decay = [_log_uniform(rng, 1e-8, 1.0), _log_uniform(rng, 1e-8, 1.0), 0.0]
        kwargs["bias"] = str(rng.choice(["none", "free", "penalised"], p=[0.7, 0.15, 0.15]))
        if kwargs["bias"] == "penalised":
            decay[2] = _log_uniform(rng, 1e-8, 1.0)
        kwargs["decay"] = tuple(decay)
    return lpm.Problem.from_counts(counts, **kwargs)


# ------------------------------------------------------------------------- the checker
def _labels(problem: lpm.Problem) -> NDArray[np.int64]:
    return np.repeat(np.arange(len(problem.counts)), problem.counts)


def objective(
    problem: lpm.Problem,
    W: NDArray[np.float64],
    H: NDArray[np.float64],
    b: NDArray[np.float64],
    *,
    fixed_penalty: bool = True,
) -> float:
    """The objective from the model's definition, in plain NumPy.

    (1/N) Σ_i ℓ(W h_i + b, y_i) + (λ_W/2)‖W‖² + (λ_H/2)‖H‖² + (λ_b/2)‖b‖² (decays only under
    weight decay; λ_b only with a penalised bias; (λ_W/2)‖W‖² of a fixed classifier only when
    ``fixed_penalty``), with ℓ the cross-entropy, ½‖z − e_y‖², or ½(z_y − sqrt(E_W E_H))².
    """
    y = _labels(problem)
    W, H, b = (np.asarray(a, dtype=np.float64) for a in (W, H, b))
    Z = H @ W.T + (b if problem.has_bias else 0.0)
    rows = np.arange(len(y))
    if problem.loss == "ce":
        top = Z.max(axis=1)
        losses = top + np.log(np.exp(Z - top[:, None]).sum(axis=1)) - Z[rows, y]
    elif problem.loss == "mse":
        target = np.zeros_like(Z)
        target[rows, y] = 1.0
        losses = 0.5 * ((Z - target) ** 2).sum(axis=1)
    else:
        E_W, E_H = problem.energy
        losses = 0.5 * (Z[rows, y] - math.sqrt(E_W * E_H)) ** 2
    value = float(losses.mean())
    if problem.decay is not None:
        lam_W, lam_H, lam_b = problem.decay
        if problem.classifier == "learnable" or fixed_penalty:
            value += 0.5 * lam_W * float((W * W).sum())
        value += 0.5 * lam_H * float((H * H).sum())
        if problem.bias == "penalised":
            value += 0.5 * lam_b * float((b * b).sum())
    return value


def violation(
    problem: lpm.Problem, W: NDArray[np.float64], H: NDArray[np.float64], b: NDArray[np.float64]
) -> float:
    """The largest relative violation of the model's constraints at (W, H, b); 0 if feasible."""
    K, y = len(problem.counts), _labels(problem)
    W, H, b = (np.asarray(a, dtype=np.float64) for a in (W, H, b))
    if W.shape != (K, problem.dim) or H.shape != (len(y), problem.dim) or b.shape != (K,):
        return math.inf
    if not (np.isfinite(W).all() and np.isfinite(H).all() and np.isfinite(b).all()):
        return math.inf
    worst = 0.0 if problem.has_bias else float(np.abs(b).max())
    sq = (H * H).sum(axis=1)
    if problem.features == "relu":
        worst = max(worst, float(-H.min()) / max(1.0, float(np.abs(H).max())))
    if problem.features == "sphere":
        r2 = problem.energy[1] if problem.energy is not None else 1.0
        worst = max(worst, float(np.abs(sq - r2).max()) / r2)
    if problem.classifier != "learnable":
        norm = math.sqrt(problem.energy[0]) if problem.energy is not None else 1.0
        worst = max(worst, float(np.abs(np.linalg.norm(W, axis=1) - norm).max()) / norm)
        worst = max(worst, float(np.abs(W - classifier_matrix(problem)).max()) / norm)
    if problem.energy is not None:
        E_W, E_H = problem.energy
        if problem.classifier == "learnable":
            worst = max(worst, (float((W * W).sum()) / K - E_W) / E_W)
        if problem.features != "sphere" and problem.budget == "per-sample":
            worst = max(worst, (float(sq.max()) - E_H) / E_H)
        elif problem.features != "sphere":
            counts = np.asarray(problem.counts, dtype=np.float64)
            worst = max(worst, (float((sq / counts[y]).sum()) / K - E_H) / E_H)
    return max(0.0, worst)


# ------------------------------------------------------------------------- the search
def _parametrise(problem: lpm.Problem, theta, interior: bool):
    """(W, M, b) as torch tensors from free parameters, feasible for every value of theta.

    A ball of radius R is reached as R·v/‖v‖ (its sphere: where a budget is active) or, with
    ``interior``, R·v/sqrt(‖v‖² + 1) (its interior); ReLU means are squares; spheres are
    normalised rows."""
    import torch

    K, d = len(problem.counts), problem.dim
    V, U, b = (
        theta[: K * d].reshape(K, d),
        theta[K * d : 2 * K * d].reshape(K, d),
        theta[2 * K * d :],
    )

    def ball(x, radius, rows):
        norm2 = (x * x).sum(dim=1 if rows else None, keepdim=rows)
        return radius * x / torch.sqrt(norm2 + (1.0 if interior else 1e-300))

    W = torch.as_tensor(classifier_matrix(problem)) if problem.classifier != "learnable" else V
    if problem.classifier == "learnable" and problem.energy is not None:
        W = ball(V, math.sqrt(K * problem.energy[0]), rows=False)
    M = U * U if problem.features == "relu" else U
    if problem.features == "sphere":
        r = math.sqrt(problem.energy[1]) if problem.energy is not None else 1.0
        M = r * M / torch.sqrt((M * M).sum(dim=1, keepdim=True) + 1e-300)
    elif problem.energy is not None and problem.budget == "per-sample":
        M = ball(M, math.sqrt(problem.energy[1]), rows=True)
    elif problem.energy is not None:
        M = ball(M, math.sqrt(K * problem.energy[1]), rows=False)
    return W, M, (b if problem.has_bias else torch.zeros(K, dtype=theta.dtype))


def _collapsed_value(problem: lpm.Problem, W, M, b):
    """The objective at the collapsed point H = M[labels], in torch (the search's own copy)."""
    import torch

    K = len(problem.counts)
    counts = torch.as_tensor(problem.counts, dtype=torch.float64)
    Z = M @ W.T + b
    if problem.loss == "ce":
        losses = torch.logsumexp(Z, dim=1) - torch.diagonal(Z)
    elif problem.loss == "mse":
        losses = 0.5 * ((Z - torch.eye(K, dtype=Z.dtype)) ** 2).sum(dim=1)
    else:
        losses = 0.5 * (torch.diagonal(Z) - math.sqrt(problem.energy[0] * problem.energy[1])) ** 2
    value = (counts * losses).sum() / counts.sum()
    if problem.decay is not None:
        lam_W, lam_H, lam_b = problem.decay
        value = value + 0.5 * lam_W * (W * W).sum() + 0.5 * lam_H * (counts @ (M * M).sum(dim=1))
        value = value + 0.5 * lam_b * (b * b).sum()
    return value


def search(
    problem: lpm.Problem, starts: int = 3, seed: int = 0, max_iter: int = 1000
) -> list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:
    """Random starts of SciPy's L-BFGS-B on the parametrised class means (:func:`_parametrise`);
    returns each start's final point (W, M, b) as float64 arrays (feasible by construction)."""
    import torch
    from scipy.optimize import minimize

    K, d = len(problem.counts), problem.dim
    rng = np.random.default_rng(seed)
    out = []
    for j in range(starts):
        interior = j % 2 == 1

        def fg(x, interior=interior):
            theta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            value = _collapsed_value(problem, *_parametrise(problem, theta, interior))
            (grad,) = torch.autograd.grad(value, theta)
            return float(value.detach()), grad.numpy()

        x0 = rng.standard_normal(2 * K * d + K) * _log_uniform(rng, 0.1, 10.0)
        result = minimize(fg, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
        with torch.no_grad():
            theta = torch.as_tensor(result.x, dtype=torch.float64)
            W, M, b = _parametrise(problem, theta, interior)
        out.append((W.numpy().copy(), M.numpy().copy(), b.numpy().copy()))
    return out


# ------------------------------------------------------------------------- one case
def _solve_options(time_limit: float, dtype: str) -> dict[str, Any]:
    """Options for lpm.solve: the dtype, and the time limit where SolveOptions has one."""
    from lpm.solvers import SolveOptions

    options: dict[str, Any] = {"dtype": dtype}
    if "time_limit" in {f.name for f in fields(SolveOptions)}:
        options["time_limit"] = time_limit
    return options


def _child(conn, problem, dtype, time_limit, starts, seed, with_global):
    """Solve, send the answer, then search and send the points (a hang loses neither)."""
    import torch

    from lpm.solvers import SolveOptions
    from lpm.solvers.global_search import improve, needs_global_search

    torch.set_num_threads(1)
    start = time.perf_counter()
    answer: dict[str, Any] = {}
    try:
        sol = lpm.solve(problem, **_solve_options(time_limit, dtype))
        if with_global and not sol.certified and needs_global_search(problem):
            # What auto does once the global search is wired in: the rest of the time limit.
            deadline = time.monotonic() + time_limit - (time.perf_counter() - start)
            sol = improve(problem, sol, SolveOptions(seed=seed), deadline)
        answer = {
            "W": sol.W, "H": sol.H, "b": sol.b, "objective": sol.objective,
            "lower_bound": sol.lower_bound, "certified": sol.certified, "status": sol.status,
            "method": sol.method, "residual": sol.residual, "message": sol.message,
        }  # fmt: skip
    except ValueError as err:
        answer = {"refused": str(err)}
    except Exception as err:  # a crash is what the harness counts
        answer = {"crash": f"{type(err).__name__}: {err}".splitlines()[0]}
    answer["seconds"] = time.perf_counter() - start
    conn.send(answer)
    conn.send({"points": search(problem, starts, seed)})


@dataclass
class Case:
    """One fuzzed problem, its answer and the verdict."""

    index: int
    problem: dict[str, Any]
    dtype: str
    seconds: float = math.nan
    status: str = ""
    method: str = ""
    certified: bool = False
    objective: float = math.nan
    lower_bound: float | None = None
    independent: float = math.nan
    violation: float = math.nan
    best_found: float = math.nan
    flags: list[str] = field(default_factory=list)
    note: str = ""

    def reproducer(self) -> str:
        return f"lpm.solve(lpm.Problem.from_dict({self.problem!r}), dtype={self.dtype!r})"


def _exchange(
    problem, dtype, time_limit, starts, seed, with_global
) -> tuple[dict | None, list, bool]:
    """Run :func:`_child` in a forked process: (answer or None, points, killed)."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    proc = context.Process(
        target=_child, args=(child, problem, dtype, time_limit, starts, seed, with_global)
    )
    proc.start()
    answer, points, killed = None, [], False
    try:
        if parent.poll(HARD_LIMIT * time_limit):
            answer = parent.recv()
            if parent.poll(60 + 10 * starts):
                points = parent.recv()["points"]
    except EOFError:
        answer = answer or {"crash": f"child process died (exit code {proc.exitcode})"}
    finally:
        if proc.is_alive():
            killed = answer is None
            proc.kill()
        proc.join()
    if answer is None and not killed:
        answer = {"crash": f"child process died (exit code {proc.exitcode})"}
    return answer, points, killed


def _beats(value: float, reference: float) -> bool:
    return value < reference - BEAT_RTOL * max(1.0, abs(reference))


def judge(
    case: Case,
    problem: lpm.Problem,
    answer: dict[str, Any],
    points: list,
    *,
    time_limit: float,
    fixed_penalty: bool = True,
) -> Case:
    """Fill in a case's verdict (``flags`` from :data:`COUNTS`) from the solve's answer and the
    searched points."""
    case.seconds = answer.get("seconds", math.nan)
    if answer.get("killed") or case.seconds > time_limit:
        case.flags.append("over_time")
    if "crash" in answer or "refused" in answer:
        case.flags.append("crash_or_nan" if "crash" in answer else "refused")
        case.note = answer.get("crash") or answer.get("refused") or ""
        return case
    if "objective" not in answer:
        return case
    for key in ("status", "method", "certified", "objective", "lower_bound"):
        setattr(case, key, answer[key])
    W, H, b = answer["W"], answer["H"], answer["b"]
    f = objective(problem, W, H, b, fixed_penalty=fixed_penalty)
    other = objective(problem, W, H, b, fixed_penalty=not fixed_penalty)
    case.independent, case.violation = f, violation(problem, W, H, b)
    agree = abs(f - case.objective) <= OBJECTIVE_RTOL * max(1.0, abs(f))
    convention = fixed_penalty
    if not agree and abs(other - case.objective) <= OBJECTIVE_RTOL * max(1.0, abs(other)):
        agree, convention = True, not fixed_penalty
        case.flags.append("convention")
    if not (math.isfinite(case.objective) and math.isfinite(f)):
        case.flags.append("crash_or_nan")
        return case
    if not agree:
        case.flags.append("objective_mismatch")
    if case.violation > FEASIBILITY_TOL:
        case.flags.append("infeasible")
    labels = _labels(problem)
    found = [
        objective(problem, Wp, Mp[labels], bp, fixed_penalty=convention)
        for Wp, Mp, bp in points
        if violation(problem, Wp, Mp[labels], bp) <= 1e-9
    ]
    case.best_found = min(found, default=math.nan)
    beaten = bool(found) and _beats(case.best_found, case.objective)
    lb = case.lower_bound
    if lb is not None and found and _beats(case.best_found, lb):
        case.flags.append("invalid_bound")
    if case.certified and (beaten or not agree or case.violation > FEASIBILITY_TOL):
        case.flags.append("false_certificate")
    if not case.certified and beaten:
        case.flags.append("suboptimal_uncertified")
    return case


def run(
    n: int,
    seed: int,
    *,
    time_limit: float = 30.0,
    starts: int = 3,
    fixed_penalty: bool = True,
    max_samples: int = 20_000,
    with_global: bool = False,
    progress=None,
) -> tuple[dict[str, int], list[Case]]:
    """Fuzz n random problems from ``seed``; returns the counts (:data:`COUNTS`) and the cases."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        problem, dtype = random_problem(rng, max_samples)
        case = Case(index=i, problem=problem.to_dict(), dtype=dtype)
        answer, points, killed = _exchange(
            problem, dtype, time_limit, starts, seed + i, with_global
        )
        if killed:
            answer = {"killed": True, "seconds": math.inf}
        judge(case, problem, answer, points, time_limit=time_limit, fixed_penalty=fixed_penalty)
        if progress is not None:
            progress(case)
        cases.append(case)
    counts = {key: 0 for key in COUNTS}
    counts["problems"] = len(cases)
    counts["certified"] = sum(c.certified for c in cases)
    for c in cases:
        for flag in set(c.flags):
            counts[flag] += 1
    return counts, cases


def table(counts: dict[str, int], cases: list[Case]) -> str:
    """The counts, then one line per case with an error flag (its reproducer)."""
    lines = [f"{key:<24}{counts[key]:>8}" for key in COUNTS]
    errors = ("false_certificate", "invalid_bound", "crash_or_nan", "objective_mismatch")
    errors += ("infeasible", "over_time", "suboptimal_uncertified")
    for c in cases:
        bad = [f for f in c.flags if f in errors]
        if bad:
            lines.append(
                f"#{c.index} {','.join(bad)}: f={c.objective:.10g} LB={c.lower_bound} "
                f"found={c.best_found:.10g} {c.seconds:.1f}s {c.method}/{c.status} {c.note}"
            )
            lines.append(f"    {c.reproducer()}")
    return "\n".join(lines)


def _write_json(path: str, cases: list[Case], seed: int, counts: dict | None = None) -> None:
    data = {"seed": seed, "counts": counts, "cases": [vars(c) for c in cases]}
    with open(path, "w") as fh:
        json.dump(lpm.solution.jsonable(data), fh, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=100, help="number of random problems")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve")
    parser.add_argument("--starts", type=int, default=3, help="random starts of the search")
    parser.add_argument("--max-samples", type=int, default=20_000, help="largest N drawn")
    parser.add_argument(
        "--fixed-penalty",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="include (λ_W/2)‖W‖² of a fixed classifier under decay in the checker's objective",
    )
    parser.add_argument(
        "--global",
        dest="with_global",
        action="store_true",
        help="follow an uncertified solve of a nonconvex variant by global_search.improve "
        "within the same time limit (what auto does once it is wired in)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the counts and cases as JSON")
    parser.add_argument("--quiet", action="store_true", help="no line per case")
    args = parser.parse_args(argv)
    if args.n < 1 or args.time_limit <= 0 or args.starts < 0:
        parser.error("--n and --time-limit must be positive and --starts nonnegative")

    done: list[Case] = []

    def progress(c: Case) -> None:
        done.append(c)
        if args.json:  # rewritten after every case: an interrupted run keeps what it measured
            _write_json(args.json, done, args.seed)
        if not args.quiet:
            flags = ",".join(c.flags) or "ok"
            p = c.problem
            what = (
                f"K={p['K']} N={p['N']} d={p['dim']} {p['loss']} {p['classifier']} {p['features']}"
            )
            print(
                f"[{c.index}] {c.seconds:6.1f}s {c.method}/{c.status} {flags}  ({what})", flush=True
            )

    started = time.perf_counter()
    counts, cases = run(
        args.n,
        args.seed,
        time_limit=args.time_limit,
        starts=args.starts,
        fixed_penalty=args.fixed_penalty,
        max_samples=args.max_samples,
        with_global=args.with_global,
        progress=progress,
    )
    print(table(counts, cases))
    print(f"{args.n} problems in {time.perf_counter() - started:.0f} s (seed {args.seed})")
    if args.json:
        _write_json(args.json, cases, args.seed, counts)
    bad = sum(counts[k] for k in ("false_certificate", "invalid_bound", "crash_or_nan"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
