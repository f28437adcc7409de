"""The ``lpm`` command: a thin layer over the Python API (its contract: docs/cli.md).

Subcommands
-----------
``solve``      one problem: a short report, or with ``--json`` one JSON object on stdout
               (:meth:`lpm.Solution.summary` plus ``certified`` and ``geometry``).
``compare``    a problem and its variants side by side (:mod:`lpm.compare`).
``threshold``  the minority-collapse threshold R₀ (:mod:`lpm.threshold`).
``check``      the theorem checks of ``proofs_check``.
``figures``    the figures of the ``figures`` package.
``sweep``      a grid of problems into a resumable store (:mod:`lpm.sweep`).
``bench``      lpm against baselines measured in the same run (``benchmarks``).

The subcommands are the rows of :data:`SUBCOMMANDS` (name, help, flags, handler): a new one is
one more row.

Exit codes (every subcommand)
-----------------------------
0 done (``solve``/``compare``: converged, and certified where a certificate exists);
1 an internal error, ``check`` found a failing check, or a result was printed but could not be
saved;
2 bad input or usage: exactly one line ``lpm: error: ...`` on stderr, nothing on stdout, nothing
written (output paths are checked before any work starts);
3 a result was printed but did not converge or its certificate failed;
130 interrupted (Ctrl-C); 141 stdout closed (e.g. piped into ``head``).

An internal error prints one line ``lpm: internal error: ...``; set ``LPM_DEBUG=1`` to see the
traceback instead (of library errors too). JSON on stdout is strict: a non-finite float (nan, inf)
is written as ``null``.

Speed of the first answer: torch, the solvers, cvxpy and matplotlib are imported when a command
runs, not when its arguments are parsed, so that ``--help`` and every usage error answer at once.
Hence the names the flags accept (:data:`METHOD_NAMES`, :data:`CHECK_NAMES`, :data:`BENCH_NAMES`,
:data:`VARIANT_NAMES`) are written here; ``tests/test_cli.py`` pins each to its registry.
Progress goes to stderr (:class:`lpm.progress.Progress`): a bar on a terminal, lines otherwise,
nothing with ``--quiet``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import figures
import lpm
from lpm.files import check_directory, check_file
from lpm.problem import BIASES, BUDGETS, CLASSIFIERS, FEATURES, LOSSES
from lpm.progress import Progress
from lpm.solution import jsonable, solution_paths
from lpm.spec import flag_float, flag_parts, problem_from_flags

__all__ = [
    "BENCH_NAMES",
    "CHECK_NAMES",
    "COMMANDS",
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_DONE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_CONVERGED",
    "METHOD_NAMES",
    "SUBCOMMANDS",
    "VARIANT_NAMES",
    "Subcommand",
    "build_parser",
    "main",
]

EXIT_DONE = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_CONVERGED = 3
#: Shell conventions (128 + signal number) for an interrupt and a closed stdout.
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: Environment variable that turns one-line errors back into tracebacks.
DEBUG_ENV = "LPM_DEBUG"

#: ``--method``: "auto" and the methods of :data:`lpm.METHODS`.
METHOD_NAMES: tuple[str, ...] = (
    "auto",
    "reduced",
    "symmetric",
    "gradient",
    "convex",
    "theory",
    "global",
)
#: ``check --only``: the ids of ``proofs_check.CHECK_IDS``, in the order they run.
CHECK_NAMES: tuple[str, ...] = (
    "fang-balanced-etf",
    "sdp-equals-factorised",
    "minority-collapse",
    "fixed-etf-per-sample",
    "dr-same-minimiser",
    "fixed-etf-class-average-not-equinorm",
    "relu-orthogonal",
    "seli",
    "zhu-regularised-ce",
    "mse-no-bias",
    "mse-free-bias",
    "within-class-collapse",
    "learnable-not-etf-imbalanced",
    "random-classifier-bound",
)
#: ``bench --only``: the names of ``benchmarks.BENCHMARKS``.
BENCH_NAMES: tuple[str, ...] = (
    "batch-vs-loop",
    "gradient-vs-scipy",
    "certificate-vs-cvxpy",
    "relu-restarts",
    "engine-vs-lbfgs",
    "many-problems",
    "engine-vs-scipy",
    "engine-vs-nuclear",
    "engine-vs-scs",
    "relu-global",
    "long-tail",
)
#: ``compare --against``: the names of :data:`lpm.compare.VARIANTS`.
VARIANT_NAMES: tuple[str, ...] = (
    "balanced",
    "learnable",
    "etf",
    "random",
    "ce",
    "mse",
    "dr",
    "free",
    "relu",
    "sphere",
    "class-average",
    "per-sample",
)


class UsageError(Exception):
    """Bad input or usage found by the command line itself (exit 2, one line)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`UsageError` s, not exits."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.endswith("expected one argument"):
            message += " (a value that starts with '-' is written --flag=VALUE)"
        raise UsageError(f"{message}; run '{self.prog} --help' for what is allowed")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, "(default: …)" after every flag that has a default value (a flag
    whose default is decided by the library says so in its own words), and names such as
    ``fang-balanced-etf`` never broken at their hyphens."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.default is None
            or action.default is False  # a switch (store_true), not the number 0
            or action.default == argparse.SUPPRESS
        ):
            return text
        return f"{text} (default: %(default)s)"


def _names(names: Sequence[str]) -> str:
    return ", ".join(names)


def _add_problem_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "problem (exactly one of --counts, --balanced, --step, --long-tail)"
    )
    group.add_argument("--counts", metavar="N1,N2,...", help="samples per class n_k")
    group.add_argument("--balanced", metavar="K:n", help="K classes of n samples")
    group.add_argument(
        "--step",
        metavar="KA:KB:nB:R",
        help="KA majority classes of R·nB samples, then KB minority classes of nB",
    )
    group.add_argument(
        "--long-tail",
        metavar="K:nmax:rho",
        help="n_k = round(nmax·rho^(−(k−1)/(K−1))), k = 1..K",
    )
    group.add_argument("--dim", metavar="d", help="feature dimension (default: K)")
    group.add_argument("--loss", choices=LOSSES, help="dr needs a fixed classifier (default: ce)")
    group.add_argument("--classifier", choices=CLASSIFIERS, help="(default: learnable)")
    group.add_argument("--features", choices=FEATURES, help="(default: free)")
    group.add_argument("--bias", choices=BIASES, help="penalised needs LB (default: none)")
    group.add_argument(
        "--energy",
        metavar="EW,EH",
        help="layer-peeled budgets (1/K)Σ‖w_k‖² ≤ EW and the feature budget ≤ EH",
    )
    group.add_argument(
        "--budget",
        choices=BUDGETS,
        help="feature budget under --energy (default: class-average)",
    )
    group.add_argument(
        "--decay",
        metavar="LW,LH[,LB]",
        help="weight decay (LW/2)‖W‖² + (LH/2)‖H‖² (+ (LB/2)‖b‖²); excludes --energy",
    )
    group.add_argument(
        "--classifier-seed", metavar="S", help="seed of a fixed classifier (default: 0)"
    )


def _device(value: str) -> str:
    if value in ("cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise argparse.ArgumentTypeError(f"device {value!r} is not known; allowed: cpu, cuda, cuda:N")


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def _positive_integer(value: str) -> int:
    number = _integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {number}")
    return number


def _nonnegative_integer(value: str) -> int:
    number = _integer(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a nonnegative integer, got {number}")
    return number


def _tolerance(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not (number > 0 and math.isfinite(number)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return number


def _add_solver_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("solver")
    group.add_argument(
        "--method",
        default="auto",
        choices=METHOD_NAMES,
        help="auto picks the fastest method that certifies the answer",
    )
    group.add_argument("--device", default="cpu", type=_device, help="cpu, cuda or cuda:N")
    group.add_argument(
        "--dtype", default="float64", choices=("float64", "float32"), help="precision of the solve"
    )
    group.add_argument(
        "--seed", type=_nonnegative_integer, default=0, help="seed of the first start"
    )
    group.add_argument(
        "--tol", type=_tolerance, help="residual tolerance (default: by method and dtype)"
    )
    group.add_argument(
        "--max-iter", type=_positive_integer, help="iteration cap (default: by dtype)"
    )
    group.add_argument(
        "--restarts",
        type=_positive_integer,
        help="random starts, the best is kept (default: 1; 4 for relu features)",
    )
    group.add_argument(
        "--time-limit",
        type=_seconds,
        metavar="SECONDS",
        help=(
            "wall-clock budget of the solve; past it the best point so far is reported with "
            "status time_limit (default under auto: 20 s for a small problem, more for large "
            "K·d)"
        ),
    )


def _add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress on stderr (default: a bar on a terminal, else one line per step)",
    )


def _solve_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "device": args.device,
        "dtype": args.dtype,
        "seed": args.seed,
    }
    # Only what was given: ``solve`` picks its own defaults (e.g. more restarts for ReLU).
    for key in ("tol", "max_iter", "restarts", "time_limit"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


# ------------------------------------------------------------------------------------ output
def _print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, allow_nan=False, ensure_ascii=False))


def _num(value: float | None, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


def _geometry(solution: lpm.Solution) -> lpm.GeometryReport | None:
    """The solution's geometry; None when it has non-finite entries (a failed solve)."""
    if not all(np.all(np.isfinite(x)) for x in (solution.W, solution.H, solution.b)):
        return None
    return lpm.geometry(solution)


def _exit_code(solution: lpm.Solution) -> int:
    """0 when converged and, where a certificate exists, certified; else 3."""
    if not solution.converged:
        return EXIT_NOT_CONVERGED
    if solution.lower_bound is not None and not solution.certified:
        return EXIT_NOT_CONVERGED
    return EXIT_DONE


def _solve_object(solution: lpm.Solution, geometry: lpm.GeometryReport | None) -> dict:
    """The JSON object of one solve (``lpm solve --json`` in docs/cli.md)."""
    return {
        **solution.summary(),
        "certified": solution.certified,
        "geometry": None if geometry is None else geometry.to_dict(),
        # The unregularised model's geometry is that of the directions W/‖W‖_F, H/‖H‖_F.
        "geometry_normalised": solution.problem.regime == "unregularised",
    }


def _certificate_line(solution: lpm.Solution) -> str:
    if solution.lower_bound is None:
        return "none (no certificate for this variant and method)"
    verdict = "certified" if solution.certified else "NOT certified"
    return f"{solution.lower_bound:.12g}, gap {solution.gap:.3g} ({verdict})"


def _report(solution: lpm.Solution, geometry: lpm.GeometryReport | None) -> str:
    """The human report of one solve."""
    p = solution.problem
    lines = [
        f"problem    {p.describe()}",
        f"method     {solution.method} on {solution.device} ({solution.dtype}): "
        f"{solution.iterations} iterations in {solution.seconds:.3g} s",
        f"status     {solution.status}: residual {solution.residual:.3g} "
        f"(tolerance {solution.tol:.3g})",
        f"objective  {solution.objective:.12g}",
        f"bound      {_certificate_line(solution)}",
    ]
    if geometry is None:
        lines.append("geometry   none (the solution has non-finite entries)")
    else:
        g = geometry
        lines += [
            f"geometry   nc1 {_num(g.nc1, '.3g')}  nc2_w {_num(g.nc2_w, '.3g')}  "
            f"nc2_m {_num(g.nc2_m, '.3g')}  nc3 {_num(g.nc3, '.3g')}  nc4 {_num(g.nc4, '.3g')}",
            "‖w_k‖      " + " ".join(_num(v, ".5g") for v in g.w_norms),
            "‖h̄_k‖      " + " ".join(_num(v, ".5g") for v in g.m_norms),
            f"max|cos(h̄_k, h̄_l)|  {_num(g.max_abs_cos_m, '.5g')}",
        ]
        if g.minority_w_separation is not None:
            classes = ", ".join(str(k + 1) for k in g.minority)
            lines.append(
                f"minority   max ‖w_k − w_l‖² over classes {classes} (from 1): "
                f"{g.minority_w_separation:.4g}"
            )
    if not solution.converged:
        lines.append(
            f"NOT CONVERGED: {solution.message}. Try a larger --max-iter, more --restarts, "
            "or another --method."
        )
    elif solution.lower_bound is not None and not solution.certified:
        lines.append(
            f"NOT CERTIFIED: the gap {solution.gap:.3g} is above the certificate's tolerance; "
            "the point may not be the global optimum."
        )
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns that ``text`` takes on a terminal (a combining mark, as in h̄, takes none)."""
    return sum(not unicodedata.combining(ch) for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    table = [list(headers), *map(list, rows)]
    widths = [max(_width(row[i]) for row in table) for i in range(len(headers))]
    table.insert(1, ["-" * w for w in widths])
    return "\n".join(
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths)).rstrip() for row in table
    )


def _range(values: Sequence[float]) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return _num(lo) if math.isclose(lo, hi, rel_tol=1e-9, abs_tol=1e-12) else f"{lo:.4g}–{hi:.4g}"


def _compare_table(rows: Sequence[tuple], reports: Sequence[lpm.GeometryReport | None]) -> str:
    headers = [
        "label",
        "status",
        "objective",
        "gap",
        "nc1",
        "nc2_w",
        "nc2_m",
        "max|cos m|",
        "minority sep",
        "‖w‖ range",
        "‖h̄‖ range",
    ]
    body = []
    for (label, _, sol), g in zip(rows, reports):
        cells = [label, sol.status, f"{sol.objective:.10g}", _num(sol.gap, ".2g")]
        if g is None:
            cells += ["—"] * 7
        else:
            cells += [
                _num(g.nc1, ".3g"),
                _num(g.nc2_w, ".3g"),
                _num(g.nc2_m, ".3g"),
                _num(g.max_abs_cos_m, ".4g"),
                _num(g.minority_w_separation, ".4g"),
                _range(g.w_norms),
                _range(g.m_norms),
            ]
        body.append(cells)
    notes = [f"{label}: {problem.describe()}" for label, problem, _ in rows]
    minority = rows[0][1].minority_classes
    if minority:
        classes = ", ".join(str(k + 1) for k in minority)
        notes.append(
            f"minority sep = max ‖w_k − w_l‖² over the base problem's minority classes {classes} "
            "(numbered from 1), in every row"
        )
    return _table(headers, body) + "\n\n" + "\n".join(notes)


# ------------------------------------------------------------------------------------ paths
def _check_output(flag: str, value: str, check: Callable[[Path], Path], *paths: Path) -> None:
    """``check`` each of ``paths`` (default: ``value`` itself) before any work starts; a
    ValueError becomes a usage error (exit 2) that names the flag."""
    for path in paths or (Path(value),):
        try:
            check(path)
        except ValueError as err:
            raise UsageError(f"{flag} {value}: {err}") from None


def _save(solution: lpm.Solution, value: str) -> tuple[list[str] | None, str | None]:
    """Save ``solution`` under ``--save value``: (paths written, None) or (None, the error)."""
    try:
        arrays = lpm.save(solution, value)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        where = f" ({err.filename})" if err.filename else ""
        return None, f"--save {value}: the solution could not be written: {reason}{where}"
    return [str(arrays), str(arrays.with_suffix(".json"))], None


# ------------------------------------------------------------------------------------ commands
def _cmd_solve(args: argparse.Namespace) -> int:
    problem = problem_from_flags(vars(args))
    if args.save is not None:
        _check_output("--save", args.save, check_file, *solution_paths(args.save))
    solution = lpm.solve(problem, **_solve_options(args))
    geometry = _geometry(solution)
    saved, failure = (None, None) if args.save is None else _save(solution, args.save)
    if args.json:
        _print_json({**_solve_object(solution, geometry), "saved": saved})
    else:
        print(_report(solution, geometry))
        if saved is not None:
            print(f"saved      {saved[0]} and {saved[1]}")
    if failure is not None:
        # The result is on stdout; only the file is missing.
        sys.stdout.flush()
        print(f"lpm: error: {failure}; the result above is not saved", file=sys.stderr)
        return EXIT_INTERNAL
    return _exit_code(solution)


def _against(args: argparse.Namespace) -> list[str]:
    names = [name for value in args.against for name in value.split(",") if name]
    for name in names:
        if name not in VARIANT_NAMES:
            raise UsageError(f"unknown variant {name!r}; allowed: {_names(VARIANT_NAMES)}")
    return names


def _cmd_compare(args: argparse.Namespace) -> int:
    from lpm.compare import compare_geometry

    problem = problem_from_flags(vars(args))
    rows = lpm.compare(problem, _against(args), **_solve_options(args))
    reports = compare_geometry(rows)
    if args.json:
        _print_json(
            [{"label": label, **_solve_object(sol, g)} for (label, _, sol), g in zip(rows, reports)]
        )
    else:
        print(_compare_table(rows, reports))
    return max(_exit_code(sol) for _, _, sol in rows)


def _cmd_threshold(args: argparse.Namespace) -> int:
    from lpm.threshold import ThresholdNotFound, minority_collapse_threshold

    parts = flag_parts("energy", args.energy, ",", ["EW", "EH"])
    energy = tuple(flag_float("energy", n, v) for n, v in zip(("EW", "EH"), parts))
    with Progress("threshold: solves", quiet=args.quiet) as progress:
        kwargs: dict[str, Any] = {"rtol": args.rtol, "progress": progress.done}
        for key in ("dim", "method"):
            if getattr(args, key) is not None:
                kwargs[key] = getattr(args, key)
        try:
            found = minority_collapse_threshold(args.majority, args.minority, energy, **kwargs)
        except ThresholdNotFound as err:  # valid input, but the bisection found no threshold
            progress.close()
            print(f"lpm: no threshold: {_one_line(err)}", file=sys.stderr)
            return EXIT_NOT_CONVERGED
    data = found.to_dict()
    # Every solve of the bisection must have converged and, where it says so, been certified.
    honest = data.get("converged", True) is not False and data.get("certified", True) is not False
    if args.json:
        _print_json(data)
    else:
        lo, hi = data["bracket"]
        lines = [
            f"threshold  R0 = {_num(data['threshold'], '.6g')} for KA = {args.majority}, "
            f"KB = {args.minority}, EW,EH = {energy[0]:g},{energy[1]:g}",
            f"bracket    [{_num(lo, '.6g')}, {_num(hi, '.6g')}]",
            f"solves     {data['evaluations']} in {_num(data['seconds'], '.3g')} s",
        ]
        if not honest:
            lines.append(
                "NOT CERTIFIED: a solve of the bisection did not converge or was not certified; "
                "the threshold may be off."
            )
        print("\n".join(lines))
    return EXIT_DONE if honest else EXIT_NOT_CONVERGED


def _cmd_check(args: argparse.Namespace) -> int:
    from proofs_check import run_checks

    chosen = CHECK_NAMES if args.only is None else [n for n in CHECK_NAMES if n in args.only]
    with Progress("checks", total=len(chosen), quiet=args.quiet) as progress:
        # One progress line per finished check.
        report = run_checks(quick=args.quick, only=args.only, progress=progress.done)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
    return EXIT_DONE if report.passed else EXIT_INTERNAL


def _cmd_figures(args: argparse.Namespace) -> int:
    _check_output("--out", args.out, check_directory)
    chosen = list(dict.fromkeys(args.only)) if args.only is not None else list(figures.FIGURES)
    with Progress("figures", total=len(chosen), quiet=args.quiet) as progress:
        for name in chosen:
            paths = figures.build([name], out=args.out, quick=args.quick, progress=progress.line)
            progress.done()
            for path in paths:
                print(path, flush=True)
    return EXIT_DONE


def _cmd_sweep(args: argparse.Namespace) -> int:
    target = list(args.target)
    show = target[0] == "show"
    if show and len(target) != 2:
        raise UsageError("'lpm sweep show' takes one STORE path (a .sqlite file of a sweep)")
    if show and args.csv and args.json:
        raise UsageError("--csv and --json exclude each other; give one of them, or neither")
    if not show and len(target) != 1:
        raise UsageError(
            "'lpm sweep' takes one SPEC.toml, or 'show STORE'; got " + " ".join(target)
        )
    if args.dask is not None and args.dask_workers is not None:
        raise UsageError("--dask and --dask-workers exclude each other; give one of them")
    if not show and args.store is not None:
        _check_output("--store", args.store, check_file)

    from lpm import sweep

    if show and args.parquet is not None:
        _check_output("--parquet", args.parquet, check_file)
    if show:
        rows = sweep.read_store(target[1])
        if args.parquet is not None:
            sweep.to_parquet(rows, args.parquet)
        if args.json:
            _print_json(rows)
        else:
            sys.stdout.write(sweep.store_to_csv(rows))
        return EXIT_DONE
    spec = target[0]
    store = args.store if args.store is not None else str(sweep.default_store(spec))
    _check_output("--store", store, check_file)
    with Progress("sweep: points", quiet=args.quiet) as progress:

        def on_batch(event) -> None:
            if event.batch == 0:  # sent before the first batch: how many points this run solves
                progress.set_total(event.total)
                return
            progress.done(str(event), steps=event.batch)

        summary = sweep.run_sweep(
            spec,
            store,
            dask_address=args.dask,
            dask_workers=args.dask_workers,
            device=args.device,
            batch_size=args.batch_size,
            progress=on_batch,
        )
    data = summary.to_dict()
    if args.json:
        _print_json(data)
    else:
        print(
            f"sweep      {data['total']} points: {data['done']} solved, {data['skipped']} already "
            f"in the store, {data['failed']} failed, {data['unconverged']} not converged "
            f"({data['uncertified']} of them converged but uncertified) in the whole store "
            f"({_num(data['seconds'], '.3g')} s)"
        )
        print(f"store      {data['store']}")
    return EXIT_DONE if summary.settled else EXIT_NOT_CONVERGED


def _bench_line(row: dict[str, Any]) -> str:
    if row.get("skipped"):
        return f"{row.get('name')}: skipped ({row.get('notes', '')})"
    return f"{row.get('name')}: {row.get('case', '')} ratio {_num(row.get('ratio'), '.3g')}"


def _cmd_bench(args: argparse.Namespace) -> int:
    import benchmarks

    chosen = list(dict.fromkeys(args.only)) if args.only is not None else list(BENCH_NAMES)
    rows: list[dict[str, Any]] = []
    with Progress("benchmarks", total=len(chosen), quiet=args.quiet) as progress:
        for name in chosen:
            rows += benchmarks.run(
                quick=args.quick,
                device=args.device,
                names=[name],
                progress=lambda row: progress.line(_bench_line(row)),
            )
            progress.done()
    if args.json:
        _print_json(rows)
    else:
        print(_bench_table(rows))
    bad = [r for r in rows if not r.get("skipped") and not r.get("accurate")]
    return EXIT_NOT_CONVERGED if bad else EXIT_DONE


def _bench_table(rows: Sequence[dict[str, Any]]) -> str:
    header = f"{'benchmark':<22} {'case':<18} {'lpm s':>9} {'baseline s':>11} {'ratio':>7}  ok"
    lines = [header, "-" * len(header)]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"{r['name']:<22} skipped: {r.get('notes', '')}")
            continue
        lines.append(
            f"{r['name']:<22} {str(r.get('case', ''))[:18]:<18} "
            f"{_num(r['lpm_seconds'], '.3g'):>9} {_num(r['baseline_seconds'], '.3g'):>11} "
            f"{_num(r['ratio'], '.3g'):>7}  {'yes' if r.get('accurate') else 'NO'}"
        )
        lines.append(f"{'':<22} baseline: {r['baseline']}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ flags
def _solve_arguments(parser: argparse.ArgumentParser) -> None:
    _add_problem_flags(parser)
    _add_solver_flags(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--save",
        metavar="PREFIX",
        help="also write the solution, PREFIX.npz (W, H, b) and PREFIX.json; its directory must "
        "exist (checked before solving)",
    )


def _compare_arguments(parser: argparse.ArgumentParser) -> None:
    _add_problem_flags(parser)
    _add_solver_flags(parser)
    parser.add_argument(
        "--against",
        nargs="+",
        required=True,
        metavar="VARIANT",
        help=f"one or more of: {_names(VARIANT_NAMES)} (space or comma separated)",
    )
    parser.add_argument("--json", action="store_true", help="a JSON list of solve objects")


def _threshold_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--majority", type=int, required=True, metavar="KA", help="majority classes"
    )
    parser.add_argument(
        "--minority", type=int, required=True, metavar="KB", help="minority classes"
    )
    parser.add_argument("--energy", required=True, metavar="EW,EH", help="layer-peeled budgets")
    parser.add_argument("--dim", type=int, metavar="d", help="feature dimension (default: K)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative width of the bracket")
    parser.add_argument(
        "--method",
        choices=tuple(m for m in METHOD_NAMES if m != "auto"),
        help="solution method of each solve (default: the SDP, 'convex')",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    _add_quiet_flag(parser)


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="the fast subset of cases")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=CHECK_NAMES,
        metavar="ID",
        help=f"run only these checks, of: {_names(CHECK_NAMES)} (default: all)",
    )
    _add_quiet_flag(parser)


def _figures_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="coarser grids, for a fast look")
    parser.add_argument(
        "--out",
        metavar="DIR",
        default="figures/out",
        help="output folder, created if needed",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=figures.FIGURES,
        metavar="NAME",
        help=f"build only these figures, of: {_names(figures.FIGURES)} (default: all)",
    )
    _add_quiet_flag(parser)


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="+", metavar="SPEC.toml | show STORE")
    parser.add_argument(
        "--store", metavar="PATH", help="results store (default: SPEC with suffix .sqlite)"
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="a running Dask scheduler (default: solve in this process)",
    )
    parser.add_argument(
        "--dask-workers",
        type=_positive_integer,
        metavar="N",
        help="start N local Dask worker processes (default: none)",
    )
    parser.add_argument("--device", default="cpu", type=_device, help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--batch-size", type=_positive_integer, default=64, help="problems per batch"
    )
    parser.add_argument(
        "--csv", action="store_true", help="with show: CSV on stdout (the default output)"
    )
    parser.add_argument(
        "--parquet",
        metavar="OUT",
        help="with show: also write the rows to a Parquet file (needs pandas and pyarrow)",
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    _add_quiet_flag(parser)


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smaller instances, fewer repeats")
    parser.add_argument("--json", action="store_true", help="a JSON list of rows on stdout")
    parser.add_argument("--device", default="cpu", type=_device, help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=BENCH_NAMES,
        metavar="NAME",
        help=f"run only these benchmarks, of: {_names(BENCH_NAMES)} (default: all)",
    )
    _add_quiet_flag(parser)


# ------------------------------------------------------------------------------------ parser
def _measure_arguments(parser: argparse.ArgumentParser) -> None:
    from lpm.bridge.commands import measure_arguments  # argparse only: no torch

    measure_arguments(parser)


def _cmd_measure(args: argparse.Namespace) -> int:
    from lpm.bridge.commands import run_measure

    return run_measure(args)


def _bridge_arguments(parser: argparse.ArgumentParser) -> None:
    from lpm.bridge.commands import bridge_arguments

    bridge_arguments(parser)


def _cmd_bridge(args: argparse.Namespace) -> int:
    from lpm.bridge.commands import run_bridge

    return run_bridge(args)


@dataclass(frozen=True)
class Subcommand:
    """One subcommand of ``lpm``: its flags and its handler (which returns the exit code)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


#: The subcommands, in the order of ``lpm --help``.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "solve",
        "solve one problem and report the optimum and its geometry",
        _solve_arguments,
        _cmd_solve,
        "Solve one problem; report the optimum, its certificate and its geometry.",
    ),
    Subcommand(
        "compare",
        "a problem and its variants side by side",
        _compare_arguments,
        _cmd_compare,
        "Solve a problem and one or more variants of it side by side (the same solver options\n"
        "for every row). A variant changes one thing of the base problem: 'balanced' gives every\n"
        "class round(N/K) samples; the others set the classifier, loss, features or budget of\n"
        "their name. Minority separation is measured on the base problem's minority classes in\n"
        "every row.",
    ),
    Subcommand(
        "threshold",
        "the minority-collapse threshold R0 of the layer-peeled model",
        _threshold_arguments,
        _cmd_threshold,
        "The smallest ratio R at which the minority classifiers of the layer-peeled model\n"
        "(CE, learnable classifier) coincide: max over minority pairs ‖w_k − w_l‖² ≤ 1e-6·EW.\n"
        "Progress (one line per solve of the bisection) goes to stderr.",
    ),
    Subcommand(
        "check",
        "run the theorem checks of proofs_check",
        _check_arguments,
        _cmd_check,
        "Run the theorem checks; exit 1 when any fails. Progress goes to stderr.",
    ),
    Subcommand(
        "figures",
        "write the figures as PNG and PDF",
        _figures_arguments,
        _cmd_figures,
        "Write each figure as PNG, PDF and JSON (the numbers drawn) and print the paths.\n"
        "Each file is written whole or not at all. Progress goes to stderr.",
    ),
    Subcommand(
        "sweep",
        "solve a grid of problems into a resumable results store",
        _sweep_arguments,
        _cmd_sweep,
        "lpm sweep SPEC.toml [--store PATH] [--dask ADDRESS | --dask-workers N]: solve the\n"
        "grid of a TOML spec into a SQLite store; re-running resumes, never duplicating a\n"
        "finished row. lpm sweep show STORE [--csv | --json]: read a store back.",
    ),
    Subcommand(
        "bench",
        "time lpm against baselines measured in the same run",
        _bench_arguments,
        _cmd_bench,
        "Each row: lpm's time, a baseline's time on the same problem in the same run, their\n"
        "ratio (baseline / lpm; > 1: lpm is faster) and the accuracy both reached.",
    ),
    Subcommand(
        "measure",
        "a trained network's last layer against the certified optimum of its model",
        _measure_arguments,
        _cmd_measure,
        "Geometry of a trained network's last layer (features H, labels, classifier W, bias\n"
        "b) and the distance of its Grams W Wᵀ, M Mᵀ, W Mᵀ to those of the certified optimum\n"
        "of the matching model at the same class counts: min over c ≥ 0 of\n"
        "‖G − c G*‖_F / ‖G‖_F (0: the same shape; 1: no resemblance). Files are .npy arrays\n"
        "(never pickles) or one .npz with keys H, labels, W and optionally b.",
    ),
    Subcommand(
        "bridge",
        "train small networks and hold their last layers against the certified optima",
        _bridge_arguments,
        _cmd_bridge,
        "Train small MLPs (CPU, deterministic) on scikit-learn's digits and a Gaussian\n"
        "mixture, long-tailed, with the heads of the seed papers, and compare their last\n"
        "layers with the certified optima; writes bridge.json and the four bridge figures.",
    ),
)

#: The names of the subcommands, in order.
COMMANDS: tuple[str, ...] = tuple(command.name for command in SUBCOMMANDS)

_EXAMPLES = """\
examples:
  lpm solve --step 3:3:10:10 --energy 1,1 --json
  lpm solve --counts 100,100,10,10 --decay 1e-3,1e-3 --features relu
  lpm compare --step 2:2:10:10 --energy 1,1 --against balanced etf
  lpm threshold --majority 2 --minority 2 --energy 1,1
  lpm check --quick

exit codes: 0 done; 1 internal error (or a failed check, or a result that could not be saved);
2 bad input; 3 not converged or not certified. JSON is strict: non-finite numbers are written as
null."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lpm``, one subparser per row of :data:`SUBCOMMANDS`.

    Building it imports no solver (see the module docstring).

    Returns
    -------
    argparse.ArgumentParser
        Its ``error`` raises :class:`UsageError` instead of exiting, so that :func:`main` prints
        exactly one line; each subcommand stores its handler as ``run``.
    """
    parser = _Parser(
        prog="lpm",
        description="Certified optima of the layer-peeled and unconstrained-feature models.",
        epilog=_EXAMPLES,
        formatter_class=_Formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"lpm {lpm.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in SUBCOMMANDS:
        subparser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            epilog=_EXAMPLES if command.name == "solve" else None,
            formatter_class=_Formatter,
            allow_abbrev=False,
        )
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def _attach_negative_values(argv: list[str]) -> list[str]:
    """Write ``--flag -1,3`` as ``--flag=-1,3``, so that a value that starts with a minus sign
    (``--counts -1,3``, ``--energy -1,1``) reaches the validation that explains what is allowed
    instead of being taken for an unknown flag."""
    out: list[str] = []
    for token in argv:
        previous = out[-1] if out else ""
        if (
            previous.startswith("--")
            and "=" not in previous
            and len(token) > 1
            and token[0] == "-"
            and (token[1].isdigit() or token[1] == ".")
        ):
            out[-1] = f"{previous}={token}"
        else:
            out.append(token)
    return out


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args, unknown = parser.parse_known_args(_attach_negative_values(argv))
    if unknown:
        prog = "lpm" if args.command is None else f"lpm {args.command}"
        raise UsageError(
            f"unrecognized arguments: {' '.join(unknown)}; run '{prog} --help' for what is allowed"
        )
    if args.command is None:
        raise UsageError(f"a command is required; allowed: {_names(COMMANDS)} (see 'lpm --help')")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lpm`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional

    Returns
    -------
    int
        0 done; 1 internal error (or a failed check, or an unsaved result); 2 bad input; 3 not
        converged or not certified; 130 interrupted; 141 stdout closed (see the module docstring).
    """
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        try:
            args = _parse(sys.argv[1:] if argv is None else list(argv))
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        return args.run(args)
    except UsageError as err:
        print(f"lpm: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as err:
        if debug:
            raise
        print(f"lpm: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader of stdout went away (``lpm ... | head``): stop quietly, as a SIGPIPE would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("lpm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug:
            raise
        print(
            f"lpm: internal error: {type(err).__name__}: {_one_line(err)} "
            f"(set {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # ``python -m lpm.cli ...`` as well as the ``lpm`` script
    sys.exit(main())
