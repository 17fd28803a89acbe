"""Command line: ``run.py compare``, ``plot``, ``report`` and ``experiment``.

Only the parsers live here; each command imports pandas, scipy and matplotlib when it runs, so
building run.py's parser stays fast. Bad input (no results, an unknown metric, scenario or
experiment) is an AnalysisError: one line on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulation.cli import check_out_dir, non_negative_int, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the analysis subcommands to run.py's parser."""
    p = sub.add_parser(
        "compare",
        help="compare a batch's scenarios with a baseline (means, 95%% CIs, paired differences)",
        description="Print each metric per scenario at month N and over the final 12 months, "
        "with 95%% confidence intervals across replicates and differences from the baseline "
        "paired by replicate. Writes DIR/compare.csv and DIR/compare.md.",
    )
    p.set_defaults(func=cmd_compare)
    p.add_argument("dir", type=Path, help="a batch directory (holding results.parquet)")
    _comparison_options(p)

    p = sub.add_parser(
        "plot",
        help="plot a batch's outcome curves (PNG and SVG)",
        description="Outcome curves (one line per scenario, 95%% CI band across replicates), "
        "access by task and group, the access gap between groups, capture by lab kind and "
        "download shares by lab kind.",
    )
    p.set_defaults(func=cmd_plot)
    p.add_argument("dir", type=Path, help="a batch directory (holding results.parquet)")
    p.add_argument("--metrics", nargs="+", metavar="M", help="metrics for the outcome curves")
    p.add_argument("--out", type=Path, help="where to write the figures (default: DIR/figures)")

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a batch (DIR/report.html)",
        description="One HTML page with the comparison tables, the figures (embedded) and the "
        "scenario configs from batch.json; also writes DIR/figures.",
    )
    p.set_defaults(func=cmd_report)
    p.add_argument("dir", type=Path, help="a batch directory (holding results.parquet)")
    _comparison_options(p)

    p = sub.add_parser(
        "experiment",
        help="run an experiment: claims tested as paired scenario comparisons, with verdicts",
        description="Run the scenarios of an experiment file (a name in scenarios/experiments/ "
        "or a path) as one batch, then test each claim and print its verdict with the numbers "
        "behind it. Rerun the same command to resume an interrupted batch.",
    )
    p.set_defaults(func=cmd_experiment)
    p.add_argument("name", help="e.g. counterarguments, or a path to an experiment TOML file")
    p.add_argument("--replicates", type=positive_int, default=10, help="default: 10")
    p.add_argument("--researchers", type=positive_int, help="population size (default: config's)")
    p.add_argument("--steps", type=positive_int, help="months to simulate (default: config's)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="root seed (default: 0)")
    p.add_argument("--out", type=Path, help="batch and report directory (default: results/NAME)")
    p.add_argument("--workers", type=positive_int, help="worker processes (default: CPU count)")
    p.add_argument("--force", action="store_true", help="discard another batch held in --out")
    p.add_argument("--quiet", action="store_true", help="no batch progress output")


def _comparison_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", help="scenario to compare with (default: market, else the first)")
    p.add_argument("--month", type=non_negative_int, help="month to report (default: the last)")
    p.add_argument("--metrics", nargs="+", metavar="M", help="metrics (default: a key set)")


@contextmanager
def _writing(what: Path) -> Iterator[None]:
    """Turn a failure to write into a one-line AnalysisError."""
    try:
        yield
    except OSError as e:
        from analysis.results import AnalysisError  # noqa: PLC0415

        raise AnalysisError(f"cannot write to {e.filename or what}: {e.strerror or e}") from None


def _agg() -> None:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")


def cmd_compare(args: argparse.Namespace) -> int:
    from analysis.comparison import write_compare  # noqa: PLC0415
    from analysis.results import load_batch  # noqa: PLC0415

    results = load_batch(args.dir)
    with _writing(args.dir):
        _, text, written = write_compare(
            results, baseline=args.baseline, month=args.month, metrics=args.metrics
        )
    print(text, end="")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    _agg()
    from analysis.plots import write_figures  # noqa: PLC0415
    from analysis.results import load_batch  # noqa: PLC0415

    results = load_batch(args.dir)
    if args.metrics:
        results.check_metrics(args.metrics)
    out = args.out or args.dir / "figures"
    check_out_dir(out)
    with _writing(out):
        written = write_figures(results, out, args.metrics)
    print(f"wrote {len(written)} figures to {out}: " + ", ".join(p.name for p in written))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    _agg()
    from analysis.comparison import compare  # noqa: PLC0415
    from analysis.report import write_report  # noqa: PLC0415
    from analysis.results import load_batch  # noqa: PLC0415

    results = load_batch(args.dir)
    compare(results, baseline=args.baseline, month=args.month, metrics=args.metrics)  # validate
    with _writing(args.dir):
        path = write_report(results, baseline=args.baseline, month=args.month, metrics=args.metrics)
    print(f"wrote {path}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    _agg()
    from analysis.experiment import run_experiment  # noqa: PLC0415

    out = args.out
    with _writing(out or Path("results")):
        outcome = run_experiment(
            args.name,
            replicates=args.replicates,
            researchers=args.researchers,
            steps=args.steps,
            out=out,
            workers=args.workers,
            seed=args.seed,
            force=args.force,
            quiet=args.quiet,
        )
    return outcome.batch_status
