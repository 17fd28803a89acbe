"""The explorer's figures draw the scenario's and the baseline's data, month by month."""

from __future__ import annotations

import io

import numpy as np
import pytest

from cli.explorer.figures import BASELINE_STYLE, FIGURES, LiveFigure, explanation, status
from cli.explorer.model import ExplorerModel
from simulation.metrics import metric_info


@pytest.fixture(scope="module")
def model():
    m = ExplorerModel("public_option", seed=1, researchers=300, horizon=60)
    for _ in range(5):
        m.step()
    return m


@pytest.mark.parametrize("spec", FIGURES, ids=lambda s: s.name)
def test_each_panel_draws_the_scenario_beside_the_market(spec, model):
    live = LiveFigure(spec, model)
    live.update()
    assert len(live.lines) == len(spec.panels(model)) >= 5
    for metric, _, line, base in live.lines:
        assert metric_info(metric) is not None  # a real metric name
        np.testing.assert_array_equal(line.get_ydata(), model.datacollector.model_vars[metric])
        np.testing.assert_array_equal(
            base.get_ydata(), model.baseline.datacollector.model_vars[metric]
        )
        assert base.get_linestyle() == BASELINE_STYLE["ls"] and base.get_color() == "0.5"
    buffer = io.BytesIO()
    live.figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_a_live_figure_follows_its_model():
    m = ExplorerModel("market", researchers=100, horizon=30)
    live = LiveFigure(FIGURES[0], m)
    live.update()
    assert len(live.lines[0][2].get_xdata()) == 0
    m.step()
    m.step()
    live.update()
    assert list(live.lines[0][2].get_xdata()) == [0, 1]
    assert live.lines[0][1].get_xlim() == (0, 12)  # a year at a time, up to the horizon


def test_the_panels_explain_every_metric_and_lever(model):
    text = explanation(model)
    for spec in FIGURES:
        assert spec.title in text
        for panel in spec.panels(model):
            assert f"`{panel.metric}`" in text
    assert "{institution}" not in text  # the lever's key is the scenario's own
    assert "`public.price_share`, for the scenario's institution" in text
    assert "`market.gpu_price_usd_per_hour`" in text
    assert "month 5 of 60" in status(model)


def test_the_explanation_names_a_named_institution_and_its_absence():
    named = explanation(ExplorerModel("global_south_public_option", researchers=50))
    assert "`institutions.gs_government.price_share`" in named
    market = explanation(ExplorerModel("market", researchers=50))
    assert "`public.budget_usd_per_month`, for no institution in this scenario" in market


def test_the_status_says_which_levers_do_not_apply():
    m = ExplorerModel("market", researchers=50)
    text = status(m)
    assert "public budget (M USD/month): **20** (not applied: no public institution)" in text
    assert "GPU price (USD/hour): **2.85** (scenario and market)" in text
