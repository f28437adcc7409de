"""Result files: whether a path can be written, writing a file whole or not at all, and the one
strict-JSON sanitiser of results (:func:`jsonable`).

The command line checks every output path before any work starts (:func:`check_file`,
:func:`check_directory`), so that a long solve is never lost to a typo in ``--save``; results are
then written through :func:`atomic_write`: into a temporary file in the same directory, renamed
over the target only once complete (``os.replace`` is atomic on POSIX and Windows), so a crash or a
kill leaves either the old file or the new one, never half of one.

Examples
--------
>>> import json, tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "result.json"
>>> with atomic_write(target, "w") as f:
...     _ = f.write(json.dumps({"objective": 1.5}))
>>> json.loads(target.read_text())
{'objective': 1.5}
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["atomic_write", "check_directory", "check_file", "jsonable"]


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (the working directory for a bare name)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _probe(directory: Path) -> None:
    """Raise ValueError unless a new file can be created in ``directory`` (tried, then removed).

    Trying is the only test that also holds for root, read-only file systems and ``/proc``, where
    ``os.access`` answers yes and writing fails.
    """
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".lpm-probe-"):
            pass
    except PermissionError:
        raise ValueError(f"no permission to create files in {directory}") from None
    except OSError as err:
        raise ValueError(f"cannot create files in {directory} ({err.strerror})") from None


def check_directory(path: str | Path) -> Path:
    """Check that ``path`` is, or can be made as, a directory new files can be written into.

    Nothing is created: a missing ``path`` (and missing parents) is fine when the nearest existing
    ancestor is a directory that accepts new files.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    ValueError
        One line naming what is wrong: ``path`` (or a parent of it) is a file, or the directory
        does not accept new files (no permission, a read-only or special file system).
    """
    path = Path(path)
    found = _first_existing(path)
    if not found.is_dir():
        if found == Path(os.path.abspath(path)):
            raise ValueError(f"{path} is a file, not a directory")
        raise ValueError(f"{found} is a file, not a directory (in {path})")
    _probe(found)
    return path


def check_file(path: str | Path) -> Path:
    """Check that a file can be written at ``path``: its directory exists and accepts new files,
    and ``path`` is not a directory (an existing file is replaced).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    ValueError
        One line naming what is wrong: a parent is a file, the directory does not exist or does
        not accept new files, or ``path`` is a directory.
    """
    path = Path(path)
    parent = Path(os.path.abspath(path)).parent
    found = _first_existing(parent)
    if not found.is_dir():
        raise ValueError(f"{found} is a file, not a directory (in {path})")
    if found != parent:
        raise ValueError(f"no such directory: {parent} (create it first)")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a file")
    _probe(parent)
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success rename it over ``path``.

    On any error (or an interrupt) inside the block the temporary file is removed and ``path`` is
    left as it was. The new file gets the permissions of any new file (the process umask).

    Parameters
    ----------
    path : str or Path
        The file to (re)write; its directory must exist.
    mode : "wb" or "w"
        Binary or text.
    **kwargs
        Passed to :func:`open` (e.g. ``encoding``).
    """
    path = Path(path)
    if mode not in ("wb", "w"):
        raise ValueError(f"mode {mode!r} is not allowed; allowed: 'wb', 'w'")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temporary, flags, 0o666)  # the umask applies, as for any new file
            break
        except FileExistsError:
            continue
    try:
        if mode == "w":
            kwargs.setdefault("encoding", "utf-8")
        with open(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


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
