"""Run arbitrary design points (validate, calibrate, sensitivity) through the batch machinery.

``run.py batch --sweep`` runs full factorials; calibration and sensitivity designs are lists of
points. This module builds a :class:`simulation.batch.plan.Plan` whose points are those config
overrides, and executes it with the batch's own pieces (executor pool, resumable batch
directory, manifest, shards, combined ``results.parquet``), so workers, Dask and resume apply
unchanged: one point per design row, the overridden keys as sweep columns, and the same
replicate seeds for every point (common random numbers). One pool is opened per command and
reused for every round of a search.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.batch.combine import combine
from simulation.batch.command import execute_pending
from simulation.batch.executors import Pool, open_pool
from simulation.batch.plan import Plan, Point, RunSpec, Sweep, fingerprint, replicate_seeds
from simulation.batch.store import (
    MANIFEST,
    PROVENANCE,
    RESULTS,
    BatchDir,
    now,
    write_json_atomic,
)
from simulation.cli import UsageError
from simulation.config import ConfigError, load_scenario, scenario_path, to_dict
from simulation.runner import code_revision


class FailedRuns(Exception):
    """Some runs failed; the message says which. Rerunning the same command retries them."""


@dataclass(frozen=True)
class Runner:
    """What every batch of one command shares: scenario, population, seeds and the pool."""

    scenario: str
    replicates: int
    seed: int
    steps: int | None
    researchers: int | None
    pool: Pool
    quiet: bool = True
    fixed: tuple[tuple[str, Any], ...] = ()  # overrides applied to every point


@contextmanager
def open_runner(
    scenario: str,
    *,
    replicates: int,
    seed: int,
    steps: int | None,
    researchers: int | None,
    workers: int,
    scheduler: str | None = None,
    quiet: bool = True,
    fixed: Mapping[str, Any] | None = None,
) -> Iterator[Runner]:
    """Validate the scenario, then open the executor for the whole command."""
    base_overrides(scenario, fixed, steps, researchers)  # bad input fails before any pool starts
    with open_pool(workers, scheduler) as pool:
        yield Runner(
            scenario,
            replicates,
            seed,
            steps,
            researchers,
            pool,
            quiet,
            tuple((fixed or {}).items()),
        )


def runner_from_args(
    args: Any, scenario: str, *, quiet: bool, fixed: Mapping[str, Any] | None = None
):
    """``open_runner`` with the run options every fitting command shares (--replicates, --seed,
    --steps, --researchers, --workers, --scheduler)."""
    return open_runner(
        scenario,
        replicates=args.replicates,
        seed=args.seed,
        steps=args.steps,
        researchers=args.researchers,
        workers=args.workers,
        scheduler=args.scheduler,
        quiet=quiet,
        fixed=fixed,
    )


def base_overrides(
    scenario: str, fixed: Mapping[str, Any] | None, steps: int | None, researchers: int | None
) -> dict[str, Any]:
    """The overrides common to all points; loading them validates scenario and keys."""
    overrides = dict(fixed or {})
    if steps is not None:
        overrides["simulation.steps"] = steps
    if researchers is not None:
        overrides["simulation.researchers"] = researchers
    load_scenario(scenario, overrides)
    return overrides


def toml_value(value: Any) -> str:
    """A value as ``--set`` reads it back (TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value) if isinstance(value, int) else repr(str(value)).replace("'", '"')


def make_plan(runner: Runner, points: Sequence[Mapping[str, Any]]) -> Plan:
    """A plan with one point per design row; every point is validated here."""
    label = scenario_path(runner.scenario).stem
    fixed = base_overrides(runner.scenario, dict(runner.fixed), runner.steps, runner.researchers)
    fixed_items = tuple(f"{k}={toml_value(v)}" for k, v in runner.fixed)
    keys = list(dict.fromkeys(k for p in points for k in p))
    built: list[Point] = []
    for index, point in enumerate(points):
        try:
            config = to_dict(load_scenario(runner.scenario, {**fixed, **point}))
        except ConfigError as e:
            shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ConfigError(f"design point {index} ({shown}): {e}") from None
        items = fixed_items + tuple(f"{k}={toml_value(v)}" for k, v in point.items())
        built.append(Point(label, runner.scenario, index, dict(point), items, config))
    sweeps = tuple(
        Sweep(
            k,
            tuple(toml_value(p.get(k)) for p in points),
            tuple(p.get(k) for p in points),
        )
        for k in keys
    )
    seeds = replicate_seeds(runner.seed, runner.replicates)
    runs = tuple(
        RunSpec(f"{label}.p{p.index}.r{r}", p, r, seeds[r])
        for p in built
        for r in range(runner.replicates)
    )
    return Plan(
        scenarios={label: runner.scenario},
        set_items=fixed_items,
        sweeps=sweeps,
        seed=runner.seed,
        replicates=runner.replicates,
        steps=runner.steps,
        researchers=runner.researchers,
        seeds=tuple(seeds),
        points=tuple(built),
        runs=runs,
        fingerprint=fingerprint(runner.seed, runner.replicates, sweeps, built),
    )


def run_points(
    runner: Runner, points: Sequence[Mapping[str, Any]], out: Path, command: str = ""
) -> pd.DataFrame:
    """Run every point x replicate into the batch directory ``out`` (resuming what is done) and
    return the combined long table. A directory holding another plan is replaced: ``out`` is a
    sub-directory the calling command owns."""
    plan = make_plan(runner, points)
    store = BatchDir(out)
    resume = store.state(plan.fingerprint)[0] == "same"
    started, revision = now(), code_revision()
    try:
        try:
            store.open(
                {**plan.describe(), "command": command, "created": started,
                 "code_revision": revision},
                resume=resume,
                force=not resume,
            )  # fmt: skip
        except OSError as e:
            raise UsageError(f"--out {out}: cannot write ({e.strerror or e})") from None
        first = store.plan().get("code_revision")
        if resume and first != revision:
            print(
                f"warning: {out} was started at code revision {first}; resuming at {revision}",
                file=sys.stderr,
            )
        ids = [r.run_id for r in plan.runs]
        done = store.done(ids)
        pending = [r for r in plan.runs if r.run_id not in done]
        if pending:
            store.discard_results()
            _execute(plan, pending, len(done), store, runner)
        ok = store.done(ids)
        failed = [i for i in ids if i not in ok]
        if failed:
            raise FailedRuns(
                f"{len(failed)} of {len(ids)} runs failed in {out} (e.g. {failed[0]}; see "
                f"{MANIFEST}); rerun the same command to retry them"
            )
        results = out / RESULTS
        if pending or not results.exists():
            combine([store.shard(i) for i in ids], plan.sweep_keys, results)
            write_json_atomic(
                out / PROVENANCE,
                {
                    **plan.describe(),
                    "command": command,
                    "argv": sys.argv,
                    "started": started,
                    "ended": now(),
                    "code_revision": revision,
                    "executor": runner.pool.description,
                    "configs": [
                        {"scenario": p.scenario, "sweep": p.sweep, "config": p.config}
                        for p in plan.points
                    ],
                    "succeeded": len(ok),
                    "failed": 0,
                },
            )
        return with_point_column(pd.read_parquet(results), plan)
    finally:
        store.close()


def with_point_column(results: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Add ``point`` (the design row) to a combined table: rows come in plan order (point,
    replicate, step) and every run has the same number of months."""
    runs = len(plan.runs)
    if runs == 0 or len(results) % runs:
        raise RuntimeError(f"results have {len(results)} rows, not a multiple of {runs} runs")
    months = len(results) // runs
    point = [spec.point.index for spec in plan.runs for _ in range(months)]
    replicate = [spec.replicate for spec in plan.runs for _ in range(months)]
    if results["replicate"].to_list() != replicate:
        raise RuntimeError("results are not in plan order")
    return results.assign(point=point)


def _execute(
    plan: Plan, pending: list[RunSpec], done: int, store: BatchDir, runner: Runner
) -> None:
    execute_pending(plan, pending, done, store, runner.pool, runner.quiet)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, for provenance."""
    return shlex.join(["python", "run.py", *(sys.argv[1:] if argv is None else argv)])
