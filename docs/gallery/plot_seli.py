"""
SELI: the unregularised limit
=============================

Without constraints or weight decay, cross-entropy has no minimiser; the direction of gradient
descent approaches the max-margin (UF-SVM) solution, whose geometry is SELI (Thrampoulidis,
Kini, Vakilian, Behnia, NeurIPS 2022; :ref:`docs/theory.md §4 <theory-4>`). Unlike the
constrained model, its minority classifiers never collapse at a finite R: their cosine rises
towards 1 only slowly.

Lines: :func:`lpm.theory.seli_ratios` for two majority and two minority classes with counts (R,
R, 1, 1). Markers: the UF-SVM solved and certified as a convex program.
"""

import matplotlib.pyplot as plt
import numpy as np

import lpm
from lpm import theory
from lpm.plotting import numeric_points, theory_line

grid = np.geomspace(1, 200, 60)
curves = [theory.seli_ratios(2, 2, r) for r in grid]
ratios = [1, 3, 10, 30, 100]
solutions = [lpm.solve(lpm.Problem.from_counts((r, r, 1, 1))) for r in ratios]


def cosine(u, v):
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


fig, (a, b) = plt.subplots(1, 2, figsize=(7, 3.2), layout="constrained")
theory_line(a, grid, [c["w_norm_ratio"] for c in curves], label="‖w_maj‖ / ‖w_min‖")
theory_line(a, grid, [c["h_norm_ratio"] for c in curves], linestyle="--", label="‖h̄_maj‖ / ‖h̄_min‖")
geos = [lpm.geometry(s) for s in solutions]
ok = [s.converged for s in solutions]
numeric_points(a, ratios, [g.w_norms[0] / g.w_norms[2] for g in geos], ok, color="C0")
numeric_points(a, ratios, [g.m_norms[0] / g.m_norms[2] for g in geos], ok, color="C1", marker="s")
a.set_xscale("log")
a.set_xlabel("R")
a.legend(fontsize=8)
theory_line(b, grid, [c["cos_w_minority"] for c in curves], label="SELI")
numeric_points(b, ratios, [cosine(s.W[2], s.W[3]) for s in solutions], ok, label="UF-SVM")
b.set_xscale("log")
b.set_xlabel("R")
b.set_ylabel("cos(w_3, w_4), the two minority rows")
b.legend(fontsize=8)
