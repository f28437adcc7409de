"""
The minority-collapse threshold
===============================

Fang et al. (PNAS 2021, Theorem 5) prove that the minority classifiers of the layer-peeled model
merge as the imbalance ratio R grows; numerically they coincide *exactly* beyond a finite R₀
(:ref:`docs/theory.md §1.5 <theory-1-5>`). With two majority and two minority classes and unit
budgets, the separation D_w(R) = max over minority pairs ‖w_k − w_l‖² starts at the ETF value
2K/(K−1) = 8/3, falls linearly near R₀ and is 0 beyond it.

The points are certified solves of Fang et al.'s convex program, one batch per call; the dotted
line is R₀ found by :func:`lpm.minority_collapse_threshold` (bisection on certified solves).
"""

import matplotlib.pyplot as plt
import numpy as np

import lpm
from lpm.plotting import numeric_points, threshold_line

ratios = [1, 1.5, 2, 2.5, 3, 3.25, 3.5, 4, 6, 10]
problems = [lpm.Problem.step(2, 2, 4, r, energy=(1.0, 1.0)) for r in ratios]
solutions = lpm.solve_batch(problems, method="convex")
# Classes 3 and 4 (0-based 2, 3) are the minority; at R = 1 they are ordinary classes.
separation = [float(np.sum((s.W[2] - s.W[3]) ** 2)) for s in solutions]
trusted = [s.certified for s in solutions]

r0 = lpm.minority_collapse_threshold(majority=2, minority=2, energy=(1.0, 1.0)).threshold

fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
numeric_points(ax, ratios, separation, trusted, label="certified optimum")
threshold_line(ax, r0, label=f"R₀ = {r0:.3f}")
ax.axhline(8 / 3, color="0.6", linewidth=0.8, label="ETF value 2K/(K−1)")
ax.set_xscale("log")
ax.set_xlabel("imbalance ratio R = n_majority / n_minority")
ax.set_ylabel("max ‖w_k − w_l‖² over minority pairs")
ax.legend(fontsize=8)
print(f"R0 = {r0:.4f}; separations: {np.round(separation, 6)}")
