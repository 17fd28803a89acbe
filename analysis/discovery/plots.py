"""Discovery's figures: a box's coverage-density trade-off, and which scenario wins where.

Each draws on a Matplotlib axis it is given, so the page and a notebook draw the same figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from analysis.discovery import DENSITY_TARGET
from analysis.discovery.boxes import Box
from analysis.results.plots import scenario_colours


def plot_tradeoff(box: Box, ax: Axes, density_target: float = DENSITY_TARGET) -> None:
    """Coverage against density along the peeling trajectory; the chosen box ringed.

    Colour is the number of restricted parameters; the dashed line is the density target.
    """
    t = box.trajectory
    most = max(1, int(t["res_dim"].max()))
    points = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=18,
                        vmin=0, vmax=most, zorder=2)  # fmt: skip
    ax.plot(t["coverage"], t["density"], color="0.8", lw=0.8, zorder=1)
    ax.axhline(density_target, color="0.5", ls="--", lw=0.8)
    chosen = t[t["id"] == box.chosen]
    ax.scatter(chosen["coverage"], chosen["density"], s=120, facecolors="none",
               edgecolors="tab:red", linewidths=1.6, zorder=3,
               label=f"chosen: box {box.chosen}")  # fmt: skip
    ax.set_xlabel("coverage (cases in box / all cases)")
    ax.set_ylabel("density (cases in box / futures in box)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{box.question.name}: {box.question.definition}")
    ax.legend(loc="lower left")
    ax.figure.colorbar(points, ax=ax, label="restricted parameters", ticks=range(most + 1))


def plot_winners(
    table: pd.DataFrame,
    x: str,
    y: str,
    scenarios: Sequence[str],
    ax: Axes,
    boxes: Sequence[Box] = (),
) -> None:
    """The sampled futures on two parameters, coloured by the best scenario; boxes outlined.

    Args:
        table: The regret table (its ``best`` column and the two parameters).
        x: The parameter on the x axis.
        y: The parameter (or any regret-table column) on the y axis.
        scenarios: The scenarios (for the legend order and colours).
        ax: Where to draw.
        boxes: Boxes whose limits on ``x`` and ``y`` are drawn as rectangles.
    """
    colours = scenario_colours(list(scenarios))
    for s in scenarios:
        mine = table[table["best"] == s]
        ax.scatter(mine[x], mine[y], s=20, color=colours[s], label=f"{s} best ({len(mine)})")
    for box, style in zip(boxes, ("--", ":", "-."), strict=False):
        lims = box.limits.set_index("parameter")
        if box.chosen is None or not {x, y} <= set(lims.index):
            continue
        x0, x1 = lims.at[x, "low"], lims.at[x, "high"]
        y0, y1 = lims.at[y, "low"], lims.at[y, "high"]
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="tab:red", lw=1.4,
                                   ls=style, label=f"{box.question.name} box"))  # fmt: skip
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(loc="best", fontsize=7)


def winner_axes(params: Sequence[str], boxes: Sequence[Box], fallback: str) -> tuple[str, str]:
    """The two columns to plot the futures on: the boxes' restricted parameters first.

    With a single parameter, ``fallback`` (e.g. the policy's outcome) is the y axis.
    """
    ranked: list[str] = []
    for box in boxes:
        ranked += [p for p in box.restricted()["parameter"] if p not in ranked]
    ranked += [p for p in params if p not in ranked]
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else (ranked[0], fallback)
