"""The explorer's page: Mesa's SolaraViz, the levers as sliders, the scenario against the market.

``run.py explore`` serves it with ``solara run cli.explorer.app``; the start values come from
the command (:mod:`cli.explorer.settings`). SolaraViz gives the play, step and reset buttons and
the parameter inputs; the components here draw the figures (matplotlib: Altair would need Vega
from a CDN), the status and the explanation.

Each browser session gets its own model (``Page`` builds it), so two tabs do not step each
other's run.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import markdown
import solara
from mesa.visualization import Slider, SolaraViz

from cli.explorer.figures import FIGURES, FigureSpec, LiveFigure, explanation, status
from cli.explorer.model import LEVERS, ExplorerModel, lever_defaults
from cli.explorer.settings import Settings
from simulation.config import scenario_names

SETTINGS = Settings.from_env()
PLAY_INTERVAL_MS = 50


def start_kwargs(settings: Settings) -> dict[str, Any]:
    """The model's arguments when the page opens: the inputs' start values."""
    return {
        "scenario_name": settings.scenario,
        "seed": settings.seed,
        "researchers": settings.researchers,
        "horizon": settings.steps,
        **lever_defaults(settings.scenario),
    }


def model_params(settings: Settings) -> dict[str, Any]:
    """SolaraViz's inputs: the scenario select and one slider per lever; fixed seed and sizes.

    The sliders start at the start scenario's own values (:func:`lever_defaults`).
    """
    start = start_kwargs(settings)
    params: dict[str, Any] = {
        "scenario_name": {
            "type": "Select",
            "value": settings.scenario,
            "values": scenario_names(),
            "label": "scenario",
        },
    }
    for lever in LEVERS:
        params[lever.name] = Slider(
            lever.label, start[lever.name], lever.low, lever.high, lever.step, dtype=float
        )
    return params | {k: start[k] for k in ("seed", "researchers", "horizon")}


def figure_component(spec: FigureSpec) -> Callable:
    """A SolaraViz component drawing one figure; its axes are built once per model."""

    def component(model: ExplorerModel):
        live = solara.use_memo(lambda: LiveFigure(spec, model), [model])
        # the figure is the same object each month: the month tells solara to draw it again
        return solara.FigureMatplotlib(live.update(), [model, model.month], format="png")

    component.__name__ = f"{spec.name.capitalize()}Figure"
    return component


def markdown_html(text: str):
    """Markdown as an HTML element.

    Not ``solara.Markdown``: it loads KaTeX for maths, which solara-assets does not ship, so
    the server would try a CDN for it. The text is the page's own, never user input.
    """
    return solara.HTML(unsafe_innerHTML=markdown.markdown(text), style="font-size: 14px")


def Status(model: ExplorerModel):  # noqa: N802  (a component, named like one)
    """The scenario, the month and the levers in force."""
    return markdown_html(status(model))


def Explanation(model: ExplorerModel):  # noqa: N802
    """What each plot measures (the same all run long: written once per model)."""
    return markdown_html(solara.use_memo(lambda: explanation(model), [model]))


def warm_up() -> None:
    """Load the compiled researcher rules and matplotlib's fonts before the first visitor.

    Otherwise the first Step pays for them (about half a second).
    """
    model = ExplorerModel(researchers=50, horizon=1)
    model.step()
    LiveFigure(FIGURES[0], model).update().savefig(io.BytesIO(), format="png")


warm_up()
COMPONENTS = [Status, *[figure_component(spec) for spec in FIGURES], Explanation]
PARAMS = model_params(SETTINGS)


@solara.component
def Page():  # noqa: N802  (solara serves the module's Page)
    """The page: SolaraViz around this session's model."""
    model = solara.use_memo(lambda: ExplorerModel(**start_kwargs(SETTINGS)), [])
    return SolaraViz(
        model,
        components=COMPONENTS,
        model_params=PARAMS,
        name="Open-model ecosystem explorer",
        play_interval=PLAY_INTERVAL_MS,
    )
