"""Institutions: one lever set in every mode, money that is spent, failure modes, several of them.

Each test builds a small model from a real scenario, sets a lever and checks what it must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, labs_of, make_model

import simulation
from simulation import kernels
from simulation.releases import OPEN

MODES = [
    "outsourced_provision",
    "networked_collaboration",
    "state_backed_integration",
    "public_option",
]


def frame(scenario: str, overrides: dict | None = None, months: int = 12, n: int = 400):
    return advance(make_model(scenario, overrides, n=n), months).metrics.frame()


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_spends_its_budget(mode):
    df = frame(mode, months=24)
    assert df["public.spend"].sum() >= 0.97 * df["public.budget"].sum()
    assert (df["public.budget"] == 20e6).all() and (df["public.diverted"] == 0).all()


@pytest.mark.parametrize("mode", MODES)
def test_the_price_share_is_live_in_every_mode(mode):
    """What researchers pay at the point of use changes who gets access, in every mode.

    Which way it moves depends on the horizon: free use crowds a rationed supply with large
    tasks at first; ../shared/checks (issue 11) test the direction over the last two years.
    """
    cols = [f"access.{t}.{g}" for t in ("run", "finetune", "deploy") for g in ("well_funded",)]
    cols += [c.replace("well_funded", "global_south") for c in cols]

    def access(share: float) -> np.ndarray:
        df = frame(mode, {"public.price_share": share}, months=24, n=800)
        return df[cols].iloc[-12:].mean().to_numpy()

    assert np.abs(access(0.0) - access(1.0)).sum() > 0.02


@pytest.mark.parametrize("share", [0.0, 0.58, 1.0])
def test_a_public_hoster_charges_the_price_share_of_its_cost(share):
    m = make_model("public_option", {"public.price_share": share}, n=400)
    for _ in range(3):
        m.step()
        pub = m.public_hoster
        at_cost = m.gpu_cost * pub.used  # plus the share of any migration surcharge
        assert share * at_cost * (1 - 1e-9) <= pub.revenue <= share * at_cost * 1.05 + 1e-6


def test_fees_at_a_public_hoster_come_back_as_money_to_use_again():
    free = advance(make_model("public_option", {"public.price_share": 0.0}, n=400), 3)
    paid = advance(make_model("public_option", {"public.price_share": 1.0}, n=400), 3)
    assert free.public_hoster.revenue == 0 and paid.public_hoster.revenue > 0
    df = paid.metrics.frame()
    assert (df["public.carried_over"] > 0).all()  # fees are rechannelled next month
    assert df["public.spend"].sum() >= 0.97 * df["public.budget"].iloc[:-1].sum()


def test_a_quota_caps_the_subsidised_hours_of_each_researcher():
    over = {"public.price_share": 0.0, "public.rationing": "lottery"}
    m = advance(make_model("public_option", {**over, "public.quota_gpu_hours_per_month": 5}), 2)
    capped = m.public_hoster.used
    m = advance(make_model("public_option", over), 2)
    assert capped < m.public_hoster.used
    # a quota of 5 GPU-hours per real researcher bounds the pool used
    members = (m.researchers.program == 0).sum() * m.researchers.weight
    assert capped <= 5 * members * (1 + 1e-9)


def test_equal_shares_split_the_supply_with_the_reserved_group_first():
    m = advance(make_model("outsourced_provision", n=600), 1)
    r, inst = m.researchers, m.institution
    members = r.eligible
    credit = r._equal_shares(1e6, members, inst)
    reserved, rest = members & r.reserved, members & ~r.reserved
    assert credit[members].sum() * r.weight == pytest.approx(1e6)  # the whole pool, no more
    assert credit[reserved].sum() * r.weight == pytest.approx(
        0.5e6 + 0.5e6 * reserved.sum() / members.sum()
    )
    assert credit[reserved].min() > credit[rest].max()  # the reserved group gets more each
    assert np.ptp(credit[rest]) == pytest.approx(0.0)


def _served_sets(rationing: str) -> list[set[int]]:
    over = {
        "public.rationing": rationing,
        "public.price_share": 0.0,
        "public.budget_usd_per_month": 1e6,  # scarce: most requests are turned away
        "public.reserved_share": 0.0,
        "public.approval_months": 2.0,
    }
    m = make_model("public_option", over, n=600)
    sets = []
    for _ in range(6):
        m.researchers.budget[:] = 0.0  # only the free public hoster can serve anyone
        m.researchers.hardware_gb[:] = 0.0
        m.step()
        sets.append(set(np.flatnonzero(m.researchers.outcome.ran)))
    return sets


def test_a_queue_serves_in_order_of_approval_and_a_lottery_draws_anew():
    queue, lottery = _served_sets("queue"), _served_sets("lottery")

    def turnover(sets):
        pairs = [(a, b) for a, b in zip(sets[2:], sets[3:], strict=False) if a and b]
        return np.mean([len(a ^ b) / len(a | b) for a, b in pairs])

    assert turnover(queue) < turnover(lottery)


@pytest.mark.parametrize("listing", ["open_licence", "public_lab"])
def test_the_listing_lever_decides_what_a_public_hoster_serves(listing):
    m = advance(make_model("public_option", {"public.listing": listing}, n=300), 14)
    rel = m.releases.arrays()
    listed_now = m.public_hoster.listed  # this month's listing: releases up to its start
    on = kernels.deployed_on(m.public_hoster.position, m.researchers.deployments(), len(rel["lab"]))
    deployed = on[: listed_now.size]
    listed = np.flatnonzero(listed_now & ~deployed)
    if listing == "open_licence":
        assert (rel["licence"][listed] == OPEN).all()
    else:
        public = {lab.index for lab in labs_of(m, "public")}
        assert set(rel["lab"][listed]) <= public


def test_usage_data_goes_where_data_to_says():
    def data(to: str):
        m = advance(make_model("networked_collaboration", {"public.data_to": to}, n=300), 3)
        return [lab.data_gpu_hours for lab in m.institution.funded], m.public_hoster.used

    members, used = data("members")
    split, _ = data("funded_labs")
    provider, _ = data("provider")
    assert min(members) > 0 and sum(split) < sum(members)  # a club good vs split
    assert data("commons")[0] == [0.0] * len(members)  # all to the commons
    # with provider the public hoster keeps its usage data (a silo); datasets go to the labs
    assert 0 < sum(provider) < sum(split)


def test_unspent_money_is_rechannelled_carried_over_or_returned():
    def spent(rule: str) -> float:  # at cost, credit is worth nothing: it is all left unused
        over = {"public.unspent": rule, "public.price_share": 1.0}
        df = frame("state_backed_integration", over, months=8)
        left = df["public.carried_over"].iloc[-1]  # the last month's, not yet put to use
        return (df["public.spend"].sum() + left) / df["public.budget"].sum()

    assert spent("lapse") < 0.9 and spent("rechannel") == pytest.approx(1.0, abs=1e-6)
    assert spent("carry_over") == pytest.approx(1.0, abs=1e-6)


def test_capture_diverts_rent_lifts_conditions_and_favours_insiders():
    over = {"public.capture_risk": 1.0, "public.capture_rent_share": 0.3}
    m = advance(make_model("public_option", over, n=400), 4)
    inst, r = m.institution, m.researchers
    df = m.metrics.frame()
    assert np.allclose(df["public.diverted"], 0.3 * 20e6)
    assert inst.captured and inst.data_to == "funded_labs" and inst.reserved_share == 0.0
    assert r.eligible.any() and (r.group[r.eligible] == r.group_names.index("well_funded")).all()
    left = df["public.carried_over"].iloc[-1]  # rent counts as spent; fees are used next month
    assert df["public.spend"].sum() + left == pytest.approx(df["public.budget"].sum())


def test_a_funding_lapse_stops_the_appropriation_for_its_months():
    over = {"public.lapse_probability": 0.3, "public.lapse_months": 3}
    df = frame("networked_collaboration", over, months=40, n=200)
    off = (df["public.budget"] == 0).to_numpy()
    assert off.any() and not off.all()
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, off.astype(int), 0])))[::2]
    assert (runs % 3 == 0).all()  # interruptions last lapse_months (back to back: multiples)


def test_approval_takes_time_with_administrative_friction():
    quick = advance(make_model("outsourced_provision", {"public.approval_months": 0}, n=2000), 1)
    quick = quick.researchers
    slow = advance(make_model("outsourced_provision", {"public.approval_months": 5}, n=2000), 1)
    members = slow.researchers.program >= 0
    assert quick.eligible[quick.program >= 0].all()
    assert slow.researchers.eligible[members].mean() == pytest.approx(1 / 6, abs=0.03)


def test_public_capacity_comes_into_service_after_the_build_out():
    m = make_model("public_option", {"public.buildout_months": 2}, n=200)
    capacity = []
    for _ in range(4):
        m.step()
        capacity.append(m.public_hoster.capacity)
    assert capacity[:2] == [0.0, 0.0] and capacity[2] > 0  # month 0's purchase, in month 2
    df = m.metrics.frame()  # paid when bought: nothing is left over but the fees recovered
    assert df["public.spend"].iloc[:2].sum() > 0.99 * 2 * 20e6


def test_a_global_south_government_runs_its_own_public_option():
    m = advance(make_model("global_south_public_option", n=600), 4)
    r = m.researchers
    gs = r.group == r.group_names.index("global_south")
    assert ((r.program >= 0) == gs).all()
    hoster = m.public_hoster
    assert hoster.name == "gs_public" and hoster.institution.name == "gs_government"
    assert hoster.serves.tolist() == [False, True] and hoster.used > 0
    df = m.metrics.frame()
    for money in ("budget", "spend", "diverted", "carried_over"):
        assert (df[f"public.{money}"] == df[f"public.{money}.gs_government"]).all()
    assert (df["public.budget"] == 2e6).all()


def test_two_institutions_report_apart_and_in_total():
    over = {
        "institutions.gs_government.budget_usd_per_month": 1e6,
        "public.budget_usd_per_month": 5e6,
        "public.mode": "outsourced_provision",
        "public.compute_channel": "credits",
        "public.eligible_groups": ["well_funded"],
    }
    df = frame("global_south_public_option", over, months=3, n=300)
    assert (df["public.budget"] == 6e6).all()
    parts = df["public.spend.public"] + df["public.spend.gs_government"]
    assert np.allclose(df["public.spend"], parts)


BAD = [
    ("public.price_share", 1.5),
    ("public.quota_gpu_hours_per_month", -1.0),
    ("public.rationing", "fifo"),
    ("public.listing", "some"),
    ("public.data_to", "everyone"),
    ("public.unspent", "burn"),
    ("public.capture_rent_share", 2.0),
    ("public.lapse_probability", -0.1),
    ("public.lapse_months", 0),
    ("public.approval_months", -1.0),
    ("public.buildout_months", -1),
    ("regulation.release_delay_months", -1),
    ("regulation.release_threshold_gpu_hours", -5.0),
    ("regulation.irrevocable_licences", "yes"),
    ("regulation.max_markup", 0.5),
    ("regulation.migration_cost_factor", -1.0),
    ("regulation.transparency", 1.5),
    ("hosters.public.institution", "nobody"),
]


@pytest.mark.parametrize(("key", "value"), BAD)
def test_a_bad_lever_value_is_a_one_line_error_naming_it(key, value):
    with pytest.raises(simulation.ConfigError) as err:
        simulation.load_scenario("public_option", {key: value})
    message = str(err.value)
    assert "\n" not in message and key.split(".")[-1] in message


def test_old_keys_still_work_and_disagreeing_with_the_new_one_is_an_error(scenario_file):
    config = simulation.load_scenario("outsourced_provision", {"public.data_commons": True})
    assert config.public.data_to == "commons"
    path = scenario_file('extends = "base"\n[public]\ndata_commons = true\ndata_to = "members"\n')
    with pytest.raises(simulation.ConfigError, match="data_commons = true .* disagrees"):
        simulation.load_scenario(path)
    text = 'extends = "base"\n[public]\nlicence_irrevocable = true\n'
    text += "[regulation]\nirrevocable_licences = false\n"
    with pytest.raises(simulation.ConfigError, match="licence_irrevocable"):
        simulation.load_scenario(scenario_file(text))


def test_an_institution_named_public_is_refused(scenario_file):
    path = scenario_file('extends = "base"\n[institutions.public]\nbudget_usd_per_month = 1.0\n')
    with pytest.raises(simulation.ConfigError, match="institutions.public"):
        simulation.load_scenario(path)


def test_old_keys_translate_file_by_file(scenario_file):
    # a child may set the old key over a parent that set the new one (and be overridden again)
    scenario_file('extends = "base"\n[public]\ndata_to = "members"\n', "parent.toml")
    child = scenario_file('extends = "parent"\n[public]\ndata_commons = true\n')
    assert simulation.load_scenario(child).public.data_to == "commons"
    assert (
        simulation.load_scenario(child, {"public.data_to": "members"}).public.data_to == "members"
    )
    # two overrides that set the same lever differently are refused
    with pytest.raises(simulation.ConfigError, match="disagrees"):
        simulation.load_scenario("base", {"public.data_commons": True, "public.data_to": "members"})


def test_a_failure_mode_that_never_fires_moves_no_other_draw():
    over = {"public.rationing": "queue", "public.approval_months": 2.0}
    a = frame("outsourced_provision", over, months=8, n=500)
    b = frame("outsourced_provision", {**over, "public.capture_risk": 1e-12}, months=8, n=500)
    c = frame("outsourced_provision", {**over, "public.lapse_probability": 1e-12}, months=8, n=500)
    assert a.equals(b) and a.equals(c)


def test_a_later_institution_admits_its_share_of_those_left():
    over = {
        "institutions.gs_government.eligible_share": 0.5,
        "public.budget_usd_per_month": 1e6,
        "public.compute_channel": "credits",
        "public.eligible_groups": ["global_south"],
        "public.eligible_share": 0.5,
    }
    r = make_model("global_south_public_option", over, n=4000).researchers
    gs = r.group == r.group_names.index("global_south")
    shares = [(r.program[gs] == p).mean() for p in (0, 1)]
    assert shares[0] == pytest.approx(0.5, abs=0.03) and shares[1] == pytest.approx(0.25, abs=0.03)


def test_a_public_hoster_must_be_bought_by_an_institution_that_uses_one(scenario_file):
    with pytest.raises(simulation.ConfigError, match="capacity is bought"):
        simulation.load_scenario(
            "public_option", {"hosters.public.capacity_gpu_hours_per_month": 1.0}
        )
    with pytest.raises(simulation.ConfigError, match="not a public hoster"):
        simulation.load_scenario("public_option", {"public.compute_channel": "credits"})


def test_compute_uptake_is_undefined_without_a_compute_channel():
    over = {"public.budget_usd_per_month": 1e6, "public.funded_lab_kinds": ["academic"]}
    df = frame("market", over, months=2, n=200)
    assert df["public.compute_uptake"].isna().all() and (df["public.spend"] > 0).all()
