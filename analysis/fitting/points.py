"""Design points (validate, calibrate, sensitivity) run through the batch engine.

Calibration and sensitivity designs are lists of config overrides, not full factorials: each
becomes a :func:`simulation.batch.plan.design_plan` run by :func:`simulation.batch.run_batch`,
so workers, Dask, resume and provenance are the batch's own, every point shares the replicate
seeds (common random numbers), and one executor is opened per command and reused for every
round of a search.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.batch.engine import Execution, run_batch
from simulation.batch.executors import Pool
from simulation.batch.plan import Plan, RunSettings, design_plan
from simulation.config import load_scenario
from simulation.errors import FailedRuns
from simulation.layout import MANIFEST


@dataclass(frozen=True)
class Runner:
    """What every batch of one fitting command shares: scenario, settings, executor.

    Attributes:
        scenario: The scenario every design point modifies.
        settings: Replicates, seed, steps, researchers and overrides of every run.
        execution: How the batches run (force applies to each sub-batch).
        pool: The executor, open for the whole command.
        command: The command, for provenance.
    """

    scenario: str
    settings: RunSettings
    execution: Execution
    pool: Pool
    command: str

    def quietly(self) -> Runner:
        """This runner with its batches silent (a command printing its own progress)."""
        return replace(self, execution=replace(self.execution, quiet=True))


@contextmanager
def open_runner(
    scenario: str | Path, settings: RunSettings, execution: Execution | None = None
) -> Iterator[Runner]:
    """Validate the scenario and settings, then open the executor for the whole command."""
    execution = execution or Execution()
    load_scenario(scenario, settings.fixed())  # bad input fails before any pool starts
    with execution.open_pool() as pool:
        yield Runner(str(scenario), settings, execution, pool, command_line())


def run_points(runner: Runner, points: Sequence[Mapping[str, Any]], out: Path) -> pd.DataFrame:
    """Run every point x replicate into the batch directory ``out`` (resuming what is done).

    A directory holding another plan is replaced: ``out`` is a sub-directory the calling
    command owns.

    Returns:
        The combined long table with a ``point`` column (the design row).

    Raises:
        FailedRuns: some runs failed (a rerun retries them).
    """
    plan = design_plan(runner.scenario, points, runner.settings)
    summary = run_batch(
        plan, out, runner.execution, pool=runner.pool, command=runner.command, replace_other=True
    )
    if summary.failed:
        raise FailedRuns(
            f"{len(summary.failed)} of {summary.runs} runs failed in {out} (e.g. "
            f"{summary.failed[0]}; see {MANIFEST}); rerun the same command to retry them"
        )
    return with_point_column(pd.read_parquet(summary.results), plan)


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
