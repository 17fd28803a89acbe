"""The SolaraViz page's inputs fit the explorer's model, as SolaraViz checks them."""

from __future__ import annotations

import pytest

pytest.importorskip("solara", reason="the explorer page needs the viz extra (solara)")

from mesa.visualization import Slider  # noqa: E402
from mesa.visualization.solara_viz import _check_model_params  # noqa: E402

from cli.explorer import app  # noqa: E402
from cli.explorer.model import LEVERS, ExplorerModel  # noqa: E402
from cli.explorer.settings import Settings  # noqa: E402


def test_the_page_offers_every_scenario_and_a_slider_per_lever():
    params = app.model_params(Settings(scenario="global_south_public_option", seed=4))
    assert params["scenario_name"]["value"] == "global_south_public_option"
    assert "market" in params["scenario_name"]["values"]
    for lever in LEVERS:
        slider = params[lever.name]
        assert isinstance(slider, Slider) and slider.is_float_slider
        assert (slider.min, slider.max, slider.label) == (lever.low, lever.high, lever.label)
    assert params["public_budget"].value == 2.0  # the scenario's own budget, M USD
    assert params["seed"] == 4
    _check_model_params(ExplorerModel.__init__, params)  # what SolaraViz checks on reset


def test_the_page_starts_with_the_commands_settings(monkeypatch):
    settings = Settings(scenario="market", seed=9, researchers=123, steps=7)
    monkeypatch.setenv(*next(iter(settings.to_env().items())))
    assert Settings.from_env() == settings
    model = ExplorerModel(**app.start_kwargs(settings))
    assert (model.scenario_name, model.seed, model.horizon) == ("market", 9, 7)
    assert model.policy.researchers.n == 123
