"""
ReLU features: orthogonal class means
=====================================

With nonnegative (ReLU) features under weight decay, the optimum of imbalanced cross-entropy has
*orthogonal* class means of different lengths, minority means longer while they survive, and a
classifier made of the centred means scaled by sqrt(n_k) (Dang, Tran, Nguyen, Ho, ICML 2024;
constants re-derived in :ref:`docs/theory.md §3 <theory-3>`).

Left: the Gram matrix of the class means of a certified solve (off-diagonal exactly 0). Right:
‖h̄_k‖² of the solve (markers) against the closed form of :func:`lpm.theory.relu_ufm` (bars),
for n = (100, 100, 10, 10) and λ_W = λ_H = 1e-3.
"""

import matplotlib.pyplot as plt
import numpy as np

import lpm
from lpm import theory
from lpm.plotting import gram_heatmap

p = lpm.Problem.from_counts((100, 100, 10, 10), dim=8, decay=(1e-3, 1e-3), features="relu")
sol = lpm.solve(p)
geo = lpm.geometry(sol)
pred = theory.relu_ufm(p)

fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2), layout="constrained")
gram_heatmap(left, geo.m_gram, fontsize=9)
left.set_title("class means M Mᵀ (normalised)", fontsize=9)
classes = np.arange(1, p.K + 1)
right.bar(classes, pred.m_norms**2, color="0.85", edgecolor="black", label="closed form")
right.plot(classes, geo.m_norms**2, "o", label=f"solve ({sol.status}, gap {sol.gap:.0e})")
right.set_xticks(classes, [f"{k}\nn={n}" for k, n in zip(classes, p.counts)])
right.set_ylabel("‖h̄_k‖²")
right.legend(fontsize=8)
print(f"objective {sol.objective:.11f} (closed form {pred.objective:.11f})")
print(f"largest |cos| between two class means: {geo.max_abs_cos_m:.1e}")
