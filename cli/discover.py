"""``run.py discover``: scenario discovery (regret and PRIM boxes) across sampled futures.

The analysis (and EMA Workbench) is imported when the command runs, so building run.py's parser
stays fast. Bad options are UsageErrors (one line, exit 2, nothing written); failed runs are
FailedRuns (one line, exit 1; a rerun resumes).
"""

from __future__ import annotations

import argparse

from analysis import discovery as defaults
from analysis.results.window import FINAL_MONTHS
from cli.fitting import add_param_ranges
from cli.options import RunDefaults, add_run_options, execution, positive_int, run_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``discover`` to run.py's parser."""
    p = sub.add_parser(
        "discover",
        help="scenario discovery: which scenario is best across sampled futures, and where the "
        "policy wins or fails (regret, PRIM boxes)",
        description="Sample the uncertainties (--param) with a seeded Latin hypercube, run every "
        "scenario in every future through the batch engine, and compare the outcome (its mean "
        f"over the final {FINAL_MONTHS} months): regret.csv (per future: parameters, outcomes, "
        "best scenario, regrets), boxes.csv (EMA Workbench PRIM boxes: where the policy is best "
        "and, with --fails, where it fails; limits, coverage, density, mass, quasi-p-values), "
        "trajectory.csv and discover.html. Prints the boxes.",
    )
    p.set_defaults(func=cmd_discover)
    p.add_argument("scenario", nargs="+", help="scenario names in scenarios/ or TOML paths (2+)")
    add_param_ranges(p, "an uncertain numeric config key and its range; repeat for each")
    p.add_argument(
        "--samples",
        type=positive_int,
        default=defaults.DISCOVER_SAMPLES,
        help=f"futures to sample, at least 2 (default: {defaults.DISCOVER_SAMPLES})",
    )
    p.add_argument("--outcome", required=True, metavar="METRIC", help="the metric compared")
    p.add_argument(
        "--policy",
        metavar="SCENARIO",
        help="the scenario the boxes are about (default: the first that is not market)",
    )
    p.add_argument(
        "--fails",
        metavar="'METRIC<VALUE'",
        help="also find where the policy fails this test (<, <=, >, >=), e.g. "
        "'access.finetune.global_south<0.2'",
    )
    p.add_argument("--minimise", action="store_true", help="lower outcomes are better")
    add_run_options(
        p,
        RunDefaults(
            replicates=defaults.DISCOVER_REPLICATES,
            out=defaults.DISCOVER_OUT,
            what="replicates per scenario and future",
        ),
    )


def cmd_discover(args: argparse.Namespace) -> int:
    """Print the regret summary and the boxes; write the CSV files and the page."""
    from analysis.discovery.boxes import describe_box  # noqa: PLC0415
    from analysis.discovery.run import DiscoveryDesign, run_discovery  # noqa: PLC0415
    from analysis.fitting.sensitivity import Param  # noqa: PLC0415

    design = DiscoveryDesign(
        params=tuple(Param(key, low, high) for key, low, high in args.param),
        outcome=args.outcome,
        samples=args.samples,
        policy=args.policy,
        fails=args.fails,
        minimise=args.minimise,
    )
    found = run_discovery(args.scenario, design, run_settings(args), args.out, execution(args))
    print(found.summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for box in found.boxes:
        print(describe_box(box))
    print(f"wrote {', '.join(p.name for p in found.files)} to {args.out}; runs in "
          f"{args.out / 'batch'}")  # fmt: skip
    return 0
