"""The batch directory: which batch it holds, which runs are done, and the append-only manifest.

File names are :mod:`simulation.layout`'s. A run is done when its latest manifest record says
ok for this batch and its shard passes the checks of :meth:`BatchDir.verify` (its checksum and
its rows). Everything else is (re)computed by a rerun, so a batch killed at
any instant, even by SIGKILL, resumes correctly: shards appear atomically, and a manifest line
cut short by the kill is dropped on reopening.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from simulation.errors import UsageError
from simulation.files import sha256, write_json
from simulation.layout import (
    AGENTS,
    AGENTS_FILE,
    BATCH_FILES,
    ID_COLUMNS,
    MANIFEST,
    PLAN,
    PROVENANCE,
    RESULTS,
    RUNS,
)

if TYPE_CHECKING:
    import pyarrow as pa

State = Literal["new", "same", "lost", "other"]


class Identity(Protocol):
    """What a run is (the plan's ``RunSpec``): checked against its record and its shard."""

    run_id: str

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a manifest record names this run."""
        ...

    def key(self) -> tuple[Any, ...]:
        """What the run's shard must hold: scenario, replicate, seed, then its sweep values."""
        ...


@dataclass(frozen=True)
class Verified:
    """The result of checking a batch directory's finished runs.

    Attributes:
        done: Runs whose record and shard check out.
        redo: Run id -> why a run recorded as done must be computed again.
    """

    done: set[str]
    redo: dict[str, str]


def inspect_shard(
    data: bytes, digest: str | None, key: tuple[Any, ...], columns: Sequence[str]
) -> tuple[str | None, pa.Table | None]:
    """A shard's table if it is the run its record says, else why not.

    Args:
        data: The shard file's bytes.
        digest: The SHA-256 its manifest record holds.
        key: What its first row must hold in ``columns`` (scenario, replicate, seed, sweep).
        columns: The identifying columns, in ``key``'s order.

    Returns:
        ``(None, table)`` for a good shard, ``(reason, None)`` for a bad one.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    if sha256(data) != digest:
        return "its shard changed after it was written (checksum mismatch)", None
    try:
        table = pq.ParquetFile(pa.BufferReader(data)).read()  # not the dataset API: faster
        held = tuple(table.column(c)[0].as_py() for c in columns)
    except (pa.ArrowException, OSError, IndexError, KeyError) as e:
        return f"its shard is unreadable ({' '.join(str(e).split())[:120]})", None
    if held != tuple(key):
        shown = ", ".join(f"{c} {v}" for c, v in zip(columns, held, strict=True))
        return f"its shard holds another run ({shown})", None
    return None, table


def now() -> str:
    """The current UTC time, to the second, in ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Manifest:
    """Append-only JSON lines; the latest record of a run wins."""

    def __init__(self, path: Path) -> None:
        """Open the manifest for appending, first dropping a line cut short by a kill.

        Args:
            path: The manifest file; created if missing.
        """
        self.path = path
        self._repair()
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())

    def _repair(self) -> None:
        """Drop a last line cut short by a kill, so the next record starts on its own line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.truncate(self.path, data.rfind(b"\n") + 1)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record and fsync it, so a run recorded as done survives a crash.

        Args:
            record: One run attempt (``engine.record``); it must carry ``run_id``.
        """
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file; every record is already on disk."""
        self._file.close()


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The latest record per run id; anything else (a truncated or garbled line) is skipped."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        f = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except FileNotFoundError:
        return latest
    with f:
        for line in f:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(record, dict) and isinstance(record.get("run_id"), str):
                latest[record["run_id"]] = record
    return latest


class BatchDir:
    """The batch directory (``--out DIR``): its state, its lock, its plan and its finished runs.

    It decides whether a command resumes the batch already in DIR, starts afresh or must refuse
    because DIR holds something else, and it locks DIR so that two batches never write into it
    at once.
    """

    def __init__(self, root: Path) -> None:
        """Refer to a batch directory; nothing is read or created until ``check`` or ``open``.

        Args:
            root: The directory (it may not exist yet).
        """
        self.root = root
        self._lock_fd: int | None = None

    def shard(self, run_id: str) -> Path:
        """Path of a run's shard (``runs/ID.parquet``), whether or not it exists yet."""
        return self.root / RUNS / f"{run_id}.parquet"

    def agents(self, run_id: str) -> Path:
        """Path of a run's agent records (``agents/agents.ID.parquet``), existing or not."""
        return self.root / AGENTS / f"{Path(AGENTS_FILE).stem}.{run_id}.parquet"

    def state(self, fingerprint: str) -> tuple[State, dict[str, Any] | None]:
        """Read-only: is DIR new (missing or empty), this batch, or something else?

        A DIR whose plan.json is lost or unreadable is still this batch (``"lost"``) when its
        manifest records runs of this plan's fingerprint: the plan is rebuilt from the command
        and every shard is verified before it is used.
        """
        if not self.root.exists() or not any(self.root.iterdir()):
            return "new", None
        try:
            plan = json.loads((self.root / PLAN).read_text())
        except (OSError, ValueError):
            records = read_manifest(self.root / MANIFEST)
            if any(r.get("fingerprint") == fingerprint for r in records.values()):
                return "lost", None
            return "other", None
        same = isinstance(plan, dict) and plan.get("fingerprint") == fingerprint
        return ("same" if same else "other"), plan

    def check(self, fingerprint: str, *, force: bool = False, replace_other: bool = False) -> bool:
        """Whether this is a resume; refuse a DIR holding anything else.

        Args:
            fingerprint: The plan's fingerprint.
            force: Start anew even if DIR holds this very batch.
            replace_other: Replace a DIR holding another batch instead of refusing it.

        Raises:
            UsageError: DIR holds something else, and neither ``force`` nor ``replace_other``.
        """
        state, plan = self.state(fingerprint)
        if state == "other" and not (force or replace_other):
            what = (
                f"a different batch ({plan.get('command', 'plan ' + str(plan.get('fingerprint')))})"
                if isinstance(plan, dict)
                else "files that are not a batch"
            )
            raise UsageError(
                f"--out {self.root} holds {what}; use another --out, "
                "or --force to discard its batch files and start this batch"
            )
        return state in ("same", "lost") and not force

    def open(self, plan: dict[str, Any], resume: bool, clear_other: bool) -> None:
        """Create DIR and lock it against a concurrent batch; unless resuming, start afresh.

        Unless resuming, old batch files are cleared and plan.json is written. Either way,
        temporary files a killed writer left are removed. DIR's state is checked again once it
        is locked, since another command may have changed it after ``check``.

        Args:
            plan: The plan's description (with its fingerprint), written to plan.json.
            resume: Keep the runs already done (``check`` found this very batch).
            clear_other: Allow clearing a DIR that holds another batch.

        Raises:
            UsageError: DIR changed after ``check``, or another running batch holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        state, _ = self.state(plan["fingerprint"])
        if (resume and state not in ("same", "lost")) or (state == "other" and not clear_other):
            raise UsageError(f"--out {self.root} changed while this batch started; run it again")
        if resume and state == "lost":
            print(
                f"warning: {self.root / PLAN} was missing; rebuilt from this command (its runs "
                "are verified before they are used)",
                file=sys.stderr,
            )
            write_json(plan, self.root / PLAN)
        if not resume:
            for name in BATCH_FILES:  # plan.json first: a DIR half-cleared is not "the same batch"
                path = self.root / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            write_json(plan, self.root / PLAN)
        (self.root / RUNS).mkdir(exist_ok=True)
        if plan.get("record_agents") is not None:
            (self.root / AGENTS).mkdir(exist_ok=True)
        for folder in (self.root, self.root / RUNS, self.root / AGENTS):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)  # left by a killed writer

    def _lock(self) -> None:
        """An advisory lock on DIR itself (no file to leave behind), released even on SIGKILL."""
        try:
            import fcntl  # noqa: PLC0415  (POSIX only)
        except ImportError:
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"--out {self.root} is in use by another running batch") from None
        except OSError:  # a file system without flock: go on unlocked
            os.close(fd)
            return
        self._lock_fd = fd

    def close(self) -> None:
        """Release the lock on DIR."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def plan(self) -> dict[str, Any]:
        """The plan.json in DIR, as written when its batch started (code revision included)."""
        return json.loads((self.root / PLAN).read_text())

    def verify(
        self,
        runs: Sequence[Identity],
        fingerprint: str,
        sweep_keys: Sequence[str],
        agents: bool = False,
    ) -> Verified:
        """Which runs are done, and which must be computed again and why.

        A run is done when its latest manifest record says ok, names this very run (scenario,
        sweep point, replicate, seed) of this batch (fingerprint), and its shard exists, has the
        SHA-256 the record holds, and holds that run's rows; with agent records, its records
        file exists and has the SHA-256 the record holds too. Anything else is recomputed: a
        missing, unreadable, changed or swapped shard or records file, or a damaged record.

        Args:
            runs: Every run of the plan.
            fingerprint: The plan's fingerprint.
            sweep_keys: The sweep columns, part of what identifies a run in its shard.
            agents: Whether the batch records agents (each run must have its records file).

        Returns:
            The runs done, and run id -> reason for the runs that were done but failed a check.
        """
        records = read_manifest(self.root / MANIFEST)
        done: set[str] = set()
        redo: dict[str, str] = {}
        for run in runs:
            record = records.get(run.run_id)
            if record is None or record.get("status") != "ok":
                continue
            reason = self._problem(run, record, fingerprint, [*ID_COLUMNS, *sweep_keys])
            if reason is None and agents:
                reason = self._agents_problem(run.run_id, record)
            if reason is None:
                done.add(run.run_id)
            else:
                redo[run.run_id] = reason
        return Verified(done, redo)

    def _problem(
        self, run: Identity, record: dict[str, Any], fingerprint: str, columns: list[str]
    ) -> str | None:
        """Why a run recorded as ok cannot be trusted, or None if it can."""
        if record.get("fingerprint") != fingerprint or not run.matches(record):
            return "its manifest record does not match this run"
        try:
            data = self.shard(run.run_id).read_bytes()
        except FileNotFoundError:
            return "its shard is missing"
        except OSError as e:
            return f"its shard cannot be read ({e.strerror or e})"
        return inspect_shard(data, record.get("sha256"), run.key(), columns)[0]

    def _agents_problem(self, run_id: str, record: dict[str, Any]) -> str | None:
        """Why a run's agent records cannot be trusted, or None if they can."""
        try:
            data = self.agents(run_id).read_bytes()
        except FileNotFoundError:
            return "its agent records are missing"
        except OSError as e:
            return f"its agent records cannot be read ({e.strerror or e})"
        if sha256(data) != record.get("agents_sha256"):
            return "its agent records changed after they were written (checksum mismatch)"
        return None

    def discard_results(self) -> None:
        """Before computing more runs: the old combined table would no longer be the batch's."""
        for name in (RESULTS, PROVENANCE):
            (self.root / name).unlink(missing_ok=True)
