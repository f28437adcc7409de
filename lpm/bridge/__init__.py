"""The bridge: trained networks against the certified optimum of the model that idealises them.

The layer-peeled and unconstrained-feature models idealise a network's last layer; the seed
papers' claims are about trained networks. This package puts the two side by side.

Measuring any network (:mod:`lpm.bridge.measure`)
-------------------------------------------------
From the command line, on arrays saved with NumPy (features H (N, d), integer labels (N,),
classifier W (K, d), optionally the bias b (K,); never pickles)::

    lpm measure --features H.npy --labels y.npy --classifier W.npy --decay 5e-3,5e-3
    lpm measure net.npz --energy auto --json        # one .npz with keys H, labels, W (, b)
    lpm measure net.npz --decay 5e-3,5e-3 --classifier-model etf     # a fixed-ETF head
    lpm measure net.npz --decay 5e-3,5e-3 --relu                      # ReLU features

and from Python::

    from lpm.bridge import measure_network
    r = measure_network(H, labels, W, decay=(5e-3, 5e-3))
    r.grams["means"].distance, r.optimum.certified, r.objective_excess

The report holds the network's geometry (every metric of :func:`lpm.measure`), the certified
optimum of the matching model at the same class counts and d, and for each Gram — classifier
W Wᵀ, class means M Mᵀ, cross W Mᵀ — the distance after the optimal rescaling,
min_{c≥0}‖G − cG*‖_F/‖G‖_F (closed form: c* = max(0, ⟨G, G*⟩/‖G*‖²)), with the scale c* and the
unrescaled ‖G − G*‖_F/‖G*‖_F. ``--decay λ_W,λ_H`` is the regularised model
(1/N)Σ_i CE(W h_i, y_i) + (λ_W/2)‖W‖_F² + (λ_H/2)‖H‖_F² (the loss averaged over N, the feature
penalty summed over all N features); ``--energy E_W,E_H`` the layer-peeled model with the
class-average budgets; ``--energy auto`` (the default) takes the network's own
(1/K)Σ‖w_k‖² and (1/K)Σ_k (1/n_k)Σ_i‖h_i‖² as the budgets.

Training to the terminal phase (:mod:`lpm.bridge.train`, :mod:`lpm.bridge.data`)
--------------------------------------------------------------------------------
A small MLP (2 hidden ReLU layers of 64, d = 32), full batch, float64, CPU, one thread,
deterministic, on scikit-learn's bundled digits (fixed stratified split: 1,078 train, 719 test)
and a seeded Gaussian mixture, long-tailed by subsampling the training set; heads: learnable W +
CE + (λ_W, λ_H); fixed simplex ETF + CE; fixed ETF + dot-regression on normalised features
(Yang et al. 2022); fixed random unit rows + CE (Shalev et al. 2020); a ReLU on the features
(Dang et al. 2024). The last-layer part of the training loss is exactly the matching model's
objective (tested against :func:`lpm.objective`); the backbone carries no penalty.

The experiments (:mod:`lpm.bridge.experiments`) and ``lpm bridge``
------------------------------------------------------------------
::

    lpm bridge --quick --out bridge_out     # one seed, 600 epochs: 110 s wall, 53 s CPU
    lpm bridge --out bridge_out             # 5 seeds, 2,400 epochs: 763 s wall, 326 s CPU

write ``bridge.json`` and the figures ``bridge_collapse``, ``bridge_accuracy``, ``bridge_relu``,
``bridge_distance`` (also in ``lpm figures``).

References
----------
Fang, He, Long, Su, PNAS 118 (2021); Yang, Xie, Chen, Li, Lin, Tao, NeurIPS 2022; Shalev, Shalev,
Keshet, arXiv 2011.08704 (2020); Dang, Tran, Nguyen, Ho, ICML 2024; Zhu et al., NeurIPS 2021.
"""

import importlib
from typing import Any

__all__ = [
    "GramComparison",
    "NetworkMeasurement",
    "certified_optimum",
    "compare_network",
    "gram_distance",
    "load_network",
    "measure_network",
]


def __getattr__(name: str) -> Any:
    """The public names live in :mod:`lpm.bridge.measure`, imported on first use (it needs torch
    and the solvers; ``lpm --help`` and the command's argument parsing do not)."""
    if name in __all__:
        value = getattr(importlib.import_module("lpm.bridge.measure"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lpm.bridge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
