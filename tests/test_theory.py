"""The closed forms of lpm.theory and the ``theory`` method of lpm.solvers.closed_form.

Three kinds of check:

* docs/theory.md's worked numbers, reproduced by the predictions to the digits docs/theory.md gives;
* every prediction against the simulator: the projected-gradient solver (``method="gradient"``,
  never the closed form itself) on small problems, objective to OBJ_TOL and Grams to GRAM_TOL;
  SELI against the UF-SVM solved by cvxpy; the random-classifier bound against solved optima;
* every prediction refuses problems outside its hypotheses with a one-line ValueError.

A meta-test perturbs each prediction slightly and checks that the comparison catches it, so the
solver comparisons cannot pass vacuously.
"""

from __future__ import annotations

import functools
import math

import cvxpy as cp
import numpy as np
import pytest

import lpm
from lpm import theory as T
from lpm.problem import Problem
from lpm.solvers import SolveOptions
from lpm.solvers.closed_form import METHOD, realise

#: Objective agreement between a prediction and a converged float64 gradient solve (residual
#: 1e-10 ⇒ objective error ~1e-16 at a nondegenerate optimum; 1e-8 leaves ample margin).
OBJ_TOL = 1e-8
#: Gram agreement, relative to max(1, largest entry): the solver's iterates are within ~1e-8 of
#: the optimum at residual 1e-10 (errors measured: ≤ 4e-8 on every case below).
GRAM_TOL = 1e-6
#: Dot-regression grows only quartically along the sphere ‖h‖² = E_H around its minimiser
#: (w_yᵀh falls by O(δ²), the loss by O(δ⁴)), so when the solver stops at residual 1e-10 with
#: loss ~1e-14 the features are still ~(1e-14)^{1/4} ≈ 3e-4 from it (measured 4e-4–6e-4). The
#: Grams are compared at this looser level; the loss (to 1e-12) and the alignment
#: 1 − cos(h_i, w_{y_i}) (O(δ²), to 1e-6) are compared tightly.
DR_GRAM_TOL = 2e-3
#: cvxpy/Clarabel solve the UF-SVM to ~1e-8 relative (docs/theory.md §1.3).
CVX_TOL = 1e-6


def _grams(W, M):
    return W @ W.T, M @ M.T, W @ M.T


def _gram_error(pred: T.Prediction, W, M) -> float:
    """Largest entry error of the three Grams, relative to max(1, largest predicted entry)."""
    err = 0.0
    for got, want in zip(_grams(W, M), (pred.w_gram, pred.m_gram, pred.wm_gram)):
        scale = max(1.0, float(np.abs(want).max()))
        err = max(err, float(np.abs(got - want).max()) / scale)
    return err


# --------------------------------------------------------------- worked numbers of docs/theory.md
@pytest.mark.parametrize(
    ("K", "E_W", "E_H", "value"),
    [
        (4, 1, 1, 0.5826576530618),
        (2, 1, 1, 0.1269280110430),
        (3, 1, 1, 0.3689811354013),
        (10, 1, 1, 1.3769349204502),
        (10, 1, 5, 0.5597815240104),
    ],
)
def test_balanced_lpm_value_table(K, E_W, E_H, value):
    """docs/theory.md §1.2 table (13 digits)."""
    assert abs(T.balanced_lpm_value(K, E_W, E_H) - value) < 1e-12
    pred = T.lpm_balanced(Problem.balanced(K, 3, dim=K - 1, energy=(E_W, E_H)))
    assert abs(pred.objective - value) < 1e-12


def test_lpm_balanced_geometry_and_logits():
    """docs/theory.md §1.2: ETF Gram, ‖h‖² = E_H, h = C w, true logit sqrt(E_W E_H), others
    −1/(K−1)."""
    E_W, E_H, K = 2.0, 0.5, 4
    pred = T.lpm_balanced(Problem.balanced(K, 3, dim=3, energy=(E_W, E_H)))
    P = np.eye(K) - 1 / K
    np.testing.assert_allclose(pred.w_gram, E_W * K / (K - 1) * P, atol=1e-15)
    np.testing.assert_allclose(pred.m_norms**2, E_H, rtol=1e-15)
    np.testing.assert_allclose(pred.m_gram, (E_H / E_W) * pred.w_gram, atol=1e-15)
    s = math.sqrt(E_W * E_H)
    np.testing.assert_allclose(np.diag(pred.logits), s, rtol=1e-15)
    off = pred.logits[~np.eye(K, dtype=bool)]
    np.testing.assert_allclose(off, -s / (K - 1), rtol=1e-14)
    assert pred.rank == K - 1


def test_fixed_etf_worked_number():
    """docs/theory.md §2.2: fixed ETF, any counts, value L* = 0.5826576531, h ∥ w_y."""
    p = Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0))
    pred = T.fixed_etf(
        Problem.from_counts(
            p.counts, dim=8, classifier="etf", energy=(1.0, 1.0), budget="per-sample"
        )
    )
    assert abs(pred.objective - 0.5826576531) < 1e-10
    cos = np.diag(pred.wm_gram) / (pred.w_norms * pred.m_norms)
    np.testing.assert_allclose(cos, 1.0, atol=1e-14)


def test_fixed_etf_class_average_worked_number():
    """docs/theory.md §2.4: ‖h̄_k‖ = (1.38436, 1.38436, 0.28904, 0.28904), value 0.45361."""
    p = Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0))
    pred = T.fixed_etf_class_average(p)
    np.testing.assert_allclose(pred.m_norms, [1.38436, 1.38436, 0.28904, 0.28904], atol=5e-6)
    assert abs(pred.objective - 0.45361) < 5e-6
    assert abs((pred.m_norms**2).mean() - 1.0) < 1e-14  # the class-average budget is active


def test_fixed_etf_class_average_balanced_is_the_etf():
    p = Problem.balanced(5, 3, dim=4, classifier="etf", energy=(1.5, 0.8))
    pred = T.fixed_etf_class_average(p)
    assert abs(pred.objective - T.balanced_lpm_value(5, 1.5, 0.8)) < 1e-13
    np.testing.assert_allclose(pred.m_norms**2, 0.8, rtol=1e-12)


def test_relu_worked_numbers():
    """docs/theory.md §3: K=4, n=(100,100,10,10), λ_W=λ_H ∈ {1e-3, 2e-2}."""
    counts = (100, 100, 10, 10)
    pred = T.relu_ufm(Problem.from_counts(counts, dim=8, features="relu", decay=(1e-3, 1e-3)))
    assert abs(pred.objective - 0.13149489177) < 1e-11
    np.testing.assert_allclose(pred.m_norms**2, [0.43647, 0.43647, 1.05320, 1.05320], atol=5e-6)
    np.testing.assert_allclose(pred.extra["t"], [5.03993, 5.03993, 3.84573, 3.84573], atol=5e-6)
    np.testing.assert_allclose(pred.w_norms**2, [38.128, 38.128, 16.051, 16.051], atol=5e-4)
    np.testing.assert_allclose(pred.m_gram, np.diag(np.diag(pred.m_gram)), atol=0)
    pred = T.relu_ufm(Problem.from_counts(counts, dim=8, features="relu", decay=(2e-2, 2e-2)))
    assert abs(pred.objective - 1.11075757) < 1e-8
    np.testing.assert_allclose(pred.m_norms**2, [0.13715, 0.13715, 0, 0], atol=5e-6)
    np.testing.assert_allclose(pred.w_norms**2, [11.429, 11.429, 2.286, 2.286], atol=5e-4)
    # Collapsed classes pay CE = log K.
    np.testing.assert_allclose(pred.logits[2:], 0.0, atol=0)
    thresholds = T.relu_collapse_threshold(counts)
    np.testing.assert_allclose(thresholds, [1.55e-3, 1.55e-3, 1.55e-4, 1.55e-4], rtol=3e-3)
    assert T.relu_collapse_threshold(counts, 2) == thresholds[2]


def test_seli_worked_numbers():
    """docs/theory.md §4: K=4, n=(100,100,10,10)."""
    pred = T.seli(Problem.from_counts((100, 100, 10, 10), dim=4))
    sv = np.sqrt(np.clip(np.linalg.eigvalsh(pred.w_gram @ pred.w_gram), 0, None))[::-1]
    np.testing.assert_allclose(sv, [10, 7.4162, 3.16228, 0], atol=5e-5)
    assert abs(pred.objective - 20.578476) < 5e-7
    np.testing.assert_allclose(pred.w_norms, [2.61802, 2.61802, 1.85343, 1.85343], atol=5e-6)
    np.testing.assert_allclose(pred.m_norms, [0.28933, 0.28933, 0.43798, 0.43798], atol=5e-6)

    def cos(G, i, j):
        return G[i, j] / math.sqrt(G[i, i] * G[j, j])

    assert abs(cos(pred.w_gram, 0, 1) - (-0.45899)) < 5e-6
    assert abs(cos(pred.w_gram, 2, 3) - 0.07945) < 5e-6
    assert abs(cos(pred.w_gram, 0, 2) - (-0.38210)) < 5e-6
    assert abs(cos(pred.m_gram, 0, 1) - (-0.19460)) < 5e-6
    assert abs(cos(pred.m_gram, 2, 3) - (-0.64853)) < 5e-6
    assert pred.extra["dual_certificate"]
    np.testing.assert_allclose(pred.wm_gram, np.eye(4) - 0.25, atol=1e-15)


@pytest.mark.parametrize(
    ("R", "w_ratio", "h_ratio", "cos_min"),
    [(1, 1.0, 1.0, -1 / 3), (10, 1.4125, 0.6606, 0.0794), (100, 1.7253, 0.3990, 0.5607)],
)
def test_seli_step_table(R, w_ratio, h_ratio, cos_min):
    """docs/theory.md §4 step table (4 digits)."""
    r = T.seli_ratios(2, 2, R)
    assert abs(r["w_norm_ratio"] - w_ratio) < 5e-5
    assert abs(r["h_norm_ratio"] - h_ratio) < 5e-5
    assert abs(r["cos_w_minority"] - cos_min) < 5e-5


def test_seli_balanced_is_the_etf():
    pred = T.seli(Problem.balanced(5, 7, dim=4))
    G = pred.extra["w_gram_normalised"]
    P = np.eye(5) - 0.2
    np.testing.assert_allclose(G, P / np.linalg.norm(P), atol=1e-14)


def test_zhu_worked_numbers():
    """docs/theory.md §5.1: K=4, n=25, λ = 5e-3: ρ = 13.540942, ‖h‖² = 0.541638,
    f* = 0.348780384918."""
    p = Problem.balanced(4, 25, dim=4, decay=(5e-3, 5e-3, 5e-3), bias="penalised")
    pred = T.zhu_regularised_ce(p)
    assert abs(pred.extra["rho"] - 13.540942) < 5e-7
    np.testing.assert_allclose(pred.m_norms**2, 0.541638, atol=5e-7)
    assert abs(pred.objective - 0.348780384918) < 1e-12
    np.testing.assert_allclose(pred.bias, 0.0, atol=0)
    assert T.zhu_collapse_threshold(25, 4) == pytest.approx(1 / 400, rel=1e-15)
    collapsed = T.zhu_regularised_ce(Problem.balanced(4, 25, dim=1, decay=(0.1, 0.1)))
    assert collapsed.extra["collapsed"] and collapsed.objective == pytest.approx(math.log(4))


def test_mse_worked_numbers():
    """docs/theory.md §5.2 (λ ∈ {1e-3, 5e-3}) and §5.3 (K=4, n=25, λ = 5e-3)."""
    counts = (100, 100, 10, 10)
    pred = T.mse_ufm(Problem.from_counts(counts, dim=8, loss="mse", decay=(1e-3, 1e-3)))
    assert abs(pred.objective - 0.02588456) < 5e-9
    np.testing.assert_allclose(np.diag(pred.wm_gram), [0.978, 0.978, 0.93043, 0.93043], atol=5e-6)
    np.testing.assert_allclose(pred.w_norms**2, [9.78, 9.78, 2.94228, 2.94228], atol=5e-6)
    np.testing.assert_allclose(pred.m_norms**2, [0.0978, 0.0978, 0.29423, 0.29423], atol=5e-6)
    pred = T.mse_ufm(Problem.from_counts(counts, dim=8, loss="mse", decay=(5e-3, 5e-3)))
    assert abs(pred.objective - 0.12062278) < 5e-9
    np.testing.assert_allclose(np.diag(pred.wm_gram), [0.89, 0.89, 0.65215, 0.65215], atol=5e-6)
    np.testing.assert_allclose(T.mse_collapse_threshold(counts), np.array(counts) / 220**2)
    pred = T.mse_ufm(Problem.balanced(4, 25, dim=4, loss="mse", decay=(5e-3, 5e-3), bias="free"))
    assert abs(pred.extra["factor"] - 0.9) < 1e-14
    np.testing.assert_allclose(pred.wm_gram[0], [0.675, -0.225, -0.225, -0.225], atol=1e-14)
    np.testing.assert_allclose(pred.bias, 0.25, atol=0)
    assert abs(pred.objective - 0.07125) < 1e-14


def test_random_bound_value_and_kind():
    p = Problem.balanced(4, 5, dim=8, classifier="random", features="sphere", energy=(1.0, 1.0))
    pred = T.random_classifier_bound(p)
    assert pred.kind == "lower_bound" and pred.m_gram is None
    assert abs(pred.objective - 0.5826576530618) < 1e-12


# ------------------------------------------------------------------------- against the simulator
#: (id, problem, restarts) solved by projected gradient and compared with the prediction.
SOLVER_CASES = {
    "lpm_balanced": (Problem.balanced(3, 4, dim=2, energy=(2.0, 0.5)), 1),
    "lpm_balanced_per_sample": (
        Problem.balanced(4, 3, dim=3, energy=(1.0, 1.0), budget="per-sample"),
        1,
    ),
    "lpm_balanced_sphere": (Problem.balanced(5, 3, dim=6, energy=(1.0, 3.0), features="sphere"), 1),
    "fixed_etf": (
        Problem.from_counts(
            (30, 5, 12), dim=3, classifier="etf", energy=(2.0, 0.7), budget="per-sample"
        ),
        1,
    ),
    "fixed_etf_class_average": (
        Problem.from_counts((40, 7, 3, 20, 1), dim=6, classifier="etf", energy=(0.5, 2.0)),
        1,
    ),
    "fixed_etf_class_average_theory": (
        Problem.from_counts((100, 100, 10, 10), dim=8, classifier="etf", energy=(1.0, 1.0)),
        1,
    ),
    "relu_ufm": (Problem.from_counts((12, 6, 3, 3), dim=4, features="relu", decay=(1e-2, 1e-2)), 8),
    "relu_ufm_minority_dead": (
        Problem.from_counts((12, 6, 3, 3), dim=2, features="relu", decay=(0.07, 0.07)),
        4,
    ),
    "zhu_free_bias": (Problem.balanced(3, 6, dim=3, decay=(1e-2, 5e-3), bias="free"), 1),
    "zhu_penalised_bias": (
        Problem.balanced(3, 6, dim=2, decay=(1e-2, 5e-3, 1e-2), bias="penalised"),
        1,
    ),
    "zhu_K2": (Problem.balanced(2, 5, dim=1, decay=(2e-2, 1e-2)), 1),
    "mse_ufm": (Problem.from_counts((12, 6, 3, 3), dim=4, loss="mse", decay=(1e-2, 1e-2)), 1),
    "mse_ufm_minority_dead": (
        Problem.from_counts((12, 6, 3, 3), dim=2, loss="mse", decay=(0.09, 0.09)),
        1,
    ),
    "mse_free_bias": (
        Problem.balanced(3, 8, dim=2, loss="mse", decay=(2e-2, 1e-2), bias="free"),
        1,
    ),
}

DR_CASES = {
    "dr_etf": Problem.from_counts(
        (6, 3, 2), dim=2, classifier="etf", loss="dr", energy=(2.0, 0.7), budget="per-sample"
    ),
    "dr_random": Problem.from_counts(
        (6, 3, 2), dim=4, classifier="random", loss="dr", energy=(2.0, 0.7), budget="per-sample"
    ),
}


@functools.cache
def _solved(case: str) -> lpm.Solution:
    if case in DR_CASES:
        problem, restarts = DR_CASES[case], 1
    else:
        problem, restarts = SOLVER_CASES[case]
    sol = lpm.solve(problem, method="gradient", restarts=restarts, certify=False)
    assert sol.converged, sol.message
    return sol


def _disagreement(pred: T.Prediction, sol: lpm.Solution) -> tuple[float, float]:
    obj = abs(sol.objective - pred.objective)
    gram = _gram_error(pred, sol.W, sol.means)
    if pred.bias is not None:
        gram = max(gram, float(np.abs(sol.b - pred.bias).max()))
    return obj, gram


@pytest.mark.parametrize("case", sorted(SOLVER_CASES))
def test_prediction_agrees_with_gradient_solver(case):
    sol = _solved(case)
    pred = T.predict(sol.problem)
    assert pred.kind == "optimum"
    assert pred.reference  # every prediction cites its source
    obj, gram = _disagreement(pred, sol)
    assert obj < OBJ_TOL, f"objective differs by {obj:.2e}"
    assert gram < GRAM_TOL, f"Grams differ by {gram:.2e}"


@pytest.mark.parametrize("case", sorted(SOLVER_CASES))
def test_perturbed_prediction_is_caught(case):
    """The comparison above is sharp: a 1e-6 change of the value or 1e-4 of a Gram fails it."""
    sol = _solved(case)
    pred = T.predict(sol.problem)
    from dataclasses import replace

    shifted = replace(pred, objective=pred.objective * (1 + 1e-6) + 1e-6)
    assert _disagreement(shifted, sol)[0] >= OBJ_TOL
    bent = replace(pred, w_gram=pred.w_gram + 1e-4 * max(1.0, np.abs(pred.w_gram).max()))
    assert _disagreement(bent, sol)[1] >= GRAM_TOL


#: (model, factor of the threshold, restarts): the solver must see class k alive below its
#: collapse threshold and exactly 0 above it. ReLU needs restarts below the threshold: its
#: boundary stationary points with the minority dead (docs/theory.md §3, §8.7) trap most random
#: starts there (at 0.9τ all of 32 starts were trapped; at 0.8τ one of 16 escapes).
THRESHOLD_CASES = [
    ("mse", 0.9, 1),
    ("mse", 1.1, 1),
    ("zhu", 0.9, 1),
    ("zhu", 1.1, 1),
    ("relu", 0.8, 16),
    ("relu", 1.1, 4),
]


@pytest.mark.parametrize(("model", "factor", "restarts"), THRESHOLD_CASES)
def test_collapse_threshold_against_solver(model, factor, restarts):
    counts, k = (12, 6, 3, 3), 3
    if model == "mse":
        lam = math.sqrt(factor * T.mse_collapse_threshold(counts, k))
        p = Problem.from_counts(counts, dim=4, loss="mse", decay=(lam, lam))
    elif model == "relu":
        lam = math.sqrt(factor * T.relu_collapse_threshold(counts, k))
        p = Problem.from_counts(counts, dim=4, features="relu", decay=(lam, lam))
    else:
        counts, k = (4, 4, 4), 0
        lam = math.sqrt(factor * T.zhu_collapse_threshold(4, 3))
        p = Problem.balanced(3, 4, dim=2, decay=(lam, lam))
    sol = lpm.solve(p, method="gradient", restarts=restarts, certify=False)
    assert sol.converged
    pred = T.predict(p)
    norm = float(np.linalg.norm(sol.means[k]))
    if factor < 1:
        assert pred.m_norms[k] > 0.1
        assert abs(norm - pred.m_norms[k]) < GRAM_TOL
        assert abs(sol.objective - pred.objective) < OBJ_TOL
    else:
        assert pred.m_norms[k] == 0.0
        assert norm < 1e-6


@pytest.mark.slow
def test_dot_regression_class_average_budget():
    """DR under the class-average budget keeps the per-sample minimiser (about 20 s to solve)."""
    p = Problem.from_counts((6, 3, 2), dim=2, classifier="etf", loss="dr", energy=(2.0, 0.7))
    sol = lpm.solve(p, method="gradient", certify=False)
    assert sol.converged and sol.objective < 1e-12
    assert _gram_error(T.dot_regression(p), sol.W, sol.means) < DR_GRAM_TOL


@pytest.mark.parametrize("case", sorted(DR_CASES))
def test_dot_regression_agrees_with_gradient_solver(case):
    sol = _solved(case)
    pred = T.dot_regression(sol.problem)
    assert sol.objective < 1e-12 and pred.objective == 0.0
    W, H = sol.W, sol.H
    E_W = sol.problem.energy[0]
    cos = (H * W[sol.problem.labels]).sum(1) / (np.linalg.norm(H, axis=1) * math.sqrt(E_W))
    assert float((1 - cos).max()) < 1e-6
    assert _gram_error(pred, W, sol.means) < DR_GRAM_TOL


def test_seli_agrees_with_uf_svm():
    """The UF-SVM, min ‖Z‖_* over margin-feasible logits Z (K × N), solved by cvxpy."""
    counts = (4, 2, 1, 1)
    p = Problem.from_counts(counts, dim=3)
    pred = T.seli(p)
    K, N, y = p.K, p.N, p.labels
    Z = cp.Variable((K, N))
    cons = [Z[y[i], i] - Z[c, i] >= 1 for i in range(N) for c in range(K) if c != y[i]]
    prob = cp.Problem(cp.Minimize(cp.normNuc(Z)), cons)
    prob.solve(solver="CLARABEL")
    assert abs(prob.value - pred.objective) < CVX_TOL * pred.objective
    # W Wᵀ of the balanced factorisation of the optimal Z is (Z Zᵀ)^{1/2}.
    U, S, _ = np.linalg.svd(Z.value, full_matrices=False)
    np.testing.assert_allclose((U * S) @ U.T, pred.w_gram, atol=CVX_TOL * 10)
    # Logits of the class means: exactly P_K.
    M = Z.value @ np.eye(K)[y] / np.array(counts)
    np.testing.assert_allclose(M, pred.wm_gram, atol=CVX_TOL * 10)


def test_seli_dual_certificate_holds_on_random_counts():
    rng = np.random.default_rng(7)
    for _ in range(50):
        K = int(rng.integers(2, 8))
        counts = tuple(int(c) for c in rng.integers(1, 500, size=K))
        assert T.seli(Problem.from_counts(counts, dim=K)).extra["dual_certificate"], counts


@pytest.mark.parametrize(
    "problem",
    [
        Problem.balanced(4, 3, dim=8, classifier="random", features="sphere", energy=(1.0, 1.0)),
        Problem.balanced(
            3,
            2,
            dim=2,
            classifier="random",
            energy=(2.0, 1.5),
            budget="per-sample",
            classifier_seed=3,
        ),
    ],
)
def test_random_classifier_bound_holds(problem):
    sol = lpm.solve(problem, method="gradient", certify=False)
    assert sol.converged
    bound = T.random_classifier_bound(problem).objective
    assert sol.objective >= bound - OBJ_TOL
    assert sol.objective > bound + 1e-3  # random rows are not an ETF: strict


def test_random_classifier_bound_is_attained_by_the_etf():
    p = Problem.balanced(4, 3, dim=3, classifier="etf", features="sphere", energy=(1.0, 1.0))
    sol = lpm.solve(p, method="gradient", certify=False)
    assert abs(sol.objective - T.random_classifier_bound(p).objective) < OBJ_TOL


# ------------------------------------------------------------------------- hypotheses
_LPM = {"energy": (1.0, 1.0)}
REFUSALS = [
    (T.lpm_balanced, Problem.from_counts((5, 3), dim=2, **_LPM), "balanced counts"),
    (T.lpm_balanced, Problem.balanced(4, 3, dim=2, **_LPM), "dim ≥ 3"),
    (T.lpm_balanced, Problem.balanced(3, 3, dim=3, loss="mse", **_LPM), "loss 'ce'"),
    (T.lpm_balanced, Problem.balanced(3, 3, dim=3, features="relu", **_LPM), "features"),
    (T.lpm_balanced, Problem.balanced(3, 3, dim=3, decay=(1e-2, 1e-2)), "energy"),
    (T.lpm_balanced, Problem.balanced(3, 3, dim=3, bias="free", **_LPM), "bias 'none'"),
    (T.lpm_balanced, Problem.balanced(3, 3, dim=3, classifier="etf", **_LPM), "classifier"),
    (T.fixed_etf, Problem.from_counts((5, 3), dim=2, classifier="etf", **_LPM), "per-sample"),
    (
        T.fixed_etf,
        Problem.from_counts((5, 3), dim=2, classifier="random", budget="per-sample", **_LPM),
        "classifier 'etf'",
    ),
    (
        T.fixed_etf,
        Problem.from_counts(
            (5, 3), dim=2, classifier="etf", loss="dr", budget="per-sample", **_LPM
        ),
        "loss 'ce'",
    ),
    (
        T.fixed_etf_class_average,
        Problem.from_counts((5, 3), dim=2, classifier="etf", budget="per-sample", **_LPM),
        "budget",
    ),
    (
        T.fixed_etf_class_average,
        Problem.from_counts((5, 3), dim=2, classifier="etf", features="sphere", **_LPM),
        "features",
    ),
    (T.dot_regression, Problem.from_counts((5, 3), dim=2, classifier="etf", **_LPM), "loss"),
    (
        T.dot_regression,
        Problem.from_counts((5, 3), dim=2, classifier="etf", loss="dr", features="relu", **_LPM),
        "features",
    ),
    (T.relu_ufm, Problem.from_counts((5, 3), dim=2, decay=(1e-2, 1e-2)), "features 'relu'"),
    (
        T.relu_ufm,
        Problem.from_counts((5, 3, 2), dim=2, features="relu", decay=(1e-3, 1e-3)),
        "dim ≥ 3",
    ),
    (T.relu_ufm, Problem.from_counts((5, 3), dim=2, features="relu", **_LPM), "decay"),
    (
        T.relu_ufm,
        Problem.from_counts((5, 3), dim=2, features="relu", decay=(1e-2, 1e-2), bias="free"),
        "bias 'none'",
    ),
    (T.seli, Problem.from_counts((5, 3), dim=2, **_LPM), "no energy, no decay"),
    (T.seli, Problem.from_counts((5, 3, 2, 2), dim=2), "dim ≥ 3"),
    (T.seli, Problem.from_counts((5, 3), dim=2, bias="free"), "bias 'none'"),
    (T.zhu_regularised_ce, Problem.from_counts((5, 3), dim=2, decay=(1e-2, 1e-2)), "balanced"),
    (T.zhu_regularised_ce, Problem.balanced(4, 3, dim=2, decay=(1e-3, 1e-3)), "dim ≥ 3"),
    (
        T.zhu_regularised_ce,
        Problem.balanced(3, 3, dim=2, features="relu", decay=(1e-3, 1e-3)),
        "features 'free'",
    ),
    (T.mse_ufm, Problem.from_counts((5, 3), dim=2, decay=(1e-2, 1e-2)), "loss 'mse'"),
    (
        T.mse_ufm_free_bias,
        Problem.from_counts((5, 3), dim=2, loss="mse", decay=(1e-2, 1e-2), bias="free"),
        "balanced",
    ),
    (
        T.mse_ufm_no_bias,
        Problem.from_counts((5, 3, 2), dim=2, loss="mse", decay=(1e-3, 1e-3)),
        "dim ≥ 3",
    ),
    (
        T.mse_ufm_no_bias,
        Problem.balanced(3, 3, dim=3, loss="mse", decay=(1e-3, 1e-3), bias="free"),
        "bias",
    ),
    (
        T.mse_ufm,
        Problem.balanced(3, 3, dim=2, loss="mse", decay=(1e-3, 1e-3, 1e-3), bias="penalised"),
        "bias",
    ),
    (
        T.random_classifier_bound,
        Problem.from_counts((5, 3), dim=2, classifier="random", **_LPM),
        "balanced",
    ),
    (T.random_classifier_bound, Problem.balanced(3, 3, dim=2, **_LPM), "classifier"),
    (
        T.random_classifier_bound,
        Problem.balanced(3, 3, dim=2, classifier="random", decay=(1e-2, 1e-2)),
        "energy",
    ),
]


@pytest.mark.parametrize(("fn", "problem", "needle"), REFUSALS)
def test_prediction_refuses_outside_its_hypotheses(fn, problem, needle):
    with pytest.raises(ValueError) as info:
        fn(problem)
    message = str(info.value)
    assert message.startswith(f"{fn.__name__}: needs ")
    assert needle in message and "\n" not in message


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: T.balanced_lpm_value(1, 1.0, 1.0), "K ≥ 2"),
        (lambda: T.balanced_lpm_value(3, 0.0, 1.0), "E_W > 0"),
        (lambda: T.relu_collapse_threshold((5,)), "2 positive counts"),
        (lambda: T.relu_collapse_threshold((5, 3), k=2), "class index"),
        (lambda: T.mse_collapse_threshold((5, -1)), "positive counts"),
        (lambda: T.zhu_collapse_threshold(0, 3), "n ≥ 1"),
        (lambda: T.seli_ratios(0, 2, 10), "KA ≥ 1"),
        (lambda: T.seli_ratios(2, 2, 0.5), "R ≥ 1"),
    ],
)
def test_helpers_refuse_bad_input(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


def test_predict_dispatches_and_explains():
    assert T.predict(Problem.balanced(3, 2, dim=2, energy=(1.0, 1.0))).reference.startswith("Fang")
    p = Problem.from_counts((5, 3), dim=2, energy=(1.0, 1.0))  # imbalanced LPM: no closed form
    with pytest.raises(ValueError) as info:
        T.predict(p)
    message = str(info.value)
    assert "\n" not in message
    for fn in T.PREDICTIONS:
        assert f"{fn.__name__}: needs" in message


def test_prediction_is_frozen_and_serialisable():
    pred = T.relu_ufm(Problem.from_counts((5, 3), dim=2, features="relu", decay=(1e-2, 1e-2)))
    with pytest.raises(ValueError):
        pred.w_gram[0, 0] = 1.0
    with pytest.raises(AttributeError):
        pred.objective = 0.0
    import json

    data = json.loads(json.dumps(pred.to_dict()))
    assert data["kind"] == "optimum" and len(data["w_gram"]) == 2


# ------------------------------------------------------------------------- the closed-form method
CLOSED_FORM_CASES = [
    *(problem for problem, _ in SOLVER_CASES.values()),
    *DR_CASES.values(),
    Problem.from_counts((100, 100, 10, 10), dim=8, features="relu", decay=(1e-3, 1e-3)),
    Problem.balanced(4, 25, dim=4, loss="mse", decay=(5e-3, 5e-3), bias="free"),
    Problem.balanced(3, 10, dim=2, decay=(0.2, 0.1)),  # Zhu, collapsed to 0
    Problem.balanced(4, 25, dim=1, decay=(0.1, 0.1), bias="free"),  # collapsed, d < K − 1
    Problem.from_counts((100, 100, 10, 10), dim=2, features="relu", decay=(2e-2, 2e-2)),
]


@pytest.mark.parametrize("problem", CLOSED_FORM_CASES, ids=lambda p: p.describe()[:60])
def test_closed_form_method_is_certified(problem):
    assert METHOD.supports(problem) is None
    assert (
        METHOD.run([problem], SolveOptions())[0].lower_bound is None
    )  # a paper's value is no bound
    sol = lpm.solve(problem, method="theory")  # the bound comes from lpm.certify
    pred = T.predict(problem)
    assert sol.method == "theory" and sol.converged
    dead = pred.m_norms is not None and bool((np.asarray(pred.m_norms) == 0).any())
    if problem.features == "relu" and dead:
        # lpm.certify's doubly-nonnegative multipliers are fitted at the point, and a dead class
        # (h̄_k = 0) leaves that fit degenerate: the bound is valid but loose there (README,
        # "Certified optima"); lpm.relaxation.relaxation_bound closes it with a conic solve.
        assert sol.gap is not None and sol.gap >= -1e-12
    else:
        assert sol.certified
    assert sol.residual < 1e-13  # exact up to round-off
    assert abs(sol.objective - pred.objective) < 1e-12 * max(1.0, abs(sol.objective))
    assert sol.info["violation"] < 1e-13
    assert _gram_error(pred, sol.W, sol.means) < 1e-12
    if problem.features == "relu":
        assert sol.H.min() >= 0.0


def test_closed_form_seli_point():
    p = Problem.from_counts((7, 3, 1), dim=2)
    sol = METHOD.run([p], SolveOptions())[0]
    assert sol.converged and sol.lower_bound is None and sol.residual < 1e-13
    Z = sol.H @ sol.W.T
    margins = Z[np.arange(p.N), p.labels][:, None] - Z
    margins[np.arange(p.N), p.labels] = np.inf
    assert margins.min() > 1 - 1e-12
    assert "no minimiser" in sol.message


def test_closed_form_refuses_and_rounds():
    p = Problem.balanced(4, 3, dim=8, classifier="random", features="sphere", energy=(1.0, 1.0))
    assert "lower bound" in METHOD.supports(p)
    assert "no closed form" in METHOD.supports(Problem.from_counts((5, 3), dim=2, energy=(1, 1)))
    q = Problem.balanced(4, 3, dim=3, energy=(1.0, 1.0))
    sol = METHOD.run([q], SolveOptions(dtype="float32"))[0]
    assert sol.dtype == "float32" and sol.converged and 1e-12 < sol.residual < sol.tol


def test_realise_matches_prediction_at_minimal_dimension():
    p = Problem.from_counts((40, 20, 10, 5, 5), dim=2, loss="mse", decay=(0.045, 0.045))
    pred = T.mse_ufm(p)
    assert pred.rank == 2
    W, H, _ = realise(p, pred)
    assert W.shape == (5, 2) and H.shape == (80, 2)
    M = H[np.searchsorted(p.labels, np.arange(5))]
    assert _gram_error(pred, W, M) < 1e-13
    with pytest.raises(ValueError, match="fixes the features"):
        realise(
            p,
            T.random_classifier_bound(
                Problem.balanced(3, 2, dim=2, classifier="random", energy=(1.0, 1.0))
            ),
        )
