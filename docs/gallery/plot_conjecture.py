"""
Testing your own conjecture
===========================

State a claim about optima as a Hypothesis property, let Hypothesis look for a problem that
breaks it, and get the smallest one back as an ``lpm solve`` command line.

The claim here is false: *"the learnable classifier of the layer-peeled model stays a simplex
ETF under mild imbalance (no class more than twice as large as another)"*. Fang et al. (PNAS
2021) show that imbalance moves the optimum away from the ETF for K ≥ 3. With K = 2, only
w_1 − w_2 enters the loss, so two classes form an ETF at any counts. The search therefore has
to find K = 3, and shrinking brings it down to the smallest such problem.

:mod:`lpm.strategies` draws the problems. Its strategies shrink towards few classes, balanced
counts and round budgets. :mod:`lpm.testing` states the claim, and its failure message names
the measured distance, the tolerance and the command line that reproduces the problem.
"""

import matplotlib.pyplot as plt
from hypothesis import given, settings

import lpm
from lpm.classifiers import etf_gram
from lpm.plotting import gram_heatmap
from lpm.strategies import problems
from lpm.testing import assert_certified_optimum, assert_gram_close, command_line

# %%
# The conjecture, as a property over certified optima
# ---------------------------------------------------
tried = []


@settings(max_examples=30, database=None, derandomize=True, deadline=None)
@given(
    problems(
        classifier="learnable",
        regime="energy",
        features="free",
        loss="ce",
        bias="none",
        max_K=4,
        max_n=2,
        imbalanced=True,
    )
)
def learnable_classifier_stays_an_etf(problem):
    tried.append(problem)
    solution = lpm.solve(problem)
    assert_certified_optimum(solution)
    assert_gram_close(solution.W @ solution.W.T, "etf", 1e-6, problem=problem, what="W Wᵀ")


# %%
# Hypothesis refutes it
# ---------------------
# The last problem Hypothesis runs is the shrunk counterexample. It also replays that problem
# to raise the error, whose message ends with the command line.
try:
    learnable_classifier_stays_an_etf()
except AssertionError as failure:
    print(str(failure).split("\nFalsifying example")[0])
counterexample = tried[-1]
print(f"{len(tried)} problems solved; the smallest counterexample:")
print(command_line(counterexample))

# %%
# What the optimum is instead
# ---------------------------
# Compare the Gram matrix W Wᵀ of the counterexample's certified optimum with the simplex ETF's
# Gram (E_W·K/(K−1)) P_K. Each is divided by its largest diagonal entry. The two smaller classes
# get shorter classifiers, at a smaller angle to each other than the ETF's: the first step of
# Fang et al.'s minority collapse.
solution = lpm.solve(counterexample)
W = solution.W
fig, axes = plt.subplots(1, 2, figsize=(5.6, 2.8), layout="constrained")
gram_heatmap(axes[0], W @ W.T, fontsize=8)
axes[0].set_title(f"optimum, counts {list(counterexample.counts)}", fontsize=9)
image = gram_heatmap(axes[1], counterexample.energy[0] * etf_gram(counterexample.K), fontsize=8)
axes[1].set_title("simplex ETF (the conjecture)", fontsize=9)
fig.colorbar(image, ax=axes, shrink=0.8, label="w_j·w_k / max_k ‖w_k‖²")
