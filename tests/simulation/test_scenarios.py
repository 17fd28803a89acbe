"""The scenario files: every one loads and runs and reports the documented metrics; the modes
compare fairly; a public mode without money is the market; the Python API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import GOVERNANCE, SIX, make_model

import simulation
from simulation.config import SCENARIO_DIR, _raw_tree, validate


def expected_columns(config) -> list[str]:
    """The metric names DESIGN.md "What it reports" promises, built from the scenario's names."""
    groups, kinds = list(config.groups), list(config.labs)
    cols = ["step"]
    cols += [f"access.{t}.{g}" for t in ("run", "finetune", "deploy") for g in groups]
    cols += ["capability.frontier", "capability.best_open"]
    cols += [f"capability.reached.{g}" for g in groups]
    cols += [f"capture.{k}" for k in kinds] + ["capture.private"]
    cols += [f"downloads.{k}" for k in kinds]
    cols += [
        "market.gpu_price",
        "market.hosting_hhi",
        "stranded.deployments",
        "public.spend",
        "public.utilisation",
    ]
    return cols


def test_the_scenario_directory_holds_the_six_scenarios_and_base():
    assert {*SIX, "base"} <= set(simulation.scenario_names())
    for name in simulation.scenario_names():
        assert (SCENARIO_DIR / f"{name}.toml").is_file()


@pytest.mark.parametrize("name", simulation.scenario_names())
def test_every_scenario_loads_and_runs_with_the_documented_metrics(name):
    config = simulation.load_scenario(name)
    assert config.description
    df = simulation.run(config, seed=0, steps=3, researchers=300)
    assert df.columns[0] == "step"
    missing = set(expected_columns(config)) - set(df.columns)
    assert not missing
    assert len(df) == 3
    assert df["step"].tolist() == [0, 1, 2]
    assert df["step"].dtype == np.int64
    numeric = df.drop(columns="step")
    assert all(pd.api.types.is_float_dtype(t) for t in numeric.dtypes)
    # columns that are always defined
    for col in ("capability.frontier", "market.gpu_price", "public.spend", "stranded.deployments"):
        assert df[col].notna().all(), col
    assert np.isfinite(df["capability.frontier"]).all()


def test_every_metric_name_splits_into_family_and_name():
    config = simulation.load_scenario("public_option")
    df = simulation.run(config, seed=0, steps=1, researchers=100)
    groups, kinds = set(config.groups), set(config.labs)
    for col in df.columns.drop("step"):
        parts = col.split(".")
        assert len(parts) >= 2 and all(parts), col
        family = parts[0]
        if family == "access" and parts[2] == "language":
            assert len(parts) == 4 and parts[3] in config.languages, col
        elif family == "access":
            assert len(parts) == 3 and parts[1] in {"run", "finetune", "deploy"}, col
            assert parts[2] in groups, col
        if family == "capture":
            assert len(parts) == 2 and parts[1] in kinds | {"private"}, col
        if family == "capability" and parts[1] == "reached":
            assert len(parts) == 3 and parts[2] in groups, col


def test_group_and_kind_names_come_from_the_scenario():
    """Renaming groups and lab kinds in a scenario renames the columns; nothing is hard-coded."""
    tree = _raw_tree(SCENARIO_DIR / "market.toml")
    g, labs = tree["groups"], tree["labs"]
    tree["groups"] = {
        "north": g["well_funded"],
        "south": {**g["global_south"], "share": 0.25},
        "east": {**g["global_south"], "share": 0.25, "budget_median_usd": 5.0},
    }
    tree["labs"] = {
        "bigco": labs["frontier_closed"],
        "llamaco": labs["commercial_open"],
        "uni": labs["academic"],
    }
    config = validate(tree, source="renamed")
    model = simulation.EcosystemModel(config, rng=1, researchers=300)
    model.step()
    model.step()
    df = model.metrics.frame()
    assert set(expected_columns(config)) <= set(df.columns)
    assert "access.run.east" in df.columns and "downloads.llamaco" in df.columns
    for old in ("well_funded", "global_south", "nonprofit", "frontier_closed", "commercial_open"):
        assert not any(old in c for c in df.columns), old
    assert df[["capture.bigco", "capture.llamaco", "capture.uni"]].sum(axis=1).round(9).eq(1).all()


def test_governance_modes_have_the_same_public_budget_and_their_own_mode():
    """The four modes compare fairly: same money by default; the baselines spend nothing."""
    budgets = set()
    for name in GOVERNANCE:
        config = simulation.load_scenario(name)
        assert config.public.mode == name
        assert config.public.budget_usd_per_month > 0
        budgets.add(config.public.budget_usd_per_month)
    assert len(budgets) == 1
    for name in ("market", "regulation_only"):
        config = simulation.load_scenario(name)
        assert config.public.mode == "none"
        assert config.public.budget_usd_per_month == 0
    assert simulation.load_scenario("regulation_only").regulation.irrevocable_licences
    assert not simulation.load_scenario("market").regulation.irrevocable_licences


def test_scenarios_share_the_base_world():
    """A scenario overrides only [public] and whether a public lab or hoster exists."""
    base = simulation.load_scenario("base").model_dump()
    for name in SIX:
        config = simulation.load_scenario(name).model_dump()
        for section in ("simulation", "market", "capability", "tasks", "licences", "groups"):
            assert config[section] == base[section], (name, section)
        for kind, spec in config["labs"].items():
            differs = {k for k in spec if spec[k] != base["labs"][kind][k]}
            assert differs <= {"count"}, (name, kind, differs)


@pytest.mark.parametrize("scenario", GOVERNANCE)
def test_a_public_mode_without_money_is_the_market(scenario):
    """With public.budget_usd_per_month = 0 every mode reproduces the market, bit for bit:
    no institution acts, a public hoster has no capacity and a public lab no model."""
    months, n, seed = 12, 400, 21
    market = simulation.run(
        simulation.load_scenario("market"), seed=seed, steps=months, researchers=n
    )
    config = simulation.load_scenario(scenario, {"public.budget_usd_per_month": 0.0})
    model = simulation.EcosystemModel(config, rng=seed, researchers=n)
    for _ in range(months):
        model.step()
        assert model.institution is None
        if model.public_hoster is not None:
            assert model.public_hoster.capacity == 0 and model.public_hoster.used == 0
        for lab in model.labs:
            if lab.kind == "public":
                assert not lab.release_ids and lab.budget == 0
    df = model.metrics.frame()
    pd.testing.assert_frame_equal(df, market, check_exact=True)


@pytest.mark.parametrize("scenario", GOVERNANCE)
def test_public_money_changes_something(scenario):
    """The converse: with its budget each mode departs from the market (it is not inert)."""
    market = simulation.run(simulation.load_scenario("market"), seed=4, steps=6, researchers=400)
    df = simulation.run(simulation.load_scenario(scenario), seed=4, steps=6, researchers=400)
    assert (df["public.spend"] > 0).all()
    access = [c for c in df.columns if c.startswith("access.")]
    assert not df[access].equals(market[access])


def test_public_option_trains_a_public_open_model():
    m = make_model("public_option", n=300)
    public_lab = next(lab for lab in m.labs if lab.kind == "public")
    for _ in range(14):
        m.step()
    rel = m.releases.arrays()
    mine = rel["lab"] == public_lab.index
    assert mine.any()
    assert (rel["licence"][mine] == 0).all() and rel["weights"][mine].all()
    # it trains for the under-served languages: their fit is the trained fit, or more once
    # language data reaches the commons
    trained = [m.language_names.index(x) for x in public_lab.spec.trained_languages]
    assert trained and (rel["language_fit"][mine][:, trained] >= 0.9).all()
    assert (rel["language_fit"][mine][:, 0] == 1.0).all()  # high-resource: served by all


# ---------------------------------------------------------------------------------------------
# The Python API


def test_python_api_returns_one_row_per_month():
    config = simulation.load_scenario("market", {"simulation.steps": 4})
    df = simulation.run(config, seed=3, researchers=200)
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 4 and df["step"].tolist() == [0, 1, 2, 3]
    df = simulation.run(config, seed=3, steps=7, researchers=200)
    assert len(df) == 7


def test_python_api_overrides_are_applied_and_validated():
    config = simulation.load_scenario(
        "public_option", {"public.budget_usd_per_month": 1e6, "groups.global_south.share": 0.5}
    )
    assert config.public.budget_usd_per_month == 1e6
    df = simulation.run(config, seed=0, steps=2, researchers=200)
    assert (df["public.budget"] == 1e6).all() and (df["public.spend"] > 0).all()
    assert df["public.spend"].iloc[0] <= 1e6  # nothing carried into the first month
    with pytest.raises(simulation.ConfigError):
        simulation.load_scenario("market", {"public.budget_usd_per_month": -1})
