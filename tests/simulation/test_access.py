"""Access: who can run, fine-tune and deploy, with money, hardware, credits or a public hoster.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, labs_of, make_model

from simulation.releases import OPEN, RESTRICTED


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


def test_a_free_public_hoster_gives_access_without_money_or_hardware():
    m = advance(make_model("networked_collaboration", {"public.price_share": 0.0}, n=600), 1)
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
    members = r.program == 0
    assert not members[~in_groups].any()
    assert abs(members[in_groups].mean() - pub.eligible_share) < 0.04
    m.step()  # approved at once by default: members are eligible from the first month
    assert (r.eligible == members).all()


def test_free_public_credits_give_access_only_to_the_eligible():
    m = advance(make_model("outsourced_provision", {"public.price_share": 0.0}, n=600), 1)
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
        "labs.frontier_closed.count": 0,  # no API to fill up: only the open market is tested
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
        overrides = {
            "public.budget_usd_per_month": 2e6,
            "public.reserved_share": share,
            "public.price_share": 0.0,
            "public.rationing": "lottery",
        }
        m = make_model("public_option", overrides, n=600)
        r = m.researchers
        r.budget[:] = 0.0  # everyone depends on the public hoster
        r.hardware_gb[:] = 0.0
        ran = np.zeros(2)
        for _ in range(3):  # who the public hoster served, capable model or not
            m.step()
            ran += [r.outcome.ran[r.group == g].mean() for g in (1, 0)]
        return tuple(ran / 3)

    none, half, most = access(0.0), access(0.5), access(0.9)
    assert none[0] < half[0] < most[0]
    assert none[1] > most[1]


def test_public_contracts_lapse():
    overrides = {"public.contract_months": 2, "public.unspent": "lapse"}
    m = advance(make_model("outsourced_provision", overrides, n=400), 5)
    spend = m.metrics.frame()["public.spend"]
    inst = m.institution
    pretraining = inst.stage_money(inst.budget * (1 - inst.spec.overhead))["pretraining"]
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
