"""The explorer's figures: each curve of the scenario beside the market baseline's.

Small multiples, one metric per panel: the scenario in its colour from the project's plots
(:func:`analysis.results.plots.scenario_colours`), the market with the same seed as a dashed
grey line in the same panel, so each curve has its baseline beside it. Plain matplotlib
``Figure`` objects (no pyplot state), so the server can draw them from any thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from analysis.results.plots import STYLE, TASK_NAMES, scenario_colours
from analysis.results.units import unit
from cli.explorer.model import LEVERS, institution_prefix
from simulation.metrics import TASKS, metric_info

if TYPE_CHECKING:
    from cli.explorer.model import ExplorerModel

BASELINE_STYLE = {"color": "0.5", "ls": "--", "lw": 1.0, "zorder": 3}  # on top: seen if equal
PANEL_SIZE = (2.2, 1.45)  # inches per panel
DPI = 80


@dataclass(frozen=True)
class Panel:
    """One metric in one small axes."""

    metric: str
    title: str


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the page: its title, what it shows, and its panels in rows of ``ncols``.

    Attributes:
        name: A short name (``access``), used for the component and in tests.
        title: The figure's title.
        measures: One sentence for the explanation panel: what the figure measures.
        ncols: Panels per row.
    """

    name: str
    title: str
    measures: str
    ncols: int

    def panels(self, model: ExplorerModel) -> list[Panel]:
        """The figure's panels for ``model``'s scenario (its groups and lab kinds)."""
        groups = list(model.policy.config.groups)
        kinds = list(model.policy.lab_kinds)
        if self.name == "access":
            return [
                Panel(f"access.{t}.{g}", f"{TASK_NAMES[t]}: {g}") for g in groups for t in TASKS
            ]
        if self.name == "capture":
            return [Panel(f"capture.{k}", k) for k in kinds] + [
                Panel("capture.private", "closed or restricted")
            ]
        if self.name == "downloads":
            return [Panel(f"downloads.{k}", k) for k in kinds] + [
                Panel("downloads.derivatives", "community derivatives")
            ]
        return [
            Panel("capability.frontier", "frontier"),
            Panel("capability.best_open", "best open-weight"),
            *[Panel(f"capability.reached.{g}", f"used by {g}") for g in groups],
            Panel("capability.open_lag_months", "open-weight lag (months)"),
        ]


FIGURES = (
    FigureSpec(
        "access",
        "Access to a capable model, by task and group",
        "the share of each researcher group who ran, successfully fine-tuned, or had deployed "
        "a capable model this month (within 1.5 of the frontier as researchers perceive it)",
        3,
    ),
    FigureSpec(
        "capture",
        "Capture: who absorbed the community's value so far",
        "each lab kind's share of all community value absorbed so far (the kinds sum to 1), "
        "and the share absorbed by labs whose licence was closed or restricted at the time",
        3,
    ),
    FigureSpec(
        "downloads",
        "Downloads: whose open weights researchers run",
        "of the researchers running an open-weight model this month, the share whose model "
        "comes from each lab kind, and the share running a community derivative",
        3,
    ),
    FigureSpec(
        "capability",
        "Capability (log10 effective training GPU-hours)",
        "the best model released so far, the best open-weight one, the mean capability of the "
        "models each group ran, and how many months the open weights lag the frontier",
        3,
    ),
)


class LiveFigure:
    """One figure of the page, built once for a model and redrawn each month with new data.

    Building the axes costs more than drawing them, so the page keeps one ``LiveFigure`` per
    figure and model and only moves the lines' data each month.

    Attributes:
        spec (FigureSpec): Which figure.
        model (ExplorerModel): The model drawn.
        figure (Figure): The matplotlib figure, updated in place by :meth:`update`.
    """

    def __init__(self, spec: FigureSpec, model: ExplorerModel) -> None:
        """Lay out the panels of ``spec`` for ``model``'s scenario, with empty lines."""
        self.spec = spec
        self.model = model
        panels = spec.panels(model)
        ncols = min(spec.ncols, len(panels))
        nrows = math.ceil(len(panels) / ncols)
        colour = scenario_colours([model.scenario_name])[model.scenario_name]
        width, height = PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows + 0.75
        with mpl.rc_context(STYLE):
            fig = Figure(figsize=(width, height), dpi=DPI)
            # fixed margins in inches: a constrained layout would cost more than the drawing
            fig.subplots_adjust(left=0.45 / width, right=1 - 0.1 / width, top=1 - 0.45 / height,
                                bottom=0.6 / height, wspace=0.35, hspace=0.55)  # fmt: skip
            axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
            for ax in axes.flat[len(panels) :]:
                ax.set_visible(False)
            self.lines: list[tuple[str, Axes, Line2D, Line2D]] = []
            for ax, panel in zip(axes.flat, panels, strict=False):
                (base,) = ax.plot([], [], **BASELINE_STYLE)
                (line,) = ax.plot([], [], color=colour, lw=1.3)
                ax.set_title(panel.title)
                ax.yaxis.set_major_locator(MaxNLocator(3))
                ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
                if unit(panel.metric).endswith("0-1"):
                    ax.set_ylim(-0.02, 1.02)
                self.lines.append((panel.metric, ax, line, base))
            for ax in axes.flat[len(panels) - ncols : len(panels)]:  # each column's last
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("month")
            handles = [Line2D([], [], color=colour, lw=1.3), Line2D([], [], **BASELINE_STYLE)]
            labels = [model.scenario_name, f"market, same seed ({model.seed})"]
            fig.legend(handles, labels, loc="lower center", ncol=2, frameon=False)
            fig.suptitle(spec.title)
        self.figure = fig

    def update(self) -> Figure:
        """Put the months simulated so far into the lines; the figure, ready to save.

        The month axis grows a year at a time up to the horizon, so early months are not a
        speck at the left of a ten-year axis.
        """
        policy = self.model.policy.datacollector
        baseline = self.model.baseline.datacollector
        years = max(1, math.ceil(self.model.month / 12))
        self.lines[0][1].set_xlim(0, max(1, min(self.model.horizon - 1, 12 * years)))
        for metric, ax, line, base in self.lines:
            line.set_data(policy.steps, policy.model_vars[metric])
            if metric in baseline.model_vars:
                base.set_data(baseline.steps, baseline.model_vars[metric])
            if not unit(metric).endswith("0-1"):
                ax.relim()
                ax.autoscale_view(scalex=False)
        return self.figure


def explanation(model: ExplorerModel) -> str:
    """The explanation panel's markdown: what each figure measures, metric by metric."""
    lines = [
        "### What the plots measure",
        f"Each panel is one monthly metric of **{model.scenario_name}** (solid, in its colour) "
        f"beside the **market** baseline run with the same seed, {model.seed} (dashed grey): "
        "the same researchers, labs and random draws, without the scenario's policy. Both "
        "runs have the same GPU price and Global South budget; the public budget and price "
        "share apply to the scenario only.",
        "",
    ]
    for spec in FIGURES:
        lines.append(f"- **{spec.title}**: {spec.measures}.")
    lines += ["", "The sliders:", ""]
    prefix = institution_prefix(model.policy.config)
    for lever in LEVERS:
        whose = "the scenario's institution" if lever.public else "the scenario and the market"
        if lever.public and prefix is None:
            key, whose = lever.key.format(institution="public"), "no institution in this scenario"
        else:
            key = lever.key.format(institution=prefix)
        lines.append(f"- **{lever.label}**: {lever.meaning}; `{key}`, for {whose}.")
    lines += ["", "Metric by metric (as in the README's metrics table):", ""]
    for spec in FIGURES:
        for panel in spec.panels(model):
            info = metric_info(panel.metric)
            if info is not None:
                lines.append(f"- `{panel.metric}` ({info[0]}): {info[1]}")
    return "\n".join(lines)


def status(model: ExplorerModel) -> str:
    """The status panel's markdown: what runs, which month, and the levers in force."""
    n = model.policy.researchers.n
    lines = [
        f"**{model.scenario_name}** against **market**, month {model.month} of "
        f"{model.horizon}; seed {model.seed}, {n:,} simulated researchers in each run.",
        "",
    ]
    for lever in LEVERS:
        value = f"{model.values[lever.name]:g}"
        where = "not applied: no public institution" if lever.label in model.ignored else ""
        where = where or ("scenario only" if lever.public else "scenario and market")
        lines.append(f"- {lever.label}: **{value}** ({where})")
    lines += ["", "Move a slider or pick a scenario, then press **Reset** to start with it."]
    return "\n".join(lines)
