"""The batch engine: run or resume a plan into a batch directory, combine, record provenance.

One function, :func:`run_batch`, used by ``run.py batch``, ``analysis.run_batch``, the experiment
and the fitting commands alike, so every batch folder is written the same way and carries the
same ``batch.json``. Order matters for the "bad input writes nothing" contract: the plan is
validated when it is built, then here the output directory is checked and the executor connected
before the directory is created or touched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulation.batch.combine import combine
from simulation.batch.execute import run_all
from simulation.batch.executors import Pool, default_workers, open_pool
from simulation.batch.plan import Plan, RunSpec
from simulation.batch.progress import make_progress
from simulation.batch.store import BatchDir, Manifest, now, read_manifest
from simulation.batch.worker import RunOutcome, Task, one_line
from simulation.errors import UsageError
from simulation.files import check_writable_dir, write_bytes, write_json
from simulation.layout import MANIFEST, PROVENANCE, RESULTS
from simulation.provenance import code_revision, environment

SHOWN_FAILURES = 10


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: the finished runs are kept and a rerun resumes."""


@dataclass(frozen=True)
class Execution:
    """How a batch runs (never what it computes).

    Attributes:
        workers: Local worker processes, or workers of a local Dask cluster (None: the CPUs
            this process may use).
        scheduler: None for local processes, ``"local"`` for a local Dask cluster, or the
            address of a running Dask scheduler.
        force: Discard the batch files already in the output directory and start anew.
        quiet: No progress and no summary lines.
    """

    workers: int | None = None
    scheduler: str | None = None
    force: bool = False
    quiet: bool = True

    def __post_init__(self) -> None:
        """Reject a worker count that is not a whole number >= 1 before any pool is opened.

        Raises:
            UsageError: ``workers`` is not None and not a whole number >= 1 (a bool is not).
        """
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise UsageError(f"workers: expected a whole number >= 1, got {self.workers!r}")

    def open_pool(self):
        """The executor this asks for, as a context manager yielding a :class:`Pool`."""
        return open_pool(self.workers or default_workers(), self.scheduler)


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
        What the batch holds; failed runs are listed, not raised.

    Raises:
        UsageError: ``out`` cannot be used, or holds another batch (unless ``force``).
        BatchInterrupted: Ctrl-C; the finished runs are kept.
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
    if pool is None:
        with execution.open_pool() as own:
            return _run(plan, store, own, ctx)
    return _run(plan, store, pool, ctx)


@dataclass(frozen=True)
class _Context:
    started: str
    command: str
    revision: str
    resume: bool
    replace_other: bool
    say: Callable[[str], None]


def _run(plan: Plan, store: BatchDir, pool: Pool, ctx: _Context) -> BatchSummary:
    try:
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
        done = store.done([r.run_id for r in plan.runs])
        pending = [r for r in plan.runs if r.run_id not in done]
        ctx.say(
            f"batch {plan.fingerprint}: {len(plan.runs)} runs ({len(plan.points)} configs x "
            f"{plan.settings.replicates} replicates)"
            + (f", {len(done)} already done" if done else "")
            + f"; {pool.description}; writing to {store.root}"
        )
        if pending or not (store.root / RESULTS).exists():
            store.discard_results()
            try:
                execute_pending(plan, pending, store, pool, ctx.say is _silent)
            except KeyboardInterrupt:
                raise BatchInterrupted(
                    f"interrupted; finished runs are kept in {store.root}: "
                    "rerun the same command to resume"
                ) from None
            return _finish(plan, store, ctx, first, pool.description, len(done))
        return _summary(plan, store, len(done))
    finally:
        store.close()


def execute_pending(
    plan: Plan, pending: list[RunSpec], store: BatchDir, pool: Pool, quiet: bool
) -> None:
    """Run ``pending``, recording each outcome at once (shard file and manifest line)."""
    manifest = Manifest(store.root / MANIFEST)
    progress = make_progress(len(plan.runs), len(plan.runs) - len(pending), quiet=quiet)

    def make_task(spec: RunSpec) -> Task:
        shard = str(store.shard(spec.run_id)) if pool.workers_write_shards else None
        p = spec.point
        return Task(spec.run_id, p.scenario, spec.replicate, spec.seed, p.sweep, p.config, shard)

    def on_outcome(spec: RunSpec, outcome: RunOutcome) -> None:
        if outcome.ok and outcome.shard is not None:  # from a remote worker: write it here
            try:
                write_bytes(outcome.shard, store.shard(spec.run_id))
            except OSError as e:
                outcome = replace(outcome, ok=False, error=one_line(e))
        manifest.append(record(plan, spec, outcome))
        progress.advance(outcome.ok)

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
    }


def _summary(plan: Plan, store: BatchDir, resumed: int) -> BatchSummary:
    ids = [r.run_id for r in plan.runs]
    ok = store.done(ids)
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
    plan: Plan, store: BatchDir, ctx: _Context, first: dict, executor: str, resumed: int
) -> BatchSummary:
    """Combine the successful runs, write batch.json, summarise the failures."""
    ids = [r.run_id for r in plan.runs]
    ok = store.done(ids)
    shards = [store.shard(i) for i in ids if i in ok]
    if shards:
        about = {"fingerprint": plan.fingerprint, "code_revision": ctx.revision}
        combine(shards, plan.sweep_keys, store.root / RESULTS, about)
    summary = _summary(plan, store, resumed)
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
        "rows": summary.rows,
        "manifest": MANIFEST,
    }
    write_json(meta, store.root / PROVENANCE)
    if shards:
        ctx.say(
            f"wrote {store.root / RESULTS}: {summary.succeeded} runs, {summary.rows:,} rows; "
            f"provenance in {PROVENANCE}"
        )
    if summary.failed:
        print(failure_report(summary), file=sys.stderr)
    return summary


def failure_report(summary: BatchSummary) -> str:
    """The failed runs (the first few with their errors) and what to do about them."""
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
        f"{held}; missing runs are listed in {PROVENANCE}; rerun the same command to retry them"
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
