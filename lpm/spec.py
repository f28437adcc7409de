"""Problems from flags: the count forms and value syntax shared by the command line and sweeps.

``problem_from_flags`` turns the problem flags of the ``lpm`` command (or the keys of a sweep
file, which use the same names and syntax) into a :class:`~lpm.problem.Problem`. It lives below
the command line so that the library (sweeps) and the command line parse problems alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lpm.problem import Problem

__all__ = ["COUNT_FORMS", "flag_float", "flag_int", "flag_parts", "problem_from_flags"]

#: The four ways to give the class counts (exactly one is required), with their syntax.
COUNT_FORMS: dict[str, str] = {
    "counts": "--counts n1,n2,...",
    "balanced": "--balanced K:n",
    "step": "--step KA:KB:nB:R",
    "long_tail": "--long-tail K:nmax:rho",
}


def flag_parts(flag: str, value: object, sep: str, names: Sequence[str] | None = None) -> list:
    """Split a flag value ``"a<sep>b<sep>..."`` (or take a sequence as it is)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(sep)]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        parts = [value]
    if names is not None and len(parts) != len(names):
        syntax = sep.join(names)
        raise ValueError(f"--{flag} takes {syntax} ({len(names)} values), got {value!r}")
    if any(p == "" for p in parts):
        raise ValueError(f"--{flag} has an empty value in {value!r}")
    return parts


def flag_int(flag: str, name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"--{flag}: {name} must be an integer, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"--{flag}: {name} must be an integer, got {value!r}") from None


def flag_float(flag: str, name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"--{flag}: {name} must be a number, got {value!r}")
    try:
        return float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--{flag}: {name} must be a number, got {value!r}") from None


def problem_from_flags(flags: Mapping[str, Any]) -> Problem:
    """The :class:`~lpm.problem.Problem` that the problem flags describe.

    Parameters
    ----------
    flags : mapping
        Flag names as argparse stores them (``counts``, ``balanced``, ``step``, ``long_tail``,
        ``dim``, ``loss``, ``classifier``, ``features``, ``bias``, ``energy``, ``budget``,
        ``decay``, ``classifier_seed``); a missing key or None means "not given". Values are the
        command line's strings (``"100,100,10,10"``, ``"2:2:10:10"``, ``"1,1"``) or the same
        already split into sequences / numbers, as a sweep file gives them. Exactly one of the
        four count forms of :data:`COUNT_FORMS` is required.

    Returns
    -------
    Problem

    Raises
    ------
    ValueError
        One line saying what is wrong and what is allowed: malformed values are reported here,
        everything else by :class:`~lpm.problem.Problem` itself.

    Examples
    --------
    >>> p = problem_from_flags({"step": "2:2:10:10", "energy": "1,1"})
    >>> p.counts, p.dim, p.energy
    ((100, 100, 10, 10), 4, (1.0, 1.0))
    """
    given = [key for key in COUNT_FORMS if flags.get(key) is not None]
    if len(given) != 1:
        what = "none" if not given else " and ".join(COUNT_FORMS[k].split()[0] for k in given)
        raise ValueError(f"give exactly one of {', '.join(COUNT_FORMS.values())}; got {what}")
    kwargs: dict[str, Any] = {}
    for key in ("loss", "classifier", "features", "bias", "budget"):
        if flags.get(key) is not None:
            kwargs[key] = flags[key]
    if flags.get("classifier_seed") is not None:
        kwargs["classifier_seed"] = flag_int(
            "classifier-seed", "the seed", flags["classifier_seed"]
        )
    if flags.get("energy") is not None:
        parts = flag_parts("energy", flags["energy"], ",", ["EW", "EH"])
        kwargs["energy"] = tuple(flag_float("energy", n, v) for n, v in zip(("EW", "EH"), parts))
    if flags.get("decay") is not None:
        parts = flag_parts("decay", flags["decay"], ",")
        if len(parts) not in (2, 3):
            raise ValueError(f"--decay takes LW,LH or LW,LH,LB, got {flags['decay']!r}")
        kwargs["decay"] = tuple(
            flag_float("decay", n, v) for n, v in zip(("LW", "LH", "LB"), parts)
        )
    dim = None if flags.get("dim") is None else flag_int("dim", "d", flags["dim"])

    form = given[0]
    value = flags[form]
    if form == "counts":
        parts = flag_parts("counts", value, ",")
        counts = tuple(flag_int("counts", "each count", v) for v in parts)
        return Problem.from_counts(counts, dim, **kwargs)
    if form == "balanced":
        K, n = flag_parts("balanced", value, ":", ["K", "n"])
        return Problem.balanced(
            flag_int("balanced", "K", K), flag_int("balanced", "n", n), dim, **kwargs
        )
    if form == "step":
        KA, KB, nB, R = flag_parts("step", value, ":", ["KA", "KB", "nB", "R"])
        return Problem.step(
            flag_int("step", "KA", KA),
            flag_int("step", "KB", KB),
            flag_int("step", "nB", nB),
            flag_float("step", "R", R),
            dim,
            **kwargs,
        )
    K, nmax, rho = flag_parts("long-tail", value, ":", ["K", "nmax", "rho"])
    return Problem.long_tail(
        flag_int("long-tail", "K", K),
        flag_int("long-tail", "nmax", nmax),
        flag_float("long-tail", "rho", rho),
        dim,
        **kwargs,
    )
