"""``run.py experiment NAME``: run an experiment's scenarios as one batch and judge its claims."""

from __future__ import annotations

import argparse

from cli.options import RunDefaults, add_run_options, execution, run_settings
from cli.results import use_agg

DEFAULT_REPLICATES = 10


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``experiment`` to run.py's parser."""
    p = sub.add_parser(
        "experiment",
        help="run an experiment: claims tested as paired scenario comparisons, with verdicts",
        description="Run the scenarios of an experiment file (a name in scenarios/experiments/ "
        "or a path) as one batch, then test each claim and print its verdict with the numbers "
        "behind it. Rerun the same command to resume an interrupted batch.",
    )
    p.set_defaults(func=cmd_experiment)
    p.add_argument("name", help="e.g. counterarguments, or a path to an experiment TOML file")
    add_run_options(
        p, RunDefaults(replicates=DEFAULT_REPLICATES, out=None, out_shown="results/NAME")
    )


def cmd_experiment(args: argparse.Namespace) -> int:
    """Run (or resume) the batch, print the verdicts; exit 1 if runs failed."""
    use_agg()
    from analysis.experiment.run import run_experiment  # noqa: PLC0415

    outcome = run_experiment(args.name, run_settings(args), args.out, execution(args))
    return 0 if outcome.batch.ok else 1
