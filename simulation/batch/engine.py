"""The batch engine: run or resume a plan into a batch directory, combine, record provenance.

One function, :func:`run_batch`, used by ``run.py batch``, ``analysis.run_batch``, the experiment
and the fitting commands alike, so every batch folder is written the same way and carries the
same ``batch.json``. Order matters for the "bad input writes nothing" contract: the plan is
validated when it is built, then here the output directory is checked and the executor connected
before the directory is created or touched.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulation.batch.combine import DamagedShards, Shard, combine
from simulation.batch.execute import ExecutorLost, run_all
from simulation.batch.executors import (
    MAX_WORKERS,
    Pool,
    check_scheduler,
    default_workers,
    open_pool,
)
from simulation.batch.plan import Plan, RunSpec
from simulation.batch.progress import make_progress
from simulation.batch.store import BatchDir, Manifest, now, read_manifest
from simulation.batch.worker import RunOutcome, Task
from simulation.errors import FailedRuns, Terminated, UsageError, check_whole
from simulation.files import check_writable_dir, sha256, sha256_file, write_bytes, write_json
from simulation.layout import MANIFEST, PROVENANCE, RESULTS, RUNS
from simulation.provenance import code_revision, environment

SHOWN_FAILURES = 10
COMBINE_ATTEMPTS = 3  # recompute shards found damaged while combining, at most this often
FULL = (errno.ENOSPC, errno.EDQUOT)  # a worker that cannot write its shard for these stops all


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a batch: the finished runs are kept and a rerun resumes."""

    def __init__(self, message: str, terminated: bool = False) -> None:
        """Keep the message and whether it was SIGTERM (exit 143) rather than Ctrl-C (130)."""
        super().__init__(message)
        self.terminated = terminated


@dataclass(frozen=True)
class Execution:
    """How a batch runs (never what it computes).

    Attributes:
        workers: Local worker processes, or workers of a local Dask cluster (None: the CPUs
            this process may use).
        scheduler: None for local processes, ``"local"`` for a local Dask cluster, or the
            address of a running Dask scheduler, ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
        security: For a ``tls://`` scheduler: a TOML file naming the TLS certificates
            (``ca_file``, ``cert``, ``key``).
        force: Discard the batch files already in the output directory and start anew.
        quiet: No progress and no summary lines.
    """

    workers: int | None = None
    scheduler: str | None = None
    security: Path | None = None
    force: bool = False
    quiet: bool = True

    def __post_init__(self) -> None:
        """Reject a worker count that is not a whole number >= 1 before any pool is opened.

        Raises:
            UsageError: ``workers`` is not None and not a whole number >= 1 (a bool is not).
        """
        if self.workers is not None:
            check_whole("workers", self.workers, 1, MAX_WORKERS)
        check_scheduler(self.scheduler, self.security)

    def open_pool(self):
        """The executor this asks for, as a context manager yielding a :class:`Pool`."""
        return open_pool(self.workers or default_workers(), self.scheduler, self.security)


@dataclass(frozen=True)
class BatchSummary:
    """What a finished (or partly failed) batch holds.

    Attributes:
        out: The batch directory.
        fingerprint: The plan's fingerprint.
        runs: Runs in the plan.
        resumed: Runs already done when this call started.
        failed: Run ids with no good result, in plan order.
        failures: Run id -> its last error (one line).
        results: The combined table, or None if no run succeeded.
        rows: Rows in the combined table.
    """

    out: Path
    fingerprint: str
    runs: int
    resumed: int
    failed: tuple[str, ...]
    failures: dict[str, str | None]
    results: Path | None
    rows: int

    @property
    def succeeded(self) -> int:
        """Runs with a good result."""
        return self.runs - len(self.failed)

    @property
    def ok(self) -> bool:
        """Whether every run succeeded."""
        return not self.failed


def run_batch(
    plan: Plan,
    out: str | Path,
    execution: Execution | None = None,
    *,
    pool: Pool | None = None,
    command: str | None = None,
    replace_other: bool = False,
) -> BatchSummary:
    """Run (or resume) every run of ``plan`` into the batch directory ``out``.

    Finished runs are kept as they finish; a rerun with the same plan computes only what is
    missing or failed, and the combined result equals an uninterrupted batch's.

    Args:
        plan: What to run (:func:`~simulation.batch.plan.build_plan` or ``design_plan``).
        out: The batch directory.
        execution: Workers, scheduler, force and quiet (default: Execution()).
        pool: An executor already open (a command that runs several batches reuses one);
            ``execution.workers``/``scheduler`` are then ignored.
        command: The command that made this batch, for provenance (default: the
            ``run.py batch`` command equivalent to the plan).
        replace_other: Replace a directory holding another batch instead of refusing it (for
            sub-directories a fitting command owns).

    Returns:
        What the batch holds; runs that failed are listed, not raised.

    Raises:
        UsageError: ``out`` cannot be used, or holds another batch (unless ``force``).
        FailedRuns: the batch had to stop: a full disk, or its Dask scheduler went away (the
            finished runs are kept; a rerun resumes).
        BatchInterrupted: Ctrl-C or SIGTERM; the finished runs are kept.
    """
    execution = execution or Execution()
    out = Path(out)
    started = now()
    check_writable_dir(out)
    store = BatchDir(out)
    force = execution.force
    resume = store.check(plan.fingerprint, force=force, replace_other=replace_other)
    command = command or plan.command(out) or "python API: simulation.batch.run_batch"
    revision = code_revision()
    say = _printer(execution.quiet)
    ctx = _Context(started, command, revision, resume, replace_other or force, say)
    try:  # the lock on DIR is released only once no worker of this batch can write into it
        if pool is None:
            with execution.open_pool() as own:
                return _run(plan, store, own, ctx)
        return _run(plan, store, pool, ctx)
    finally:
        store.close()


@dataclass(frozen=True)
class _Context:
    started: str
    command: str
    revision: str
    resume: bool
    replace_other: bool
    say: Callable[[str], None]


def _run(plan: Plan, store: BatchDir, pool: Pool, ctx: _Context) -> BatchSummary:
    created = {"command": ctx.command, "created": ctx.started, "code_revision": ctx.revision}
    try:
        store.open({**plan.describe(), **created}, ctx.resume, ctx.replace_other)
    except OSError as e:
        raise UsageError(f"--out {store.root}: cannot write ({e.strerror or e})") from None
    first = store.plan()
    if ctx.resume and first.get("code_revision") != ctx.revision:
        print(
            f"warning: {store.root} was started at code revision "
            f"{first.get('code_revision')}; resuming at {ctx.revision}",
            file=sys.stderr,
        )
    records = plan.settings.record_agents is not None
    verified = store.verify(plan.runs, plan.fingerprint, plan.sweep_keys, agents=records)
    _recomputing(verified.redo)
    done = verified.done
    ctx.say(
        f"batch {plan.fingerprint}: {len(plan.runs)} runs ({len(plan.points)} configs x "
        f"{plan.settings.replicates} replicates)"
        + (f", {len(done)} already done" if done else "")
        + f"; {pool.description}; writing to {store.root}"
    )
    pending = [r for r in plan.runs if r.run_id not in done]
    if not pending and _results_current(store):
        return _summary(plan, store, done, len(done))
    store.discard_results()
    for _ in range(COMBINE_ATTEMPTS):
        try:
            _execute(plan, pending, store, pool, ctx)
            ok = _recorded_ok(plan, store)
            return _finish(plan, store, ctx, first, pool.description, ok, len(done))
        except DamagedShards as e:  # changed since verified or written: compute them again
            _recomputing(e.problems)
            pending = [r for r in plan.runs if r.run_id in e.problems]
        except OSError as e:  # the manifest, a shard or the results: the disk is full, ...
            _report_unfinished(plan, store)
            raise FailedRuns(
                f"cannot write to {store.root} ({e.strerror or _strip(e)}); the runs "
                "finished so far are kept: make room and rerun the same command to resume"
            ) from None
    raise FailedRuns(
        f"shards in {store.root / RUNS} keep changing after they are written; check the disk"
    )


def _execute(plan: Plan, pending: list[RunSpec], store: BatchDir, pool: Pool, ctx: _Context):
    """Run ``pending``; an interruption or a full disk ends the batch with finished runs kept."""
    try:
        execute_pending(plan, pending, store, pool, ctx.say is _silent)
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        raise BatchInterrupted(
            f"{what}; finished runs are kept in {store.root}: rerun the same command to resume",
            terminated=isinstance(e, Terminated),
        ) from None
    except ExecutorLost as e:  # a Dask scheduler died
        _report_unfinished(plan, store)
        raise FailedRuns(
            f"{e}; the runs finished so far are kept in {store.root}: rerun the same command "
            "to resume"
        ) from None


def _report_unfinished(plan: Plan, store: BatchDir) -> None:
    """The failure summary of a batch that had to stop: which runs failed and why."""
    summary = _summary(plan, store, _recorded_ok(plan, store), 0)
    records = read_manifest(store.root / MANIFEST)
    attempted = [i for i in summary.failed if i in records]
    if attempted:
        failed = replace(summary, failed=tuple(attempted))
        print(failure_report(failed, listed_in=MANIFEST), file=sys.stderr)


def _strip(e: BaseException) -> str:
    """An error's message on one line (pyarrow's carry a "Detail:" tail)."""
    return " ".join(str(e).split())


def _recomputing(problems: dict[str, str]) -> None:
    """One line per run that was done but must be computed again, and why."""
    for run_id, why in problems.items():
        print(f"recomputing {run_id}: {why}", file=sys.stderr)


def _recorded_ok(plan: Plan, store: BatchDir) -> dict[str, str | None]:
    """Run id -> recorded SHA-256, for the runs whose latest manifest record says ok."""
    records = read_manifest(store.root / MANIFEST)
    ids = (r.run_id for r in plan.runs)
    return {i: records[i].get("sha256") for i in ids if records.get(i, {}).get("status") == "ok"}


def _results_current(store: BatchDir) -> bool:
    """Whether results.parquet is the one batch.json describes (same SHA-256)."""
    try:
        recorded = json.loads((store.root / PROVENANCE).read_text()).get("results_sha256")
        return recorded is not None and sha256_file(store.root / RESULTS) == recorded
    except (OSError, ValueError, AttributeError):
        return False


def execute_pending(
    plan: Plan, pending: list[RunSpec], store: BatchDir, pool: Pool, quiet: bool
) -> None:
    """Run ``pending``, recording each outcome at once (shard file and manifest line)."""
    manifest = Manifest(store.root / MANIFEST)
    progress = make_progress(len(plan.runs), len(plan.runs) - len(pending), quiet=quiet)

    record_agents = plan.settings.record_agents

    def make_task(spec: RunSpec) -> Task:
        here = pool.workers_write_shards
        shard = str(store.shard(spec.run_id)) if here else None
        agents = str(store.agents(spec.run_id)) if here and record_agents is not None else None
        p = spec.point
        run = (spec.run_id, p.scenario, spec.replicate, spec.seed, p.sweep, p.config, shard)
        return Task(*run, record_agents=record_agents, agents_path=agents)

    def on_outcome(spec: RunSpec, outcome: RunOutcome) -> None:
        if outcome.ok and outcome.shard is not None:  # from a remote worker: write it here
            if sha256(outcome.shard) != outcome.digest or (
                outcome.agents is not None and sha256(outcome.agents) != outcome.agents_digest
            ):
                outcome = replace(outcome, ok=False, error="its files were damaged in transit")
            else:
                if outcome.agents is not None:  # the records first, as a worker writes them
                    write_bytes(outcome.agents, store.agents(spec.run_id))
                write_bytes(outcome.shard, store.shard(spec.run_id))
        manifest.append(record(plan, spec, outcome))
        progress.advance(outcome.ok)
        if outcome.storage_errno in FULL:  # every run after it would fail the same way
            raise OSError(outcome.storage_errno, os.strerror(outcome.storage_errno))

    try:
        run_all(pending, pool, make_task, on_outcome)
    finally:
        progress.close()
        manifest.close()


def record(plan: Plan, spec: RunSpec, outcome: RunOutcome) -> dict[str, Any]:
    """One manifest line: everything needed to find, judge and repeat the run."""
    return {
        "run_id": spec.run_id,
        "scenario": spec.point.scenario,
        "sweep": spec.point.sweep,
        "replicate": spec.replicate,
        "seed": spec.seed,
        "status": "ok" if outcome.ok else "failed",
        "duration": round(outcome.seconds, 4),
        "error": outcome.error,
        "finished": now(),
        "host": outcome.host,
        "command": spec.command(plan.settings),
        "fingerprint": plan.fingerprint,
        "sha256": outcome.digest,
        "agents_sha256": outcome.agents_digest,
        "code_revision": code_revision(),  # a resume at another revision is a warning only
    }


def _summary(plan: Plan, store: BatchDir, ok: Collection[str], resumed: int) -> BatchSummary:
    ids = [r.run_id for r in plan.runs]
    failed = tuple(i for i in ids if i not in ok)
    records = read_manifest(store.root / MANIFEST) if failed else {}
    results = store.root / RESULTS
    rows = 0
    if results.exists():
        import pyarrow.parquet as pq  # noqa: PLC0415

        rows = pq.read_metadata(results).num_rows
    return BatchSummary(
        out=store.root,
        fingerprint=plan.fingerprint,
        runs=len(ids),
        resumed=resumed,
        failed=failed,
        failures={i: records.get(i, {}).get("error") for i in failed},
        results=results if results.exists() else None,
        rows=rows,
    )


def _finish(
    plan: Plan,
    store: BatchDir,
    ctx: _Context,
    first: dict,
    executor: str,
    ok: dict[str, str | None],
    resumed: int,
) -> BatchSummary:
    """Combine the successful runs (checking each shard), write batch.json, summarise.

    Args:
        plan: The batch's plan.
        store: Its directory.
        ctx: What this call of run_batch knows (command, revision, times, printer).
        first: plan.json as the batch's first call wrote it (creation time and revision).
        executor: The executor's description, for provenance.
        ok: Run id -> recorded SHA-256, for the runs recorded as done.
        resumed: Runs already done when this call started.

    Raises:
        DamagedShards: a shard failed its check while being combined.
    """
    shards = [
        Shard(r.run_id, store.shard(r.run_id), ok[r.run_id], r.key())
        for r in plan.runs
        if r.run_id in ok
    ]
    results = store.root / RESULTS
    if shards:
        about = {"fingerprint": plan.fingerprint, "code_revision": ctx.revision}
        combine(shards, plan.sweep_keys, results, about)
    summary = _summary(plan, store, ok, resumed)
    meta = {
        **plan.describe(),
        "command": ctx.command,
        "argv": sys.argv,
        "created": first.get("created"),
        "started": ctx.started,
        "ended": now(),
        **environment(),
        "code_revision": ctx.revision,
        "code_revision_at_creation": first.get("code_revision"),
        "executor": executor,
        "configs": [
            {"scenario": p.scenario, "sweep": p.sweep, "config": p.config} for p in plan.points
        ],
        "succeeded": summary.succeeded,
        "failed": len(summary.failed),
        "missing": list(summary.failed),
        "failures": summary.failures,
        "results": RESULTS if shards else None,
        "results_sha256": sha256_file(results) if shards else None,
        "rows": summary.rows,
        "manifest": MANIFEST,
    }
    write_json(meta, store.root / PROVENANCE)
    if shards:
        ctx.say(
            f"wrote {results}: {summary.succeeded} runs, {summary.rows:,} rows; "
            f"provenance in {PROVENANCE}"
        )
    if summary.failed:
        print(failure_report(summary), file=sys.stderr)
    return summary


def failure_report(summary: BatchSummary, listed_in: str = PROVENANCE) -> str:
    """The failed runs (the first few with their errors) and what to do about them.

    Args:
        summary: The batch's summary.
        listed_in: The file that lists every failed run.
    """
    n = len(summary.failed)
    lines = [f"{n} of {summary.runs} runs failed:"]
    lines += [f"  {i}: {summary.failures.get(i)}" for i in summary.failed[:SHOWN_FAILURES]]
    if n > SHOWN_FAILURES:
        lines.append(f"  ... and {n - SHOWN_FAILURES} more")
    held = (
        f"{RESULTS} holds only the {summary.succeeded} runs that succeeded"
        if summary.results
        else f"no {RESULTS}"
    )
    lines.append(
        f"{held}; failed runs are listed in {listed_in}; rerun the same command to retry them"
    )
    return "\n".join(lines)


def _printer(quiet: bool) -> Callable[[str], None]:
    if quiet:
        return _silent

    def say(line: str) -> None:
        print(line, flush=True)

    return say


def _silent(line: str) -> None:
    """Say nothing (``quiet``)."""
