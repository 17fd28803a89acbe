"""``python run.py batch``: every scenario x sweep point x replicate, in parallel, resumable.

Modules, one job each: ``plan`` (what to run, validated; seeds; fingerprint), ``worker`` (one run
in a worker process), ``executors`` (local processes or Dask), ``execute`` (feeding runs to an
executor), ``store`` (the batch directory and its manifest), ``combine`` (the long table),
``progress`` (bar or lines) and ``command`` (the command itself). This module only registers the
command line, so ``run.py list`` stays fast.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from simulation.cli import non_negative_int, positive_int

DEFAULT_OUT = Path("results/batch")
DEFAULT_REPLICATES = 10


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``batch`` subcommand to run.py's parser."""
    p = sub.add_parser(
        "batch",
        help="run scenarios x sweep points x replicates in parallel, resumable",
        description="Run every scenario x sweep point x replicate; rerun the same command to "
        "resume. Results: DIR/results.parquet and DIR/batch.json.",
    )
    p.set_defaults(func=cmd_batch)
    p.add_argument("scenario", nargs="+", help="names in scenarios/ or paths to TOML files")
    p.add_argument(
        "--replicates",
        type=positive_int,
        default=DEFAULT_REPLICATES,
        help=f"replicates per scenario and sweep point (default: {DEFAULT_REPLICATES})",
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="root of the replicate seeds (default: 0)"
    )
    p.add_argument("--steps", type=positive_int, help="months to simulate (default: the config's)")
    p.add_argument("--researchers", type=positive_int, help="population size (default: config's)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument(
        "--sweep",
        action="append",
        metavar="KEY=V1,V2,...",
        help="values to sweep a config key over; several --sweep form a full factorial",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=default_workers(),
        help="local worker processes, or workers of --scheduler local (default: the CPU count)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="'local' for a local Dask cluster, or tcp://HOST:PORT of a running Dask scheduler",
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"batch directory (default: {DEFAULT_OUT})"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="discard the batch files in --out (plan, manifest, shards, results) and start anew",
    )
    p.add_argument("--quiet", action="store_true", help="no progress and no summary lines")


def cmd_batch(args: argparse.Namespace) -> int:
    from simulation.batch.executors import prestart  # noqa: PLC0415

    prestart(args.scheduler)
    from simulation.batch.command import run_batch  # noqa: PLC0415  (heavy imports)

    return run_batch(args)
