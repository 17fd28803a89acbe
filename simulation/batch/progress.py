"""Progress of a batch: a bar on a terminal, a plain line every so often in a log, or nothing."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the engine reports each finished run to, however it is shown."""

    def advance(self, ok: bool) -> None:
        """Count one more finished run.

        Args:
            ok: Whether it succeeded; failures are counted apart.
        """
        ...

    def close(self) -> None:
        """Finish the display; called once, also after an error or Ctrl-C."""
        ...


def make_progress(
    total: int, done: int, *, quiet: bool, stream: TextIO | None = None, every_s: float = 10.0
) -> Progress:
    """Choose how to show a batch's progress: a bar, plain lines, or nothing.

    A terminal gets a tqdm bar (plain lines if tqdm is missing); a log file or pipe gets a plain
    line every so often, since a bar's redraws would fill a log with noise.

    Args:
        total: Runs in the whole batch.
        done: Runs already done when this session starts (a resume).
        quiet: Show nothing.
        stream: Where to write; default stdout.
        every_s: Shortest time between two plain lines, in seconds.

    Returns:
        The progress display to advance after each run and close at the end.
    """
    stream = stream or sys.stdout
    if quiet:
        return Silent()
    if stream.isatty():
        try:
            return Bar(total, done, stream)
        except ImportError:  # tqdm missing from a hand-made environment: lines will do
            pass
    return Lines(total, done, stream, every_s)


class Silent:
    """No progress at all (``quiet``), so the engine need not check before reporting."""

    def advance(self, ok: bool) -> None:
        """Ignore a finished run."""
        pass

    def close(self) -> None:
        """Nothing to close."""
        pass


class Bar:
    """tqdm: runs done of total, rate and time left; failures in the postfix."""

    def __init__(self, total: int, done: int, stream: TextIO) -> None:
        """Open the bar at ``done`` of ``total``, so a resumed batch shows its true position.

        Args:
            total: Runs in the whole batch.
            done: Runs already done.
            stream: The terminal to draw on.

        Raises:
            ImportError: tqdm is not installed.
        """
        from tqdm import tqdm  # noqa: PLC0415  (only on a terminal)

        self.failed = 0
        self.bar = tqdm(
            total=total, initial=done, unit="run", file=stream, dynamic_ncols=True, smoothing=0.1
        )

    def advance(self, ok: bool) -> None:
        """Move the bar on by one run, counting a failure in its postfix."""
        if not ok:
            self.failed += 1
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        """Close the bar, leaving its last state on the terminal."""
        self.bar.close()


class Lines:
    """One line at most every ``every_s`` seconds, and one at the end."""

    def __init__(self, total: int, done: int, stream: TextIO, every_s: float) -> None:
        """Start the clock; nothing is printed until a run finishes.

        Args:
            total: Runs in the whole batch.
            done: Runs already done.
            stream: Where the lines go.
            every_s: Shortest time between two lines, in seconds.
        """
        self.total, self.done, self.failed = total, done, 0
        self.stream, self.every_s = stream, every_s
        self.start = self.last = time.monotonic()
        self.session = 0  # runs finished by this process: the rate for the time left

    def advance(self, ok: bool) -> None:
        """Count a finished run; print a line if ``every_s`` has passed or the batch is done.

        The time left is estimated from this session's runs only: those done before a resume
        took no time here.
        """
        self.done += 1
        self.session += 1
        self.failed += not ok
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            self._print(now)

    def _print(self, now: float) -> None:
        elapsed = now - self.start
        left = elapsed / self.session * (self.total - self.done)
        failed = f" ({self.failed} failed)" if self.failed else ""
        print(
            f"{self.done}/{self.total} runs done{failed}, {duration(elapsed)} elapsed, "
            f"about {duration(left)} left",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Nothing to close: each line is printed and flushed whole."""
        pass


def duration(seconds: float) -> str:
    """Seconds as a short duration for people: ``42s``, ``3m07s`` or ``2h05m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
