"""Compute market: GPU prices, scarcity pricing, capacity, model size and task needs.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import ONE_MODEL_WORLD, advance, make_model, one_size


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


def _one_model_world(params_b, hardware, budget, deploy_users=None):
    """Every researcher faces one release of ``params_b`` billion parameters at one known price;
    each simulated researcher stands for one real one so that capacity never rations.
    ``deploy_users`` sets everyone's deployment size (default: as drawn)."""
    n = len(budget)
    overrides = {
        **ONE_MODEL_WORLD,
        **one_size(params_b),
        "simulation.researchers_represented": float(n),
    }
    m = make_model(overrides=overrides, n=n)
    m.researchers.hardware_gb[:] = hardware
    m.researchers.budget[:] = budget
    if deploy_users is not None:
        m.researchers.deploy_users[:] = deploy_users
    m.step()
    assert (~m.releases.arrays()["derivative"]).sum() == 1  # fine-tunes may be published
    assert m.releases.arrays()["params_b"][0] == pytest.approx(params_b, rel=1e-12)
    return m


def _price_last_month(m, rid=0):
    """The lowest commercial price for release ``rid`` in the month just simulated."""
    m.month -= 1  # prices are set at the start of a month; the step moved the clock on
    try:
        return min(h.price for h in m.hosters if h.listed[rid] and not h.public)
    finally:
        m.month += 1


def test_model_size_and_task_set_memory_needs():
    """With no money, what runs is what fits local memory: run < fine-tune < deploy (small
    deployments: the hardware's hours are not what binds here)."""
    n, p = 600, 7.0
    hardware = np.linspace(0.0, 2 * p, n)
    m = _one_model_world(p, hardware, np.zeros(n), deploy_users=100.0)
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
