"""The batch command: validate everything, run what is missing, combine, report.

Order matters for the "bad input writes nothing" contract: the plan (every config) is validated,
the output directory checked and the executor connected before DIR is created or touched.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from simulation.batch.combine import combine
from simulation.batch.execute import run_all
from simulation.batch.executors import open_pool
from simulation.batch.plan import Plan, RunSpec, build_plan
from simulation.batch.progress import make_progress
from simulation.batch.store import (
    MANIFEST,
    PROVENANCE,
    RESULTS,
    BatchDir,
    Manifest,
    now,
    read_manifest,
    write_json_atomic,
)
from simulation.batch.worker import Outcome, Task, one_line, write_bytes_atomic
from simulation.cli import UsageError, check_out_dir
from simulation.runner import code_revision

SHOWN_FAILURES = 10
EXIT_FAILED_RUNS = 1
EXIT_INTERRUPTED = 130


def run_batch(args: argparse.Namespace) -> int:
    started = now()
    plan = build_plan(
        args.scenario,
        set_items=args.set,
        sweep_items=args.sweep,
        seed=args.seed,
        replicates=args.replicates,
        steps=args.steps,
        researchers=args.researchers,
    )
    out: Path = args.out
    _check_out(out)
    store = BatchDir(out)
    resume = store.check(plan.fingerprint, args.force)
    command = canonical_command(plan, out)
    revision = code_revision()
    say = _printer(args.quiet)
    try:
        with open_pool(args.workers, args.scheduler) as pool:
            try:
                store.open(
                    {
                        **plan.describe(),
                        "command": command,
                        "created": started,
                        "code_revision": revision,
                    },
                    resume=resume,
                    force=args.force,
                )
            except OSError as e:
                raise UsageError(f"--out {out}: cannot write ({e.strerror or e})") from None
            first = store.plan()
            if first.get("code_revision") != revision:
                print(
                    f"warning: this batch was started at code revision {first.get('code_revision')}"
                    f"; resuming at {revision}",
                    file=sys.stderr,
                )
            done = store.done([r.run_id for r in plan.runs])
            pending = [r for r in plan.runs if r.run_id not in done]
            if pending:
                store.discard_results()
            say(
                f"batch {plan.fingerprint}: {len(plan.runs)} runs ({len(plan.points)} configs x "
                f"{plan.replicates} replicates)"
                + (f", {len(done)} already done" if done else "")
                + f"; {pool.description}; writing to {out}"
            )
            if not _execute(plan, pending, len(done), store, pool, args.quiet):
                return EXIT_INTERRUPTED
        return _finish(plan, store, args, started, first, pool.description, revision, say)
    finally:
        store.close()


def _execute(plan: Plan, pending: list[RunSpec], done: int, store, pool, quiet: bool) -> bool:
    """Run ``pending``; False if interrupted (finished runs are kept)."""
    try:
        execute_pending(plan, pending, done, store, pool, quiet)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; finished runs are kept in {store.root}: "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return False
    return True


def execute_pending(
    plan: Plan, pending: list[RunSpec], done: int, store, pool, quiet: bool
) -> None:
    """Run ``pending``, recording each outcome at once (shard file and manifest line): the loop
    shared by ``batch`` and the analyses that run design points (analysis/batch_points.py)."""
    manifest = Manifest(store.root / MANIFEST)
    progress = make_progress(len(plan.runs), done, quiet=quiet)

    def make_task(spec: RunSpec) -> Task:
        shard = str(store.shard(spec.run_id)) if pool.workers_write_shards else None
        p = spec.point
        return Task(spec.run_id, p.scenario, spec.replicate, spec.seed, p.sweep, p.config, shard)

    def on_outcome(spec: RunSpec, outcome: Outcome) -> None:
        if outcome.ok and outcome.shard is not None:  # from a remote worker: write it here
            try:
                write_bytes_atomic(outcome.shard, store.shard(spec.run_id))
            except OSError as e:
                outcome = replace(outcome, ok=False, error=one_line(e))
        manifest.append(record(plan, spec, outcome))
        progress.advance(outcome.ok)

    try:
        run_all(pending, pool, make_task, on_outcome)
    finally:
        progress.close()
        manifest.close()


def record(plan: Plan, spec: RunSpec, outcome: Outcome) -> dict[str, Any]:
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
        "command": spec.command(plan.steps, plan.researchers),
    }


def _finish(plan, store, args, started, first, executor, revision, say) -> int:
    """Combine the successful runs, write batch.json, summarise; exit 1 if any run failed."""
    ids = [r.run_id for r in plan.runs]
    ok = store.done(ids)
    missing = [i for i in ids if i not in ok]
    records = read_manifest(store.root / MANIFEST)
    shards = [store.shard(i) for i in ids if i in ok]
    rows = combine(shards, plan.sweep_keys, store.root / RESULTS) if shards else 0
    meta = {
        **plan.describe(),
        "command": canonical_command(plan, store.root),
        "argv": sys.argv,
        "created": first.get("created"),
        "started": started,
        "ended": now(),
        "package_version": _version("open-model-ecosystem"),
        "code_revision": revision,
        "code_revision_at_creation": first.get("code_revision"),
        "executor": executor,
        "machine": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        "versions": {p: _version(p) for p in ("mesa", "numpy", "pandas", "pyarrow")},
        "configs": [
            {"scenario": p.scenario, "sweep": p.sweep, "config": p.config} for p in plan.points
        ],
        "succeeded": len(ok),
        "failed": len(missing),
        "missing": missing,
        "failures": {i: records.get(i, {}).get("error") for i in missing},
        "results": RESULTS if shards else None,
        "rows": rows,
        "manifest": MANIFEST,
    }
    write_json_atomic(store.root / PROVENANCE, meta)
    if shards:
        say(
            f"wrote {store.root / RESULTS}: {len(ok)} runs, {rows:,} rows; "
            f"provenance in {PROVENANCE}"
        )
    if not missing:
        return 0
    print(f"{len(missing)} of {len(ids)} runs failed:", file=sys.stderr)
    for i in missing[:SHOWN_FAILURES]:
        print(f"  {i}: {records.get(i, {}).get('error')}", file=sys.stderr)
    if len(missing) > SHOWN_FAILURES:
        print(f"  ... and {len(missing) - SHOWN_FAILURES} more", file=sys.stderr)
    held = f"{RESULTS} holds only the {len(ok)} runs that succeeded" if shards else f"no {RESULTS}"
    print(
        f"{held}; missing runs are listed in {PROVENANCE}; rerun the same command to retry them",
        file=sys.stderr,
    )
    return EXIT_FAILED_RUNS


def canonical_command(plan: Plan, out: Path) -> str:
    """The batch command with what defines the batch (not --workers/--scheduler/--quiet)."""
    argv = ["python", "run.py", "batch", *plan.scenarios.values()]
    argv += ["--replicates", str(plan.replicates), "--seed", str(plan.seed)]
    if plan.steps is not None:
        argv += ["--steps", str(plan.steps)]
    if plan.researchers is not None:
        argv += ["--researchers", str(plan.researchers)]
    for item in plan.set_items:
        argv += ["--set", item]
    for s in plan.sweeps:
        argv += ["--sweep", f"{s.key}={','.join(s.texts)}"]
    return shlex.join([*argv, "--out", str(out)])


def _check_out(out: Path) -> None:
    check_out_dir(out)
    parent = out.absolute()
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is not a directory")


def _printer(quiet: bool):
    def say(line: str) -> None:
        if not quiet:
            print(line, flush=True)

    return say


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
