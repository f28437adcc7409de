"""
A sweep into a phase diagram
============================

A small grid of layer-peeled problems — imbalance ratio R against the feature budget E_H —
solved in one call of :func:`lpm.solve_batch` per budget, and drawn as a phase diagram of the
minority separation max ‖w_k − w_l‖² divided by its balanced (ETF) value. Dark cells: the
minority classifiers have collapsed. The threshold grows steeply with the budget
(:ref:`docs/theory.md §1.5 <theory-1-5>`). For larger grids, resumable and on many workers,
write the same grid as a TOML file and run ``lpm sweep`` (the sweeps page).
"""

import matplotlib.pyplot as plt
import numpy as np

import lpm
from lpm.plotting import phase_map

ratios = np.array([1, 1.5, 2, 3, 5, 8, 13, 20])
budgets = np.array([0.5, 1.0, 2.0, 3.0])
K = 4
separation = np.zeros((budgets.size, ratios.size))
trusted = np.zeros_like(separation, dtype=bool)
for i, E in enumerate(budgets):
    problems = [lpm.Problem.step(2, 2, 2, r, energy=(1.0, E)) for r in ratios]
    for j, sol in enumerate(lpm.solve_batch(problems, method="convex")):
        # ‖w_3 − w_4‖² of the two minority classes (also at R = 1, where they are not minority)
        etf_value = 2 * K / (K - 1)
        separation[i, j] = np.sum((sol.W[2] - sol.W[3]) ** 2) / etf_value
        trusted[i, j] = sol.certified

fig, ax = plt.subplots(figsize=(5.4, 3.4), layout="constrained")
mesh = phase_map(ax, ratios, budgets, separation, converged=trusted, vmin=0, vmax=1)
fig.colorbar(mesh, ax=ax, label="minority separation / ETF value")
ax.set_xlabel("imbalance ratio R")
ax.set_ylabel("feature budget E_H (E_W = 1)")
