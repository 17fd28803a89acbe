"""Register ``validate``, ``calibrate`` and ``sensitivity`` with run.py's parser.

Only argparse lives here, so building the parser (and ``run.py list``) stays fast; each command
imports its module when it runs. Bad options are UsageErrors: one line, exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulation.cli import UsageError, non_negative_int, positive_int

TARGETS = Path("scenarios/calibration/targets.toml")
FITTED = Path("scenarios/calibration/fitted.toml")
FIT_RESEARCHERS = 3000


def register(sub: argparse._SubParsersAction) -> None:
    """Add the three subcommands to run.py's subparsers."""
    from simulation.batch import default_workers  # noqa: PLC0415

    workers = default_workers()

    p = sub.add_parser(
        "validate",
        help="run the market baseline and check it against the stylized facts (exit 1 on FAIL)",
        description="Run the targets' scenario through the batch machinery and print, for each "
        "target, its range, the simulated value with a 95% CI across replicates, and PASS/FAIL.",
    )
    p.set_defaults(func=_validate)
    _common(p, workers, replicates=10, out=Path("results/validation"))
    p.add_argument("--researchers", type=positive_int, help="population (default: the config's)")

    p = sub.add_parser(
        "calibrate",
        help="fit the targets file's free parameters; writes scenarios/calibration/fitted.toml",
        description="Latin-hypercube search with shrinking refinement rounds over the "
        "[[calibration.parameter]] ranges of the targets file.",
    )
    p.set_defaults(func=_calibrate)
    _common(p, workers, replicates=8, out=Path("results/calibration"), overrides=False, seed=1)
    p.add_argument(
        "--researchers",
        type=positive_int,
        default=FIT_RESEARCHERS,
        help=f"population of the fit (default: {FIT_RESEARCHERS:,})",
    )
    p.add_argument(
        "--budget", type=positive_int, default=128, help="design points to evaluate (default: 128)"
    )
    p.add_argument(
        "--fitted", type=Path, default=FITTED, help=f"where to write the fit (default: {FITTED})"
    )

    p = sub.add_parser(
        "sensitivity",
        help="Morris or Sobol sensitivity of metrics to config parameters (SALib)",
        description="Sample the parameters (SALib), run every sample through the batch "
        "machinery, summarise each output as its mean over the final 12 months, and write the "
        "indices with 95% CIs (CSV), a bar chart per output (PNG) and a ranked table.",
    )
    p.set_defaults(func=_sensitivity)
    p.add_argument("scenario", help="a name in scenarios/ or a path to a TOML file")
    p.add_argument("--method", required=True, choices=("morris", "sobol"))
    p.add_argument(
        "--param",
        action="append",
        required=True,
        type=param_range,
        metavar="KEY=LOW:HIGH",
        help="a numeric config key and its range; repeat for each parameter",
    )
    p.add_argument(
        "--output", action="append", required=True, metavar="METRIC", help="a metric; repeatable"
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        help="Morris trajectories (default 10) or Sobol base sample, a power of two (default 64)",
    )
    _common(p, workers, replicates=1, out=Path("results/sensitivity"), targets=False)
    p.add_argument("--researchers", type=positive_int, help="population (default: the config's)")


def _common(
    p: argparse.ArgumentParser,
    workers: int,
    *,
    replicates: int,
    out: Path,
    targets: bool = True,
    overrides: bool = True,
    seed: int = 0,
) -> None:
    p.add_argument(
        "--replicates",
        type=positive_int,
        default=replicates,
        help=f"replicates per point (default: {replicates})",
    )
    p.add_argument("--steps", type=positive_int, help="months (default: the config's)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=seed,
        help=f"root of the replicate seeds and of the design (default: {seed})",
    )
    p.add_argument("--workers", type=positive_int, default=workers, help="local worker processes")
    p.add_argument("--scheduler", metavar="ADDRESS", help="'local' or tcp://HOST:PORT (Dask)")
    p.add_argument("--out", type=Path, default=out, help=f"output directory (default: {out})")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    if overrides:
        p.add_argument(
            "--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)"
        )
    if targets:
        p.add_argument(
            "--targets", type=Path, default=TARGETS, help=f"targets file (default: {TARGETS})"
        )


def param_range(text: str):
    """``KEY=LOW:HIGH`` -> a sensitivity Param (LOW < HIGH is checked with the key)."""
    from analysis.sensitivity import Param  # noqa: PLC0415

    key, sep, rng = text.partition("=")
    low, colon, high = rng.partition(":")
    try:
        if not (sep and colon and key.strip()):
            raise ValueError
        return Param(key.strip(), float(low), float(high))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected KEY=LOW:HIGH with numbers, e.g. adoption.popularity_weight=0.1:1.0, "
            f"got {text!r}"
        ) from None


def _check_out(out: Path) -> None:
    from simulation.cli import check_out_dir  # noqa: PLC0415

    check_out_dir(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")


def _validate(args: argparse.Namespace) -> int:
    _check_out(args.out)
    from analysis.validate import cmd_validate  # noqa: PLC0415

    return _guard(cmd_validate, args)


def _calibrate(args: argparse.Namespace) -> int:
    _check_out(args.out)
    from analysis.calibrate import cmd_calibrate  # noqa: PLC0415

    return _guard(cmd_calibrate, args)


def _sensitivity(args: argparse.Namespace) -> int:
    _check_out(args.out)
    if args.samples is None:
        args.samples = 10 if args.method == "morris" else 64
    from analysis.sensitivity import cmd_sensitivity  # noqa: PLC0415

    return _guard(cmd_sensitivity, args)


def _guard(command, args: argparse.Namespace) -> int:
    """Failed runs are not bad input: report them on one line, exit 1 (a rerun resumes)."""
    import sys  # noqa: PLC0415

    from analysis.batch_points import FailedRuns  # noqa: PLC0415

    try:
        return command(args)
    except FailedRuns as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
