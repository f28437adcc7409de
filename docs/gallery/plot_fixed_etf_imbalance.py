"""
A fixed ETF classifier under imbalance
======================================

Yang et al. (NeurIPS 2022) fix the classifier to a simplex ETF: with a *per-sample* feature
budget, every class mean is then sqrt(E_H/E_W) w_k whatever the counts (:ref:`docs/theory.md
§2.2 <theory-2-2>`). Under Fang et al.'s *class-average* budget the same fixed classifier gives
a different optimum: majority classes get longer features, minority ones shorter (§2.4, derived
by the package).

Class-mean norms ‖h̄_k‖ of certified solves against the imbalance ratio R, for the two budgets
(K = 4, two majority and two minority classes, E_W = E_H = 1); lines are the closed forms
(solid: a majority class, dashed: a minority class). Under the per-sample budget the two
coincide.
"""

import matplotlib.pyplot as plt

import lpm
from lpm import theory
from lpm.plotting import numeric_points, theory_line

ratios = [1, 2, 5, 10, 20, 50]
fig, ax = plt.subplots(figsize=(5.2, 3.4), layout="constrained")
for budget, colour in (("per-sample", "C0"), ("class-average", "C1")):
    problems = [
        lpm.Problem.step(2, 2, 2, r, classifier="etf", budget=budget, energy=(1.0, 1.0))
        for r in ratios
    ]
    solutions = lpm.solve_batch(problems)
    ok = [s.certified for s in solutions]
    predict = theory.fixed_etf if budget == "per-sample" else theory.fixed_etf_class_average
    for k, marker, style in ((0, "o", "-"), (2, "s", "--")):
        role = "majority" if k == 0 else "minority"
        norms = [lpm.geometry(s).m_norms[k] for s in solutions]
        numeric_points(ax, ratios, norms, ok, color=colour, marker=marker)
        closed = [predict(p).m_norms[k] for p in problems]
        theory_line(ax, ratios, closed, color=colour, linestyle=style, label=f"{budget}, {role}")
ax.set_xscale("log")
ax.set_xlabel("imbalance ratio R")
ax.set_ylabel("‖h̄_k‖")
ax.legend(fontsize=8)
