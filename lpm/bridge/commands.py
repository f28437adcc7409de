"""The ``lpm measure`` and ``lpm bridge`` subcommands (registered by :mod:`lpm.cli`).

``lpm measure`` reads a trained network's last layer and prints its geometry next to the
certified optimum of the matching model::

    lpm measure --features H.npy --labels y.npy --classifier W.npy --decay 5e-3,5e-3
    lpm measure net.npz --energy auto --json          # keys H, labels, W (and b)
    lpm measure net.npz --decay 5e-3,5e-3 --classifier-model etf

``lpm bridge`` trains the small networks of :mod:`lpm.bridge.experiments` and draws the four
figures::

    lpm bridge --quick --out bridge_out               # one seed, coarse epochs (~1-2 min)
    lpm bridge --out bridge_out --json                # the full run

Exit codes as every ``lpm`` subcommand: 0 done; 2 bad input (one line ``lpm: error: ...``);
3 the model's optimum was not certified.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lpm.problem import CLASSIFIERS
from lpm.solution import jsonable
from lpm.spec import flag_float, flag_parts

__all__ = ["bridge_arguments", "measure_arguments", "run_bridge", "run_measure"]


def measure_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``lpm measure`` (no heavy import: ``lpm --help`` stays fast)."""
    p.add_argument("network", nargs="?", metavar="FILE.npz", help="one .npz: H, labels, W [, b]")
    p.add_argument("--features", metavar="H.npy", help="penultimate features, shape (N, d)")
    p.add_argument("--labels", metavar="y.npy", help="integer labels 0..K−1, shape (N,)")
    p.add_argument("--classifier", metavar="W.npy", help="classifier, shape (K, d)")
    p.add_argument("--bias", metavar="b.npy", help="bias, shape (K,); the model gets a free bias")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--decay", metavar="LW,LH", help="the weight-decay model's λ_W, λ_H")
    scale.add_argument(
        "--energy",
        metavar="EW,EH|auto",
        default="auto",
        help="layer-peeled budgets EW,EH, or 'auto': the network's own",
    )
    p.add_argument(
        "--classifier-model",
        choices=CLASSIFIERS,
        default="learnable",
        help="the network's classifier: trained (learnable) or fixed (etf, random)",
    )
    p.add_argument("--relu", action="store_true", help="the model's features are nonnegative")
    p.add_argument("--minority", metavar="K1,K2,...", help="classes for the minority separation")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def _pair(flag: str, value: str, names: list[str]) -> tuple[float, float]:
    parts = flag_parts(flag, value, ",", names)
    return tuple(flag_float(flag, n, v) for n, v in zip(names, parts))  # type: ignore[return-value]


def _fmt(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.4g}"


def run_measure(args: argparse.Namespace) -> int:
    """Handler of ``lpm measure``: exit 0, or 3 when the optimum is not certified."""
    from lpm.bridge.measure import load_network, measure_network

    arrays = load_network(
        args.network,
        features=args.features,
        labels=args.labels,
        classifier=args.classifier,
        bias=args.bias,
    )
    decay = None if args.decay is None else _pair("decay", args.decay, ["LW", "LH"])
    energy: Any = "auto"
    if decay is None and args.energy != "auto":
        energy = _pair("energy", args.energy, ["EW", "EH"])
    minority = None
    if args.minority is not None:
        minority = tuple(int(flag_float("minority", "class", v)) for v in args.minority.split(","))
    result = measure_network(
        arrays["H"],
        arrays["labels"],
        arrays["W"],
        arrays["b"],
        decay=decay,
        energy=energy,
        classifier=args.classifier_model,
        relu=args.relu,
        minority=minority,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False, ensure_ascii=False))
    else:
        print(_measure_text(result))
    return 0 if result.optimum.certified else 3


def _measure_text(result: Any) -> str:
    geo, opt_geo, opt = result.geometry, result.optimum_geometry, result.optimum
    cert = "certified" if opt.certified else "NOT certified"
    lines = [
        f"model      {result.problem.describe()}",
        f"optimum    f* = {opt.objective:.10g} ({cert}, gap {_fmt(opt.gap)}, {opt.method})",
        f"network    f − f* = {_fmt(result.objective_excess)}   own budgets E_W = "
        f"{result.budgets['E_W']:.4g}, E_H = {result.budgets['E_H']:.4g}",
        "",
        f"{'':24}{'network':>12}{'optimum':>12}",
    ]
    for name in ("nc1", "nc2_w", "nc2_m", "nc3", "max_abs_cos_m", "minority_w_separation"):
        lines.append(f"{name:24}{_fmt(getattr(geo, name)):>12}{_fmt(getattr(opt_geo, name)):>12}")
    lines += ["", "Gram distance min_c≥0 ‖G − c G*‖/‖G‖   (scale c*, unscaled ‖G − G*‖/‖G*‖)"]
    for name, g in result.grams.items():
        lines.append(
            f"  {name:10} {_fmt(g.distance):>10}   (c* = {_fmt(g.scale)}, {_fmt(g.raw_distance)})"
        )
    return "\n".join(lines)


def bridge_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``lpm bridge``."""
    p.add_argument("--quick", action="store_true", help="one seed, coarse epochs (~1-2 min)")
    p.add_argument("--out", metavar="DIR", default="bridge_out", help="output folder")
    p.add_argument("--json", action="store_true", help="the results as JSON on stdout")


def run_bridge(args: argparse.Namespace) -> int:
    """Handler of ``lpm bridge``: run every experiment, write DIR/bridge.json and the figures."""
    from lpm.bridge.experiments import run_all

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a folder")
    start = time.perf_counter()
    data = run_all(quick=args.quick, progress=lambda s: print(s, file=sys.stderr, flush=True))
    data["seconds"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "bridge.json").write_text(json.dumps(jsonable(data), indent=1, allow_nan=False))
    paths = _draw(data, out)
    if args.json:
        print(json.dumps(jsonable(data), indent=1, allow_nan=False))
    else:
        print(data["summary"])
        for path in paths:
            print(path)
    return 0 if data.get("certified", False) else 3


def _draw(data: dict, out: Path) -> list[Path]:
    """Draw the bridge figures from ``data`` (no recomputation); [] without the figures package."""
    try:
        import matplotlib.style

        import figures
    except ImportError:
        return []
    paths = []
    for name in ("bridge_collapse", "bridge_accuracy", "bridge_relu", "bridge_distance"):
        module = figures.module(name)
        with matplotlib.style.context(figures.STYLE):
            fig = module.draw(data[module.KEY])
            path = out / f"{name}.png"
            fig.savefig(path, dpi=figures.PNG_DPI)
            fig.savefig(out / f"{name}.pdf")
        paths.append(path)
    return paths
