"""The explorer's model: the sliders reach the config, and the baseline is the market run with
the same seed (the very run ``simulation.run`` gives)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulation
from cli.explorer.model import LEVERS, ExplorerModel, lever_defaults
from simulation.config import scenario_names

SLIDERS = {"public_budget": 7.0, "price_share": 0.25, "gpu_price": 3.5, "global_south_budget": 40.0}


def test_the_sliders_reach_the_scenarios_config():
    model = ExplorerModel("public_option", seed=3, researchers=200, **SLIDERS)
    config = model.policy.config
    assert config.public.budget_usd_per_month == 7e6
    assert config.public.price_share == 0.25
    assert config.market.gpu_price_usd_per_hour == 3.5
    assert config.groups["global_south"].budget_median_usd == 40.0
    # everything else is the scenario's own
    expected = simulation.load_scenario("public_option", model.applied)
    assert config == expected
    assert model.policy.researchers.n == 200


def test_the_baseline_is_the_market_with_the_same_seed_and_the_worlds_levers():
    model = ExplorerModel("public_option", seed=3, researchers=300, **SLIDERS)
    world = {"market.gpu_price_usd_per_hour": 3.5, "groups.global_south.budget_median_usd": 40.0}
    market = simulation.load_scenario("market", world)
    assert model.baseline.config == market
    assert not model.baseline.config.spending_institutions()  # no public money in the market
    for _ in range(4):
        model.step()
    alone = simulation.run(market, seed=3, steps=4, researchers=300)
    pd.testing.assert_frame_equal(model.baseline.datacollector.frame(), alone)
    assert model.month == 4 and model.baseline.month == 4


def test_a_scenario_without_an_institution_ignores_the_public_levers():
    model = ExplorerModel("market", researchers=100, gpu_price=2.85, global_south_budget=12.7)
    assert model.ignored == [lever.label for lever in LEVERS if lever.public]
    assert not model.policy.config.spending_institutions()
    assert model.baseline is model.policy  # the same run: stepped once a month
    model.step()
    assert model.month == 1 and len(model.datacollector.steps) == 1


def test_a_named_institution_takes_the_public_levers():
    model = ExplorerModel("global_south_public_option", researchers=100, public_budget=3.0,
                          price_share=0.1)  # fmt: skip
    inst = model.policy.config.institutions["gs_government"]
    assert (inst.budget_usd_per_month, inst.price_share) == (3e6, 0.1)
    assert model.policy.config.public.budget_usd_per_month == 0


def test_the_sliders_start_at_the_scenarios_own_values():
    assert lever_defaults("public_option") == {
        "public_budget": 20.0,
        "price_share": 0.58,
        "gpu_price": 2.85,
        "global_south_budget": 12.7,
    }
    assert lever_defaults("global_south_public_option")["public_budget"] == 2.0
    assert lever_defaults("market")["public_budget"] == 20.0  # the modes', to start from


@pytest.mark.parametrize("scenario", scenario_names())
def test_with_no_levers_given_the_scenario_runs_as_configured(scenario):
    model = ExplorerModel(scenario, researchers=50, horizon=1)
    assert model.policy.config == simulation.load_scenario(scenario)
    if scenario == "global_south_public_option":  # its own 2M USD, not the modes' 20M
        assert model.policy.config.institutions["gs_government"].budget_usd_per_month == 2e6


@pytest.mark.parametrize("scenario", scenario_names())
@pytest.mark.parametrize("end", ["low", "high"])
def test_every_scenario_runs_at_either_end_of_every_slider(scenario, end):
    values = {lever.name: getattr(lever, end) for lever in LEVERS}
    model = ExplorerModel(scenario, researchers=100, horizon=2, **values)
    model.step()
    assert model.running
    model.step()
    assert not model.running  # the horizon reached: SolaraViz disables Step and Play
    frame = model.datacollector.frame()
    assert len(frame) == 2 and np.isfinite(frame["access.run.global_south"]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"price_share": 1.5}, "price_share: expected a number in 0..1"),
        ({"gpu_price": 0.0}, "gpu_price: expected a number in 0.5..8"),
        ({"public_budget": float("nan")}, "public_budget"),
        ({"seed": -1}, "seed"),
        ({"scenario_name": "markt"}, "unknown scenario 'markt'"),
    ],
)
def test_the_explorer_model_refuses_values_off_its_sliders(kwargs, message):
    with pytest.raises(simulation.UsageError, match=message):
        ExplorerModel(researchers=50, **kwargs)
