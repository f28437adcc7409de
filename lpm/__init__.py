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

References are given where each formula lives; ../shared/THEORY.md collects them.
"""

from lpm.certificate import Certificate
from lpm.classifiers import etf_gram, random_classifier, simplex_etf
from lpm.compare import compare
from lpm.geometry import GeometryReport, geometry, measure
from lpm.objective import objective
from lpm.problem import Problem
from lpm.solution import Solution, load, save
from lpm.solvers import METHODS, solve, solve_batch
from lpm.threshold import minority_collapse_threshold

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

__version__ = "0.1.0"
