"""Progress of a long command on stderr: a tqdm bar on a terminal, plain lines elsewhere.

The library reports progress through callbacks that receive one line each (a finished theorem
check, a solved point of a figure, a batch of a sweep); it never prints. The command line renders
those lines with :class:`Progress`:

* stderr is a terminal: one tqdm bar per command; a finished step advances it and its line is
  kept above the bar, a passing line (a point, a batch) shows beside the bar and is replaced by the
  next;
* stderr is a file or a pipe (logs, CI, tests): every line as it is, one per line, no control
  characters;
* ``quiet``: nothing.

Examples
--------
>>> import io
>>> log = io.StringIO()
>>> with Progress("checks", total=2, stream=log) as progress:
...     progress.line("fang-balanced: 3 of 5 cases")
...     progress.done("fang-balanced: PASS")
>>> print(log.getvalue(), end="")
fang-balanced: 3 of 5 cases
fang-balanced: PASS
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["Progress"]

#: The bar: steps done, elapsed and remaining time, and the latest passing line (no rate: steps
#: of a command take seconds to minutes, and "0.26 it/s" says less than the remaining time).
_WITH_TOTAL = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}"
)
_WITHOUT_TOTAL = "{desc}: {n_fmt} done [{elapsed}]{postfix}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class Progress:
    """Renders the progress lines of one command (see the module docstring).

    Parameters
    ----------
    what : str
        What advances, e.g. ``"checks"`` (the bar's label).
    total : int, optional
        Number of steps, when known (a bar without it counts steps and shows the time).
    quiet : bool
        Show nothing.
    stream : text stream, optional
        Where to write (default ``sys.stderr``); a bar only when it is a terminal.
    """

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
    ) -> None:
        self._stream = sys.stderr if stream is None else stream
        self._quiet = quiet
        self._bar: tqdm | None = None
        if not quiet and _is_terminal(self._stream):
            from tqdm import tqdm  # only for a bar: the command line starts faster without it

            self._bar = tqdm(
                total=total,
                desc=what,
                unit="",
                file=self._stream,
                dynamic_ncols=True,
                leave=True,
                bar_format=_WITH_TOTAL if total else _WITHOUT_TOTAL,
            )

    @property
    def bar(self) -> bool:
        """True when progress is drawn as a bar (stderr is a terminal and not quiet)."""
        return self._bar is not None

    def set_total(self, total: int) -> None:
        """The number of steps, once it is known (a bar then shows how far along it is)."""
        if self._bar is not None:
            self._bar.total = total
            self._bar.bar_format = _WITH_TOTAL
            self._bar.refresh()

    def line(self, text: str) -> None:
        """A passing line: beside the bar on a terminal, else printed."""
        if self._quiet:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_one_line(text), refresh=True)
        else:
            print(_one_line(text), file=self._stream, flush=True)

    def done(self, text: str | None = None, steps: int = 1) -> None:
        """``steps`` steps finished; ``text``, when given, is kept (above the bar, or printed)."""
        if self._quiet:
            return
        if self._bar is None:
            if text is not None:
                print(_one_line(text), file=self._stream, flush=True)
            return
        if text is not None:
            self._bar.write(_one_line(text), file=self._stream)
        self._bar.update(steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
