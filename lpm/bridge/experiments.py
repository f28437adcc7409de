"""The four experiments of ``lpm bridge``: the seed papers' claims on small trained networks.

1. :func:`minority_collapse` — Fang et al. (2021): under a step imbalance (5 majority digit
   classes of n_A = 100 training samples, 5 minority ones of 100/R), does the trained learnable
   classifier's minority separation D_w/E_W = max_{k<l minority}‖w_k − w_l‖² / ((1/K)Σ‖w_k‖²)
   vanish where the matching weight-decay model's certified optimum says it does (R ≥ R₀), and
   not below?
2. :func:`dr_versus_ce` — Yang et al. (2022): on long-tailed digits (ρ = 10, 100), is the test
   accuracy on the five rarest classes higher with a fixed ETF and dot-regression than with a
   learnable classifier and CE? Several seeds (initialisation and subsample), mean ± std.
3. :func:`relu_orthogonality` — Dang et al. (2024): do ReLU features' class means become
   orthogonal (max_{k≠l}|cos(h̄_k, h̄_l)| → 0) during training, as the ReLU model's optimum has
   them, while free features approach their own optimum's nonzero cosines?
4. :func:`distance_to_optimum` — every head, on digits and the Gaussian mixture (ρ = 10): the
   distance of each trained last layer's Grams to its model's certified optimum, and its excess
   objective f − f*, against epochs.

:data:`QUICK` (one seed, short training) and :data:`FULL` set the sizes. Every optimum is
certified (``certified`` flags in the results say so; a result without it is reported as such).

Findings of the full run (``lpm bridge``: 5 seeds, 2,400 full-batch Adam epochs, lr 1e-3,
MLP 64-64-64-32, λ_W = λ_H = 5e-3; 763 s wall, 326 s CPU, on 2 cores shared with other jobs):

1. *Minority collapse: reproduced, at the model's threshold.* The model's certified optimum has
   R₀ in (12.5, 14.3] (bisection on n_B). The trained classifier's D_w/E_W equals the optimum's
   to three digits below it — R = 1, 2, 5, 10: 2.224 / 2.222, 1.562 / 1.561, 0.822 / 0.822,
   0.307 / 0.306 (trained / optimum) — and vanishes above it: R = 20, 50, 100 give 1.6e-4,
   1.1e-5, 9.0e-6 (optimum 0 to 1e-11). Beyond R₀ the network cannot reach zero training error
   (3.8 %, 1.6 %, 0.8 % at R = 20, 50, 100): the minority classes share one classifier, exactly
   as in the model, so "zero training error" is not the terminal phase there.
2. *Fixed ETF + dot-regression vs learnable + CE: Yang et al.'s claim is not reproduced here.*
   Test accuracy on the 5 rarest digits, mean ± std over 5 seeds: ρ = 10: learnable + CE
   0.848 ± 0.024, ETF + DR 0.793 ± 0.028; ρ = 100: 0.483 ± 0.026 vs 0.392 ± 0.047 (overall
   accuracy 0.915 vs 0.886 and 0.725 vs 0.674). The setting differs from theirs (a small MLP,
   full batch, no BatchNorm, DR on normalised features ½(w_yᵀĥ − 1)², the CE head regularised by
   the model's λ_H‖H‖² penalty, no tuning): on this data and these heads, DR is worse.
3. *ReLU features: orthogonal, after long training; on digits at a wrong point.* The ReLU
   model's optimum has orthogonal class means (max|cos| = 0). Trained 9,600 epochs (four times
   the others), the ReLU net's max|cos(h̄_k, h̄_l)| falls from 0.86 to 0.000 on the mixture
   (at 2,400 epochs it was still 0.34), with per-class norms within 0.02 of the optimum's and a
   class-mean Gram distance 0.011: Dang et al.'s geometry, reproduced. On digits it also reaches
   0.000, but the two rarest classes (n = 13, 10) end with *dead* features (h̄_k = 0, training
   error 5.6 %) where the optimum keeps them at norm 0.73 and 0.72 (Gram distance 0.51): the
   boundary stationary points of the ReLU model (docs/theory.md §3 and §8) trap the trained
   network too (dead classes in each of seeds 0, 1, 2 tried). The free-feature control reaches
   its optimum's 0.155 in ~1,000 epochs.
4. *Distance to the optimum.* The four heads without a ReLU get within 0.002–0.015 (class-mean
   Gram distance) of their certified optima on digits and 0.0005–0.010 on the mixture, with
   f − f* between 1e-5 and 2e-4 (the optima's certified gaps are ≤ 4e-9); fixed-classifier
   heads converge fastest (ETF + DR lowest in f − f*, ETF + CE lowest in Gram distance),
   the learnable classifier more slowly; the ReLU head stays far (f − f* ≈ 0.06–0.09).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lpm.bridge.compare import relative_separation, run_optimum, trajectory
from lpm.bridge.data import Dataset, digits, gaussian_mixture, long_tailed, step_imbalanced
from lpm.bridge.measure import certified_optimum
from lpm.bridge.train import HEADS, Run, TrainConfig, train

__all__ = [
    "FULL",
    "QUICK",
    "Settings",
    "distance_to_optimum",
    "dr_versus_ce",
    "minority_collapse",
    "relu_orthogonality",
    "run_all",
]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Settings:
    """Sizes of the experiments.

    Attributes
    ----------
    config : TrainConfig
        Epochs, snapshots, network (the seed is overridden per run).
    seeds : tuple of int
        Seeds of :func:`dr_versus_ce` (the other experiments use the first).
    ratios : tuple of float
        R of :func:`minority_collapse` (n_A/R must be an integer).
    rhos : tuple of float
        ρ of :func:`dr_versus_ce`.
    mixture : bool
        Also train on the Gaussian mixture in :func:`distance_to_optimum`.
    bisect : bool
        Locate the model's R₀ between grid points by bisection on n_B.
    relu_longer : int
        :func:`relu_orthogonality` trains this many times more epochs.
    """

    config: TrainConfig
    seeds: tuple[int, ...]
    ratios: tuple[float, ...]
    rhos: tuple[float, ...] = (10.0, 100.0)
    mixture: bool = True
    bisect: bool = True
    relu_longer: int = 4


QUICK = Settings(
    TrainConfig(epochs=600, record_every=100),
    seeds=(0,),
    ratios=(1.0, 5.0, 50.0),
    mixture=False,
    bisect=False,
    relu_longer=1,
)
FULL = Settings(
    TrainConfig(epochs=2400, record_every=150),
    seeds=(0, 1, 2, 3, 4),
    ratios=(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
)

#: Majority classes and their training count in :func:`minority_collapse`.
MAJORITY, N_MAJOR = 5, 100
#: Largest class of the long-tailed training sets.
N_MAX = 100
#: D_w/E_W at or below which minority classifiers count as collapsed (the optimum's D_w is
#: exactly 0 there; trained networks are judged against the same bar and against the model's).
COLLAPSE_TOL = 1e-6


class _Cache:
    """Runs and optima shared between experiments of one ``run_all``."""

    def __init__(self) -> None:
        self.runs: dict[tuple, Run] = {}
        self.optima: dict = {}
        self.data: dict[str, Dataset] = {}

    def dataset(self, name: str) -> Dataset:
        if name not in self.data:
            self.data[name] = digits() if name == "digits" else gaussian_mixture()
        return self.data[name]

    def run(self, key: tuple, data: Dataset, head: str, config: TrainConfig, progress) -> Run:
        if key not in self.runs:
            progress(f"bridge: training {head} on {data.name} (seed {config.seed})")
            self.runs[key] = train(data, HEADS[head], config)
        return self.runs[key]


def _tail(counts: tuple[int, ...], how_many: int = 5) -> tuple[int, ...]:
    """The ``how_many`` classes with the fewest training samples (ties by index)."""
    order = sorted(range(len(counts)), key=lambda k: (counts[k], k))
    return tuple(sorted(order[:how_many]))


def _model_separation(counts, head, dim, cache: _Cache) -> tuple[float, bool]:
    problem = head.problem(tuple(counts), dim)
    if problem not in cache.optima:
        cache.optima[problem] = certified_optimum(problem)
    opt = cache.optima[problem]
    sep = relative_separation(opt.W, tuple(range(MAJORITY, len(counts))))
    return float(sep), bool(opt.certified)


def _bisect_threshold(lo_nb: int, hi_nb: int, head, dim, K, cache: _Cache) -> tuple[float, float]:
    """R₀ bracket by bisection on the integer n_B: D_w > tol at lo_nb... hi_nb collapsed."""
    # lo_nb: largest n_B known collapsed (R large); hi_nb: smallest known separated.
    while hi_nb - lo_nb > 1:
        mid = (lo_nb + hi_nb) // 2
        sep, _ = _model_separation(
            (N_MAJOR,) * MAJORITY + (mid,) * (K - MAJORITY), head, dim, cache
        )
        if sep <= COLLAPSE_TOL:
            lo_nb = mid
        else:
            hi_nb = mid
    return N_MAJOR / hi_nb, N_MAJOR / lo_nb


def minority_collapse(
    settings: Settings = QUICK, progress: Progress = _quiet, cache: _Cache | None = None
) -> dict[str, Any]:
    """Experiment 1: trained vs optimal minority separation D_w/E_W against R (digits)."""
    cache = cache or _Cache()
    head = HEADS["learnable-ce"]
    config = replace(settings.config, seed=settings.seeds[0])
    base = cache.dataset("digits")
    K = base.K
    rows = []
    for R in settings.ratios:
        data = step_imbalanced(base, MAJORITY, N_MAJOR, R, seed=config.seed)
        run = cache.run(("step", R, config), data, head.name, config, progress)
        model_sep, certified = _model_separation(run.counts, head, config.dim, cache)
        minority = tuple(range(MAJORITY, K))
        rows.append(
            {
                "R": R,
                "network_separation": relative_separation(run.final.W, minority),
                "network_trajectory": [
                    (s.epoch, relative_separation(s.W, minority)) for s in run.snapshots
                ],
                "model_separation": model_sep,
                "model_certified": certified,
                "train_error": run.final.train_error,
            }
        )
    separated = [r["R"] for r in rows if r["model_separation"] > COLLAPSE_TOL]
    collapsed = [r["R"] for r in rows if r["model_separation"] <= COLLAPSE_TOL]
    bracket = (max(separated, default=math.nan), min(collapsed, default=math.nan))
    if settings.bisect and separated and collapsed:
        progress("bridge: bisection for the model's R0")
        bracket = _bisect_threshold(
            round(N_MAJOR / bracket[1]), round(N_MAJOR / bracket[0]), head, config.dim, K, cache
        )
    return {
        "lambda": head.decay,
        "counts_rule": f"{MAJORITY} classes of {N_MAJOR}, {K - MAJORITY} of {N_MAJOR}/R",
        "rows": rows,
        "R0_bracket": bracket,
        "collapse_tol": COLLAPSE_TOL,
        "epochs": config.epochs,
        "certified": all(r["model_certified"] for r in rows),
    }


def dr_versus_ce(
    settings: Settings = QUICK, progress: Progress = _quiet, cache: _Cache | None = None
) -> dict[str, Any]:
    """Experiment 2: minority-class test accuracy, fixed ETF + DR vs learnable + CE, per seed."""
    cache = cache or _Cache()
    base = cache.dataset("digits")
    out: dict[str, Any] = {"rhos": list(settings.rhos), "seeds": list(settings.seeds), "heads": {}}
    for head in ("learnable-ce", "etf-dr"):
        per_rho = []
        for rho in settings.rhos:
            accs, overall = [], []
            for seed in settings.seeds:
                config = replace(settings.config, seed=seed)
                data = long_tailed(base, rho, N_MAX, seed=seed)
                run = cache.run(("lt", "digits", rho, head, config), data, head, config, progress)
                tail = _tail(run.counts)
                accs.append(float(np.mean(run.final.test_accuracy[list(tail)])))
                overall.append(float(np.mean(run.final.test_accuracy)))
            per_rho.append({"rho": rho, "minority_accuracy": accs, "accuracy": overall})
        out["heads"][head] = per_rho
    out["minority_classes"] = "the 5 classes with the fewest training samples (k = 5..9)"
    out["epochs"] = settings.config.epochs
    return out


def _long_tail_run(
    name: str, head: str, settings: Settings, cache: _Cache, progress, longer: int = 1
) -> Run:
    config = replace(settings.config, seed=settings.seeds[0])
    if longer > 1:
        config = replace(
            config, epochs=longer * config.epochs, record_every=longer * config.record_every
        )
    data = long_tailed(cache.dataset(name), 10.0, N_MAX, seed=config.seed)
    return cache.run(("lt", name, 10.0, head, config), data, head, config, progress)


def relu_orthogonality(
    settings: Settings = QUICK, progress: Progress = _quiet, cache: _Cache | None = None
) -> dict[str, Any]:
    """Experiment 3: max_{k≠l}|cos(h̄_k, h̄_l)| over training, ReLU vs free features (ρ = 10),
    trained ``settings.relu_longer`` times longer than the other experiments."""
    cache = cache or _Cache()
    names = ("digits", "gaussian-mixture") if settings.mixture else ("digits",)
    out: dict[str, Any] = {"datasets": {}}
    certified = True
    for name in names:
        heads = {}
        for head in ("relu-ce", "learnable-ce"):
            run = _long_tail_run(name, head, settings, cache, progress, settings.relu_longer)
            progress(f"bridge: certified optimum of the {head} model")
            problem, opt = run_optimum(run, cache.optima)
            rows = trajectory(run, problem, opt, _tail(run.counts))
            certified &= bool(opt.certified)
            heads[head] = {
                "epochs": [r["epoch"] for r in rows],
                "max_abs_cos_m": [r["max_abs_cos_m"] for r in rows],
                "model_max_abs_cos_m": _optimum_cos(opt, problem),
                "model_certified": opt.certified,
                "train_error": [r["train_error"] for r in rows],
                "gram_distance_means": [r["gram_distance"]["means"] for r in rows],
                "m_norms": rows[-1]["m_norms"],
                "model_m_norms": np.linalg.norm(opt.means, axis=1),
                "counts": run.counts,
            }
        out["datasets"][name] = heads
    out["certified"] = certified
    return out


def _optimum_cos(opt, problem) -> float:
    from lpm.geometry import measure

    return measure(opt.W, opt.H, problem.labels).max_abs_cos_m


def distance_to_optimum(
    settings: Settings = QUICK, progress: Progress = _quiet, cache: _Cache | None = None
) -> dict[str, Any]:
    """Experiment 4: Gram distances and f − f* of every head against epochs (ρ = 10)."""
    cache = cache or _Cache()
    names = ("digits", "gaussian-mixture") if settings.mixture else ("digits",)
    out: dict[str, Any] = {"datasets": {}}
    certified = True
    for name in names:
        heads = {}
        for head in HEADS:
            run = _long_tail_run(name, head, settings, cache, progress)
            problem, opt = run_optimum(run, cache.optima)
            rows = trajectory(run, problem, opt, _tail(run.counts))
            certified &= bool(opt.certified)
            heads[head] = {
                "epochs": [r["epoch"] for r in rows],
                "gram_distance": {
                    g: [r["gram_distance"][g] for r in rows]
                    for g in ("classifier", "means", "cross")
                },
                "objective_excess": [r["objective_excess"] for r in rows],
                "nc1": [r["nc1"] for r in rows],
                "train_error": [r["train_error"] for r in rows],
                "optimum_objective": opt.objective,
                "optimum_gap": opt.gap,
                "optimum_certified": opt.certified,
                "w_norms": [r["w_norms"] for r in rows],
                "m_norms": [r["m_norms"] for r in rows],
                "model_w_norms": np.linalg.norm(opt.W, axis=1),
                "model_m_norms": np.linalg.norm(opt.means, axis=1),
                "seconds": run.seconds,
            }
        out["datasets"][name] = heads
    out["certified"] = certified
    return out


def run_all(quick: bool = True, progress: Progress = _quiet) -> dict[str, Any]:
    """Every experiment (runs shared between them), and a text summary of the findings."""
    settings = QUICK if quick else FULL
    cache = _Cache()
    data = {
        "quick": quick,
        "collapse": minority_collapse(settings, progress, cache),
        "accuracy": dr_versus_ce(settings, progress, cache),
        "relu": relu_orthogonality(settings, progress, cache),
        "distance": distance_to_optimum(settings, progress, cache),
    }
    data["certified"] = all(data[k]["certified"] for k in ("collapse", "relu", "distance"))
    data["summary"] = summary(data)
    return data


def summary(data: dict[str, Any]) -> str:
    """The findings in words and numbers."""
    lines = []
    c = data["collapse"]
    lo, hi = c["R0_bracket"]
    lines.append(
        f"minority collapse (learnable CE, λ = {c['lambda'][0]:g}): model R0 in ({lo:g}, {hi:g}]"
    )
    for r in c["rows"]:
        lines.append(
            f"  R = {r['R']:>5g}: D_w/E_W trained {r['network_separation']:.3g}, "
            f"optimum {r['model_separation']:.3g} (train error {r['train_error']:.3g})"
        )
    a = data["accuracy"]
    for i, rho in enumerate(a["rhos"]):
        parts = []
        for head, per_rho in a["heads"].items():
            acc = np.asarray(per_rho[i]["minority_accuracy"])
            parts.append(f"{head} {acc.mean():.3f} ± {acc.std():.3f}")
        lines.append(f"minority test accuracy at rho = {rho:g}: " + ", ".join(parts))
    for name, heads in data["relu"]["datasets"].items():
        for head, h in heads.items():
            lines.append(
                f"{name} {head}: max|cos(h̄_k, h̄_l)| {h['max_abs_cos_m'][0]:.3f} → "
                f"{h['max_abs_cos_m'][-1]:.3f} after {h['epochs'][-1]} epochs "
                f"(optimum {h['model_max_abs_cos_m']:.3f})"
            )
    for name, heads in data["distance"]["datasets"].items():
        for head, h in heads.items():
            g = {k: v[-1] for k, v in h["gram_distance"].items()}
            lines.append(
                f"{name} {head}: Gram distance W {g['classifier']:.3g}, M {g['means']:.3g}, "
                f"WM {g['cross']:.3g}; f − f* {h['objective_excess'][-1]:.3g}"
            )
    return "\n".join(lines)
