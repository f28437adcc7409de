"""Hypothesis strategies for problems of the layer-peeled / unconstrained-feature family.

Write a statement about optima as a property, and let Hypothesis look for a problem that breaks
it::

    from hypothesis import given
    import lpm
    from lpm.strategies import problems
    from lpm.testing import assert_gram_close

    @given(problems(loss="ce", classifier="learnable", regime="energy", max_K=5))
    def test_my_claim(problem):
        solution = lpm.solve(problem)
        assert_gram_close(solution.W @ solution.W.T, "etf", 1e-6, problem=problem)

Every strategy is bounded to problems that the package solves and certifies in well under a
second on one CPU core, and is built so that Hypothesis's shrinking walks towards the simplest
problem: few classes, balanced counts, count 1, round budgets and decays (1.0 before 0.5 before a
float), the first variant of each list (``ce``, ``learnable``, ``free``, ``none``,
``class-average``). A counterexample therefore comes out minimal, e.g. ``counts=(2, 1)`` rather
than ``counts=(17, 3, 29)``:

* K is drawn as a small integer first, so it shrinks to ``min_K``;
* counts are a base count n times small multipliers m_k (n_k = n·m_k), so shrinking the base
  keeps the shape of the profile and shrinking the multipliers balances it;
* budgets, decays and ratios are ``one_of(sampled_from(round values), floats(...))``, which
  shrinks to the first round value.

:func:`lpm.testing.command_line` turns a problem into the ``lpm solve`` line that reproduces it.

References: the Hypothesis documentation ("Shrinking", ``st.one_of``, ``st.sampled_from``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError(
        "lpm.strategies needs Hypothesis; install it with: pip install 'lpm[test]' "
        "(or pip install hypothesis)"
    ) from None

from lpm.problem import BIASES, BUDGETS, CLASSIFIERS, FEATURES, LOSSES, Problem
from lpm.theory import relu_collapse_threshold

__all__ = [
    "PROFILES",
    "REGIMES",
    "ROUND_DECAYS",
    "ROUND_ENERGIES",
    "ROUND_RATIOS",
    "class_counts",
    "decays",
    "dims",
    "energies",
    "problems",
]

#: The count profiles, simplest first (shrinking moves towards the first).
PROFILES: tuple[str, ...] = ("balanced", "step", "long-tail", "arbitrary")
#: How the scale is controlled (``Problem.regime``), simplest first.
REGIMES: tuple[str, ...] = ("energy", "decay", "unregularised")
#: Budgets E_W, E_H tried before any float (1.0 first).
ROUND_ENERGIES: tuple[float, ...] = (1.0, 0.5, 2.0, 0.25, 4.0)
#: Weight decays tried before any float (1e-2 first: the best-conditioned of the range).
ROUND_DECAYS: tuple[float, ...] = (1e-2, 5e-3, 2e-2, 2e-3, 1e-3)
#: Imbalance ratios tried before any integer (2 first).
ROUND_RATIOS: tuple[int, ...] = (2, 10, 5, 3, 4, 20)

#: Range of E_W and E_H: the certified solves of the package take a few hundred steps there.
ENERGY_RANGE = (0.25, 4.0)
#: Range of λ_W, λ_H: below 1e-3 the MSE model's near-zero-loss regime converges sublinearly.
DECAY_RANGE = (1e-3, 3e-2)
#: Multiples of a class's ReLU collapse threshold τ_k (Dang et al. 2024) for λ_W·λ_H: the band
#: (0.8, 1.25) around 1 is left out, where the margin and its curvature vanish together and
#: first-order solves stall above their tolerance.
RELU_FACTORS = st.one_of(st.sampled_from((0.5, 2.0)), st.floats(0.05, 0.8), st.floats(1.25, 3.0))


def _round_or_float(values: Sequence[float], low: float, high: float) -> st.SearchStrategy[float]:
    """A round value of ``values`` (shrinks to the first), else a float in [low, high]."""
    return st.one_of(st.sampled_from(tuple(values)), st.floats(low, high))


def _choices(name: str, value: str | Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    """The variants a keyword filter allows, in the order of ``allowed`` (simplest first)."""
    if value is None:
        return list(allowed)
    wanted = [value] if isinstance(value, str) else list(value)
    unknown = [v for v in wanted if v not in allowed]
    if unknown or not wanted:
        raise ValueError(
            f"{name} {unknown or wanted!r} is not known; allowed: {', '.join(allowed)}"
        )
    return [v for v in allowed if v in wanted]


def energies(
    low: float = ENERGY_RANGE[0], high: float = ENERGY_RANGE[1]
) -> st.SearchStrategy[tuple[float, float]]:
    """Layer-peeled budgets (E_W, E_H); each shrinks to 1.0 (round values before floats)."""
    value = _round_or_float([v for v in ROUND_ENERGIES if low <= v <= high], low, high)
    return st.tuples(value, value)


def decays(
    low: float = DECAY_RANGE[0], high: float = DECAY_RANGE[1], *, bias: bool = False
) -> st.SearchStrategy[tuple[float, float, float]]:
    """Weight decays (λ_W, λ_H, λ_b), λ_b = 0 unless ``bias`` (a penalised bias)."""
    value = _round_or_float([v for v in ROUND_DECAYS if low <= v <= high], low, high)
    return st.tuples(value, value, value if bias else st.just(0.0))


@st.composite
def class_counts(
    draw,
    *,
    min_K: int = 2,
    max_K: int = 6,
    max_n: int = 30,
    profile: str | Sequence[str] | None = None,
    imbalanced: bool | None = None,
) -> tuple[int, ...]:
    """Class counts n_k (K = len), each in 1..max_n.

    Parameters
    ----------
    min_K, max_K : int
        Range of K (2 ≤ min_K ≤ max_K).
    max_n : int
        Largest count.
    profile : {"balanced", "step", "long-tail", "arbitrary"} or a list of them, optional
        ``balanced`` n·(1, ..., 1); ``step`` K_A classes of R·n_B then K_B of n_B (Fang et al.
        2021); ``long-tail`` ``Problem.long_tail(K, n_max, rho)``; ``arbitrary`` n·(m_1, ..., m_K).
        Default: all, shrinking towards ``balanced``.
    imbalanced : bool, optional
        True: at least two distinct counts (a balanced draw gets its first class one base count
        larger); False: only ``balanced``; None: either.
    """
    if not 2 <= min_K <= max_K:
        raise ValueError(f"need 2 ≤ min_K ≤ max_K, got min_K={min_K}, max_K={max_K}")
    if max_n < 2 and imbalanced:
        raise ValueError(f"imbalanced counts need max_n ≥ 2, got {max_n}")
    allowed = _choices("profile", profile, PROFILES)
    if imbalanced is False:
        allowed = ["balanced"]
    elif imbalanced and allowed != ["balanced"]:
        allowed = [p for p in allowed if p != "balanced"]
    kind = draw(st.sampled_from(allowed))
    K = draw(st.integers(min_K, max_K))
    if kind == "step":
        majority = draw(st.integers(1, K - 1))
        ratio = draw(_round_or_float_int(max(2, max_n)))
        n_minor = draw(st.integers(1, max(1, max_n // ratio)))
        counts = (ratio * n_minor,) * majority + (n_minor,) * (K - majority)
    elif kind == "long-tail":
        n_max = draw(st.integers(2, max(2, max_n)))
        rho = draw(st.one_of(st.sampled_from((2.0, 10.0, 5.0)), st.floats(1.5, n_max)))
        counts = Problem.long_tail(K, n_max, min(rho, float(n_max))).counts
    else:
        base = draw(st.integers(1, max_n))
        top = max_n // base
        if kind == "balanced":
            multipliers = [1] * K
        else:
            multipliers = draw(st.lists(st.integers(1, top), min_size=K, max_size=K))
        counts = tuple(base * m for m in multipliers)
    if imbalanced and len(set(counts)) == 1:
        c = counts[0]
        counts = (min(2 * c, max_n), *counts[1:]) if c < max_n else (*counts[:-1], c // 2)
    return tuple(int(c) for c in counts)


def _round_or_float_int(top: int) -> st.SearchStrategy[int]:
    """An integer ratio in 2..top: a round one first (shrinks to 2)."""
    return st.one_of(
        st.sampled_from([r for r in ROUND_RATIOS if r <= top] or [2]), st.integers(2, top)
    )


def dims(K: int, *, at_least: int | None = None, max_extra: int = 3) -> st.SearchStrategy[int]:
    """Feature dimension d in at_least..at_least + max_extra (default at_least = max(1, K − 1),
    the least d at which the ETF statements hold); shrinks to the least."""
    low = max(1, K - 1) if at_least is None else at_least
    return st.integers(low, low + max_extra)


@st.composite
def problems(
    draw,
    *,
    loss: str | Sequence[str] | None = None,
    classifier: str | Sequence[str] | None = None,
    features: str | Sequence[str] | None = None,
    bias: str | Sequence[str] | None = None,
    regime: str | Sequence[str] | None = None,
    budget: str | Sequence[str] | None = None,
    min_K: int = 2,
    max_K: int = 5,
    max_n: int = 20,
    profile: str | Sequence[str] | None = None,
    imbalanced: bool | None = None,
    max_dim_extra: int = 2,
    energy: st.SearchStrategy[tuple[float, float]] | None = None,
    decay: st.SearchStrategy[tuple[float, float, float]] | None = None,
) -> Problem:
    """A :class:`~lpm.problem.Problem` of the family, filtered by keyword.

    Each variant keyword takes one name, a list of names, or None (all that combine); the lists
    are tried simplest first (``ce``, ``learnable``, ``free``, ``none``, ``energy``,
    ``class-average``), so a counterexample shrinks to the simplest variant that still fails.
    Combinations the model does not define are never drawn (``dr`` needs a fixed classifier and
    energies; a penalised bias needs decay; the per-sample budget needs energies; a fixed ETF
    needs d ≥ K − 1). The unregularised model is drawn only when asked for (``regime=
    "unregularised"``: its max-margin solutions carry no duality gap, so they are converged but
    never certified), and only where a convex program poses it: CE with free features and no
    bias, or CE on the sphere with a fixed classifier.

    Parameters
    ----------
    loss, classifier, features, bias, regime, budget
        Filters; ``regime`` is ``"energy"``, ``"decay"`` or ``"unregularised"`` (default: the
        first two).
    min_K, max_K, max_n, profile, imbalanced
        Passed to :func:`class_counts`.
    max_dim_extra : int
        d is drawn in d_min..d_min + max_dim_extra, d_min = max(1, K − 1) (K for ReLU features
        and the MSE loss, whose optima have K orthogonal directions).
    energy, decay : strategies, optional
        Replace :func:`energies` / :func:`decays` (e.g. ``st.just((1.0, 1.0))``).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(problems(loss="ce", classifier="learnable", regime="energy", max_K=4))
    ... def check(p):
    ...     assert p.loss == "ce" and p.energy is not None and p.K <= 4
    >>> check()
    """
    losses = _choices("loss", loss, LOSSES)
    classifiers = _choices("classifier", classifier, CLASSIFIERS)
    feature_list = _choices("features", features, FEATURES)
    biases = _choices("bias", bias, BIASES)
    regimes = _choices("regime", regime if regime is not None else REGIMES[:2], REGIMES)
    budgets = _choices("budget", budget, BUDGETS)

    combos = [
        (lo, cl, fe, bi, re, bu)
        for lo in losses
        for cl in classifiers
        for fe in feature_list
        for bi in biases
        for re in regimes
        for bu in budgets
        if _defined(lo, cl, fe, bi, re, bu)
    ]
    if not combos:
        raise ValueError(
            "no problem of the family meets these filters together (dr needs a fixed classifier "
            "and energies, a penalised bias needs decay, per-sample needs energies, the "
            "unregularised model needs ce with free features and no bias, or spheres)"
        )
    # The counts first: changing a variant below never changes K or the counts.
    counts = draw(
        class_counts(min_K=min_K, max_K=max_K, max_n=max_n, profile=profile, imbalanced=imbalanced)
    )
    # Every draw below happens whatever the variant, so that shrinking one choice (a variant,
    # a budget) never shifts the meaning of the choices after it: each variant index shrinks on
    # its own to the simplest variant the property still fails for.
    chosen: tuple[str, ...] = ()
    for stage, names in enumerate((losses, classifiers, feature_list, biases, regimes, budgets)):
        wanted = names[draw(st.integers(0, len(names) - 1))]
        valid = [c[stage] for c in combos if c[:stage] == chosen]
        chosen = (*chosen, wanted if wanted in valid else valid[0])
    lo, cl, fe, bi, re, bu = chosen
    K = len(counts)
    drawn_energy = draw(energy or energies())
    drawn_mse_energy = draw(_mse_energies())
    drawn_decay = draw(decay or decays(bias=True))
    relu_factor, relu_ratio = draw(RELU_FACTORS), draw(st.sampled_from((1.0, 0.5, 2.0)))
    seed = draw(st.integers(0, 2**16))
    extra = draw(st.integers(0, max_dim_extra))

    kwargs: dict = dict(loss=lo, classifier=cl, features=fe, bias=bi)
    if re == "energy":
        value = drawn_mse_energy if (energy is None and lo == "mse") else drawn_energy
        kwargs.update(energy=value, budget=bu)
    elif re == "decay":
        if decay is None and fe == "relu":
            value = _relu_decay(counts, relu_factor, relu_ratio)
        else:
            value = drawn_decay
        kwargs["decay"] = (*value[:2], drawn_decay[2] if bi == "penalised" else 0.0)
    if cl != "learnable":
        kwargs["classifier_seed"] = seed
    at_least = K if (fe == "relu" or lo == "mse") else max(1, K - 1)
    return Problem.from_counts(counts, dim=at_least + extra, **kwargs)


def _defined(
    loss: str, classifier: str, features: str, bias: str, regime: str, budget: str
) -> bool:
    """Whether the variant is a problem the package poses (see :func:`problems`)."""
    if budget == "per-sample" and regime != "energy":
        return False
    if bias == "penalised" and regime != "decay":
        return False
    if loss == "dr" and (classifier == "learnable" or regime != "energy"):
        return False
    if regime == "unregularised":
        sphere = features == "sphere" and classifier != "learnable"
        return loss == "ce" and (sphere or (features == "free" and bias == "none"))
    return True


@st.composite
def _mse_energies(draw) -> tuple[float, float]:
    """(E_W, E_H) with E_W·E_H ≤ 1/2 for the MSE loss under energies.

    From E_W·E_H ≥ 1 on (and d ≥ K) the learnable MSE model reaches zero loss, K = tr(W M̄ᵀ) ≤
    K·sqrt(E_W E_H) being the only obstruction; its minimisers then form a degenerate set on the
    budget's boundary where first-order solves converge sublinearly (counts (1, 1), d = 2,
    E = (1, 1): 20,000 steps at residual 3.5e-8), and ``auto`` needs the convex program.
    """
    E_W = draw(_round_or_float([v for v in ROUND_ENERGIES if v <= 2.0], ENERGY_RANGE[0], 2.0))
    share = draw(_round_or_float((1.0, 0.5), 0.1, 1.0))
    return E_W, share * 0.5 / E_W


def _relu_decay(counts: tuple[int, ...], factor: float, ratio: float) -> tuple[float, float]:
    """(λ_W, λ_H) with λ_Wλ_H = factor × min_k τ_k (Dang et al. 2024's collapse thresholds)
    and λ_W/λ_H = ratio."""
    product = factor * float(min(relu_collapse_threshold(counts)))
    return (math.sqrt(product * ratio), math.sqrt(product / ratio))
