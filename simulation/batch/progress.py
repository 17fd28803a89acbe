"""Progress of a batch: a bar on a terminal, a plain line every so often in a log, or nothing."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def advance(self, ok: bool) -> None: ...

    def close(self) -> None: ...


def make_progress(
    total: int, done: int, *, quiet: bool, stream: TextIO | None = None, every_s: float = 10.0
) -> Progress:
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
    def advance(self, ok: bool) -> None:
        pass

    def close(self) -> None:
        pass


class Bar:
    """tqdm: runs done of total, rate and time left; failures in the postfix."""

    def __init__(self, total: int, done: int, stream: TextIO) -> None:
        from tqdm import tqdm  # noqa: PLC0415  (only on a terminal)

        self.failed = 0
        self.bar = tqdm(
            total=total, initial=done, unit="run", file=stream, dynamic_ncols=True, smoothing=0.1
        )

    def advance(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


class Lines:
    """One line at most every ``every_s`` seconds, and one at the end."""

    def __init__(self, total: int, done: int, stream: TextIO, every_s: float) -> None:
        self.total, self.done, self.failed = total, done, 0
        self.stream, self.every_s = stream, every_s
        self.start = self.last = time.monotonic()
        self.session = 0  # runs finished by this process: the rate for the time left

    def advance(self, ok: bool) -> None:
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
        pass


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
