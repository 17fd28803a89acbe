"""Invariants that must hold every month, for any valid scenario, checked over random configs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import SIX
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulation
from simulation.config import Event

TOL = 1e-9


@st.composite
def worlds(draw):
    """A scenario, a few overrides within their valid ranges, a seed and maybe some shocks."""
    scenario = draw(st.sampled_from(SIX))
    overrides = {
        "market.gpu_price_usd_per_hour": draw(st.floats(0.3, 20.0)),
        "groups.well_funded.budget_median_usd": draw(st.floats(0.0, 2e4)),
        "groups.global_south.budget_median_usd": draw(st.floats(0.0, 2e3)),
    }
    if scenario not in ("market", "regulation_only"):  # these must not spend
        overrides["public.budget_usd_per_month"] = draw(
            st.sampled_from([0.0, 1e5]) | st.floats(0.0, 1e8)
        )
    if draw(st.booleans()):
        overrides["groups.global_south.hardware_none_share"] = draw(st.floats(0.0, 1.0))
    events = draw(
        st.lists(
            st.one_of(
                st.builds(
                    dict,
                    month=st.integers(0, 15),
                    type=st.just("licence_revocation"),
                    lab_kind=st.just("commercial_open"),
                ),
                st.builds(
                    dict,
                    month=st.integers(0, 15),
                    type=st.just("delist"),
                    hoster_kind=st.sampled_from(["hyperscaler", "specialty"]),
                    lab_kind=st.sampled_from(["commercial_open", "nonprofit"]),
                ),
                st.builds(
                    dict,
                    month=st.integers(0, 15),
                    type=st.just("leave_region"),
                    hoster_kind=st.sampled_from(["hyperscaler", "specialty"]),
                    group=st.just("global_south"),
                ),
                st.builds(
                    dict,
                    month=st.integers(0, 15),
                    type=st.sampled_from(["price_shock", "budget_cut"]),
                    factor=st.floats(0.2, 3.0),
                ),
            ),
            max_size=3,
        )
    )
    if events:
        overrides["events"] = events
    seed = draw(st.integers(0, 2**32 - 1))
    months = draw(st.integers(12, 20))
    n = draw(st.integers(300, 500))
    return scenario, overrides, seed, months, n


def check_month(model: simulation.EcosystemModel, row) -> None:
    cfg = model.config
    groups, kinds = list(cfg.groups), list(cfg.labs)

    # access shares are shares; fine-tuning (with a capable model) implies running one
    for g in groups:
        for t in ("run", "finetune", "deploy"):
            v = row[f"access.{t}.{g}"]
            assert 0.0 <= v <= 1.0, (t, g, v)
        assert row[f"access.finetune.{g}"] <= row[f"access.run.{g}"] + TOL

    # capture: shares of one total
    capture = np.array([row[f"capture.{k}"] for k in kinds])
    if not np.isnan(capture).any():
        assert (capture >= -TOL).all()
        assert abs(capture.sum() - 1.0) < 1e-6
        assert -TOL <= row["capture.private"] <= 1.0 + TOL
    else:
        assert np.isnan(capture).all() and np.isnan(row["capture.private"])

    # downloads: shares of one month's downloads
    downloads = np.array([row[f"downloads.{k}"] for k in kinds])
    if not np.isnan(downloads).any():
        assert (downloads >= 0).all()
        assert abs(downloads.sum() - 1.0) < 1e-6
    else:
        assert np.isnan(downloads).all()

    # capability: nobody uses or releases beyond the frontier
    assert row["capability.best_open"] <= row["capability.frontier"] + TOL
    for g in groups:
        reached = row[f"capability.reached.{g}"]
        assert np.isnan(reached) or reached <= row["capability.frontier"] + TOL

    # money: no lab in debt; an institution spends no more than this month's appropriation and
    # what it carried in, diverts no more than it spends, and carries nothing negative
    for lab in model.labs:
        assert lab.budget >= 0.0, (lab.kind, lab.budget)
    inst = model.institution
    for i in model.institutions:
        assert 0.0 <= i.appropriated <= i.budget
        assert -TOL <= i.spent <= (i.appropriated + i.carried_in) * (1 + TOL) + TOL
        assert 0.0 <= i.diverted <= i.spent + TOL and i.carried >= 0.0
    total = sum(i.appropriated + i.carried_in for i in model.institutions)
    assert -TOL <= row["public.spend"] <= total * (1 + TOL) + TOL
    assert row["public.budget"] == pytest.approx(sum(i.appropriated for i in model.institutions))
    if inst is None:  # no public money: utilisation does not apply
        assert np.isnan(row["public.utilisation"])
    else:
        assert 0.0 <= row["public.utilisation"] <= 1.0 + TOL

    # compute: nobody sells more GPU-hours than they have
    for h in model.hosters:
        assert h.used <= h.capacity * (1 + 1e-9) + 1e-6, (h.name, h.used, h.capacity)
        # demand over capacity: above 1 only by training demand it could not meet
        assert h.utilisation * h.capacity == pytest.approx(h.used + h.unmet, rel=1e-9, abs=1e-6)
        assert h.unmet >= 0.0 and (h.unmet == 0.0 or h.used >= h.capacity * (1 - 1e-9))
        assert h.price > 0

    # market and stranding
    assert row["market.gpu_price"] > 0
    assert 0.0 <= row["market.hosting_hhi"] <= 1.0 + TOL
    res = model.researchers
    assert row["stranded.deployments"] == res.stranded.sum() * res.weight
    assert (res.deployment[res.stranded] >= 0).all()  # stranded means a deployment is waiting
    assert (res.budget >= 0).all()

    # closed releases never carry weights
    rel = model.releases.arrays()
    assert not rel["weights"][rel["licence"] == 2].any()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(worlds())
def test_invariants_hold_every_month(world):
    scenario, overrides, seed, months, n = world
    config = simulation.load_scenario(scenario, overrides)
    model = simulation.EcosystemModel(config, rng=seed, researchers=n)
    frontier = -np.inf
    for month in range(months):
        model.step()
        frame = model.metrics.frame()
        assert len(frame) == month + 1
        row = frame.iloc[-1]
        assert row["step"] == month
        check_month(model, row)
        assert row["capability.frontier"] >= frontier  # the state of the art never recedes
        frontier = row["capability.frontier"]


def test_invariants_under_every_shock_at_once():
    """A fixed, hostile case: every kind of event in the same month in the public option."""
    events = [
        Event(month=2, type="licence_revocation", lab_kind="commercial_open"),
        Event(month=2, type="delist", hoster_kind="specialty", lab_kind="commercial_open"),
        Event(month=2, type="leave_region", hoster_kind="hyperscaler", group="global_south"),
        Event(month=2, type="price_shock", factor=3.0),
        Event(month=2, type="budget_cut", factor=0.1),
    ]
    overrides = {"events": [e.model_dump() for e in events]}
    config = simulation.load_scenario("public_option", overrides)
    model = simulation.EcosystemModel(config, rng=11, researchers=500)
    for _ in range(8):
        model.step()
        check_month(model, model.metrics.frame().iloc[-1])
