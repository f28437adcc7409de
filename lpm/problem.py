"""The problem: which layer-peeled / unconstrained-feature model to solve.

A :class:`Problem` is a frozen description; it holds no arrays and no solver options. Every
variant of the family is one combination of its fields:

* ``counts``: n_k, samples per class (K = len(counts), N = sum(counts));
* ``dim``: d, the feature dimension;
* ``loss``: ``"ce"`` cross-entropy, ``"mse"`` ½‖Wh + b − e_y‖², ``"dr"`` Yang et al.'s
  dot-regression ½(w_yᵀh − sqrt(E_W E_H))² (fixed classifier and energies only);
* ``classifier``: ``"learnable"`` W, or fixed: ``"etf"`` simplex ETF, ``"random"`` seeded
  Gaussian rows; fixed rows have norm sqrt(E_W) under energies and 1 under decay;
* ``features``: ``"free"``, ``"relu"`` (H ≥ 0), ``"sphere"`` (‖h_i‖² = E_H, or 1 under decay);
* ``bias``: ``"none"``, ``"free"`` (unregularised), ``"penalised"`` ((λ_b/2)‖b‖², decay only);
* scale control, exactly one of: ``energy=(E_W, E_H)`` with ``budget`` ``"class-average"``
  (Fang et al.: (1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H) or ``"per-sample"`` (Yang et al.:
  ‖h_ki‖² ≤ E_H for every sample), together with (1/K)Σ_k ‖w_k‖² ≤ E_W; or
  ``decay=(λ_W, λ_H, λ_b)`` adding (λ_W/2)‖W‖² + (λ_H/2)‖H‖² + (λ_b/2)‖b‖²; or neither (the
  unregularised model, whose infimum lies at infinity: only directions have a limit).

The loss is always averaged over the N samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["BIASES", "BUDGETS", "CLASSIFIERS", "FEATURES", "LOSSES", "Problem"]

Loss = Literal["ce", "mse", "dr"]
Classifier = Literal["learnable", "etf", "random"]
Features = Literal["free", "relu", "sphere"]
Bias = Literal["none", "free", "penalised"]
Budget = Literal["class-average", "per-sample"]

LOSSES: tuple[str, ...] = ("ce", "mse", "dr")
CLASSIFIERS: tuple[str, ...] = ("learnable", "etf", "random")
FEATURES: tuple[str, ...] = ("free", "relu", "sphere")
BIASES: tuple[str, ...] = ("none", "free", "penalised")
BUDGETS: tuple[str, ...] = ("class-average", "per-sample")

#: Largest number of samples a problem may hold; per-sample features are N × d numbers.
MAX_SAMPLES = 5_000_000


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not known; allowed: {', '.join(allowed)}")


def _positive_finite(name: str, values: tuple[float, ...], *, zero_last: bool = False) -> None:
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise ValueError(f"{name} must be numbers, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite and positive, got {v!r}")
        allow_zero = zero_last and i == len(values) - 1
        if float(v) < 0 or (float(v) == 0 and not allow_zero):
            what = "positive (the bias decay may be 0)" if zero_last else "positive"
            raise ValueError(f"{name} must be {what}, got {v!r}")


def _clean_counts(counts: object) -> tuple[int, ...]:
    """The counts as a tuple of positive ints, or a one-line ValueError."""
    if isinstance(counts, (str, bytes)) or not hasattr(counts, "__len__"):
        raise ValueError(f"counts must be a list of positive integers, got {counts!r}")
    if len(counts) < 2:
        raise ValueError(f"need at least K = 2 classes, got {len(counts)} count(s)")
    clean = []
    for c in counts:
        try:
            ok = not isinstance(c, bool) and float(c) == int(c) and int(c) >= 1
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ValueError(f"counts must be positive integers, got {c!r}")
        clean.append(int(c))
    if sum(clean) > MAX_SAMPLES:
        raise ValueError(f"N = {sum(clean)} samples is too many; at most {MAX_SAMPLES}")
    return tuple(clean)


def _clean_energy(energy: object) -> tuple[float, float]:
    values = tuple(energy)
    if len(values) != 2:
        raise ValueError(f"energy must be two numbers EW,EH, got {energy!r}")
    _positive_finite("energy", values)
    return (float(values[0]), float(values[1]))


def _clean_decay(decay: object) -> tuple[float, float, float]:
    values = tuple(decay)
    if len(values) == 2:
        values = (*values, 0.0)
    if len(values) != 3:
        raise ValueError(f"decay must be LW,LH or LW,LH,LB, got {decay!r}")
    _positive_finite("decay", values, zero_last=True)
    return (float(values[0]), float(values[1]), float(values[2]))


@dataclass(frozen=True)
class Problem:
    """One model of the layer-peeled / unconstrained-feature family.

    Parameters
    ----------
    counts : tuple of int, shape=[K]
        n_k, the number of samples of each class (K ≥ 2, each n_k ≥ 1).
    dim : int
        d, the feature dimension (d ≥ 1; a fixed ETF needs d ≥ K − 1).
    loss, classifier, features, bias, budget
        The variant; see the module docstring.
    energy : (E_W, E_H) or None
        Layer-peeled budgets (1/K)Σ‖w_k‖² ≤ E_W and the feature budget ≤ E_H.
    decay : (λ_W, λ_H, λ_b) or None
        Weight decays of the regularised model (λ_b ≥ 0, used only with a penalised bias).
    classifier_seed : int
        Seed of a fixed classifier (the random rows, or the ETF's rotation).

    Examples
    --------
    >>> p = Problem.step(majority=2, minority=2, n_minority=10, ratio=10, energy=(1.0, 1.0))
    >>> p.counts, p.K, p.N, p.minority_classes
    ((100, 100, 10, 10), 4, 220, (2, 3))
    """

    counts: tuple[int, ...]
    dim: int
    loss: Loss = "ce"
    classifier: Classifier = "learnable"
    features: Features = "free"
    bias: Bias = "none"
    energy: tuple[float, float] | None = None
    budget: Budget = "class-average"
    decay: tuple[float, float, float] | None = None
    classifier_seed: int = 0
    _labels: NDArray[np.int64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        clean = _clean_counts(self.counts)
        object.__setattr__(self, "counts", clean)
        if isinstance(self.dim, bool) or int(self.dim) != self.dim or int(self.dim) < 1:
            raise ValueError(f"dim must be a positive integer, got {self.dim!r}")
        object.__setattr__(self, "dim", int(self.dim))
        _choice("loss", self.loss, LOSSES)
        _choice("classifier", self.classifier, CLASSIFIERS)
        _choice("features", self.features, FEATURES)
        _choice("bias", self.bias, BIASES)
        _choice("budget", self.budget, BUDGETS)
        if self.energy is not None and self.decay is not None:
            raise ValueError("energy and decay exclude each other; give one of them, or neither")
        if self.energy is not None:
            object.__setattr__(self, "energy", _clean_energy(self.energy))
        if self.decay is not None:
            object.__setattr__(self, "decay", _clean_decay(self.decay))
        self._check_combination()
        if isinstance(self.classifier_seed, bool) or int(self.classifier_seed) < 0:
            raise ValueError(
                f"classifier seed must be a nonnegative integer, got {self.classifier_seed!r}"
            )
        labels = np.repeat(np.arange(len(clean), dtype=np.int64), clean)
        labels.setflags(write=False)
        object.__setattr__(self, "_labels", labels)

    def _check_combination(self) -> None:
        """Refuse the combinations of valid choices that pose no model of the family."""
        if self.loss == "dr" and self.classifier == "learnable":
            raise ValueError(
                "loss 'dr' needs a fixed classifier (etf or random): with a learnable one its "
                "minimisers are trivial"
            )
        if self.loss == "dr" and self.energy is None:
            raise ValueError("loss 'dr' needs energy EW,EH: its target is sqrt(EW*EH)")
        if self.classifier == "etf" and self.dim < self.K - 1:
            raise ValueError(
                f"a simplex ETF of K = {self.K} classes needs dim ≥ K − 1 = {self.K - 1}, "
                f"got dim = {self.dim}"
            )
        if self.bias == "penalised" and (self.decay is None or self.decay[2] == 0.0):
            raise ValueError("bias 'penalised' needs decay LW,LH,LB with LB > 0")
        if self.decay is not None and self.decay[2] > 0 and self.bias != "penalised":
            raise ValueError(
                f"a bias decay LB > 0 applies only with bias 'penalised', not {self.bias!r}"
            )
        if self.budget == "per-sample" and self.energy is None:
            raise ValueError(
                "budget 'per-sample' applies only with energy EW,EH; under decay or neither "
                "there is no feature budget"
            )

    # ----------------------------------------------------------------------------- constructors
    @classmethod
    def from_counts(cls, counts, dim: int | None = None, **kwargs) -> Problem:
        """Problem with the given class counts; d defaults to K."""
        counts = tuple(counts)
        return cls(counts=counts, dim=len(counts) if dim is None else dim, **kwargs)

    @classmethod
    def balanced(cls, K: int, n: int, dim: int | None = None, **kwargs) -> Problem:
        """K classes of n samples each."""
        _int_at_least("K", K, 2)
        _int_at_least("n", n, 1)
        return cls.from_counts((int(n),) * int(K), dim, **kwargs)

    @classmethod
    def step(
        cls,
        majority: int,
        minority: int,
        n_minority: int,
        ratio: float,
        dim: int | None = None,
        **kwargs,
    ) -> Problem:
        """K_A majority classes of R·n_B samples, then K_B minority classes of n_B samples.

        The majority count R·n_B must be an integer (Fang et al.'s step imbalance).
        """
        _int_at_least("majority classes", majority, 1)
        _int_at_least("minority classes", minority, 1)
        _int_at_least("minority count nB", n_minority, 1)
        if isinstance(ratio, bool) or not math.isfinite(float(ratio)) or float(ratio) < 1:
            raise ValueError(f"ratio R must be a finite number ≥ 1, got {ratio!r}")
        n_major = float(ratio) * int(n_minority)
        if abs(n_major - round(n_major)) > 1e-9 * max(1.0, n_major):
            raise ValueError(
                f"R·nB = {n_major:g} must be an integer number of samples; "
                "choose R and nB so that it is"
            )
        counts = (round(n_major),) * int(majority) + (int(n_minority),) * int(minority)
        return cls.from_counts(counts, dim, **kwargs)

    @classmethod
    def long_tail(cls, K: int, n_max: int, rho: float, dim: int | None = None, **kwargs) -> Problem:
        """n_k = round(n_max · rho^(−(k−1)/(K−1))), k = 1..K (rho = n_max / n_min ≥ 1)."""
        _int_at_least("K", K, 2)
        _int_at_least("nmax", n_max, 1)
        if isinstance(rho, bool) or not math.isfinite(float(rho)) or float(rho) < 1:
            raise ValueError(f"rho must be a finite number ≥ 1, got {rho!r}")
        counts = tuple(
            max(1, round(n_max * float(rho) ** (-(k) / (int(K) - 1)))) for k in range(int(K))
        )
        return cls.from_counts(counts, dim, **kwargs)

    # ----------------------------------------------------------------------------- derived
    @property
    def K(self) -> int:
        """Number of classes."""
        return len(self.counts)

    @property
    def N(self) -> int:
        """Number of samples, Σ_k n_k."""
        return sum(self.counts)

    @property
    def labels(self) -> NDArray[np.int64]:
        """Class of each sample, shape=[N], classes in order 0..K−1 (read-only)."""
        return self._labels

    @property
    def is_balanced(self) -> bool:
        """True when every class has the same count."""
        return len(set(self.counts)) == 1

    @property
    def imbalance_ratio(self) -> float:
        """max_k n_k / min_k n_k."""
        return max(self.counts) / min(self.counts)

    @property
    def minority_classes(self) -> tuple[int, ...]:
        """Classes with the smaller count when the counts take exactly two values (a step profile),
        else ().  Indices are 0-based."""
        values = sorted(set(self.counts))
        if len(values) != 2:
            return ()
        return tuple(k for k, c in enumerate(self.counts) if c == values[0])

    @property
    def class_weights(self) -> NDArray[np.float64]:
        """π_k = n_k / N, shape=[K]: each class's weight in the loss averaged over N."""
        counts = np.asarray(self.counts, dtype=np.float64)
        return counts / counts.sum()

    @property
    def has_bias(self) -> bool:
        """True when the problem has a bias b (free or penalised)."""
        return self.bias != "none"

    @property
    def batch_key(self) -> tuple:
        """What problems solved together as one tensor program must share.

        K, d, the loss, whether the classifier is learnable (fixed ETF and random classifiers are
        both data), the scale regime, the feature budget (under energies), the kind of features
        and whether there is a bias. Sample counts, energies, decays and fixed classifiers may
        differ within a batch.
        """
        return (
            self.K,
            self.dim,
            self.loss,
            self.fixed_classifier,
            self.regime,
            self.budget if self.regime == "energy" else None,
            self.features,
            self.has_bias,
        )

    @property
    def fixed_classifier(self) -> bool:
        """True for a fixed (not learnable) classifier."""
        return self.classifier != "learnable"

    @property
    def regime(self) -> Literal["energy", "decay", "unregularised"]:
        """How the scale is controlled."""
        if self.energy is not None:
            return "energy"
        if self.decay is not None:
            return "decay"
        return "unregularised"

    @property
    def classifier_norm(self) -> float:
        """Row norm of a fixed classifier: sqrt(E_W) under energies, else 1."""
        return math.sqrt(self.energy[0]) if self.energy is not None else 1.0

    @property
    def sphere_radius(self) -> float:
        """Radius of spherical features: sqrt(E_H) under energies, else 1."""
        return math.sqrt(self.energy[1]) if self.energy is not None else 1.0

    @property
    def dr_target(self) -> float:
        """The dot-regression target sqrt(E_W E_H) (Yang et al. 2022); 0 without energies."""
        return math.sqrt(self.energy[0] * self.energy[1]) if self.energy is not None else 0.0

    def to_dict(self) -> dict:
        """The JSON form of docs/cli.md (``problem`` object)."""
        return {
            "counts": list(self.counts),
            "K": self.K,
            "N": self.N,
            "dim": self.dim,
            "loss": self.loss,
            "classifier": self.classifier,
            "features": self.features,
            "bias": self.bias,
            "energy": list(self.energy) if self.energy is not None else None,
            "budget": self.budget,
            "decay": list(self.decay) if self.decay is not None else None,
            "classifier_seed": self.classifier_seed,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Problem:
        """Inverse of :meth:`to_dict` (derived keys K and N are ignored)."""
        keys = {f.name for f in fields(cls) if f.init}
        kwargs = {k: v for k, v in data.items() if k in keys}
        for k in ("counts", "energy", "decay"):
            if kwargs.get(k) is not None:
                kwargs[k] = tuple(kwargs[k])
        return cls(**kwargs)

    def describe(self) -> str:
        """A one-line human description."""
        scale = {
            "energy": f"energy EW,EH={self.energy} ({self.budget})",
            "decay": f"decay LW,LH,LB={self.decay}",
            "unregularised": "unregularised",
        }[self.regime]
        return (
            f"K={self.K} N={self.N} d={self.dim} counts={list(self.counts)} loss={self.loss} "
            f"classifier={self.classifier} features={self.features} bias={self.bias} {scale}"
        )


def _int_at_least(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
