"""``run.py batch``: every scenario x sweep point x replicate, in parallel, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.options import (
    RunDefaults,
    add_record_agents,
    add_run_options,
    execution,
    parse_sweep,
    run_settings,
)

DEFAULT_OUT = Path("results/batch")
DEFAULT_REPLICATES = 10


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``batch`` to run.py's parser."""
    p = sub.add_parser(
        "batch",
        help="run scenarios x sweep points x replicates in parallel, resumable",
        description="Run every scenario x sweep point x replicate; rerun the same command to "
        "resume. Results: DIR/results.parquet and DIR/batch.json.",
    )
    p.set_defaults(func=cmd_batch)
    p.add_argument("scenario", nargs="+", help="names in scenarios/ or paths to TOML files")
    p.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=V1,V2,...",
        help="values to sweep a config key over; several --sweep form a full factorial",
    )
    add_run_options(p, RunDefaults(replicates=DEFAULT_REPLICATES, out=DEFAULT_OUT))
    add_record_agents(p, "DIR/agents/agents.RUN_ID.parquet, one file per run")


def cmd_batch(args: argparse.Namespace) -> int:
    """Validate the plan, then run or resume it; exit 1 if any run failed."""
    from simulation.batch.executors import prestart  # noqa: PLC0415

    prestart(args.scheduler)  # the fork server loads the model while this process plans
    from simulation.batch.engine import run_batch  # noqa: PLC0415  (heavy imports)
    from simulation.batch.plan import build_plan  # noqa: PLC0415

    plan = build_plan(args.scenario, run_settings(args), parse_sweep(args.sweep))
    summary = run_batch(plan, args.out, execution(args))
    return 0 if summary.ok else 1
