"""EcosystemModel as Mesa's tools expect a model: keyword construction, a DataCollector, an end."""

from __future__ import annotations

import multiprocessing

import mesa
import numpy as np
import pandas as pd
import pytest
from helpers import make_model

import simulation
from simulation.config import ConfigError
from simulation.errors import UsageError
from simulation.model import EcosystemModel

BATCH_MONTHS = 24


@pytest.fixture
def keep_start_method():
    """mesa.batch_run forces the "spawn" start method for the whole process: put it back."""
    before = multiprocessing.get_start_method(allow_none=True)
    yield
    multiprocessing.set_start_method(before, force=True)


@pytest.mark.usefixtures("keep_start_method")
def test_batch_run_gives_the_monthly_metrics_of_simulation_run():
    scenarios, seeds = ["market", "public_option"], [0, 1]
    results = mesa.batch_run(
        EcosystemModel,
        parameters={"scenario": scenarios, "researchers": [1000]},
        rng=seeds,
        max_steps=BATCH_MONTHS,
        number_processes=1,
        data_collection_period=1,
        display_progress=False,
    )
    table = pd.DataFrame(results)
    assert len(table) == len(scenarios) * len(seeds) * BATCH_MONTHS
    for scn in scenarios:
        for seed in seeds:
            expected = simulation.run(
                simulation.load_scenario(scn), seed=seed, steps=BATCH_MONTHS, researchers=1000
            )
            got = table[(table["scenario"] == scn) & (table["rng"] == seed)].sort_values("Step")
            # Mesa's Step is model.time at collection: month m (from 0) is collected at m + 1.
            assert got["Step"].tolist() == [float(m + 1) for m in expected["step"]]
            metrics = list(expected.columns[1:])
            assert set(metrics) <= set(got.columns)
            for name in ("access.run.global_south", "capture.private", "market.gpu_price"):
                assert name in metrics
                assert got[name].to_numpy().tolist() == expected[name].to_numpy().tolist()
            for name in metrics:  # every metric, NaN where the run has NaN
                assert np.array_equal(
                    got[name].to_numpy(dtype=float), expected[name].to_numpy(), equal_nan=True
                ), (scn, seed, name)
    # The scenarios and seeds really differ, so matching each run above means something.
    first = table[table["Step"] == BATCH_MONTHS]
    assert first["market.gpu_price"].nunique() > 1
    assert first["access.run.global_south"].nunique() > 1


def test_keyword_override_changes_the_config_and_the_model():
    default = EcosystemModel(scenario="public_option", researchers=300, rng=0)
    changed = EcosystemModel(
        scenario="public_option", researchers=300, rng=0, public__budget_usd_per_month=7e6
    )
    assert default.config.public.budget_usd_per_month == 20e6
    assert changed.config.public.budget_usd_per_month == 7e6
    assert changed.institution.budget == 7e6
    assert changed.scenario_name == "public_option"
    assert changed.config == simulation.load_scenario(
        "public_option", {"public.budget_usd_per_month": 7e6}
    )
    for _ in range(3):
        default.step()
        changed.step()
    spend = changed.datacollector.frame()["public.spend"]
    assert not spend.equals(default.datacollector.frame()["public.spend"])


def test_overrides_apply_to_a_given_config():
    config = simulation.load_scenario("market")
    model = EcosystemModel(config, rng=0, researchers=300, simulation__steps=5)
    assert model.config.simulation.steps == 5
    assert config.simulation.steps == 120  # the caller's config is left alone
    assert model.config == simulation.load_scenario("market", {"simulation.steps": 5})


def test_run_model_stops_after_the_configured_months():
    model = EcosystemModel(scenario="market", researchers=500, rng=0, simulation__steps=12)
    assert model.running
    model.run_model()
    assert not model.running
    assert model.steps == 12
    assert model.month == 12
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 12
    assert model.datacollector._collection_steps == [float(m) for m in range(1, 13)]


def test_datacollector_is_a_mesa_datacollector_with_the_run_columns():
    config = simulation.load_scenario("networked_collaboration")
    model = EcosystemModel(config, rng=4, researchers=300)
    for _ in range(5):
        model.step()
    dc = model.datacollector
    assert isinstance(dc, mesa.DataCollector)
    assert model.metrics is dc
    by_run = simulation.run(config, seed=4, steps=5, researchers=300)
    pd.testing.assert_frame_equal(dc.frame(), by_run, check_exact=True)
    pd.testing.assert_frame_equal(
        dc.get_model_vars_dataframe(), by_run.drop(columns="step"), check_exact=True
    )
    assert list(dc.model_vars) == list(by_run.columns[1:])


def test_collect_before_the_first_month_is_refused():
    model = make_model(n=200)
    with pytest.raises(ValueError, match="not stepped"):
        model.datacollector.collect(model)


def test_simulation_run_can_go_past_the_configured_months():
    short = simulation.load_scenario("market", {"simulation.steps": 4})
    longer = simulation.run(short, seed=2, steps=7, researchers=300)
    assert longer["step"].tolist() == list(range(7))
    # simulation.steps only says when running turns False; it does not change the months.
    reference = simulation.run(simulation.load_scenario("market"), seed=2, steps=7, researchers=300)
    pd.testing.assert_frame_equal(longer, reference, check_exact=True)
    model = EcosystemModel(short, rng=2, researchers=300)
    for _ in range(7):
        model.step()
    assert not model.running
    assert model.steps == 7


def test_unknown_override_key_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="budget_usd_per_mnth") as err:
        EcosystemModel(scenario="market", researchers=300, public__budget_usd_per_mnth=1.0)
    assert "\n" not in str(err.value)
    config = simulation.load_scenario("market")
    with pytest.raises(ConfigError, match="no_such_key"):
        EcosystemModel(config, researchers=300, no_such_key=1)


def test_invalid_override_value_is_a_config_error():
    with pytest.raises(ConfigError, match=r"public\.budget_usd_per_month"):
        EcosystemModel(scenario="market", researchers=300, public__budget_usd_per_month=-1.0)
    with pytest.raises(ConfigError, match=r"simulation\.steps"):
        EcosystemModel(simulation.load_scenario("market"), simulation__steps=0)


@pytest.mark.parametrize("config", [{}, {"simulation": {"steps": 12}}, "market"])
def test_a_config_that_is_not_a_config_is_refused(config):
    with pytest.raises(ConfigError, match="Config") as err:
        EcosystemModel(config, rng=0, researchers=300)
    assert "\n" not in str(err.value)


def test_config_and_scenario_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        EcosystemModel(simulation.load_scenario("market"), scenario="market")


@pytest.mark.parametrize("n", [0, -5, 2.5, True, 10**12])
def test_researchers_must_be_a_whole_number_in_range(n):
    with pytest.raises(UsageError, match="researchers: expected a whole number 1..1,000,000"):
        EcosystemModel(scenario="market", researchers=n)


def test_unknown_scenario_is_refused():
    with pytest.raises(ConfigError, match="unknown scenario"):
        EcosystemModel(scenario="no_such_scenario")


def test_the_positional_form_still_works():
    config = simulation.load_scenario("state_backed_integration")
    old = EcosystemModel(config, 6, 300)
    keyword = EcosystemModel(scenario="state_backed_integration", rng=6, researchers=300)
    assert old.config is config
    assert old.scenario_name is None
    assert isinstance(old.scenario, mesa.experimental.scenarios.Scenario)  # Mesa's, untouched
    for _ in range(4):
        old.step()
        keyword.step()
    by_run = simulation.run(config, seed=6, steps=4, researchers=300)
    pd.testing.assert_frame_equal(old.metrics.frame(), by_run, check_exact=True)
    pd.testing.assert_frame_equal(keyword.datacollector.frame(), by_run, check_exact=True)


def test_without_config_or_scenario_the_market_is_used():
    model = EcosystemModel(researchers=300, rng=0)
    assert model.scenario_name == "market"
    assert model.config == simulation.load_scenario("market")
