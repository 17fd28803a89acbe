"""Run a batch from Python (a notebook) and load its results in one call.

A thin convenience over :func:`simulation.batch.run_batch`: the same engine, validation, seeds
(common random numbers), resume and provenance as ``run.py batch``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from analysis.results.load import AnalysisError, Results, load_batch
from simulation.batch.engine import Execution, failure_report
from simulation.batch.engine import run_batch as run_plan
from simulation.batch.plan import RunSettings, build_plan
from simulation.errors import UsageError


class RunOptions(TypedDict, total=False):
    """The run options of ``run.py batch``, as keywords (see RunSettings and Execution)."""

    replicates: int
    seed: int
    steps: int | None
    researchers: int | None
    record_agents: int | None
    workers: int | None
    scheduler: str | None
    security: Path | None
    force: bool
    quiet: bool


_SETTINGS = ("replicates", "seed", "steps", "researchers", "record_agents")
_EXECUTION = ("workers", "scheduler", "security", "force", "quiet")


def run_batch(
    scenarios: Sequence[str | Path],
    out: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    **options: Unpack[RunOptions],
) -> Results:
    """Run (or resume) a batch into ``out`` and load its results.

    Args:
        scenarios: Names in scenarios/ or paths to TOML files.
        out: The batch directory.
        overrides: Dotted config keys set in every run (``--set``).
        sweep: Dotted config key -> values; several keys form a full factorial (``--sweep``).
        **options: replicates (default 10), seed, steps, researchers, record_agents (agent
            records per run, in ``out/agents/``), workers, scheduler, security, force, quiet
            (default True).

    Returns:
        The batch's results (the successful runs; the engine lists failures on stderr).

    Raises:
        UsageError: bad input (nothing is run).
        AnalysisError: no run succeeded.
    """
    unknown = sorted(set(options) - {*_SETTINGS, *_EXECUTION})
    if unknown:
        raise UsageError(f"run_batch: unknown option {unknown[0]!r}; expected one of "
                         f"{', '.join((*_SETTINGS, *_EXECUTION))}")  # fmt: skip
    settings = RunSettings(
        overrides=dict(overrides or {}), **{k: options[k] for k in _SETTINGS if k in options}
    )
    execution = Execution(**{"quiet": True, **{k: options[k] for k in _EXECUTION if k in options}})
    summary = run_plan(build_plan(scenarios, settings, sweep), out, execution)
    if summary.results is None:
        raise AnalysisError(f"no run of the batch in {out} succeeded:\n{failure_report(summary)}")
    return load_batch(out)
