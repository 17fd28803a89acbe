"""Stranded deployments: licence revocation, delisting, leaving a region, migration.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, lab_kind_of_release, labs_of, make_model

from simulation.config import Event
from simulation.releases import CLOSED, RESTRICTED

# Labs may also close and revoke on their own; the event tests make them keep their licence so
# that what they see is the event's doing.
NO_OWN_REVOCATION = {"labs.commercial_open.strategic": False}
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
    (lab,) = [lab for lab in labs_of(m, "commercial_open") if lab.licence == CLOSED]
    assert not lab.weights and rel["revoked"][rel["lab"] == lab.index].any()


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
    # the independent hoster kind with the most well-funded deployments leaves their region
    independent = {m.hosters[i].name for i in m.gpu_market_index}
    hosted = (r.deploy_host >= 0) & (r.group == g) & np.isin(names[host], list(independent))
    kind = max(independent, key=lambda k: (hosted & (names[host] == k)).sum())
    at = hosted & (names[host] == kind)
    assert at.any()
    r.budget[:] = 0.0
    r.hardware_gb[:] = 0.0
    m.apply_event(Event(month=m.month, type="leave_region", hoster_kind=kind, group="well_funded"))
    m.step()
    assert r.stranded[at].all()
    for h in m.hosters:
        if h.name == kind:
            assert not h.serves[g]


def test_migration_clears_stranding_for_those_who_can_pay():
    # no closed models: the stranded who can pay redeploy open weights, not an API model
    no_api = {"labs.frontier_closed.count": 0}
    m = advance(make_model(overrides={**NO_OWN_REVOCATION, **NO_RATIONING, **no_api}, n=800), 4)
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
        overrides = {
            **NO_OWN_REVOCATION,
            **NO_RATIONING,
            "tasks.migration_cost_months": months,
            "adoption.review_probability": 1.0,  # the stranded, given money, look again
        }
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
