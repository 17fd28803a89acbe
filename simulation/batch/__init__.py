"""Batches: every scenario x sweep point x replicate, in parallel, resumable; a Python API.

Typical use::

    from simulation.batch import Execution, RunSettings, build_plan, run_batch

    plan = build_plan(
        ["market", "public_option"],
        RunSettings(replicates=5, steps=60, researchers=2000),
        sweep={"public.budget_usd_per_month": [1e7, 2e7]},
    )
    summary = run_batch(plan, "results/mine", Execution(workers=2))
    summary.results  # results/mine/results.parquet

Modules, one job each: ``plan`` (what to run, validated; seeds; fingerprint), ``engine`` (run or
resume a plan; batch.json), ``worker`` (one run in a worker process), ``executors`` (local
processes or Dask), ``execute`` (feeding runs to an executor), ``store`` (the batch directory
and its manifest), ``combine`` (the long table) and ``progress`` (bar or lines); file names and
the table layout are :mod:`simulation.layout`'s. Names are imported on first use, so importing
this package is cheap.
"""

from __future__ import annotations

from simulation.lazy import lazy_exports

_EXPORTS = {
    "RunSettings": "simulation.batch.plan",
    "Plan": "simulation.batch.plan",
    "build_plan": "simulation.batch.plan",
    "design_plan": "simulation.batch.plan",
    "replicate_seeds": "simulation.batch.plan",
    "Execution": "simulation.batch.engine",
    "BatchSummary": "simulation.batch.engine",
    "BatchInterrupted": "simulation.batch.engine",
    "run_batch": "simulation.batch.engine",
    "failure_report": "simulation.batch.engine",
    "default_workers": "simulation.batch.executors",
    "open_pool": "simulation.batch.executors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
