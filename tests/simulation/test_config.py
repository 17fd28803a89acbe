"""Scenario configs: typed, validated, and every rejection names the file, the key and what
was expected (DESIGN.md "Contracts": Scenarios are files)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import simulation
from simulation.config import (
    SCENARIO_DIR,
    Config,
    ConfigError,
    _raw_tree,
    load_scenario,
    to_dict,
    validate,
)


@pytest.mark.parametrize("name", simulation.scenario_names())
def test_every_scenario_validates_and_round_trips(name):
    config = load_scenario(name)
    assert isinstance(config, Config)
    again = validate(to_dict(config), source="round trip")
    assert again == config


def test_a_scenario_extends_base_and_overrides_only_what_it_names():
    base, public = load_scenario("base"), load_scenario("public_option")
    assert public.extends == "base"
    assert public.labs["public"].count == 1 and base.labs["public"].count == 0
    # a key the scenario does not mention keeps the base value, within an overridden table
    assert public.labs["public"].distilled_params_b == base.labs["public"].distilled_params_b
    assert public.public.stage_split == base.public.stage_split


def test_a_scenario_can_be_loaded_by_path(scenario_file):
    path = scenario_file('extends = "base"\n[public]\nlicence_irrevocable = true\n')
    config = load_scenario(path)
    assert config.regulation.irrevocable_licences  # the old key sets the new one
    assert load_scenario(str(path)) == config


def test_overrides_set_nested_keys_and_table_entries():
    config = load_scenario(
        "market",
        {
            "market.gpu_price_usd_per_hour": 1.5,
            "labs.academic.count": 2,
            "groups.global_south.budget_median_usd": 10,
            "events": [{"month": 3, "type": "price_shock", "factor": 2.0}],
        },
    )
    assert config.market.gpu_price_usd_per_hour == 1.5
    assert config.labs["academic"].count == 2
    assert config.groups["global_south"].budget_median_usd == 10.0
    assert config.events[0].type == "price_shock"
    assert load_scenario("market") != config  # the base stays untouched


# ---------------------------------------------------------------------------------------------
# Rejections: one line, with the file (or --set), the key and what was expected


def _reject(call, *expected):
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, (part, message)
    return message


def test_unknown_scenario_name_lists_the_known_ones():
    msg = _reject(lambda: load_scenario("marke"), "'marke'", "did you mean 'market'")
    for name in simulation.scenario_names():
        assert name in msg


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    _reject(lambda: load_scenario(path), str(path), "not found")


def test_toml_syntax_error(scenario_file):
    path = scenario_file('extends = "base"\n[public\nbudget_usd_per_month = 1\n')
    _reject(lambda: load_scenario(path), str(path), "TOML syntax error", "line 2")


@pytest.mark.parametrize(
    "text, key, suggestion",
    [
        (
            "[public]\nbudget_usd_per_mnth = 1\n",
            "public.budget_usd_per_mnth",
            "budget_usd_per_month",
        ),
        ("[markt]\ngpu_price_usd_per_hour = 1\n", "markt", "market"),
        ("[labs.academic]\ncoutn = 2\n", "labs.academic.coutn", "count"),
        ("[groups.global_south]\nbudget_median = 2\n", "budget_median", "budget_median_usd"),
    ],
)
def test_unknown_key_in_a_file_suggests_the_right_one(scenario_file, text, key, suggestion):
    path = scenario_file('extends = "base"\n' + text)
    _reject(lambda: load_scenario(path), str(path), key, f"did you mean {suggestion!r}")


@pytest.mark.parametrize(
    "text, key",
    [
        (
            '[groups.well_funded]\nbudget_median_usd = "lots"\n',
            "groups.well_funded.budget_median_usd",
        ),
        ('[simulation]\nsteps = "many"\n', "simulation.steps"),
        ("[licences.open]\nfinetune = [1]\n", "licences.open.finetune"),
        ('[public]\nmode = "public-option"\n', "public.mode"),
        ("[labs.academic]\ndistilled_params_b = 7\n", "labs.academic.distilled_params_b"),
        ("description = 5\n", "description"),
    ],
)
def test_wrong_type_in_a_file(scenario_file, text, key):
    path = scenario_file('extends = "base"\n' + text)
    _reject(lambda: load_scenario(path), str(path), repr(key))


@pytest.mark.parametrize(
    "text",
    [
        '[groups.well_funded]\nbudget_median_usd = "1500"\n',
        "[groups.well_funded]\nbudget_median_usd = true\n",
        '[licences.open]\nfinetune = "yes"\n',
        "[licences.open]\nfinetune = 1\n",
        '[simulation]\nsteps = "12"\n',
    ],
)
def test_wrong_type_that_pydantic_would_coerce_is_rejected(scenario_file, text):
    path = scenario_file('extends = "base"\n' + text)
    _reject(lambda: load_scenario(path), str(path))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[public]\nbudget_usd_per_month = -1\n", "public.budget_usd_per_month"),
        ("[groups.well_funded]\nshare = 0.7\n", "groups.*.share must sum to 1"),
        ("[public.stage_split]\ndata = 0.5\n", "stage_split"),
        ("[market]\ntarget_utilisation = 1.5\n", "market.target_utilisation"),
        ("[simulation]\nresearchers = 0\n", "simulation.researchers"),
        ("[labs.academic]\ninitial_release_months = [1]\n", "labs.academic.initial_release_months"),
        ('[labs.academic]\nlicence = "closed"\n', "weights = false"),
        ('[public]\neligible_groups = ["global_sout"]\n', "public.eligible_groups"),
        ('[[events]]\nmonth = 2\ntype = "licence_revocation"\n', "events[0].lab_kind"),
        ('[[events]]\nmonth = 2\ntype = "price_shock"\nfactor = 0\n', "events.0.factor"),
        (
            '[public]\nbudget_usd_per_month = 1e6\ncompute_channel = "public_hoster"\n',
            "needs a public hoster",
        ),
        (
            "[labs.frontier_closed]\ncount = 0\n[labs.commercial_open]\ncount = 0\n"
            "[labs.nonprofit]\ncount = 0\n[labs.academic]\ncount = 0\n",
            "at least one lab",
        ),
    ],
)
def test_out_of_range_or_inconsistent_values_in_a_file(scenario_file, text, expected):
    path = scenario_file('extends = "base"\n' + text)
    _reject(lambda: load_scenario(path), str(path), expected)


def test_price_factor_bounds_must_be_ordered(scenario_file):
    path = scenario_file('extends = "base"\n[market]\nprice_factor_bounds = [3.0, 0.5]\n')
    _reject(lambda: load_scenario(path), str(path), "market.price_factor_bounds")


def test_names_that_would_break_dotted_metric_names_are_rejected():
    tree = _raw_tree(SCENARIO_DIR / "market.toml")
    tree["groups"]["rich.north"] = tree["groups"].pop("well_funded")
    with pytest.raises(ConfigError):
        validate(tree, source="test")


def test_extends_cycle_and_missing_parent(scenario_file):
    a = scenario_file('extends = "b"\n', "a.toml")
    scenario_file('extends = "a"\n', "b.toml")
    _reject(lambda: load_scenario(a), "cycle")
    orphan = scenario_file('extends = "nobase"\n', "orphan.toml")
    _reject(lambda: load_scenario(orphan), str(orphan), "extends", "nobase")


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("public.budgt_usd_per_month", 1, ["public.budgt_usd_per_month", "budget_usd_per_month"]),
        ("nosuch.key", 1, ["nosuch", "top level"]),
        ("labs.acadmic.count", 1, ["acadmic", "did you mean 'academic'"]),
        ("public.budget_usd_per_month", "abc", ["--set", "public.budget_usd_per_month"]),
        ("public.budget_usd_per_month", -5, ["public.budget_usd_per_month", "greater than"]),
        ("simulation.steps", 1.5, ["simulation.steps"]),
    ],
)
def test_bad_overrides_name_the_key(key, value, expected):
    _reject(lambda: load_scenario("market", {key: value}), *expected)


SHARES = [
    "market.target_utilisation",
    "market.gpu_cost_decline_per_year",
    "contributions.run_probability",
    "adoption.review_probability",
    "public.capture_risk",
    "groups.global_south.hardware_none_share",
]


BELOW_ONE = {"market.gpu_cost_decline_per_year"}  # a share of 1 would make GPUs free


@settings(max_examples=30, deadline=None)
@given(key=st.sampled_from(SHARES), value=st.floats(0.0, 1.0))
def test_any_share_in_range_is_accepted(key, value):
    assume(not (key in BELOW_ONE and value == 1.0))
    config = load_scenario("market", {key: value})
    node = config
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    assert node == value


@settings(max_examples=30, deadline=None)
@given(
    key=st.sampled_from(SHARES),
    value=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.000001)).filter(
        lambda v: v == v
    ),
)
def test_any_share_out_of_range_is_rejected_with_its_key(key, value):
    _reject(lambda: load_scenario("market", {key: value}), key)


@pytest.mark.parametrize("key", sorted(BELOW_ONE))
def test_a_share_that_must_stay_below_one_rejects_one(key):
    _reject(lambda: load_scenario("market", {key: 1.0}), key)
