"""One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present".

Each test builds a small model from a real scenario, sets up the situation the mechanism is about
(by overriding config keys or agent state), steps it and checks what the mechanism must do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advance, lab_kind_of_release, make_model
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.config import Event
from simulation.releases import CLOSED, OPEN, RESTRICTED


def labs_of(model, kind):
    return [lab for lab in model.labs if lab.kind == kind]


# ---------------------------------------------------------------------------------------------
# Frontier race


def test_pretraining_releases_a_more_capable_model_when_the_budget_allows():
    m = advance(make_model(), 1)
    lab = labs_of(m, "nonprofit")[0]
    before, best = len(m.releases), lab.best_capability
    lab.budget = 1e12  # enough for a run far beyond its current model
    lab.last_release_month = m.month - lab.spec.min_release_interval_months
    lab.step()
    rel = m.releases.arrays()
    new = np.arange(before, len(m.releases))
    assert new.size == len(lab.spec.variant_params_b)  # a family: flagship plus variants
    assert (rel["lab"][new] == lab.index).all()
    assert (rel["month"][new] == m.month).all()
    assert rel["capability"][new].max() > best + lab.spec.min_improvement
    assert lab.best_capability == pytest.approx(rel["capability"][new].max())
    assert lab.budget < 1e12  # it paid for the run
    assert m.frontier >= lab.best_capability


def test_a_lab_without_money_does_not_pretrain():
    m = make_model(overrides={"labs.academic.income_usd_per_month": 0.0})
    academic = labs_of(m, "academic")
    started_with = {lab.index: list(lab.release_ids) for lab in academic}
    assert all(started_with.values())  # each starts with the model it already has
    advance(m, 30)
    rel = m.releases.arrays()
    for lab in academic:
        assert lab.release_ids == started_with[lab.index], "no new model without money"
        assert set(np.flatnonzero(rel["lab"] == lab.index)) == set(started_with[lab.index])
        assert lab.budget == 0.0
    others = [lab for lab in m.labs if lab.kind != "academic"]
    assert any(len(lab.release_ids) > len(lab.spec.variant_params_b) for lab in others)


def test_a_lab_whose_budget_buys_too_little_improvement_waits():
    m = advance(make_model(), 1)
    lab = labs_of(m, "nonprofit")[0]
    lab.last_release_month = m.month - lab.spec.min_release_interval_months
    lab.income = 0.0
    # Exactly what would reach its current best: short of the required improvement.
    gpu_hours = 10 ** (lab.best_capability - lab.potential_capability(1.0))
    lab.budget = gpu_hours * m.gpu_cost / lab.spec.training_spend_share
    before = len(m.releases)
    lab.step()
    assert len(m.releases) == before
    assert lab.budget == pytest.approx(gpu_hours * m.gpu_cost / lab.spec.training_spend_share)


def test_releases_respect_the_minimum_interval():
    m = advance(make_model(overrides={"labs.nonprofit.income_usd_per_month": 1e9}), 36)
    rel = m.releases.arrays()
    for lab in m.labs:
        months = np.unique(rel["month"][rel["lab"] == lab.index])
        gaps = np.diff(months)
        assert (gaps >= lab.spec.min_release_interval_months).all(), (lab.kind, months)
    rich = labs_of(m, "nonprofit")
    assert all(len(np.unique(rel["month"][rel["lab"] == lab.index])) >= 3 for lab in rich)


def test_a_lab_with_more_income_reaches_higher_capability():
    m = make_model()
    poor, rich = labs_of(m, "academic")[:2]
    poor.income, rich.income = 1e5, 1e8
    poor.last_release_month = rich.last_release_month = 0
    advance(m, 30)
    assert rich.best_capability > poor.best_capability + 1.0
    assert rich.compute_gpu_hours > poor.compute_gpu_hours


def test_the_cost_of_a_frontier_run_grows_over_time():
    """Rich labs re-invest, incomes grow ~2.4x a year: frontier training runs get dearer
    (calibration: ~2.4x per year) while the frontier only moves up."""
    df = advance(make_model(n=300), 36).metrics.frame()
    cost, frontier = df["frontier.training_cost_usd"], df["capability.frontier"]
    assert cost.iloc[-1] > 4 * cost.iloc[0]
    assert (np.diff(frontier) >= 0).all() and frontier.iloc[-1] > frontier.iloc[0] + 2


def test_api_revenue_is_reinvested_in_the_lab():
    """A closed lab with no outside income still builds a budget: last month's API sales."""
    m = make_model(overrides={"labs.frontier_closed.income_usd_per_month": 0.0})
    closed = labs_of(m, "frontier_closed")
    earned = 0.0
    for _ in range(5):
        pending = {lab.index: lab.revenue for lab in closed}
        budget = {lab.index: lab.budget for lab in closed}
        before = len(m.releases)
        m.step()
        trained = set(m.releases.arrays()["lab"][before:].tolist())
        for lab in closed:
            assert lab.income == 0.0
            if lab.index not in trained:
                assert lab.budget == pytest.approx(budget[lab.index] + pending[lab.index])
            earned += pending[lab.index]
    assert earned > 0
    assert sum(lab.budget for lab in closed) > 0


@pytest.fixture(scope="module")
def small_model():
    return make_model(n=50)


@settings(max_examples=40, deadline=None)
@given(
    gpu_hours=st.floats(1e3, 1e12),
    factor=st.floats(1.01, 1e4),
    month=st.integers(0, 120),
)
def test_capability_grows_with_log_compute(small_model, gpu_hours, factor, month):
    m = small_model
    lab = m.labs[0]
    m.month = month
    try:
        gain = lab.potential_capability(gpu_hours * factor) - lab.potential_capability(gpu_hours)
    finally:
        m.month = 0
    assert gain == pytest.approx(math.log10(factor), rel=1e-9, abs=1e-9)


def test_capability_rises_with_time_absorbed_value_and_data():
    m = make_model()
    lab = m.labs[0]
    base = lab.potential_capability(1e6)
    m.month = 12
    later = lab.potential_capability(1e6)
    m.month = 0
    eff = m.config.capability.algorithmic_efficiency_per_year
    assert later - base == pytest.approx(math.log10(eff))
    lab.absorbed += 1e6
    with_commons = lab.potential_capability(1e6)
    assert with_commons > base
    lab.data_gpu_hours += 1e8
    assert lab.potential_capability(1e6) > with_commons


# ---------------------------------------------------------------------------------------------
# Compute market


def test_commercial_price_rises_above_target_utilisation_and_falls_below():
    m = advance(make_model(), 2)
    h = next(h for h in m.hosters if not h.public and h.owner is None)
    target = m.config.market.target_utilisation
    start, price = h.scarcity, h.price
    h.utilisation = min(1.0, target + 0.2)
    h.step()
    assert h.price > price
    h.scarcity = start
    h.utilisation = target - 0.4
    h.step()
    assert h.price < price
    h.scarcity = start
    h.utilisation = target
    h.step()
    assert h.price == pytest.approx(price)


def test_scarcity_pricing_stays_within_its_bounds():
    m = make_model()
    h = next(h for h in m.hosters if not h.public and h.owner is None)
    lo, hi = m.config.market.price_factor_bounds
    for util, bound in ((1.0, hi), (0.0, lo)):
        for _ in range(200):
            h.utilisation = util
            h.step()
        assert h.scarcity == pytest.approx(bound)
        assert h.price == pytest.approx(m.gpu_cost * h.markup * bound)


def test_hosters_invest_in_capacity_when_busy():
    m = make_model()
    busy, idle = [h for h in m.hosters if h.name == "specialty"][:2]
    c_busy, c_idle = busy.capacity, idle.capacity
    busy.utilisation, idle.utilisation = 1.0, 0.1
    busy.step()
    idle.step()
    assert busy.capacity / c_busy > idle.capacity / c_idle > 1.0


def test_gpu_cost_falls_over_time():
    m = make_model()
    costs = []
    for _ in range(25):
        costs.append(m.gpu_cost)
        m.step()
    assert all(b < a for a, b in zip(costs, costs[1:], strict=False))
    decline = m.config.market.gpu_cost_decline_per_year
    assert costs[24] / costs[0] == pytest.approx((1 - decline) ** 2)


ONE_MODEL_WORLD = {
    # one academic lab with one model: every researcher's only candidate
    "labs.frontier_closed.count": 0,
    "labs.commercial_open.count": 0,
    "labs.nonprofit.count": 0,
    "labs.academic.count": 1,
    "labs.academic.income_usd_per_month": 0.0,
    # one price for all: no hoster taste, no friction; every hoster lists every model
    "market.hoster_taste_sigma": 0.0,
    "groups.global_south.commercial_price_friction": 1.0,
    "hosters.hyperscaler.max_listed": 1000,
    "hosters.specialty.max_listed": 1000,
    # fine-tuning succeeds whenever it is paid for
    "groups.well_funded.skill_mean": 0.999,
    "groups.global_south.skill_mean": 0.999,
    "groups.well_funded.skill_concentration": 1e6,
    "groups.global_south.skill_concentration": 1e6,
}


def _one_model_world(params_b, hardware, budget):
    """Every researcher faces one release of ``params_b`` billion parameters at one known price;
    each simulated researcher stands for one real one so that capacity never rations."""
    n = len(budget)
    overrides = {
        **ONE_MODEL_WORLD,
        "labs.academic.variant_params_b": [params_b],
        "simulation.researchers_represented": float(n),
    }
    m = make_model(overrides=overrides, n=n)
    m.researchers.hardware_gb[:] = hardware
    m.researchers.budget[:] = budget
    m.step()
    assert len(m.releases) == 1 and m.releases.arrays()["params_b"][0] == params_b
    return m


def _price_last_month(m, rid=0):
    """The lowest commercial price for release ``rid`` in the month just simulated."""
    m.month -= 1  # prices are set at the start of a month; the step moved the clock on
    try:
        return min(h.price for h in m.hosters if h.listed[rid] and not h.public)
    finally:
        m.month += 1


def test_model_size_and_task_set_memory_needs():
    """With no money, what runs is what fits local memory: run < fine-tune < deploy."""
    n, p = 600, 7.0
    hardware = np.linspace(0.0, 2 * p, n)
    m = _one_model_world(p, hardware, np.zeros(n))
    t, o = m.config.tasks, m.researchers.outcome
    assert (o.ran == (hardware >= t.run_memory_gb_per_b * p)).all()
    assert not o.finetuned[hardware < t.finetune_memory_gb_per_b * p].any()
    assert o.finetuned[hardware >= t.finetune_memory_gb_per_b * p].mean() > 0.9
    assert (o.deployed == (hardware >= t.deploy_memory_gb_per_b * p)).all()
    # so there are people who can run but not fine-tune, and fine-tune but not deploy
    assert (o.ran & ~o.finetuned).any() and (o.finetuned & ~o.deployed).any()


def test_model_size_and_task_set_gpu_hours_and_cost():
    """With no hardware, a budget buys price x GPU-hours: run < fine-tune < deploy for the same
    release, and a bigger model costs more to run and to fine-tune."""
    budget = np.geomspace(1e-2, 1e5, 1200)
    first = {}
    for p in (1.0, 7.0, 160.0):
        m = _one_model_world(p, 0.0, budget)
        t, o = m.config.tasks, m.researchers.outcome
        price = _price_last_month(m)
        run = price * t.run_gpu_hours_per_b * p
        ft = price * t.finetune_gpu_hours_per_b * p
        dep = price * math.ceil(p * t.deploy_memory_gb_per_b / t.gpu_memory_gb)
        dep *= t.deploy_hours_per_month
        assert run < ft < dep
        assert (o.ran == (budget >= run * (1 - 1e-9))).all()
        assert not o.finetuned[budget < (run + ft) * (1 - 1e-9)].any()
        assert o.finetuned[budget > (run + ft) * 1.001].mean() > 0.9
        assert not o.deployed[budget < (run + dep) * (1 - 1e-9)].any()
        assert o.deployed[budget > (run + ft + dep) * 1.001].all()
        first[p] = [budget[ok].min() for ok in (o.ran, o.finetuned, o.deployed)]
        assert first[p][0] < first[p][1] < first[p][2]
    assert first[1.0][0] < first[7.0][0] < first[160.0][0]
    assert first[1.0][1] < first[7.0][1] < first[160.0][1]
    assert first[7.0][2] < first[160.0][2]  # 160B needs two GPUs around the clock, 7B one


# ---------------------------------------------------------------------------------------------
# Access


def test_no_budget_and_no_hardware_means_no_use_in_the_market():
    m = advance(make_model(n=600), 2)
    r = m.researchers
    poor = np.arange(150)
    r.budget[poor] = 0.0
    r.hardware_gb[poor] = 0.0
    m.step()
    o = r.outcome
    assert not o.ran[poor].any()
    assert not o.finetuned[poor].any()
    assert not o.deployed[poor].any()
    rest = np.arange(150, 600)
    assert o.finetuned[rest].any() and o.deployed[rest].any()  # the others still can


def test_local_hardware_suffices_when_no_hoster_lists_the_model():
    """A researcher whose own GPU holds a model runs it with no money, listed anywhere or not."""
    m = make_model(
        overrides={"hosters.hyperscaler.max_listed": 0, "hosters.specialty.max_listed": 0}
    )
    r = m.researchers
    r.budget[:] = 0.0
    r.hardware_gb[:] = 1000.0
    m.step()
    o = r.outcome
    assert o.ran.all()
    assert o.deployed.all()
    assert o.finetuned.any()


def test_the_public_hoster_gives_access_without_money_or_hardware():
    m = advance(make_model("networked_collaboration", n=600), 1)
    r = m.researchers
    r.budget[:] = 0.0
    r.hardware_gb[:] = 0.0
    m.step()
    o = r.outcome
    assert r.eligible.any()
    assert o.ran[r.eligible].any()
    assert not o.ran[~r.eligible].any()
    assert m.public_hoster.used > 0


@pytest.mark.parametrize(
    "scenario", ["outsourced_provision", "networked_collaboration", "state_backed_integration"]
)
def test_eligibility_follows_the_scenarios_access_rules(scenario):
    m = make_model(scenario, n=4000)
    r, pub = m.researchers, m.config.public
    groups = [r.group_names.index(g) for g in pub.eligible_groups]
    in_groups = np.isin(r.group, groups)
    assert not r.eligible[~in_groups].any()
    assert abs(r.eligible[in_groups].mean() - pub.eligible_share) < 0.04


def test_public_credits_give_access_only_to_the_eligible():
    m = advance(make_model("outsourced_provision", n=600), 1)
    r = m.researchers
    r.budget[:] = 0.0
    r.hardware_gb[:] = 0.0
    m.step()
    o = r.outcome
    assert o.ran[r.eligible].any()
    assert not o.ran[~r.eligible].any()
    assert m.institution.spent > m.institution.budget * m.institution.spec.overhead


def test_a_full_commercial_hoster_sends_buyers_to_one_with_room():
    """The cheapest hosters (specialty) have almost no capacity; the hyperscalers have plenty.
    Researchers with ample money and no hardware still get their tasks done somewhere."""
    overrides = {
        "hosters.specialty.capacity_gpu_hours_per_month": 10.0,
        "market.hoster_taste_sigma": 0.0,
    }
    m = make_model(overrides=overrides, n=500)
    r = m.researchers
    r.budget[:] = 1e7
    r.hardware_gb[:] = 0.0
    m.step()
    hyperscalers = [h for h in m.hosters if h.name == "hyperscaler"]
    assert all(h.served > 0 for h in hyperscalers)  # buyers moved on to the hosters with room
    assert r.outcome.ran.mean() > 0.9


def test_the_public_hosters_reserved_share_favours_its_group():
    """A scarce public hoster serves the reserved group first from its reserved share."""

    def access(share):
        overrides = {"public.budget_usd_per_month": 2e6, "public.reserved_share": share}
        m = make_model("public_option", overrides, n=600)
        m.researchers.budget[:] = 0.0  # everyone depends on the public hoster
        m.researchers.hardware_gb[:] = 0.0
        df = advance(m, 3).metrics.frame()
        return df["access.run.global_south"].mean(), df["access.run.well_funded"].mean()

    none, half, most = access(0.0), access(0.5), access(0.9)
    assert none[0] < half[0] < most[0]
    assert none[1] > most[1]


def test_public_contracts_lapse():
    overrides = {"public.contract_months": 2}
    m = advance(make_model("outsourced_provision", overrides, n=400), 5)
    spend = m.metrics.frame()["public.spend"]
    pretraining = m.institution.stage_money()["pretraining"]
    assert (spend.iloc[2:].max() <= spend.iloc[:2].min() - 0.9 * pretraining).all()
    for lab in labs_of(m, "commercial_open"):
        assert not lab.under_commitment()


def test_a_licence_forbidding_derivatives_stops_fine_tuning():
    def finetuned_restricted(overrides):
        m = make_model(overrides=overrides, n=600)
        count = 0
        for _ in range(6):
            m.step()
            r, lic = m.researchers, m.releases.arrays()["licence"]
            chosen = np.where(r.choice >= 0, r.choice, 0)
            count += int((r.outcome.finetuned & (lic[chosen] == RESTRICTED)).sum())
        return count

    assert finetuned_restricted({}) > 0  # by default the restricted (Llama-like) licence allows it
    assert finetuned_restricted({"licences.restricted.finetune": False}) == 0


def test_a_licence_capping_deployment_size_stops_large_deployments():
    m = make_model(overrides={"licences.restricted.max_deploy_users": 0.0}, n=600)
    lic_ok = 0
    for _ in range(6):
        m.step()
        r = m.researchers
        lic = m.releases.arrays()["licence"]
        dep = r.outcome.deployed
        on = np.where(r.deployment >= 0, r.deployment, 0)
        assert not (dep & (lic[on] == RESTRICTED)).any()
        lic_ok += int((dep & (lic[on] == OPEN)).sum())
    assert lic_ok > 0


def test_api_only_models_are_never_fine_tuned_or_deployed():
    m = make_model(n=600)
    api_runs = 0
    for _ in range(6):
        m.step()
        r, rel = m.researchers, m.releases.arrays()
        chosen = np.where(r.choice >= 0, r.choice, 0)
        api = ~rel["weights"][chosen] & r.outcome.ran
        api_runs += int(api.sum())
        assert not (r.outcome.finetuned & api).any()
        dep = r.deployment[r.outcome.deployed]
        assert rel["weights"][dep].all()
    assert api_runs > 0


# ---------------------------------------------------------------------------------------------
# Stranded deployments: licence revocation, delisting, leaving a region, migration


# Labs may also revoke on their own when they close; the event tests switch that off so that
# what they see is the event's doing.
NO_OWN_REVOCATION = {"labs.commercial_open.revoke_when_closing": 0.0}
# Each simulated researcher stands for one real one: hosters never run out of capacity, so
# who gets served depends on money alone.
NO_RATIONING = {"simulation.researchers_represented": 800.0}


def _deployed_on_kind(m, kind):
    r = m.researchers
    kinds = lab_kind_of_release(m)
    d = np.where(r.deployment >= 0, r.deployment, 0)
    return (r.deployment >= 0) & ~r.stranded & (kinds[d] == kind)


def test_a_revoked_licence_strands_the_deployments_built_on_it():
    m = advance(make_model(overrides=NO_OWN_REVOCATION, n=800), 4)
    r = m.researchers
    assert _deployed_on_kind(m, "commercial_open").any()
    m.apply_event(Event(month=m.month, type="licence_revocation", lab_kind="commercial_open"))
    rel = m.releases.arrays()
    assert rel["revoked"].any()
    assert set(lab_kind_of_release(m)[rel["revoked"]]) == {"commercial_open"}
    assert (rel["licence"][rel["revoked"]] == RESTRICTED).all()
    hit = (r.deployment >= 0) & rel["revoked"][np.where(r.deployment >= 0, r.deployment, 0)]
    assert hit.sum() >= 20
    # Half of them cannot pay to migrate; the rest may.
    broke = hit & (np.arange(r.n) % 2 == 0)
    r.budget[broke] = 0.0
    r.hardware_gb[broke] = 0.0
    deployed_before = r.deployment.copy()
    m.step()
    assert r.stranded[broke].all()
    assert (r.deployment[broke] == deployed_before[broke]).all()  # the record is kept
    # whoever was hit is either stranded or has migrated to a model still licensed
    rel = m.releases.arrays()
    moved = hit & ~r.stranded
    assert r.outcome.deployed[moved].all()
    assert not rel["revoked"][r.deployment[moved]].any()
    row = m.metrics.frame().iloc[-1]
    assert row["stranded.deployments"] == pytest.approx(r.stranded.sum() * r.weight)
    assert row["stranded.deployments"] > 0
    # the lab's future releases are closed
    lab = max(labs_of(m, "commercial_open"), key=lambda lab: lab.income)
    assert lab.licence == CLOSED and not lab.weights


def test_revocation_scheduled_by_an_event_in_the_scenario():
    events = [{"month": 4, "type": "licence_revocation", "lab_kind": "commercial_open"}]
    m = make_model(overrides={**NO_OWN_REVOCATION, "events": events}, n=800)
    advance(m, 4)
    assert not m.releases.arrays()["revoked"].any()
    m.step()  # month 4
    assert m.releases.arrays()["revoked"].any()
    df = m.metrics.frame()
    assert (df["stranded.deployments"].iloc[:4] == 0).all()


@pytest.mark.parametrize(
    "scenario, overrides",
    [("market", {"public.licence_irrevocable": True}), ("regulation_only", {})],
)
def test_irrevocable_licences_strand_nothing(scenario, overrides):
    """Under an irrevocability mandate neither an event nor a lab's own choice revokes."""
    m = advance(make_model(scenario, overrides, n=800), 4)
    assert _deployed_on_kind(m, "commercial_open").any()
    m.apply_event(Event(month=m.month, type="licence_revocation", lab_kind="commercial_open"))
    assert not m.releases.arrays()["revoked"].any()
    m.researchers.budget[:] = 0.0  # even those who could not pay to migrate
    m.researchers.hardware_gb[:] = 0.0
    m.step()
    assert not m.researchers.stranded.any()
    assert m.metrics.frame()["stranded.deployments"].iloc[-1] == 0


def test_a_delisting_strands_deployments_at_that_hoster_kind():
    m = advance(make_model(n=800), 3)
    r = m.researchers
    names = np.array([h.name for h in m.hosters])
    host = np.where(r.deploy_host >= 0, r.deploy_host, 0)
    kinds = lab_kind_of_release(m)
    d = np.where(r.deployment >= 0, r.deployment, 0)
    at = (r.deploy_host >= 0) & (names[host] == "specialty") & (kinds[d] == "commercial_open")
    elsewhere = (r.deployment >= 0) & ~at
    assert at.sum() >= 3
    r.budget[:] = 0.0  # nobody can pay to migrate this month
    r.hardware_gb[at] = 0.0
    keep_hw = r.hardware_gb.copy()
    m.apply_event(
        Event(month=m.month, type="delist", hoster_kind="specialty", lab_kind="commercial_open")
    )
    m.step()
    assert r.stranded[at].all()
    # deployments on own hardware are not affected by a hoster's listing
    local = elsewhere & (r.deploy_host == -1) & (keep_hw > 0)
    assert not r.stranded[local].any()
    kinds = lab_kind_of_release(m)
    for h in m.hosters:
        if h.name == "specialty":
            assert not h.listed[kinds == "commercial_open"].any()
    assert m.metrics.frame()["stranded.deployments"].iloc[-1] > 0


def test_leaving_a_region_strands_that_groups_deployments_there():
    m = advance(make_model(n=1000), 3)
    r = m.researchers
    names = np.array([h.name for h in m.hosters])
    g = r.group_names.index("well_funded")
    host = np.where(r.deploy_host >= 0, r.deploy_host, 0)
    at = (r.deploy_host >= 0) & (names[host] == "hyperscaler") & (r.group == g)
    assert at.any()
    r.budget[:] = 0.0
    r.hardware_gb[:] = 0.0
    m.apply_event(
        Event(month=m.month, type="leave_region", hoster_kind="hyperscaler", group="well_funded")
    )
    m.step()
    assert r.stranded[at].all()
    for h in m.hosters:
        if h.name == "hyperscaler":
            assert not h.serves[g]


def test_migration_clears_stranding_for_those_who_can_pay():
    m = advance(make_model(overrides={**NO_OWN_REVOCATION, **NO_RATIONING}, n=800), 4)
    r = m.researchers
    r.budget[:] = 0.0
    r.hardware_gb[:] = 0.0
    m.apply_event(Event(month=m.month, type="licence_revocation", lab_kind="commercial_open"))
    m.step()
    stranded = r.stranded.copy()
    assert stranded.sum() >= 10
    rich = stranded & (np.arange(r.n) % 2 == 0)
    poor = stranded & ~rich
    r.budget[rich] = 1e9
    m.step()
    rel = m.releases.arrays()
    chosen = np.where(r.choice >= 0, r.choice, 0)
    can_redeploy = rich & r.outcome.ran & rel["weights"][chosen] & ~rel["revoked"][chosen]
    assert can_redeploy.any()
    assert not r.stranded[can_redeploy].any()
    assert r.outcome.deployed[can_redeploy].all()
    assert r.stranded[poor].all()
    after = m.metrics.frame()["stranded.deployments"]
    assert after.iloc[-1] < after.iloc[-2]


def test_migrating_a_stranded_deployment_costs_extra():
    """Two worlds identical until a revocation strands deployments; then the stranded get the
    same budgets. Where migration costs a month of hosting on top, fewer (never more) of them
    can afford to move than where it is free."""

    def world(months):
        overrides = {**NO_OWN_REVOCATION, **NO_RATIONING, "tasks.migration_cost_months": months}
        m = advance(make_model(overrides=overrides, n=800), 4)
        r = m.researchers
        r.budget[:] = 0.0
        r.hardware_gb[:] = 0.0
        m.apply_event(Event(month=m.month, type="licence_revocation", lab_kind="commercial_open"))
        m.step()
        stranded = r.stranded.copy()
        r.budget[stranded] = np.geomspace(1e2, 1e5, stranded.sum())
        m.step()
        return stranded, stranded & ~r.stranded

    stranded_free, moved_free = world(0.0)
    stranded_dear, moved_dear = world(2.0)
    assert np.array_equal(stranded_free, stranded_dear)
    assert stranded_free.sum() >= 10
    assert not (moved_dear & ~moved_free).any()
    assert moved_free.sum() > moved_dear.sum()


# ---------------------------------------------------------------------------------------------
# Closed labs, adoption, capture


def test_a_closed_lab_absorbs_contributions_but_releases_no_weights():
    m = advance(make_model(n=600), 12)
    rel = m.releases.arrays()
    for lab in labs_of(m, "frontier_closed"):
        mine = rel["lab"] == lab.index
        assert mine.any()
        assert not rel["weights"][mine].any()
        assert (rel["licence"][mine] == CLOSED).all()
        assert lab.absorbed > 0
        assert lab.absorbed_private == pytest.approx(lab.absorbed)
    df = m.metrics.frame()
    assert (df["downloads.frontier_closed"].fillna(0) == 0).all()
    assert (df["capture.frontier_closed"] > 0).all()


def _train_now(m, lab):
    lab.budget = 1e12
    lab.last_release_month = m.month - 100
    before = len(m.releases)
    lab.step()
    return np.arange(before, len(m.releases))


def test_a_commercial_open_lab_near_the_frontier_stops_releasing_weights():
    m = make_model(overrides={"labs.commercial_open.close_probability": 1.0})
    far, near = labs_of(m, "commercial_open")[:2]
    gap = near.spec.close_within_gap
    m.frontier = near.best_capability + gap / 2  # within the gap
    new = _train_now(m, near)
    rel = m.releases.arrays()
    assert new.size == 1  # API only: a single served model
    assert not rel["weights"][new].any() and (rel["licence"][new] == CLOSED).all()
    m.frontier = max(m.frontier, far.best_capability + 10 * gap + 10)  # far behind
    new = _train_now(m, far)
    rel = m.releases.arrays()
    assert new.size == len(far.spec.variant_params_b)
    assert rel["weights"][new].all() and (rel["licence"][new] == RESTRICTED).all()


@pytest.mark.parametrize("irrevocable", [False, True])
def test_a_lab_that_closes_may_revoke_its_earlier_licences(irrevocable):
    overrides = {
        "labs.commercial_open.revoke_when_closing": 1.0,
        "labs.commercial_open.close_probability": 1.0,
        "public.licence_irrevocable": irrevocable,
    }
    m = make_model(overrides=overrides)
    lab = labs_of(m, "commercial_open")[0]
    earlier = list(lab.release_ids)
    assert (m.releases.arrays()["licence"][earlier] == RESTRICTED).all()
    m.frontier = lab.best_capability  # its next model will be at the frontier: it closes
    new = _train_now(m, lab)
    rel = m.releases.arrays()
    assert (rel["licence"][new] == CLOSED).all()
    assert rel["revoked"][earlier].all() != irrevocable
    assert not rel["revoked"][new].any()


def test_a_release_commitment_keeps_a_funded_lab_releasing_weights():
    m = advance(make_model("outsourced_provision"), 1)
    lab = labs_of(m, "commercial_open")[0]
    assert lab.under_commitment()
    m.frontier = lab.best_capability  # at the frontier: it would close without the contract
    new = _train_now(m, lab)
    rel = m.releases.arrays()
    assert new.size == len(lab.spec.variant_params_b)
    assert rel["weights"][new].all() and (rel["licence"][new] == RESTRICTED).all()


def test_downloads_concentrate_on_a_few_releases():
    """Downloads concentrate on a few releases, and more so with stronger preferential
    attachment (the popularity term of the choice)."""

    def top3_share(popularity_weight):
        m = advance(make_model(overrides={"adoption.popularity_weight": popularity_weight}), 12)
        users = m.researchers.users
        share = users / users.sum()
        assert share.max() > 5 / len(m.candidates)  # far above an even spread
        return np.sort(share)[-3:].sum()

    assert top3_share(2.0) > top3_share(0.0) + 0.1


def test_choice_prefers_the_popular_of_two_equal_models():
    """Preferential attachment: two identical releases, one with ten times the users last
    month; with a popularity weight most newcomers pick it, without one they split evenly."""

    def share_choosing_popular(weight):
        overrides = {
            **ONE_MODEL_WORLD,
            "labs.academic.count": 2,
            "labs.academic.income_sigma": 0.0,
            "labs.academic.variant_params_b": [7.0],
            "adoption.review_probability": 1.0,
            "adoption.popularity_weight": weight,
        }
        m = make_model(overrides=overrides, n=2000)
        rel = m.releases.arrays()
        assert len(rel["lab"]) == 2 and rel["capability"][0] == rel["capability"][1]
        m.step()
        m.researchers.users = np.array([1000.0, 100.0])
        m.step()
        chose = m.researchers.choice[m.researchers.choice >= 0]
        return float(np.mean(chose == 0))

    assert share_choosing_popular(1.0) > 0.75
    assert 0.4 < share_choosing_popular(0.0) < 0.6


def test_capture_shares_sum_to_one_and_private_is_closed_plus_restricted():
    m = advance(make_model(n=600), 18)
    df = m.metrics.frame()
    kinds = [f"capture.{k}" for k in m.lab_kinds]
    assert np.allclose(df[kinds].sum(axis=1), 1.0)
    # In the market every commercial-open release is restricted or closed, every nonprofit and
    # academic one open: private capture is exactly those two kinds' share.
    private = df["capture.frontier_closed"] + df["capture.commercial_open"]
    assert np.allclose(df["capture.private"], private)
    total = sum(lab.absorbed for lab in m.labs)
    assert df["capture.private"].iloc[-1] == pytest.approx(
        sum(lab.absorbed_private for lab in m.labs) / total
    )


def test_an_all_open_world_has_no_private_capture():
    overrides = {
        "labs.frontier_closed.count": 0,
        "labs.commercial_open.licence": "open",
        "labs.commercial_open.close_within_gap": None,
    }
    m = advance(make_model(overrides=overrides, n=400), 12)
    df = m.metrics.frame()
    assert (df["capture.private"] == 0).all()
    assert (df["capture.commercial_open"] > 0).all()


def test_labs_absorb_the_commons_in_proportion_to_absorptive_capacity():
    m = advance(make_model(n=300), 2)
    before = np.array([lab.absorbed for lab in m.labs])
    capacity = np.array([lab.absorptive_capacity() for lab in m.labs])
    m.contributions_by_home = np.zeros(len(m.labs))
    m.commons_inflow = 1e6
    m._absorb_commons()
    gained = np.array([lab.absorbed for lab in m.labs]) - before
    assert gained.sum() == pytest.approx(1e6)
    assert np.allclose(gained / gained.sum(), capacity / capacity.sum())


def test_a_contribution_goes_partly_to_the_lab_whose_model_it_built_on():
    m = advance(make_model(n=300), 2)
    home = next(lab for lab in m.labs if lab.kind == "academic")
    before = np.array([lab.absorbed for lab in m.labs])
    capacity = np.array([lab.absorptive_capacity() for lab in m.labs])
    bias = m.config.contributions.home_bias
    m.contributions_by_home = np.zeros(len(m.labs))
    m.contributions_by_home[home.index] = 1000.0
    m.commons_inflow = 0.0
    m._absorb_commons()
    gained = np.array([lab.absorbed for lab in m.labs]) - before
    at_home = 1000.0 * bias * home.spec.absorb_effort  # as far as it makes the effort
    expected = (1000.0 - at_home) * capacity / capacity.sum()
    expected[home.index] += at_home
    assert np.allclose(gained, expected)


def test_a_lab_that_makes_no_effort_to_absorb_captures_less():
    def capture(effort):
        overrides = {"labs.nonprofit.absorb_effort": effort}
        m = advance(make_model(overrides=overrides, n=400), 12)
        return m.metrics.frame()["capture.nonprofit"].iloc[-1]

    assert capture(0.0) < 0.8 * capture(1.0)


# ---------------------------------------------------------------------------------------------
# Data flywheel


def test_a_lab_serving_inference_collects_usage_data():
    m = advance(make_model(n=600), 6)
    by_owner = {}
    for h in m.hosters:
        if h.owner is not None:
            by_owner[h.owner.index] = by_owner.get(h.owner.index, 0.0) + h.data_gpu_hours
    assert any(v > 0 for v in by_owner.values())
    for lab in m.labs:
        assert lab.data_gpu_hours == pytest.approx(by_owner.get(lab.index, 0.0))
    no_api = [lab for lab in m.labs if lab.spec.api_capacity_gpu_hours_per_month == 0]
    assert no_api and all(lab.data_gpu_hours == 0 for lab in no_api)


def test_public_hoster_data_goes_to_the_commons_not_a_lab():
    """Usage data at the public hoster enters the commons (no data money in this run, so all
    the commons' inflow is usage data) and never a lab's own flywheel."""
    split = {"public.stage_split.data": 0.0, "public.stage_split.inference": 0.3}
    m = make_model("public_option", split, n=500)
    public_lab = labs_of(m, "public")[0]
    value = m.config.contributions.data_value_per_gpu_hour
    served = 0
    for _ in range(4):
        m.step()
        used = m.public_hoster.used
        served += used > 0
        assert m.commons_inflow == pytest.approx(used * value)
    assert served > 0
    assert public_lab.data_gpu_hours == 0


def test_without_a_data_commons_public_hoster_data_feeds_the_funded_lab():
    m = make_model("public_option", {"public.data_commons": False}, n=500)
    public_lab = labs_of(m, "public")[0]
    m.step()
    assert m.public_hoster.used > 0
    assert m.commons_inflow == 0
    assert public_lab.data_gpu_hours >= m.public_hoster.used


def test_a_captured_institution_stops_feeding_the_commons():
    m = make_model("public_option", {"public.capture_risk": 1.0}, n=500)
    m.step()
    assert m.institution.captured
    assert m.commons_inflow == 0
    assert labs_of(m, "public")[0].data_gpu_hours > 0


# ---------------------------------------------------------------------------------------------
# Events


def test_a_price_shock_raises_the_gpu_price():
    shock = [{"month": 3, "type": "price_shock", "factor": 2.0}]
    calm = advance(make_model(n=300, seed=5), 6).metrics.frame()
    hit = advance(make_model(overrides={"events": shock}, n=300, seed=5), 6).metrics.frame()
    before, at = calm["market.gpu_price"], hit["market.gpu_price"]
    assert np.array_equal(before.iloc[:3], at.iloc[:3])
    # the month it hits, cost doubles and scarcity has not had a month to react yet
    assert at.iloc[3] == pytest.approx(2.0 * before.iloc[3])
    assert (at.iloc[3:] > before.iloc[3:]).all()


def test_a_budget_cut_lowers_public_spending():
    cut = [{"month": 3, "type": "budget_cut", "factor": 0.5}]
    full = advance(make_model("networked_collaboration", n=300), 6)
    m = advance(make_model("networked_collaboration", {"events": cut}, n=300), 6)
    a, b = full.metrics.frame()["public.spend"], m.metrics.frame()["public.spend"]
    assert np.array_equal(a.iloc[:3], b.iloc[:3])
    assert (b.iloc[3:] < a.iloc[3:]).all()
    budget = m.config.public.budget_usd_per_month
    assert m.institution.budget == pytest.approx(0.5 * budget)
    assert (b.iloc[3:] <= 0.5 * budget * (1 + 1e-9)).all()


def test_a_budget_cut_without_an_institution_changes_nothing():
    cut = [{"month": 1, "type": "budget_cut", "factor": 0.5}]
    a = advance(make_model(n=300), 3).metrics.frame()
    b = advance(make_model(overrides={"events": cut}, n=300), 3).metrics.frame()
    assert a.equals(b)
