"""Comparison of solver output with a closed-form prediction, through invariants only.

Optima are unique only up to a rotation of R^d, so a solution is compared with a prediction
through quantities a rotation leaves alone: the objective, the Gram matrices W Wᵀ, M Mᵀ and
W Mᵀ (M the uncentred class means), and the bias. Every comparison takes ``perturb``: the
prediction's numbers are multiplied by (1 + perturb) first, which is how the tests show that a
wrong constant makes a check fail.

Tolerances (named here; each says why it has its value)
-------------------------------------------------------
* :data:`OBJECTIVE_RTOL` — gradient solves stop at an optimality residual of 1e-10 (the package's
  float64 tolerance); near a minimiser the objective error is of the order of the residual times
  the distance to the optimum, far below 1e-8, which leaves two decades of margin.
* :data:`GRAM_RTOL` — a Gram matrix is off by about the distance to the optimum, which for the
  strongly curved problems checked here is of the order of the residual (1e-10); 1e-6 keeps room
  for the flatter directions of imbalanced and ReLU problems.
* :data:`CONVEX_RTOL` — interior-point solvers (Clarabel) stop at about 1e-8 in the objective but
  only about 1e-5..1e-6 in the primal point; 1e-6 for values, :data:`CONVEX_GRAM_RTOL` for Grams.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

import lpm
from lpm.problem import Problem
from lpm.solution import Solution
from lpm.tolerances import CHECK_TOL, GAP_TOL
from proofs_check.report import Measurement

__all__ = [
    "CONVEX_GRAM_RTOL",
    "CONVEX_RTOL",
    "GRAM_RTOL",
    "OBJECTIVE_RTOL",
    "against_prediction",
    "certificate",
    "converged",
    "gram_error",
    "label",
    "relative_error",
    "solve_all",
]

# The comparison tolerances live in the project's one table (lpm/tolerances.py), with reasons.
OBJECTIVE_RTOL = CHECK_TOL["objective"]
GRAM_RTOL = CHECK_TOL["gram"]
CONVEX_RTOL = CHECK_TOL["convex-objective"]
CONVEX_GRAM_RTOL = CHECK_TOL["convex-gram"]


def label(problem: Problem) -> str:
    """A short name of a problem for a check's details, e.g. ``"n=(100,100,10,10) d=8 E=1,1"``."""
    counts = problem.counts
    if len(set(counts)) == 1:
        shape = f"K={problem.K} n={counts[0]}"
    elif len(counts) <= 6:
        shape = f"n=({','.join(str(c) for c in counts)})"
    else:
        shape = f"K={problem.K} n={counts[0]}..{counts[-1]}"
    scale = ""
    if problem.energy is not None:
        scale = f" E={problem.energy[0]:g},{problem.energy[1]:g}"
    elif problem.decay is not None:
        scale = f" λ={problem.decay[0]:g},{problem.decay[1]:g}"
    return f"{shape} d={problem.dim}{scale}"


def relative_error(value: float, predicted: float, perturb: float = 0.0) -> float:
    """|value − (1 + perturb)·predicted| / max(1, |predicted|)."""
    target = (1.0 + perturb) * predicted
    return abs(value - target) / max(1.0, abs(predicted))


def gram_error(
    G: NDArray[np.float64], predicted: NDArray[np.float64], perturb: float = 0.0
) -> float:
    """‖G − (1 + perturb)·Ĝ‖_F / ‖Ĝ‖_F, or the absolute ‖G‖_F when Ĝ = 0 (shape=[K, K])."""
    predicted = np.asarray(predicted, dtype=np.float64)
    scale = float(np.linalg.norm(predicted))
    diff = float(np.linalg.norm(np.asarray(G) - (1.0 + perturb) * predicted))
    return diff / scale if scale > 0 else diff


def converged(solution: Solution, name: str) -> Measurement:
    """The solver's own verdict as a measurement: optimality residual ≤ its tolerance."""
    return Measurement(f"{name} residual", float(solution.residual), float(solution.tol), gate=True)


def certificate(solution: Solution, name: str) -> Measurement | None:
    """The certified gap (objective − lower bound) relative to max(1, |f|), when one is attached.

    Its tolerance is the solution's own (``info["gap_tol"]``, 1e-8 by default), as in
    :attr:`lpm.solution.Solution.certified` — except for interior-point solves, held to
    :data:`CONVEX_RTOL`: their points are accurate to about 1e-8 in value, and the certificate
    at a degenerate optimum (minority rows exactly 0) reads a few 1e-8; values from them are
    compared at CONVEX_RTOL anyway.
    """
    gap = solution.gap
    if gap is None:
        return None
    scale = max(1.0, abs(solution.objective))
    tol = GAP_TOL if solution.certificate is None else solution.certificate.gap_tol
    if solution.method == "convex":
        tol = max(tol, CONVEX_RTOL)
    return Measurement(f"{name} gap", gap / scale, tol, gate=True)


def against_prediction(
    solution: Solution,
    prediction,
    *,
    perturb: float = 0.0,
    name: str | None = None,
    objective_rtol: float | None = None,
    gram_rtol: float | None = None,
    normalise: bool = False,
) -> list[Measurement]:
    """Measurements of a solution against every invariant a prediction fixes.

    Parameters
    ----------
    solution : Solution
    prediction : lpm.theory.Prediction
        Fields used when not None: ``objective``, ``w_gram`` (W Wᵀ), ``m_gram`` (M Mᵀ),
        ``wm_gram`` (W Mᵀ), ``bias``.
    perturb : float
        The prediction is multiplied by (1 + perturb) before comparing.
    name : str, optional
        Prefix of the measurement names (default :func:`label`).
    objective_rtol, gram_rtol : float, optional
        Tolerances; by default :data:`OBJECTIVE_RTOL` and :data:`GRAM_RTOL`, or
        :data:`CONVEX_RTOL` and :data:`CONVEX_GRAM_RTOL` for a solution of the convex method.
    normalise : bool
        Compare Grams after dividing each by its Frobenius norm (directions only: the
        unregularised SELI regime, where only directions have a limit); the objective is then
        not compared.

    Returns
    -------
    list of Measurement
        The convergence of the solve first, then one per predicted invariant.
    """
    name = label(solution.problem) if name is None else name
    convex = solution.method == "convex"
    if objective_rtol is None:
        objective_rtol = CONVEX_RTOL if convex else OBJECTIVE_RTOL
    if gram_rtol is None:
        gram_rtol = CONVEX_GRAM_RTOL if convex else GRAM_RTOL
    out = [converged(solution, name)]
    gap = certificate(solution, name)
    if gap is not None:
        out.append(gap)
    W, M = solution.W, solution.means
    observed = {"w_gram": W @ W.T, "m_gram": M @ M.T, "wm_gram": W @ M.T}
    if prediction.objective is not None and not normalise:
        out.append(
            Measurement(
                f"{name} objective",
                relative_error(solution.objective, prediction.objective, perturb),
                objective_rtol,
            )
        )
    for key, G in observed.items():
        predicted = getattr(prediction, key, None)
        if predicted is None:
            continue
        predicted = np.asarray(predicted, dtype=np.float64)
        if normalise:
            G = _unit(G)
            predicted = _unit(predicted)
        out.append(Measurement(f"{name} {key}", gram_error(G, predicted, perturb), gram_rtol))
    bias = getattr(prediction, "bias", None)
    if bias is not None and solution.problem.has_bias:
        out.append(
            Measurement(
                f"{name} bias",
                float(np.abs(solution.b - (1.0 + perturb) * np.asarray(bias)).max()),
                gram_rtol,
            )
        )
    return out


def _unit(G: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(G))
    return G / norm if norm > 0 else G


def solve_all(problems: Sequence[Problem], method: str = "auto", **options) -> list[Solution]:
    """Solve problems with :func:`lpm.solve_batch` (same-structured problems share one batch).

    ``"auto"`` answers an unconverged or uncertified gradient solve of a small problem by the
    certified convex program (boundary stationary points of ReLU problems, docs/theory.md §3, are
    the usual cause); checks that need per-sample features from a random start, or a method
    independent of the convex programs, name ``method="gradient"``.
    """
    return lpm.solve_batch(list(problems), method=method, **options)
