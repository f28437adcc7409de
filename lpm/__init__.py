"""lpm — certified numerical optima of the layer-peeled and unconstrained-feature models.

Notation (used by every module, docstring and test):

* K classes; n_k samples of class k; N = Σ_k n_k samples; d the feature dimension.
* ``W``, shape (K, d): the classifier, rows w_k.   ``b``, shape (K,): the bias.
* ``H``, shape (N, d): per-sample features, rows h_i, grouped by class in the order 0..K−1.
* ``labels``, shape (N,): y_i, the class of sample i.   ``M``, shape (K, d): class means h̄_k.
* P_K = I_K − (1/K) 11ᵀ; the simplex ETF has Gram (K/(K−1)) P_K.
* The loss is averaged over the N samples; budgets (1/K)Σ_k ‖w_k‖² ≤ E_W and, for features,
  the class-average (1/K)Σ_k (1/n_k)Σ_i ‖h_ki‖² ≤ E_H or the per-sample ‖h_i‖² ≤ E_H; weight
  decay adds (λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F² + (λ_b/2)‖b‖².

Typical use::

    import lpm
    p = lpm.Problem.step(majority=2, minority=2, n_minority=10, ratio=10, energy=(1.0, 1.0))
    sol = lpm.solve(p)
    print(sol.status, sol.objective, sol.gap, lpm.geometry(sol).minority_w_separation)

References are given where each formula lives; docs/theory.md collects them.
"""

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lpm.certificate import Certificate
    from lpm.classifiers import etf_gram, random_classifier, simplex_etf
    from lpm.compare import compare
    from lpm.geometry import GeometryReport, geometry, measure
    from lpm.objective import objective
    from lpm.problem import Problem
    from lpm.solution import Solution, load, save
    from lpm.solvers import METHODS, solve, solve_batch
    from lpm.threshold import minority_collapse_threshold

#: The public API, name → the module that defines it. Each module is imported when one of its
#: names is first used, so that ``import lpm`` (and the ``lpm`` command's ``--help`` and usage
#: errors) do not pay for torch, SciPy and cvxpy before they are needed.
_EXPORTS: dict[str, str] = {
    "Certificate": "lpm.certificate",
    "etf_gram": "lpm.classifiers",
    "random_classifier": "lpm.classifiers",
    "simplex_etf": "lpm.classifiers",
    "compare": "lpm.compare",
    "GeometryReport": "lpm.geometry",
    "geometry": "lpm.geometry",
    "measure": "lpm.geometry",
    "objective": "lpm.objective",
    "Problem": "lpm.problem",
    "Solution": "lpm.solution",
    "load": "lpm.solution",
    "save": "lpm.solution",
    "METHODS": "lpm.solvers",
    "solve": "lpm.solvers",
    "solve_batch": "lpm.solvers",
    "minority_collapse_threshold": "lpm.threshold",
}

__all__ = [
    "METHODS",
    "Certificate",
    "GeometryReport",
    "Problem",
    "Solution",
    "compare",
    "etf_gram",
    "geometry",
    "load",
    "measure",
    "minority_collapse_threshold",
    "objective",
    "random_classifier",
    "save",
    "simplex_etf",
    "solve",
    "solve_batch",
]


def __getattr__(name: str) -> Any:
    """A public name (imported from its module on first use), or a submodule (``lpm.theory``)."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'lpm' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


class _Package(types.ModuleType):
    """The ``lpm`` module, which keeps a function that shares its name with its module.

    Importing a submodule binds it as an attribute of the package; ``lpm.compare``,
    ``lpm.geometry`` and ``lpm.objective`` stay the functions (as the public API says), not the
    modules of the same name, whichever is imported first.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__version__ = "0.1.0"
