"""``run.py compare``, ``plot`` and ``report``: read a batch directory, write tables and figures.

Each command imports pandas, scipy and matplotlib when it runs, so building run.py's parser
stays fast. Bad input (no results, an unknown metric or scenario) is an AnalysisError: one line
on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.results.window import FINAL_MONTHS
from cli.options import non_negative_int
from simulation.files import check_writable_dir


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compare``, ``plot`` and ``report`` to run.py's parser."""
    p = sub.add_parser(
        "compare",
        help="compare a batch's scenarios with a baseline (means, 95%% CIs, paired differences)",
        description="Print each metric per scenario at month N and over the final "
        f"{FINAL_MONTHS} months, with 95% confidence intervals across replicates and differences "
        "from the baseline paired by replicate. Writes DIR/compare.csv and DIR/compare.md.",
    )
    p.set_defaults(func=cmd_compare)
    p.add_argument("dir", type=Path, help="a batch directory (holding results.parquet)")
    _comparison_options(p)

    p = sub.add_parser(
        "plot",
        help="plot a batch's outcome curves (PNG and SVG)",
        description="Outcome curves (one line per scenario, 95% CI band across replicates), "
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


def _comparison_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", help="scenario to compare with (default: market, else the first)")
    p.add_argument("--month", type=non_negative_int, help="month to report (default: the last)")
    p.add_argument("--metrics", nargs="+", metavar="M", help="metrics (default: a key set)")


def use_agg() -> None:
    """Draw without a display (files only)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")


def cmd_compare(args: argparse.Namespace) -> int:
    """Print each scenario's comparison with the baseline; write DIR/compare.csv and .md."""
    from analysis.results.compare import write_compare  # noqa: PLC0415
    from analysis.results.load import load_batch  # noqa: PLC0415

    results = load_batch(args.dir)
    check_writable_dir(args.dir, "DIR")
    _, text, written = write_compare(
        results, baseline=args.baseline, month=args.month, metrics=args.metrics
    )
    print(text, end="")
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Write the batch's figures (PNG and SVG) to --out, by default DIR/figures.

    The metrics and the output directory are checked before any figure is drawn, so bad input
    writes nothing.
    """
    use_agg()
    from analysis.results.load import load_batch  # noqa: PLC0415
    from analysis.results.plots import write_figures  # noqa: PLC0415

    results = load_batch(args.dir)
    if args.metrics:
        results.check_metrics(args.metrics)
    out = args.out or args.dir / "figures"
    check_writable_dir(out)
    written = write_figures(results, out, args.metrics)
    print(f"wrote {len(written)} figures to {out}: " + ", ".join(p.name for p in written))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write DIR/report.html, one self-contained page, and its figures in DIR/figures.

    The comparison is computed once first to check --baseline, --month and --metrics, so bad
    input fails before anything is written.
    """
    use_agg()
    from analysis.results.compare import compare  # noqa: PLC0415
    from analysis.results.load import load_batch  # noqa: PLC0415
    from analysis.results.report import write_report  # noqa: PLC0415

    results = load_batch(args.dir)
    check_writable_dir(args.dir, "DIR")
    compare(results, baseline=args.baseline, month=args.month, metrics=args.metrics)  # validate
    path = write_report(results, baseline=args.baseline, month=args.month, metrics=args.metrics)
    print(f"wrote {path}")
    return 0
