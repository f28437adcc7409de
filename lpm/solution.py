"""The result of a solve, and its storage as npz + JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from lpm.certificate import Certificate, DualPoint
from lpm.files import atomic_write, jsonable
from lpm.problem import Problem
from lpm.tolerances import GAP_TOL

__all__ = ["STATUSES", "Solution", "jsonable", "load", "save", "solution_paths"]

Status = Literal["converged", "max_iter", "time_limit", "inaccurate", "infeasible", "failed"]
#: The fixed vocabulary of ``Solution.status``: ``"time_limit"`` is a solve stopped by its
#: wall-clock budget before converging.
STATUSES: tuple[str, ...] = (
    "converged",
    "max_iter",
    "time_limit",
    "inaccurate",
    "infeasible",
    "failed",
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
    certificate : Certificate or None
        A certified lower bound on the global optimum, when one is available (its
        ``lower_bound`` is also :attr:`lower_bound`).
    message : str
        A readable stopping reason.
    restarts : tuple of float
        Objectives of every start of a multi-start solve (best first is not implied).
    info : dict
        Method-specific details (e.g. the rank of a convex program's Gram matrix).
    dual : DualPoint or None
        A convex program's dual variables, from which :mod:`lpm.certify` bounds the optimum.
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
    certificate: Certificate | None = None
    message: str = ""
    restarts: tuple[float, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    dual: DualPoint | None = field(default=None, repr=False)

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
    def lower_bound(self) -> float | None:
        """The certificate's lower bound on the global optimum, or None without one."""
        return None if self.certificate is None else self.certificate.lower_bound

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
        return abs(gap) <= self.certificate.gap_tol * max(1.0, abs(self.objective))

    @property
    def means(self) -> NDArray[np.float64]:
        """Class means h̄_k, shape=[K, d]."""
        counts = np.asarray(self.problem.counts, dtype=np.float64)
        M = np.zeros((self.problem.K, self.problem.dim))
        np.add.at(M, self.problem.labels, self.H)
        return M / counts[:, None]

    def with_certificate(self, certificate: Certificate | None, **info: Any) -> Solution:
        """A copy with a certificate (and extra info) attached."""
        return replace(self, certificate=certificate, info={**self.info, **info})

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
            "certificate": None if self.certificate is None else self.certificate.to_dict(),
            "iterations": self.iterations,
            "seconds": self.seconds,
            "message": self.message,
            "restarts": list(self.restarts),
            "info": jsonable(self.info),
        }


def solution_paths(path: str | Path) -> tuple[Path, Path]:
    """The two files of a saved solution: ``path`` with suffix .npz (W, H, b) and .json."""
    path = Path(path).with_suffix(".npz")
    return path, path.with_suffix(".json")


def save(solution: Solution, path: str | Path) -> Path:
    """Write ``path`` (.npz: W, H, b) and ``path`` with suffix .json (everything else).

    Each file is written whole or not at all (:func:`lpm.files.atomic_write`): a crash or a kill
    during the save leaves the previous file, never half of a new one.

    Returns
    -------
    Path
        The .npz file.

    Raises
    ------
    OSError
        When a file cannot be written (the solution is untouched; see :func:`lpm.files.check_file`
        to test a path before solving).
    """
    arrays, meta_path = solution_paths(path)
    meta = json.dumps(jsonable(solution.summary()), indent=2, allow_nan=False)
    with atomic_write(arrays) as handle:
        np.savez(handle, W=solution.W, H=solution.H, b=solution.b)
    with atomic_write(meta_path, "w") as handle:
        handle.write(meta)
    return arrays


#: What :func:`load` needs in the JSON file of a solution.
_META_KEYS: tuple[str, ...] = (
    "problem",
    "status",
    "method",
    "device",
    "dtype",
    "objective",
    "residual",
    "iterations",
    "seconds",
    "tol",
    "lower_bound",
    "message",
    "restarts",
    "info",
)


def _read_arrays(path: Path) -> dict[str, NDArray[np.float64]]:
    """W, H, b of a .npz file, refusing anything but plain numeric arrays (nothing unpickled)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    # Parsing damaged bytes fails in many ways (zipfile alone raises BadZipFile, EOFError,
    # NotImplementedError, struct.error, zlib.error): each means the file is not readable.
    except Exception as err:
        raise ValueError(f"not a readable .npz archive ({_reason(err)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("a single array, not an .npz archive of W, H and b")
    with archive:
        missing = [k for k in ("W", "H", "b") if k not in archive.files]
        if missing:
            raise ValueError(f"no array {', '.join(missing)} in it")
        try:
            arrays = {k: archive[k] for k in ("W", "H", "b")}
        except Exception as err:  # damaged members fail as variously as damaged archives
            raise ValueError(f"an array of it cannot be read ({_reason(err)})") from None
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray):  # a member that is not an array: numpy gives bytes
            raise ValueError(f"member {name} is not an array")
        if value.dtype.kind not in "fiu":
            raise ValueError(f"array {name} holds {value.dtype}, not numbers")
    return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not a text file") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"a JSON {type(meta).__name__}, not an object")
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"no key {', '.join(missing)} in it")
    return meta


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if "pickle" in text:  # numpy's message suggests loading it unsafely; lpm never does
        return "it holds pickled data, which lpm never unpickles"
    return text


def load(path: str | Path) -> Solution:
    """Read a solution written by :func:`save`.

    Nothing is unpickled: the arrays are read with ``allow_pickle=False`` and the rest is JSON.

    Raises
    ------
    FileNotFoundError
        When either file is missing.
    ValueError
        One line naming the file and what is wrong with it: truncated or corrupted, not written
        by :func:`save`, or arrays that do not fit the problem.
    """
    arrays_path, meta_path = solution_paths(path)
    try:
        meta = _read_meta(meta_path)
    except ValueError as err:
        raise ValueError(f"{meta_path} is not a solution file of lpm.save: {err}") from None
    try:
        arrays = _read_arrays(arrays_path)
    except ValueError as err:
        raise ValueError(f"{arrays_path} is not a solution file of lpm.save: {err}") from None
    try:
        return _solution(meta, arrays)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise ValueError(
            f"{meta_path} and {arrays_path} do not make a solution: {_reason(err)}"
        ) from None


def _solution(meta: dict[str, Any], arrays: dict[str, NDArray[np.float64]]) -> Solution:
    problem = Problem.from_dict(meta["problem"])
    shapes = {
        "W": (problem.K, problem.dim),
        "H": (problem.N, problem.dim),
        "b": (problem.K,),
    }
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise ValueError(
                f"array {name} has shape {arrays[name].shape}, the problem needs {shape}"
            )
    fields = {k: meta[k] for k in ("status", "method", "device", "dtype")}
    for k in ("objective", "residual"):  # written as null when not finite
        fields[k] = math.nan if meta[k] is None else float(meta[k])
    fields.update(
        iterations=int(meta["iterations"]),
        seconds=float(meta["seconds"]),
        tol=float(meta["tol"]),
        certificate=_certificate(meta),
        message=str(meta["message"]),
        restarts=tuple(math.nan if r is None else float(r) for r in meta["restarts"]),
        info=dict(meta["info"]),
    )
    return Solution(problem=problem, **arrays, **fields)


def _certificate(meta: dict[str, Any]) -> Certificate | None:
    """The certificate of a saved solution (a file without one, but with a bound, predates the
    typed certificate: its bound is kept, of unknown kind)."""
    if meta.get("certificate") is not None:
        return Certificate.from_dict(meta["certificate"])
    if meta.get("lower_bound") is None:
        return None
    info = meta.get("info", {})
    return Certificate(
        lower_bound=float(meta["lower_bound"]),
        kind=str(info.get("certificate", "unknown")),
        exact=bool(info.get("certificate_exact", False)),
        rounding=float(info.get("certificate_rounding", 0.0)),
        gap_tol=float(info.get("gap_tol", GAP_TOL)),
    )
