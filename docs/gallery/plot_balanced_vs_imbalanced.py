"""
Balanced against imbalanced optima
==================================

The layer-peeled model of Fang, He, Long, Su (PNAS 2021) with K = 4 classes and unit budgets,
once balanced (25 samples per class) and once with two majority classes of 100 samples and two
minority classes of 10 (R = 10). Balanced, the optimum is a simplex ETF: every classifier row
has the same norm and every pair the angle of cosine −1/3 (:ref:`docs/theory.md §1.2
<theory-1-2>`). Imbalanced, the majority rows grow, the minority rows shrink and *coincide*:
minority collapse (:ref:`§1.4 <theory-1-4>`).

Each panel is the Gram matrix W Wᵀ of a certified optimum, divided by its largest diagonal
entry.
"""

import matplotlib.pyplot as plt

import lpm
from lpm.plotting import gram_heatmap

problems = {
    "balanced, n = 25": lpm.Problem.balanced(4, 25, energy=(1.0, 1.0)),
    "imbalanced, n = (100, 100, 10, 10)": lpm.Problem.step(2, 2, 10, 10, energy=(1.0, 1.0)),
}
solutions = lpm.solve_batch(list(problems.values()))

fig, axes = plt.subplots(1, 2, figsize=(7, 3.4), layout="constrained")
for ax, (title, sol) in zip(axes, zip(problems, solutions)):
    geo = lpm.geometry(sol)
    gram_heatmap(ax, geo.w_gram, fontsize=9)
    ax.set_title(f"{title}\nf* = {sol.objective:.6f}, gap {sol.gap:.0e}", fontsize=9)
fig.suptitle("classifier Gram W Wᵀ / max ‖w_k‖²", fontsize=10)

for title, sol in zip(problems, solutions):
    geo = lpm.geometry(sol)
    print(f"{title}: certified={sol.certified}, ‖w_k‖² = {geo.w_norms.round(4) ** 2}")
    print(f"  minority separation max ‖w_k − w_l‖² = {geo.minority_w_separation}")
