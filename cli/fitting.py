"""``run.py validate``, ``calibrate`` and ``sensitivity``: fitting the model to stylized facts.

Each command imports its analysis module when it runs, so building run.py's parser (and
``run.py list``) stays fast. Bad options are UsageErrors (one line, exit 2); failed runs are
FailedRuns (one line, exit 1; a rerun resumes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis import fitting as defaults
from analysis.results.window import FINAL_MONTHS
from cli.options import RunDefaults, add_run_options, execution, positive_int, run_settings
from simulation.config import SCENARIO_DIR

EXIT_FAIL = 1


def _shown(path: Path) -> str:
    """A default path as the user would type it from the project root."""
    return str(path.relative_to(SCENARIO_DIR.parent))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``validate``, ``calibrate`` and ``sensitivity`` to run.py's parser."""
    targets = f"targets file (default: {_shown(defaults.TARGETS_FILE)})"

    p = sub.add_parser(
        "validate",
        help="run the market baseline (and any scenario a target names) and check them against "
        "the stylized facts (exit 1 on FAIL)",
        description="Run the targets' scenarios (the file's default, the market baseline, and any "
        "a target names) through the batch engine and print, for each target, its scenario, its "
        "range, the simulated value with a 95% CI across replicates, and PASS/FAIL.",
    )
    p.set_defaults(func=cmd_validate)
    add_run_options(
        p,
        RunDefaults(
            replicates=defaults.VALIDATE_REPLICATES, out=defaults.VALIDATE_OUT, what="replicates"
        ),
    )
    p.add_argument("--targets", type=Path, default=defaults.TARGETS_FILE, help=targets)

    p = sub.add_parser(
        "calibrate",
        help="fit the targets file's free parameters; writes scenarios/calibration/fitted.toml",
        description="Latin-hypercube search with shrinking refinement rounds over the "
        "[[calibration.parameter]] ranges of the targets file; each design point runs in every "
        "scenario the targets need.",
    )
    p.set_defaults(func=cmd_calibrate)
    add_run_options(
        p,
        RunDefaults(
            replicates=defaults.CALIBRATE_REPLICATES,
            out=defaults.CALIBRATE_OUT,
            seed=defaults.CALIBRATE_SEED,
            researchers=defaults.FIT_RESEARCHERS,
            what="replicates per design point",
        ),
    )
    p.add_argument("--targets", type=Path, default=defaults.TARGETS_FILE, help=targets)
    p.add_argument(
        "--budget",
        type=positive_int,
        default=defaults.CALIBRATE_BUDGET,
        help=f"design points to evaluate (default: {defaults.CALIBRATE_BUDGET})",
    )
    p.add_argument(
        "--fitted",
        type=Path,
        default=defaults.FITTED_FILE,
        help=f"where to write the fit (default: {_shown(defaults.FITTED_FILE)})",
    )

    p = sub.add_parser(
        "sensitivity",
        help="Morris or Sobol sensitivity of metrics to config parameters (SALib)",
        description="Sample the parameters (SALib), run every sample through the batch "
        f"engine, summarise each output as its mean over the final {FINAL_MONTHS} months, and "
        "write the indices with 95% CIs (CSV), a bar chart per output (PNG) and a ranked table.",
    )
    p.set_defaults(func=cmd_sensitivity)
    p.add_argument("scenario", help="a name in scenarios/ or a path to a TOML file")
    p.add_argument("--method", required=True, choices=("morris", "sobol"))
    add_param_ranges(p, "a numeric config key and its range; repeat for each parameter")
    p.add_argument(
        "--output", action="append", required=True, metavar="METRIC", help="a metric; repeatable"
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        default=None,
        help="Morris trajectories (default 10) or Sobol base sample, a power of two (default 64)",
    )
    add_run_options(
        p,
        RunDefaults(
            replicates=defaults.SENSITIVITY_REPLICATES,
            out=defaults.SENSITIVITY_OUT,
            what="replicates per sample",
        ),
    )


def add_param_ranges(p: argparse.ArgumentParser, help_text: str) -> None:
    """Declare ``--param KEY=LOW:HIGH`` (repeatable, at least one): sensitivity and discover."""
    p.add_argument(
        "--param",
        action="append",
        required=True,
        type=param_range,
        metavar="KEY=LOW:HIGH",
        help=help_text,
    )


def param_range(text: str) -> tuple[str, float, float]:
    """An argparse type: ``KEY=LOW:HIGH`` with numbers (LOW < HIGH is checked with the key)."""
    key, sep, rng = text.partition("=")
    low, colon, high = rng.partition(":")
    try:
        if not (sep and colon and key.strip()):
            raise ValueError
        return key.strip(), float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected KEY=LOW:HIGH with numbers, e.g. adoption.popularity_weight=0.1:1.0, "
            f"got {text!r}"
        ) from None


def cmd_validate(args: argparse.Namespace) -> int:
    """Print the validation table; exit 1 if a target fails."""
    from analysis.fitting.validate import format_table, run_validation  # noqa: PLC0415

    validation = run_validation(args.targets, run_settings(args), args.out, execution(args))
    print(format_table(validation.rows))
    print(f"wrote {' and '.join(str(p) for p in validation.files)}; runs in {args.out / 'batch'}")
    return 0 if validation.passed else EXIT_FAIL


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit, print the fit, write fitted.toml."""
    from analysis.fitting.calibrate import run_calibration  # noqa: PLC0415

    fit = run_calibration(
        args.targets, run_settings(args), args.out, execution(args), args.budget, args.fitted
    )
    print(fit.text, end="")
    print(f"wrote {args.fitted} (and a copy plus evaluations.csv in {args.out})")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Print the ranked indices; write CSV and PNG files per output."""
    from analysis.fitting.sensitivity import (  # noqa: PLC0415
        Design,
        Param,
        ranked_table,
        run_sensitivity,  # noqa: PLC0415
    )

    params = tuple(Param(key, low, high) for key, low, high in args.param)
    design = Design(args.method, params, tuple(args.output), args.samples)
    result = run_sensitivity(args.scenario, design, run_settings(args), args.out, execution(args))
    for output in result.undefined:
        print(f"warning: {output} is undefined (NaN) in some runs; its indices are NaN")
    print(ranked_table(result.indices, design.method))
    print(f"wrote {len(result.indices)} CSV and PNG files and samples.csv to {args.out}")
    return 0
