"""Errors a user can fix, and the "did you mean" hint they carry.

Every layer raises these (or subclasses: ``ConfigError``, ``AnalysisError``); the command line
prints the message as one line and exits 2, a notebook sees a ``ValueError`` with the same text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(ValueError):
    """A problem with what was asked for (an option, a value, a path): one line for the user."""


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """A hint naming the option closest to ``word``, or "" if none is close.

    Args:
        word: What the user wrote.
        options: The names that exist.
        cutoff: Similarity (0-1) below which no option is suggested.

    Returns:
        ``" (did you mean 'x'?)"`` or ``""``, ready to append to a message.
    """
    options = list(options)
    close = difflib.get_close_matches(word, options, n=1, cutoff=cutoff)
    if not close:
        close = [o for o in options if o.startswith(word) or word.startswith(o)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


class Terminated(KeyboardInterrupt):
    """SIGTERM, treated like Ctrl-C: the work done so far is kept."""


class FailedRuns(RuntimeError):
    """Some runs of a batch failed; the message says which. Rerunning the command retries them."""


def check_whole(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is a whole number in [low, high]; else a UsageError naming ``name``.

    Args:
        name: What the value is (an argument or option name), for the message.
        value: What was given.
        low: The smallest value allowed.
        high: The largest value allowed (None: no bound).

    Returns:
        The value, as an int.
    """
    import numbers  # noqa: PLC0415

    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f"{low}..{high:,}" if high is not None else f">= {low}"
        raise UsageError(f"{name}: expected a whole number {bound}, got {value!r}")
    return int(value)
