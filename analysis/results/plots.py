"""Outcome curves over months: one line per scenario with a 95% band across replicates.

Every function draws into matplotlib Axes or a Figure it returns, so a notebook can compose its
own figures; :func:`write_figures` saves the standard set (PNG and SVG) for the command line.
Each scenario keeps one colour in every figure and every batch: the sorted standard scenario
names come first in the colour cycle, then any other scenario in sorted order. The backend is
left alone (a notebook shows figures inline); the command line selects Agg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.results.derived import add_derived
from analysis.results.load import POINT, TASKS, AnalysisError, Results
from analysis.results.stats import LEVEL, t_quantile
from analysis.results.units import bounds, unit
from simulation.files import atomic_path
from simulation.metrics import KEY_METRICS

PALETTE = [*plt.get_cmap("tab10").colors, *plt.get_cmap("Dark2").colors]
KIND_PALETTE = plt.get_cmap("Set2").colors
LINESTYLES = ["-", "--", ":", "-."]
WIDTH = 7.0  # inches: the text width of a two-column paper page
PANEL_HEIGHT = 2.2
STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "open-model-ecosystem",  # deterministic SVG ids
}
DEFAULT_CURVES = KEY_METRICS
TASK_NAMES = {"run": "run", "finetune": "fine-tune", "deploy": "deploy"}


def scenario_colours(names: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per scenario, so colours agree across figures and batches.

    The standard scenarios (sorted) take the first colours of the cycle; other names follow in
    sorted order.
    """
    from simulation.config import scenario_names  # noqa: PLC0415

    order = sorted(scenario_names()) + sorted(n for n in set(names) if n not in scenario_names())
    return {n: PALETTE[order.index(n) % len(PALETTE)] for n in names}


def band(results: Results, metric: str) -> pd.DataFrame:
    """Mean across replicates and its 95% t-interval, per scenario, point and month.

    The interval is NaN with one replicate.
    """
    g = results.frame.groupby(["scenario", POINT, "step"], sort=False)[metric]
    out = g.agg(["mean", "std", "count"]).reset_index()
    n = out["count"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = np.where(n > 1, t_quantile(0.5 + LEVEL / 2, np.maximum(n - 1, 1)), np.nan)
        half = tq * out["std"].to_numpy() / np.sqrt(n)
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    return out


def plot_metric(
    results: Results,
    metric: str,
    ax: Axes | None = None,
    scenarios: Sequence[str] | None = None,
    colours: dict[str, tuple] | None = None,
    show_band: bool = True,
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """Plot one metric over the months, one line per scenario.

    One line per scenario (and line style per sweep point), mean across replicates, with a
    shaded 95% confidence band of the mean (clipped to the values the metric can take).

    Args:
        results: The batch.
        metric: The metric to plot.
        ax: Where to draw (default: a new figure).
        scenarios: Scenarios to show (default: all).
        colours: Scenario colours (default: ``scenario_colours``).
        show_band: Draw the confidence band.
        legend: Draw a legend on ``ax``.
        title: Panel title (default: the metric).

    Returns:
        The axes drawn on.
    """
    results.check_metrics([metric])
    scenarios = [results.check_scenario(s) for s in scenarios or results.scenarios]
    colours = colours or scenario_colours(results.scenarios)
    if ax is None:
        _, ax = plt.subplots(figsize=(WIDTH / 2, PANEL_HEIGHT), layout="constrained")
    stats_ = band(results, metric)
    points = results.points
    for scenario in scenarios:
        for i, point in enumerate(points):
            s = stats_[(stats_["scenario"] == scenario) & (stats_[POINT] == point)]
            if s.empty or s["mean"].isna().all():
                continue
            name = scenario + (f" ({point})" if point else "")
            c = colours[scenario]
            ax.plot(s["step"], s["mean"], color=c, ls=LINESTYLES[i % len(LINESTYLES)], lw=1.2,
                    label=name)  # fmt: skip
            if show_band and s["low"].notna().any():
                low, high = s["low"].clip(*bounds(metric)), s["high"].clip(*bounds(metric))
                ax.fill_between(s["step"], low, high, color=c, alpha=0.18, lw=0)
    ax.set_title(title or metric)
    ax.set_xlabel("month")
    ax.set_ylabel(unit(metric) or metric)
    if unit(metric).endswith("0-1"):
        ax.set_ylim(-0.02, 1.02)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return ax


def grid(n: int, ncols: int, height: float = PANEL_HEIGHT) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels in rows of ``ncols``; the panels left over are hidden.

    Args:
        n: Panels needed.
        ncols: Panels per row.
        height: Height of one row, in inches.

    Returns:
        The figure and its axes, always as a 2-D array.
    """
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(WIDTH, height * nrows + 0.5), layout="constrained", squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def shared_legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend under the panels, from the panel with the most lines."""
    best = max(axes.flat, key=lambda a: len(a.get_legend_handles_labels()[0]))
    handles, labels = best.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)),
                   frameon=False)  # fmt: skip


def plot_curves(results: Results, metrics: Sequence[str] | None = None) -> Figure:
    """Outcome curves of several metrics, one panel each."""
    metrics = list(metrics or [m for m in DEFAULT_CURVES if m in results.metrics])
    results.check_metrics(metrics)
    colours = scenario_colours(results.scenarios)
    fig, axes = grid(len(metrics), 2 if len(metrics) > 1 else 1)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        plot_metric(results, metric, ax=ax, colours=colours, legend=False)
    shared_legend(fig, axes)
    fig.suptitle(f"Outcome curves (mean across replicates, {LEVEL:.0%} CI band)")
    return fig


def plot_access_grid(results: Results, by: str = "group") -> Figure:
    """Access as a grid: tasks (run, fine-tune, deploy) by researcher group, or by language.

    Args:
        results: The batch.
        by: ``"group"`` (``access.<task>.<group>``) or ``"language"``
            (``access.<task>.language.<language>``).
    """
    if by not in ("group", "language"):
        raise AnalysisError(f"access by {by!r}: expected 'group' or 'language'")
    groups = results.groups if by == "group" else results.languages
    column = "access.{}.{}" if by == "group" else "access.{}.language.{}"
    if not groups:
        raise AnalysisError(
            f"the results have no {column.format('<task>', '<' + by + '>')} metrics"
        )
    colours = scenario_colours(results.scenarios)
    fig, axes = plt.subplots(
        len(TASKS),
        len(groups),
        figsize=(WIDTH, PANEL_HEIGHT * len(TASKS) + 0.5),
        layout="constrained",
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for i, task in enumerate(TASKS):
        for j, group in enumerate(groups):
            ax = axes[i, j]
            plot_metric(results, column.format(task, group), ax=ax, colours=colours, legend=False,
                        title=f"{TASK_NAMES[task]}: {group}")  # fmt: skip
            ax.set_ylabel(f"share who can {TASK_NAMES[task]} (0-1)" if j == 0 else "")
            if i < len(TASKS) - 1:
                ax.set_xlabel("")
    shared_legend(fig, axes)
    who = "researcher group" if by == "group" else "language"
    fig.suptitle(f"Access to a capable model, by task and {who}")
    return fig


def access_gap_results(results: Results) -> tuple[Results, list[str], str]:
    """Results with the access gap between two groups added, per task.

    ``gap.<task>`` = first group minus last group (column order, e.g. well_funded minus
    global_south).

    Returns:
        The results with the gap columns, the gap metric names, and a description.

    Raises:
        AnalysisError: The results have fewer than two researcher groups.
    """
    groups = results.groups
    if len(groups) < 2:
        raise AnalysisError("an access gap needs at least two researcher groups")
    first, last = groups[0], groups[-1]
    defs = {f"gap.{t}": f"access.{t}.{first} - access.{t}.{last}" for t in TASKS}
    defs = {k: v for k, v in defs.items() if k not in results.metrics}
    return add_derived(results, defs), [f"gap.{t}" for t in TASKS], f"{first} minus {last}"


def plot_access_gap(results: Results) -> Figure:
    """The access gap between the first and the last group, per task."""
    gap, names, what = access_gap_results(results)
    colours = scenario_colours(results.scenarios)
    fig, axes = grid(len(names), len(names), height=PANEL_HEIGHT + 0.2)
    for ax, name, task in zip(axes.flat, names, TASKS, strict=True):
        plot_metric(gap, name, ax=ax, colours=colours, legend=False, title=TASK_NAMES[task])
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylim(-1.02, 1.02)
        ax.set_ylabel("difference in share (-1 to 1)" if task == TASKS[0] else "")
    shared_legend(fig, axes)
    fig.suptitle(f"Access gap: {what}, per task")
    return fig


def _kind_colours(kinds: Sequence[str]) -> dict[str, tuple]:
    return {k: KIND_PALETTE[i % len(KIND_PALETTE)] for i, k in enumerate(sorted(kinds))}


def plot_capture(results: Results) -> Figure:
    """Capture of community value as stacked areas by lab kind.

    One panel per scenario (and sweep point); panel titles in the scenario's colour.
    """
    kinds = results.lab_kinds
    if not kinds:
        raise AnalysisError("the results have no capture.<lab_kind> metrics")
    colours = scenario_colours(results.scenarios)
    kind_colours = _kind_colours(kinds)
    panels = [(s, p) for s in results.scenarios for p in results.points]
    fig, axes = grid(len(panels), min(3, len(panels)))
    means = results.frame.groupby(["scenario", POINT, "step"], sort=False)[
        [f"capture.{k}" for k in kinds]
    ].mean()
    for ax, (scenario, point) in zip(axes.flat, panels, strict=False):
        m = means.xs((scenario, point), level=("scenario", POINT)).fillna(0.0)
        ax.stackplot(m.index, m.to_numpy().T, colors=[kind_colours[k] for k in kinds],
                     labels=kinds, lw=0)  # fmt: skip
        ax.set_title(scenario + (f"\n{point}" if point else ""), color=colours[scenario])
        ax.set_ylim(0, 1)
        ax.set_xlabel("month")
        ax.set_ylabel("share of community value (0-1)")
    shared_legend(fig, axes)
    fig.suptitle("Capture of community value by lab kind (cumulative, mean across replicates)")
    return fig


def plot_downloads(results: Results) -> Figure:
    """Download shares by lab kind: one panel per kind, one line per scenario."""
    names = [
        m
        for m in results.metrics
        if m.startswith("downloads.") and m.count(".") == 1 and m != "downloads.top_decile_share"
    ]
    if not names:
        raise AnalysisError("the results have no downloads.<lab_kind> metrics")
    colours = scenario_colours(results.scenarios)
    fig, axes = grid(len(names), 3 if len(names) > 2 else len(names))
    for ax, name in zip(axes.flat, names, strict=False):
        plot_metric(results, name, ax=ax, colours=colours, legend=False,
                    title=name.split(".", 1)[1])  # fmt: skip
        ax.set_ylabel("share of downloads (0-1)")
    shared_legend(fig, axes)
    fig.suptitle("Share of model downloads by lab kind")
    return fig


def save(fig: Figure, path: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``path.<fmt>`` for each format, deterministically, then close it."""
    written = []
    try:
        for fmt in formats:
            target = path.with_suffix(f".{fmt}")
            meta = {"Date": None} if fmt == "svg" else {"Software": None} if fmt == "png" else {}
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=200, metadata=meta)
            written.append(target)
    finally:
        plt.close(fig)
    return written


def write_figures(
    results: Results,
    out: Path,
    metrics: Sequence[str] | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Write the standard figures; those the results cannot support are skipped.

    Outcome curves (``metrics``, default a key set), access grid, access gap, capture and
    downloads.

    Args:
        results: The batch.
        out: The directory (created if missing).
        metrics: Metrics for the outcome curves.
        formats: File formats, one file per figure each.

    Returns:
        The files written.
    """
    if metrics:
        results.check_metrics(metrics)
    out.mkdir(parents=True, exist_ok=True)
    makers = {
        "curves": lambda: plot_curves(results, metrics),
        "access": lambda: plot_access_grid(results),
        "access_language": lambda: plot_access_grid(results, by="language"),
        "access_gap": lambda: plot_access_gap(results),
        "capture": lambda: plot_capture(results),
        "downloads": lambda: plot_downloads(results),
    }
    written: list[Path] = []
    with plt.rc_context(STYLE):
        for name, make in makers.items():
            if name != "curves" and not _supported(results, name):
                continue
            written += save(make(), out / name, formats)
    return written


def _supported(results: Results, figure: str) -> bool:
    if figure == "access":
        return bool(results.groups)
    if figure == "access_language":
        return bool(results.languages)
    if figure == "access_gap":
        return len(results.groups) >= 2
    if figure == "capture":
        return bool(results.lab_kinds)
    return any(m.startswith("downloads.") for m in results.metrics)
