"""The ``lpm`` command: a thin layer over the Python API (../shared/INTERFACE.md is its contract).

Subcommands
-----------
``solve``      one problem: a short report, or with ``--json`` one JSON object on stdout
               (:meth:`lpm.Solution.summary` plus ``certified`` and ``geometry``).
``compare``    a problem and its variants side by side (:mod:`lpm.compare`).
``threshold``  the minority-collapse threshold R₀ (:mod:`lpm.threshold`).
``check``      the theorem checks of ``proofs_check``.
``figures``    the figures of the ``figures`` package.

Exit codes (every subcommand)
-----------------------------
0 done (``solve``/``compare``: converged, and certified where a certificate exists);
1 an internal error, or ``check`` found a failing check;
2 bad input or usage: exactly one line ``lpm: error: ...`` on stderr, nothing on stdout;
3 a result was printed but did not converge or its certificate failed.

An internal error prints one line ``lpm: internal error: ...``; set ``LPM_DEBUG=1`` to see the
traceback instead (of library errors too). JSON on stdout is strict: a non-finite float (nan, inf)
is written as ``null``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import lpm
from lpm.bridge.commands import add_bridge_parser, add_measure_parser
from lpm.compare import VARIANTS, compare, compare_geometry
from lpm.geometry import measure
from lpm.problem import BIASES, BUDGETS, CLASSIFIERS, FEATURES, LOSSES
from lpm.solution import jsonable
from lpm.spec import COUNT_FORMS, flag_float, flag_parts, problem_from_flags

__all__ = [
    "COMMANDS",
    "COUNT_FORMS",
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_DONE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_CONVERGED",
    "build_parser",
    "main",
    "problem_from_flags",
]

EXIT_DONE = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_CONVERGED = 3
#: Shell conventions (128 + signal number) for an interrupt and a closed stdout.
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: The subcommands, in the order of ``lpm --help``.
COMMANDS: tuple[str, ...] = (
    "solve",
    "compare",
    "threshold",
    "check",
    "figures",
    "sweep",
    "bench",
    "measure",
    "bridge",
)

#: Environment variable that turns one-line errors back into tracebacks.
DEBUG_ENV = "LPM_DEBUG"


class UsageError(Exception):
    """Bad input or usage found by the command line itself (exit 2, one line)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`UsageError` s, not exits."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.endswith("expected one argument"):
            message += " (a value that starts with '-' is written --flag=VALUE)"
        raise UsageError(f"{message}; run '{self.prog} --help' for what is allowed")


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
    group.add_argument("--dim", metavar="d", help="feature dimension (default K)")
    group.add_argument("--loss", choices=LOSSES, help="default ce; dr needs a fixed classifier")
    group.add_argument("--classifier", choices=CLASSIFIERS, help="default learnable")
    group.add_argument("--features", choices=FEATURES, help="default free")
    group.add_argument("--bias", choices=BIASES, help="default none; penalised needs LB")
    group.add_argument(
        "--energy",
        metavar="EW,EH",
        help="layer-peeled budgets (1/K)Σ‖w_k‖² ≤ EW and the feature budget ≤ EH",
    )
    group.add_argument(
        "--budget", choices=BUDGETS, help="feature budget under --energy (default class-average)"
    )
    group.add_argument(
        "--decay",
        metavar="LW,LH[,LB]",
        help="weight decay (LW/2)‖W‖² + (LH/2)‖H‖² (+ (LB/2)‖b‖²); excludes --energy",
    )
    group.add_argument(
        "--classifier-seed", metavar="S", help="seed of a fixed classifier (default 0)"
    )


def _device(value: str) -> str:
    if value in ("cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
        return value
    raise argparse.ArgumentTypeError(f"device {value!r} is not known; allowed: cpu, cuda, cuda:N")


def _add_solver_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("solver")
    group.add_argument(
        "--method",
        default="auto",
        choices=("auto", *lpm.METHODS),
        help="auto picks the fastest method that certifies the answer (default auto)",
    )
    group.add_argument("--device", default="cpu", type=_device, help="cpu or cuda (default cpu)")
    group.add_argument(
        "--dtype", default="float64", choices=("float64", "float32"), help="default float64"
    )
    group.add_argument("--seed", type=int, default=0, help="seed of the first start (default 0)")
    group.add_argument("--tol", type=float, help="residual tolerance (default: by method, dtype)")
    group.add_argument("--max-iter", type=int, help="iteration cap (default: by dtype)")
    group.add_argument(
        "--restarts", type=int, help="random starts, the best is kept (default 1; 4 for relu)"
    )


def _solve_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "method": args.method,
        "device": args.device,
        "dtype": args.dtype,
        "seed": args.seed,
    }
    # Only what was given: ``solve`` picks its own defaults (e.g. more restarts for ReLU).
    for key in ("tol", "max_iter", "restarts"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    return options


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
    if solution.problem.regime == "unregularised":
        # Only directions have a limit (SELI): report the geometry of W/‖W‖_F and H/‖H‖_F.
        W, H = solution.W, solution.H
        W = W / max(float(np.linalg.norm(W)), 1e-300)
        H = H / max(float(np.linalg.norm(H)), 1e-300)
        b = solution.b if solution.problem.bias != "none" else None
        return measure(W, H, solution.problem.labels, b, minority=solution.problem.minority_classes)
    return lpm.geometry(solution)


def _exit_code(solution: lpm.Solution) -> int:
    """0 when converged and, where a certificate exists, certified; else 3."""
    if not solution.converged:
        return EXIT_NOT_CONVERGED
    if solution.lower_bound is not None and not solution.certified:
        return EXIT_NOT_CONVERGED
    return EXIT_DONE


def _solve_object(solution: lpm.Solution, geometry: lpm.GeometryReport | None) -> dict:
    """The JSON object of one solve (INTERFACE.md ``lpm solve --json``)."""
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


def _progress(item: Any) -> None:
    """One stderr line per finished step of a long command (checks, figures)."""
    if isinstance(item, str):
        line = item
    else:
        data = item.to_dict() if hasattr(item, "to_dict") else item
        if isinstance(data, Mapping):
            name = data.get("id", data.get("name", "?"))
            verdict = {True: "passed", False: "FAILED"}.get(data.get("passed"), "done")
            line = f"{name}: {verdict}"
            if data.get("tolerance") is not None:
                line += f" (max error {_num(data.get('max_error'), '.3g')}, "
                line += f"tolerance {_num(data['tolerance'], '.3g')})"
        else:
            line = str(item)
    print(" ".join(line.split()), file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ commands
def _check_save_path(path: str | None) -> Path | None:
    """Refuse a --save path that cannot be written, before any solve starts."""
    if path is None:
        return None
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(
            f"--save {path}: directory {str(parent)!r} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--save {path}: directory {str(parent)!r} is not writable")
    return target


def _cmd_solve(args: argparse.Namespace) -> int:
    problem = problem_from_flags(vars(args))
    save_to = _check_save_path(args.save)
    solution = lpm.solve(problem, **_solve_options(args))
    geometry = _geometry(solution)
    saved = None if save_to is None else lpm.save(solution, save_to)
    if args.json:
        out = _solve_object(solution, geometry)
        if saved is not None:
            out["saved"] = [str(saved), str(saved.with_suffix(".json"))]
        _print_json(out)
    else:
        print(_report(solution, geometry))
        if saved is not None:
            print(f"saved      {saved} and {saved.with_suffix('.json')}")
    return _exit_code(solution)


def _cmd_compare(args: argparse.Namespace) -> int:
    problem = problem_from_flags(vars(args))
    against = [name for value in args.against for name in value.split(",") if name]
    rows = compare(problem, against, **_solve_options(args))
    reports = compare_geometry(rows)
    if args.json:
        _print_json(
            [{"label": label, **_solve_object(sol, g)} for (label, _, sol), g in zip(rows, reports)]
        )
    else:
        print(_compare_table(rows, reports))
    return max(_exit_code(sol) for _, _, sol in rows)


class _Unavailable(Exception):
    """A subcommand's back-end is missing (exit 1, one line)."""


def _backend(module: str, attribute: str, command: str) -> Callable:
    """``module.attribute``, imported only when a subcommand needs it."""
    try:
        found = getattr(importlib.import_module(module), attribute, None)
    except ImportError:
        found = None
    if found is None:
        raise _Unavailable(f"'lpm {command}' needs {module}.{attribute}, which is not installed")
    return found


def _cmd_threshold(args: argparse.Namespace) -> int:
    parts = flag_parts("energy", args.energy, ",", ["EW", "EH"])
    energy = tuple(flag_float("energy", n, v) for n, v in zip(("EW", "EH"), parts))
    kwargs: dict[str, Any] = {"rtol": args.rtol, "progress": _progress}
    for key in ("dim", "method"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    find = _backend("lpm.threshold", "minority_collapse_threshold", "threshold")
    try:
        data = find(args.majority, args.minority, energy, **kwargs).to_dict()
    except RuntimeError as err:  # lpm.threshold.ThresholdNotFound: valid input, no threshold
        print(f"lpm: no threshold: {_one_line(err)}", file=sys.stderr)
        return EXIT_NOT_CONVERGED
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
    run_checks = _backend("proofs_check", "run_checks", "check")
    report = run_checks(quick=args.quick, only=args.only, progress=_progress)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
    return EXIT_DONE if report.passed else EXIT_INTERNAL


def _cmd_figures(args: argparse.Namespace) -> int:
    build = _backend("figures", "build", "figures")
    kwargs: dict[str, Any] = {"names": args.only, "quick": args.quick, "progress": _progress}
    if args.out is not None:
        kwargs["out"] = Path(args.out)
    for path in build(**kwargs):
        print(path)
    return EXIT_DONE


def _cmd_sweep(args: argparse.Namespace) -> int:
    from lpm import sweep

    target = list(args.target)
    if target[0] == "show":
        if len(target) != 2:
            raise UsageError("'lpm sweep show' takes one STORE path (a .sqlite file of a sweep)")
        if args.csv and args.json:
            raise UsageError("--csv and --json exclude each other; give one of them, or neither")
        rows = sweep.read_store(target[1])
        if args.csv:
            sys.stdout.write(sweep.store_to_csv(rows))
        elif args.json:
            _print_json(rows)
        else:
            sys.stdout.write(sweep.store_to_csv(rows))
        return EXIT_DONE
    if len(target) != 1:
        raise UsageError(
            "'lpm sweep' takes one SPEC.toml, or 'show STORE'; got " + " ".join(target)
        )
    if args.dask is not None and args.dask_workers is not None:
        raise UsageError("--dask and --dask-workers exclude each other; give one of them")
    spec = target[0]
    store = args.store if args.store is not None else sweep.default_store(spec)
    summary = sweep.run_sweep(
        spec,
        store,
        dask_address=args.dask,
        dask_workers=args.dask_workers,
        device=args.device,
        batch_size=args.batch_size,
        progress=_progress,
    )
    data = summary.to_dict()
    if args.json:
        _print_json(data)
    else:
        print(
            f"sweep      {data['total']} points: {data['done']} solved, {data['skipped']} already "
            f"in the store, {data['failed']} failed, {data['unconverged']} not converged "
            f"({_num(data['seconds'], '.3g')} s)"
        )
        print(f"store      {data['store']}")
    return EXIT_NOT_CONVERGED if data["failed"] or data["unconverged"] else EXIT_DONE


def _cmd_bench(args: argparse.Namespace) -> int:
    run = _backend("benchmarks", "run", "bench")
    rows = run(quick=args.quick, device=args.device, names=args.only, progress=_bench_progress)
    if args.json:
        _print_json(rows)
    else:
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
        print("\n".join(lines))
    bad = [r for r in rows if not r.get("skipped") and not r.get("accurate")]
    return EXIT_NOT_CONVERGED if bad else EXIT_DONE


def _bench_progress(row: Any) -> None:
    if isinstance(row, dict):
        print(
            f"{row.get('name')}: {row.get('case', '')} ratio {_num(row.get('ratio'), '.3g')}",
            file=sys.stderr,
        )
    else:
        print(str(row), file=sys.stderr)


# ------------------------------------------------------------------------------------ parser
_EXAMPLES = """\
examples:
  lpm solve --step 3:3:10:10 --energy 1,1 --json
  lpm solve --counts 100,100,10,10 --decay 1e-3,1e-3 --features relu
  lpm compare --step 2:2:10:10 --energy 1,1 --against balanced etf
  lpm threshold --majority 2 --minority 2 --energy 1,1
  lpm check --quick

exit codes: 0 done; 1 internal error (or a failed check); 2 bad input; 3 not converged or not
certified. JSON is strict: non-finite numbers are written as null."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``lpm`` (methods are read from :data:`lpm.METHODS` now).

    Returns
    -------
    argparse.ArgumentParser
        Its ``error`` raises :class:`UsageError` instead of exiting, so that :func:`main` prints
        exactly one line; each subcommand stores its handler as ``run``.
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="lpm",
        description="Certified optima of the layer-peeled and unconstrained-feature models.",
        epilog=_EXAMPLES,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"lpm {lpm.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    solve = sub.add_parser(
        "solve",
        help="solve one problem and report the optimum and its geometry",
        description="Solve one problem; report the optimum, its certificate and its geometry.",
        epilog=_EXAMPLES,
        formatter_class=formatter,
        allow_abbrev=False,
    )
    _add_problem_flags(solve)
    _add_solver_flags(solve)
    solve.add_argument("--json", action="store_true", help="one JSON object on stdout")
    solve.add_argument(
        "--save", metavar="PATH", help="also write the solution (PATH.npz and PATH.json)"
    )
    solve.set_defaults(run=_cmd_solve)

    cmp = sub.add_parser(
        "compare",
        help="a problem and its variants side by side",
        description=(
            "Solve a problem and one or more variants of it side by side (the same solver options\n"
            "for every row). Minority separation is measured on the base problem's minority\n"
            "classes in every row. Variants:\n"
            + "\n".join(f"  {k:<14}{v}" for k, v in VARIANTS.items())
        ),
        formatter_class=formatter,
        allow_abbrev=False,
    )
    _add_problem_flags(cmp)
    _add_solver_flags(cmp)
    cmp.add_argument(
        "--against",
        nargs="+",
        required=True,
        metavar="VARIANT",
        help=f"one or more of: {', '.join(VARIANTS)} (space or comma separated)",
    )
    cmp.add_argument("--json", action="store_true", help="a JSON list of solve objects")
    cmp.set_defaults(run=_cmd_compare)

    thr = sub.add_parser(
        "threshold",
        help="the minority-collapse threshold R0 of the layer-peeled model",
        description=(
            "The smallest ratio R at which the minority classifiers of the layer-peeled model "
            "(CE, learnable classifier) coincide: max over minority pairs ‖w_k − w_l‖² ≤ 1e-6·EW."
        ),
        allow_abbrev=False,
    )
    thr.add_argument("--majority", type=int, required=True, metavar="KA", help="majority classes")
    thr.add_argument("--minority", type=int, required=True, metavar="KB", help="minority classes")
    thr.add_argument("--energy", required=True, metavar="EW,EH", help="layer-peeled budgets")
    thr.add_argument("--dim", type=int, metavar="d", help="feature dimension")
    thr.add_argument("--rtol", type=float, default=1e-3, help="relative width of the bracket")
    thr.add_argument(
        "--method",
        choices=tuple(lpm.METHODS),
        help="solution method of each solve (default: the SDP, 'convex', where registered)",
    )
    thr.add_argument("--json", action="store_true", help="one JSON object on stdout")
    thr.set_defaults(run=_cmd_threshold)

    chk = sub.add_parser(
        "check",
        help="run the theorem checks of proofs_check",
        description="Run the theorem checks; exit 1 when any fails. Progress goes to stderr.",
        allow_abbrev=False,
    )
    chk.add_argument("--quick", action="store_true", help="the fast subset of cases")
    chk.add_argument("--json", action="store_true", help="one JSON object on stdout")
    chk.add_argument("--only", nargs="+", metavar="ID", help="run only these checks")
    chk.set_defaults(run=_cmd_check)

    fig = sub.add_parser(
        "figures",
        help="write the figures as PNG and PDF",
        description="Write each figure as PNG and PDF and print the paths.",
        allow_abbrev=False,
    )
    fig.add_argument("--quick", action="store_true", help="coarser grids, for a fast look")
    fig.add_argument("--out", metavar="DIR", help="output folder")
    fig.add_argument("--only", nargs="+", metavar="NAME", help="build only these figures")
    fig.set_defaults(run=_cmd_figures)

    swp = sub.add_parser(
        "sweep",
        help="solve a grid of problems into a resumable results store",
        description=(
            "lpm sweep SPEC.toml [--store PATH] [--dask ADDRESS | --dask-workers N]: solve the\n"
            "grid of a TOML spec into a SQLite store; re-running resumes, never duplicating a\n"
            "finished row. lpm sweep show STORE [--csv | --json]: read a store back."
        ),
        formatter_class=formatter,
        allow_abbrev=False,
    )
    swp.add_argument("target", nargs="+", metavar="SPEC.toml | show STORE")
    swp.add_argument("--store", metavar="PATH", help="results store (default: SPEC.sqlite)")
    swp.add_argument("--dask", metavar="ADDRESS", help="a running Dask scheduler")
    swp.add_argument(
        "--dask-workers", type=int, metavar="N", help="start N local Dask worker processes"
    )
    swp.add_argument("--device", default="cpu", help="cpu or cuda")
    swp.add_argument("--batch-size", type=int, default=64, help="problems per batch")
    swp.add_argument("--csv", action="store_true", help="with show: CSV on stdout (default)")
    swp.add_argument("--json", action="store_true", help="JSON on stdout")
    swp.set_defaults(run=_cmd_sweep)

    bench = sub.add_parser(
        "bench",
        help="time lpm against baselines measured in the same run",
        description=(
            "Each row: lpm's time, a baseline's time on the same problem in the same run, their\n"
            "ratio (baseline / lpm; > 1: lpm is faster) and the accuracy both reached."
        ),
        formatter_class=formatter,
        allow_abbrev=False,
    )
    bench.add_argument("--quick", action="store_true", help="smaller instances, fewer repeats")
    bench.add_argument("--json", action="store_true", help="a JSON list of rows on stdout")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    bench.set_defaults(run=_cmd_bench)
    for add in (add_measure_parser, add_bridge_parser):  # lpm.bridge.commands
        add(sub, formatter_class=formatter, allow_abbrev=False)
    assert tuple(sub.choices) == COMMANDS
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


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lpm`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional

    Returns
    -------
    int
        0 done; 1 internal error (or a failed check); 2 bad input; 3 not converged or not
        certified (see the module docstring).
    """
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        parser = build_parser()
        argv = _attach_negative_values(sys.argv[1:] if argv is None else list(argv))
        try:
            args, unknown = parser.parse_known_args(argv)
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        if unknown:
            prog = "lpm" if args.command is None else f"lpm {args.command}"
            raise UsageError(
                f"unrecognized arguments: {' '.join(unknown)}; run '{prog} --help' for what is "
                "allowed"
            )
        if args.command is None:
            raise UsageError(
                f"a command is required; allowed: {', '.join(COMMANDS)} (see 'lpm --help')"
            )
        return args.run(args)
    except UsageError as err:
        print(f"lpm: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as err:
        if debug:
            raise
        print(f"lpm: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except _Unavailable as err:
        print(f"lpm: internal error: {_one_line(err)}", file=sys.stderr)
        return EXIT_INTERNAL
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
