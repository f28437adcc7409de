"""The result of a solve, and its storage as npz + JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from lpm.problem import Problem
from lpm.tolerances import GAP_TOL

__all__ = ["STATUSES", "Solution", "jsonable", "load", "save"]

Status = Literal["converged", "max_iter", "inaccurate", "infeasible", "failed", "time_limit"]
#: The fixed vocabulary of ``Solution.status``.
STATUSES: tuple[str, ...] = (
    "converged",
    "max_iter",
    "inaccurate",
    "infeasible",
    "failed",
    "time_limit",
)


@dataclass(frozen=True)
class Solution:
    """A (candidate) optimum of a :class:`~lpm.problem.Problem`, with its certificate.

    Attributes
    ----------
    problem : Problem
    W : ndarray, shape=[K, d]
        Classifier (the fixed one for a fixed classifier).
    H : ndarray, shape=[N, d]
        Per-sample features, rows in the order of ``problem.labels``.
    b : ndarray, shape=[K]
        Bias (zeros when the problem has none).
    objective : float
        f(W, H, b) of the problem as stated (:func:`lpm.objective.objective`).
    residual : float
        Optimality residual that ``converged`` is judged on (see README: "The residual").
    status : str
        One of ``STATUSES``; ``"converged"`` only when ``residual <= tol``.
    method, device, dtype : str
    iterations : int
    seconds : float
        Wall time of the solve (for problems solved together by ``solve_batch`` or restarts,
        the wall time of their whole batch).
    tol : float
        The residual tolerance the solve was judged against.
    lower_bound : float or None
        A certified lower bound on the global optimum, when one is available.
    message : str
        A readable stopping reason.
    restarts : tuple of float
        Objectives of every start of a multi-start solve (best first is not implied).
    info : dict
        Method-specific details (e.g. the rank of a convex program's Gram matrix).
    """

    problem: Problem
    W: NDArray[np.float64]
    H: NDArray[np.float64]
    b: NDArray[np.float64]
    objective: float
    residual: float
    status: Status
    method: str
    device: str = "cpu"
    dtype: str = "float64"
    iterations: int = 0
    seconds: float = 0.0
    tol: float = 0.0
    lower_bound: float | None = None
    message: str = ""
    restarts: tuple[float, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not known; allowed: {', '.join(STATUSES)}")
        if self.status == "converged" and not self.residual <= self.tol:
            raise ValueError(
                f"a solution with residual {self.residual:.3g} above its tolerance {self.tol:.3g} "
                "cannot be called converged"
            )

    @property
    def converged(self) -> bool:
        """True only when the residual is below the tolerance."""
        return self.status == "converged"

    @property
    def gap(self) -> float | None:
        """objective − lower_bound, or None without a certificate."""
        if self.lower_bound is None:
            return None
        return self.objective - self.lower_bound

    @property
    def certified(self) -> bool:
        """Converged, and |gap| within the tolerance relative to max(1, |f|) (a clearly negative
        gap — a point below a certified bound — is infeasible, not certified)."""
        gap = self.gap
        if not self.converged or gap is None:
            return False
        # A gap below −tol means the point beats a valid bound: it is not feasible.
        return abs(gap) <= self.info.get("gap_tol", GAP_TOL) * max(1.0, abs(self.objective))

    @property
    def means(self) -> NDArray[np.float64]:
        """Class means h̄_k, shape=[K, d]."""
        counts = np.asarray(self.problem.counts, dtype=np.float64)
        M = np.zeros((self.problem.K, self.problem.dim))
        np.add.at(M, self.problem.labels, self.H)
        return M / counts[:, None]

    def with_certificate(self, lower_bound: float | None, **info: Any) -> Solution:
        """A copy with a lower bound (and extra info) attached."""
        return replace(self, lower_bound=lower_bound, info={**self.info, **info})

    def summary(self) -> dict[str, Any]:
        """The scalar fields as plain JSON (``solve --json`` without geometry)."""
        return {
            "problem": self.problem.to_dict(),
            "method": self.method,
            "device": self.device,
            "dtype": self.dtype,
            "status": self.status,
            "converged": self.converged,
            "objective": self.objective,
            "residual": self.residual,
            "tol": self.tol,
            "lower_bound": self.lower_bound,
            "gap": self.gap,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "message": self.message,
            "restarts": list(self.restarts),
            "info": jsonable(self.info),
        }


def jsonable(value: Any) -> Any:
    """A strict-JSON copy of results: plain types only, arrays as nested lists, non-finite floats
    as None (strict JSON has no NaN or Infinity), other objects as their ``str``.

    The one sanitiser of the project: solution files, ``lpm ... --json``, sweep stores, geometry
    reports and figure data all go through it.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return str(value)


def save(solution: Solution, path: str | Path) -> Path:
    """Write ``path`` (.npz: W, H, b) and ``path`` with suffix .json (everything else)."""
    path = Path(path).with_suffix(".npz")
    np.savez(path, W=solution.W, H=solution.H, b=solution.b)
    meta = jsonable(solution.summary())
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, allow_nan=False))
    return path


def load(path: str | Path) -> Solution:
    """Read a solution written by :func:`save`."""
    path = Path(path).with_suffix(".npz")
    meta = json.loads(path.with_suffix(".json").read_text())
    arrays = np.load(path)
    fields = {k: meta[k] for k in ("status", "method", "device", "dtype")}
    for k in ("objective", "residual"):  # written as null when not finite
        fields[k] = math.nan if meta[k] is None else meta[k]
    fields.update(
        iterations=meta["iterations"],
        seconds=meta["seconds"],
        tol=meta["tol"],
        lower_bound=meta["lower_bound"],
        message=meta["message"],
        restarts=tuple(meta["restarts"]),
        info=meta["info"],
    )
    return Solution(
        problem=Problem.from_dict(meta["problem"]),
        W=arrays["W"],
        H=arrays["H"],
        b=arrays["b"],
        **fields,
    )
