"""Design points (validate, calibrate, sensitivity) run through the batch engine.

Calibration and sensitivity designs are lists of config overrides, not full factorials: each
becomes a :func:`simulation.batch.plan.design_plan` run by :func:`simulation.batch.run_batch`,
so workers, Dask, resume and provenance are the batch's own, every point shares the replicate
seeds (common random numbers), and one executor is opened per command and reused for every
round of a search. When the targets need several scenarios, each design point is run in every
one of them, in one batch (:func:`points_plan`), so a round still fills the pool at once.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.batch.engine import Execution, run_batch
from simulation.batch.executors import Pool
from simulation.batch.plan import Plan, RunSettings, design_plan, fingerprint
from simulation.config import Config, load_scenario
from simulation.errors import FailedRuns, UsageError
from simulation.layout import MANIFEST


@dataclass(frozen=True)
class Runner:
    """What every batch of one fitting command shares: scenarios, settings, executor.

    Attributes:
        scenarios: The scenarios every design point modifies (each point runs in each).
        settings: Replicates, seed, steps, researchers and overrides of every run.
        execution: How the batches run (force applies to each sub-batch).
        pool: The executor, open for the whole command.
        command: The command, for provenance.
        configs: Each scenario's config under ``settings`` (before any design point).
    """

    scenarios: tuple[str, ...]
    settings: RunSettings
    execution: Execution
    pool: Pool
    command: str
    configs: dict[str, Config] = field(default_factory=dict)

    def quietly(self) -> Runner:
        """This runner with its batches silent (a command printing its own progress)."""
        return replace(self, execution=replace(self.execution, quiet=True))


@contextmanager
def open_runner(
    scenarios: str | Path | Sequence[str | Path],
    settings: RunSettings,
    execution: Execution | None = None,
) -> Iterator[Runner]:
    """Validate the scenarios and settings, then open the executor for the whole command.

    Args:
        scenarios: One scenario (a name in scenarios/ or a path), or several.
        settings: What every run shares.
        execution: Workers, scheduler, force, quiet.
    """
    execution = execution or Execution()
    names = (scenarios,) if isinstance(scenarios, str | Path) else tuple(scenarios)
    names = tuple(str(s) for s in names)
    if not names:
        raise UsageError("no scenario given")
    fixed = settings.fixed()
    configs = {s: load_scenario(s, fixed) for s in names}  # bad input fails before any pool
    with execution.open_pool() as pool:
        yield Runner(names, settings, execution, pool, command_line(), configs)


def run_points(runner: Runner, points: Sequence[Mapping[str, Any]], out: Path) -> pd.DataFrame:
    """Run every point x replicate into the batch directory ``out`` (resuming what is done).

    A directory holding another plan is replaced: ``out`` is a sub-directory the calling
    command owns.

    Returns:
        The combined long table with a ``point`` column (the design row); its ``scenario``
        column tells the scenarios apart.

    Raises:
        FailedRuns: some runs failed (a rerun retries them).
    """
    plan = points_plan(runner.scenarios, points, runner.settings)
    summary = run_batch(
        plan, out, runner.execution, pool=runner.pool, command=runner.command, replace_other=True
    )
    if summary.failed:
        raise FailedRuns(
            f"{len(summary.failed)} of {summary.runs} runs failed in {out} (e.g. "
            f"{summary.failed[0]}; see {MANIFEST}); rerun the same command to retry them"
        )
    return with_point_column(pd.read_parquet(summary.results), plan)


def points_plan(
    scenarios: Sequence[str], points: Sequence[Mapping[str, Any]], settings: RunSettings
) -> Plan:
    """Every design point in every scenario, as one plan (one batch, one resume).

    Each scenario's part is its :func:`design_plan`, so one scenario gives exactly that plan
    (and an existing batch directory still resumes). Runs are in scenario order, then point,
    then replicate; replicate r has the same seed in every scenario (common random numbers).

    Args:
        scenarios: Names in scenarios/ or paths, each with a different file stem.
        points: The design rows (config overrides), all with the same keys.
        settings: What every run shares.

    Raises:
        UsageError: Two scenarios with the same stem (their runs could not be told apart).
    """
    plans = [design_plan(s, points, settings) for s in scenarios]
    if len(plans) == 1:
        return plans[0]
    labels: dict[str, str] = {}
    for plan in plans:
        for label, source in plan.scenarios.items():
            if label in labels:
                raise UsageError(f"scenario {label!r} is given twice ({labels[label]}, {source})")
            labels[label] = source
    merged_points = [p for plan in plans for p in plan.points]
    first = plans[0]
    return replace(
        first,
        scenarios=labels,
        points=tuple(merged_points),
        runs=tuple(r for plan in plans for r in plan.runs),
        fingerprint=fingerprint(
            settings.seed, settings.replicates, first.sweep_keys, merged_points
        ),
    )


def with_point_column(results: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Add ``point`` (the design row) to a combined table.

    The combined table carries no point column of its own, so the point is read from the row
    order: rows come in plan order (point, replicate, step) and every run has the same number
    of months. Both are checked.

    Args:
        results: The batch's combined table.
        plan: The design plan it was run from.

    Returns:
        ``results`` with a ``point`` column.

    Raises:
        RuntimeError: The rows are not whole runs in plan order.
    """
    runs = len(plan.runs)
    if runs == 0 or len(results) % runs:
        raise RuntimeError(f"results have {len(results)} rows, not a multiple of {runs} runs")
    months = len(results) // runs
    point = [spec.point.index for spec in plan.runs for _ in range(months)]
    replicate = [spec.replicate for spec in plan.runs for _ in range(months)]
    if results["replicate"].to_list() != replicate:
        raise RuntimeError("results are not in plan order")
    return results.assign(point=point)


def command_line() -> str:
    """The command as typed on the command line, or a note that Python called it."""
    if Path(sys.argv[0]).name == "run.py":
        return shlex.join(["python", "run.py", *sys.argv[1:]])
    return "python API (analysis.fitting)"
