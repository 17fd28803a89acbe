"""Closed models through their lab's API: run, fine-tune and deploy there only, data to the lab.

Each test builds a small model from the real ``market`` scenario, changes one rule's setting
and checks that what the rule says moves the way it says.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, labs_of, make_model

import simulation.researchers
from simulation.releases import CLOSED

OFF = {"labs.frontier_closed.api_finetune": False, "labs.frontier_closed.api_deploy": False}
# Rich well-funded researchers: many can pay for a frontier model's fine-tune or deployment.
RICH = {"groups.well_funded.budget_median_usd": 2e4}


def _closed_use(overrides=None, months=12, n=800):
    """Per month: researchers who fine-tuned and who deployed a closed model, and the model.

    The well-funded are ``RICH`` unless ``overrides`` say otherwise.
    """
    m = make_model(overrides={**RICH, **(overrides or {})}, n=n)
    finetunes, deploys = [], []
    for _ in range(months):
        m.step()
        r, o, rel = m.researchers, m.researchers.outcome, m.releases.arrays()
        closed = rel["licence"][np.maximum(r.choice, 0)] == CLOSED
        finetunes.append(int((o.finetuned & closed).sum()))
        on = np.maximum(r.deployment, 0)
        deploys.append(int((o.deployed & (rel["licence"][on] == CLOSED)).sum()))
    return np.array(finetunes), np.array(deploys), m


def test_turning_the_api_offers_off_leaves_closed_models_to_running():
    ft_on, dep_on, _ = _closed_use()
    ft_off, dep_off, m = _closed_use(OFF)
    assert ft_on.sum() > 0 and dep_on.sum() > 0
    assert ft_off.sum() == 0 and dep_off.sum() == 0
    assert m.metrics.frame()["api_share.run.well_funded"].max() > 0  # still run there


def test_closed_models_are_fine_tuned_and_deployed_only_at_their_labs_api():
    m = make_model(overrides=RICH, n=800)
    api_of = {h.position: h.owner.index for h in m.hosters if h.owner is not None}
    seen = 0
    for _ in range(12):
        m.step()
        r, o, rel = m.researchers, m.researchers.outcome, m.releases.arrays()
        chosen = np.maximum(r.choice, 0)
        closed = rel["licence"][chosen] == CLOSED
        # a closed model's fine-tune went through an API; nothing else's did
        assert (o.via_api[1] == (o.finetuned & closed)).all()
        dep = np.flatnonzero(o.deployed & (rel["licence"][np.maximum(r.deployment, 0)] == CLOSED))
        for i in dep:  # never on own hardware, never at another hoster: its own lab's API
            assert api_of.get(int(r.deploy_host[i])) == rel["lab"][r.deployment[i]]
        seen += dep.size + int(o.via_api[1].sum())
    assert seen > 0


def test_an_api_fine_tune_publishes_no_derivative(monkeypatch):
    calls = []
    choose = simulation.researchers.publish_choice

    def spy(c, open_base, derivative, draw):
        calls.append(derivative.copy())
        return choose(c, open_base, derivative, draw)

    monkeypatch.setattr(simulation.researchers, "publish_choice", spy)
    # only closed models: every fine-tune is an API fine-tune, so no contributor has a derivative
    only_closed = {**RICH, **{f"labs.{k}.count": 0 for k in ("commercial_open", "nonprofit")}}
    only_closed["labs.academic.count"] = 0
    m = make_model(overrides=only_closed, n=800)
    api_finetunes = 0
    for _ in range(12):
        m.step()
        api_finetunes += int(m.researchers.outcome.via_api[1].sum())
    assert api_finetunes > 0 and sum(c.size for c in calls) > 0
    assert not any(c.any() for c in calls)
    calls.clear()  # with open models, fine-tunes of weights are derivatives
    advance(make_model(overrides=RICH, n=800), 6)
    assert any(c.any() for c in calls)


def test_fewer_closed_fine_tunes_when_they_cost_more():
    # an API with room for everyone: what moves is the price, not the queue for its capacity
    roomy = {"labs.frontier_closed.api_capacity_gpu_hours_per_month": 1e12}
    cheap, _, _ = _closed_use({**roomy, "labs.frontier_closed.api_finetune_price_factor": 1.0})
    dear, _, _ = _closed_use({**roomy, "labs.frontier_closed.api_finetune_price_factor": 20.0})
    assert cheap.sum() > dear.sum()


def test_api_deployments_are_bounded_by_the_apis_capacity():
    def api_deployments(capacity):
        over = {"labs.frontier_closed.api_capacity_gpu_hours_per_month": capacity}
        _, deploys, m = _closed_use(over)
        for h in m.hosters:
            if h.owner is not None:
                assert h.used <= h.capacity * (1 + 1e-9)
        return deploys.sum()

    assert api_deployments(3e5) < api_deployments(3e6)


def test_the_api_share_rises_when_open_weights_are_revoked():
    def api_share(revoke):
        m = advance(make_model(n=1500), 3)
        if revoke:
            for lab in labs_of(m, "commercial_open"):
                lab.revoke_licences()
        advance(m, 9)
        df = m.metrics.frame()
        return df.loc[df.step >= 3, "api_share.run.well_funded"].mean()

    assert api_share(True) > api_share(False) + 0.05


def test_usage_data_kept_by_an_api_counts_as_private_capture():
    value = make_model().config.contributions.data_value_per_gpu_hour

    def final(data_value):
        m = advance(make_model(overrides={"contributions.data_value_per_gpu_hour": data_value}), 8)
        return m, m.metrics.frame().iloc[-1]

    m, with_data = final(value)
    _, without = final(0.0)
    for lab in m.labs:  # each lab keeps the value of what its API served
        served = sum(h.data_gpu_hours for h in m.hosters if h.owner is lab)
        assert lab.api_data_value == pytest.approx(served * value)
    kept = sum(lab.api_data_value for lab in labs_of(m, "frontier_closed"))
    assert kept > 0
    assert with_data["absorbed.frontier_closed"] == pytest.approx(
        without["absorbed.frontier_closed"] + kept
    )
    assert with_data["capture.private"] > without["capture.private"]
