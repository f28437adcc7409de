"""The sweep spec: a base problem, a grid, solve options and what to store; the key of a point.

A spec is a TOML file (or the same tables as a dict), validated once by
:meth:`SweepSpec.from_dict`, which builds every grid point so that a spec that loads has no
invalid point. Each point has a key, :func:`point_key`, that depends only on what determines its
answer (the problem and the solve options), never on how the grid spelled it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import lpm
from lpm.geometry import GLOBAL_MEANS, GeometryReport
from lpm.problem import Problem
from lpm.solution import jsonable
from lpm.spec import problem_from_flags

try:  # Python ≥ 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the tomli backport
    tomllib = None

__all__ = [
    "COUNT_PARTS",
    "GEOMETRY_KEYS",
    "KEY_DIGITS",
    "MAX_POINTS",
    "OUTPUT_KEYS",
    "PROBLEM_KEYS",
    "SECTIONS",
    "SOLVE_KEYS",
    "SweepSpec",
    "canonical_json",
    "load_spec",
    "one_line",
    "point_key",
]

#: Sections of a spec file (top-level ``name`` and ``description`` strings are also allowed).
SECTIONS: tuple[str, ...] = ("problem", "grid", "solve", "output")

#: Keys of ``[problem]`` (and of ``[grid]``): the CLI problem flags, underscores for dashes.
PROBLEM_KEYS: tuple[str, ...] = (
    "counts",
    "balanced",
    "step",
    "long_tail",
    "dim",
    "loss",
    "classifier",
    "features",
    "bias",
    "energy",
    "budget",
    "decay",
    "classifier_seed",
)

#: The four count forms and the names of their parts, in the order of the CLI syntax.
COUNT_PARTS: dict[str, tuple[str, ...]] = {
    "counts": (),
    "balanced": ("K", "n"),
    "step": ("majority", "minority", "n_minority", "ratio"),
    "long_tail": ("K", "n_max", "rho"),
}

#: Keys of ``[solve]`` (and of ``[grid]``): options of :func:`lpm.solve_batch`.
SOLVE_KEYS: tuple[str, ...] = (
    "method",
    "dtype",
    "seed",
    "tol",
    "max_iter",
    "restarts",
    "time_limit",
)

#: Keys of ``[output]``.
OUTPUT_KEYS: tuple[str, ...] = ("geometry", "global_mean")

#: Every field of :class:`lpm.GeometryReport`, i.e. what ``[output] geometry`` may list.
GEOMETRY_KEYS: tuple[str, ...] = tuple(f.name for f in fields(GeometryReport))

#: A grid larger than this is refused (a spec typo such as a 10⁶-long list is likelier than intent).
MAX_POINTS = 1_000_000

#: Hex digits of the point key (96 bits: collisions are out of reach for any grid).
KEY_DIGITS = 24


def canonical_json(value: Any) -> str:
    """The one text of a JSON-able value that hashes identify it by (sorted keys, no spaces)."""
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def one_line(text: object) -> str:
    """A message on one line (errors of the sweep are one line, as the command line prints them)."""
    return " ".join(str(text).split())


def _norm(key: str) -> str:
    return key.replace("-", "_")


def _check_solve_value(where: str, key: str, value: Any) -> Any:
    """A validated solve option (ints and floats normalised), or a one-line ValueError."""
    if key == "method":
        allowed = ("auto", *lpm.METHODS)
        if value not in allowed:
            raise ValueError(
                f"{where} method {value!r} is not known; allowed: {', '.join(allowed)}"
            )
        return value
    if key == "dtype":
        if value not in ("float64", "float32"):
            raise ValueError(f"{where} dtype {value!r} is not known; allowed: float64, float32")
        return value
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    if key == "tol":
        if not number or not 0 < float(value) < 1:
            raise ValueError(f"{where} tol must be a number in (0, 1), got {value!r}")
        return float(value)
    if key == "time_limit":
        if not number or not 0 < float(value) < float("inf"):
            raise ValueError(
                f"{where} time_limit must be a positive number of seconds, got {value!r}"
            )
        return float(value)
    low = 0 if key == "seed" else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where} {key} must be an integer ≥ {low}, got {value!r}")
    return int(value)


def _check_sections(data: Any) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"sweep spec must be a table of sections, got {type(data).__name__}")
    for key, value in data.items():
        if key in ("name", "description"):
            if not isinstance(value, str):
                raise ValueError(f"sweep spec {key} must be a string, got {value!r}")
        elif key not in SECTIONS:
            raise ValueError(
                f"sweep spec: {key!r} is not a section; allowed: "
                f"{', '.join(f'[{s}]' for s in SECTIONS)}, name, description"
            )
        elif not isinstance(value, Mapping):
            raise ValueError(f"sweep spec [{key}] must be a table of keys, got {value!r}")


def _read_problem(section: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The base problem's keys and its count form (None when the grid gives the classes)."""
    problem: dict[str, Any] = {}
    for key, value in section.items():
        k = _norm(key)
        if k in SOLVE_KEYS:
            raise ValueError(
                f"sweep spec [problem]: {key!r} is a solve option; put it in [solve] or "
                "[grid] (a fixed classifier's seed is classifier_seed)"
            )
        if k not in PROBLEM_KEYS:
            raise ValueError(
                f"sweep spec [problem]: {key!r} is not a problem key; allowed: "
                f"{', '.join(PROBLEM_KEYS)}"
            )
        problem[k] = value
    forms = [f for f in COUNT_PARTS if f in problem]
    if len(forms) > 1:
        raise ValueError(
            f"sweep spec [problem] gives {' and '.join(forms)}; give one count form: "
            f"{', '.join(COUNT_PARTS)}"
        )
    return problem, (forms[0] if forms else None)


def _read_solve(section: Mapping[str, Any]) -> dict[str, Any]:
    solve: dict[str, Any] = {}
    for key, value in section.items():
        k = _norm(key)
        if k not in SOLVE_KEYS:
            raise ValueError(
                f"sweep spec [solve]: {key!r} is not a solve option; allowed: "
                f"{', '.join(SOLVE_KEYS)} (the device is a run option)"
            )
        solve[k] = _check_solve_value("sweep spec [solve]", k, value)
    return solve


def _check_grid_key(key: str, form: str | None) -> str:
    """The normalised grid key, or a one-line ValueError naming what is allowed."""
    k = _norm(key)
    parts = COUNT_PARTS[form] if form else ()
    if k not in PROBLEM_KEYS and k not in SOLVE_KEYS and k not in parts:
        every_part = sorted({p for ps in COUNT_PARTS.values() for p in ps})
        if k in every_part:
            owners = [f for f, ps in COUNT_PARTS.items() if k in ps]
            raise ValueError(
                f"sweep spec [grid]: {key!r} is a part of the count form "
                f"{' or '.join(owners)}, but [problem] gives {form or 'no count form'}"
            )
        allowed = [*PROBLEM_KEYS, *parts, *SOLVE_KEYS]
        raise ValueError(
            f"sweep spec [grid]: {key!r} is not a grid key; allowed: {', '.join(allowed)}"
        )
    if k in COUNT_PARTS and form is not None and k != form:
        raise ValueError(
            f"sweep spec [grid]: {key!r} is a count form but [problem] gives {form}; "
            "give one count form"
        )
    return k


def _read_grid(
    section: Mapping[str, Any], form: str | None
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    grid: list[tuple[str, tuple[Any, ...]]] = []
    size = 1
    for key, values in section.items():
        k = _check_grid_key(key, form)
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"sweep spec [grid] {key} must be a non-empty list of values, got {values!r}"
            )
        if k in SOLVE_KEYS:
            values = [_check_solve_value("sweep spec [grid]", k, v) for v in values]
        size *= len(values)
        if size > MAX_POINTS:
            raise ValueError(
                f"sweep spec [grid] has more than {MAX_POINTS} points; split the sweep"
            )
        grid.append((k, tuple(values)))
    if form is None and not any(k in COUNT_PARTS for k, _ in grid):
        raise ValueError(
            "sweep spec needs the classes: one count form in [problem] or [grid] "
            f"(allowed: {', '.join(COUNT_PARTS)})"
        )
    return tuple(grid)


def _read_output(data: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, str]:
    for key in data:
        if _norm(key) not in OUTPUT_KEYS:
            raise ValueError(
                f"sweep spec [output]: {key!r} is not an output key; allowed: "
                f"{', '.join(OUTPUT_KEYS)}"
            )
    data = {_norm(k): v for k, v in data.items()}
    chosen = data.get("geometry", True)
    if chosen is True or chosen == "all":
        geometry: tuple[str, ...] | None = GEOMETRY_KEYS
    elif chosen is False or chosen == "none":
        geometry = None
    elif isinstance(chosen, list) and all(isinstance(k, str) for k in chosen):
        unknown = [k for k in chosen if k not in GEOMETRY_KEYS]
        if unknown:
            raise ValueError(
                f"sweep spec [output] geometry: {unknown[0]!r} is not a geometry key; allowed: "
                f"{', '.join(GEOMETRY_KEYS)}"
            )
        geometry = tuple(dict.fromkeys(chosen))
    else:
        raise ValueError(
            'sweep spec [output] geometry must be true, false, "all", "none" or a list of '
            f"geometry keys, got {chosen!r}"
        )
    global_mean = data.get("global_mean", "class-average")
    if global_mean not in GLOBAL_MEANS:
        raise ValueError(
            f"sweep spec [output] global_mean {global_mean!r} is not known; allowed: "
            f"{', '.join(GLOBAL_MEANS)}"
        )
    return geometry, global_mean


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: base problem, grid, solve options and what to store.

    Attributes
    ----------
    problem : dict
        Base problem keys (:data:`PROBLEM_KEYS`, underscores), values as the spec gave them.
    grid : tuple of (str, tuple)
        Grid keys in file order, each with its values; the grid is their Cartesian product.
    solve : dict
        Solve options (:data:`SOLVE_KEYS`) shared by every point; a grid key overrides one.
    geometry : tuple of str or None
        Geometry keys stored per row (None: no geometry).
    global_mean : str
        Convention of the geometry (:data:`lpm.geometry.GLOBAL_MEANS`).
    name, description : str
        Free text from the spec.
    source : str
        Where the spec came from (a path, or ``"<dict>"``).

    Examples
    --------
    >>> spec = SweepSpec.from_dict({"problem": {"step": "2:2:2:1", "energy": [1, 1]},
    ...                             "grid": {"ratio": [1, 2, 5]}})
    >>> [p.counts for _, p, _ in spec.points()]
    [(2, 2, 2, 2), (4, 4, 2, 2), (10, 10, 2, 2)]
    """

    problem: dict[str, Any]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    solve: dict[str, Any] = field(default_factory=dict)
    geometry: tuple[str, ...] | None = GEOMETRY_KEYS
    global_mean: str = "class-average"
    name: str = ""
    description: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> SweepSpec:
        """Validate a parsed spec (the TOML's tables as dicts); one-line ValueError if bad.

        Every grid point is built once here, so a spec that loads has no invalid point.
        """
        _check_sections(data)
        problem, form = _read_problem(data.get("problem", {}))
        geometry, global_mean = _read_output(data.get("output", {}))
        spec = cls(
            problem=problem,
            grid=_read_grid(data.get("grid", {}), form),
            solve=_read_solve(data.get("solve", {})),
            geometry=geometry,
            global_mean=global_mean,
            name=data.get("name", ""),
            description=data.get("description", ""),
            source=source,
        )
        spec.points()  # every point must be a valid problem
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON (the form whose hash identifies it)."""
        return jsonable(
            {
                "name": self.name,
                "description": self.description,
                "problem": self.problem,
                "grid": {k: list(v) for k, v in self.grid},
                "solve": self.solve,
                "output": {
                    "geometry": list(self.geometry) if self.geometry is not None else False,
                    "global_mean": self.global_mean,
                },
            }
        )

    @property
    def spec_hash(self) -> str:
        """SHA-256 (first :data:`KEY_DIGITS` hex digits) of the canonical JSON of the spec."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()[:KEY_DIGITS]

    def points(self) -> list[tuple[str, Problem, dict[str, Any]]]:
        """Every grid point, in grid order, once per key.

        Returns
        -------
        list of (key, problem, point)
            ``point`` is ``{"grid": {grid key: value}, "solve": {option: value}, "minority":
            [classes]}``: the point's grid coordinates; the options to pass on
            (``lpm.solve(problem, **point["solve"])`` reproduces the stored row); the classes
            the geometry's minority measures use — the problem's minority classes, or for a
            step form at R = 1 its K_B last classes. Later duplicates of a key are dropped.

        Raises
        ------
        ValueError
            When a grid point is not a valid problem; the message names the point.
        """
        names = [k for k, _ in self.grid]
        out: list[tuple[str, Problem, dict[str, Any]]] = []
        seen: set[str] = set()
        for combo in itertools.product(*(values for _, values in self.grid)):
            key, problem, point = self._point(dict(zip(names, combo)))
            if key not in seen:
                seen.add(key)
                out.append((key, problem, point))
        return out

    def _point(self, coords: dict[str, Any]) -> tuple[str, Problem, dict[str, Any]]:
        """The key, problem and point of one set of grid coordinates."""
        flags = dict(self.problem)
        options = dict(self.solve)
        for k, v in coords.items():
            if k in SOLVE_KEYS:
                options[k] = v
            elif k in PROBLEM_KEYS:
                if k in COUNT_PARTS:
                    for form in COUNT_PARTS:
                        flags.pop(form, None)
                flags[k] = v
        try:
            flags = _set_parts(flags, coords)
            problem = problem_from_flags(flags)
        except ValueError as exc:
            where = ", ".join(f"{k}={v!r}" for k, v in coords.items()) or "the base problem"
            raise ValueError(one_line(f"sweep spec, grid point {where}: {exc}")) from None
        point = {"grid": coords, "solve": options, "minority": _minority(flags, problem)}
        return point_key(problem, options), problem, point


def _minority(flags: Mapping[str, Any], problem: Problem) -> list[int]:
    """The classes the geometry's minority measures use (0-based).

    The problem's own minority classes; for a step form whose counts are equal (R = 1), its K_B
    last classes, so that a phase diagram over R has the minority separation at every R.
    """
    if problem.minority_classes or "step" not in flags:
        return list(problem.minority_classes)
    value = flags["step"]
    parts = [p.strip() for p in value.split(":")] if isinstance(value, str) else list(value)
    majority = int(parts[0])
    return list(range(majority, problem.K))


def _set_parts(flags: dict[str, Any], coords: Mapping[str, Any]) -> dict[str, Any]:
    """Replace parts (e.g. ``ratio``) of the flags' count form by grid values."""
    form = next(f for f in COUNT_PARTS if f in flags)
    names = COUNT_PARTS[form]
    chosen = {k: v for k, v in coords.items() if k in names}
    if not chosen:
        return flags
    value = flags[form]
    parts = [p.strip() for p in value.split(":")] if isinstance(value, str) else list(value)
    if len(parts) != len(names):
        raise ValueError(f"{form} takes {':'.join(names)} ({len(names)} values), got {value!r}")
    for i, name in enumerate(names):
        if name in chosen:
            parts[i] = chosen[name]
    return {**flags, form: parts}


def point_key(problem: Problem, options: Mapping[str, Any]) -> str:
    """The store key of a point: SHA-256 of the canonical JSON of its problem and solve options.

    Parameters
    ----------
    problem : Problem
    options : mapping
        Solve options as given (:data:`SOLVE_KEYS`); defaults left out stay out.

    Returns
    -------
    str
        :data:`KEY_DIGITS` hex digits.
    """
    text = canonical_json({"problem": problem.to_dict(), "solve": dict(options)})
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_DIGITS]


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec (TOML).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    SweepSpec

    Raises
    ------
    ValueError
        One line: the file is missing or not TOML, or a key or value is not allowed (the message
        names it and what is allowed).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep spec {str(path)!r} does not exist or is not a file")
    parser = tomllib
    if parser is None:  # pragma: no cover - Python 3.10
        try:
            import tomli as parser
        except ModuleNotFoundError:
            raise ValueError(
                "reading a sweep spec on Python 3.10 needs the 'tomli' package: pip install tomli"
            ) from None
    try:
        data = parser.loads(path.read_text(encoding="utf-8"))
    except (parser.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(one_line(f"sweep spec {str(path)!r} is not valid TOML: {exc}")) from None
    return SweepSpec.from_dict(data, source=str(path))
