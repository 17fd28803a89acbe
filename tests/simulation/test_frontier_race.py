"""Frontier race: labs earn, pre-train (cost grows with the frontier) and release.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advance, labs_of, make_model, train_now
from hypothesis import given, settings
from hypothesis import strategies as st


def test_pretraining_releases_a_more_capable_model_when_the_budget_allows():
    m = advance(make_model(), 1)
    lab = labs_of(m, "nonprofit")[0]
    best = lab.best_capability
    new = train_now(m, lab, budget=1e12)  # enough for a run far beyond its current model
    rel = m.releases.arrays()
    sizes = m.releases.arrays()["params_b"][new]
    assert new.size == 1 + sum(s < sizes[0] for s in lab.spec.distilled_params_b)  # a family
    assert sizes[0] == sizes.max()  # the flagship is the largest
    assert (rel["lab"][new] == lab.index).all()
    assert (rel["month"][new] == m.month).all()
    assert rel["capability"][new].max() > best + lab.spec.min_improvement
    assert lab.best_capability == pytest.approx(rel["capability"][new].max())
    assert lab.budget < 1e12 and lab.training_cost > 0  # it paid for the run
    assert m.frontier >= lab.best_capability


def test_a_lab_without_money_does_not_pretrain():
    m = make_model(overrides={"labs.academic.grant_usd_per_month": 0.0})
    academic = labs_of(m, "academic")
    started_with = {lab.index: list(lab.release_ids) for lab in academic}
    assert all(started_with.values())  # each starts with the model it already has
    advance(m, 30)
    rel = m.releases.arrays()
    for lab in academic:
        assert lab.release_ids == started_with[lab.index], "no new model without money"
        own = (rel["lab"] == lab.index) & ~rel["derivative"]  # not the community's fine-tunes
        assert set(np.flatnonzero(own)) == set(started_with[lab.index])
        assert lab.budget == 0.0
    others = [lab for lab in m.labs if lab.kind != "academic"]
    assert any(len(lab.release_ids) > 1 + len(lab.spec.distilled_params_b) for lab in others)


def test_a_lab_whose_budget_buys_too_little_improvement_waits():
    m = advance(make_model(), 1)
    lab = labs_of(m, "nonprofit")[0]
    lab.last_release_month = m.month - lab.spec.min_release_interval_months
    lab.grant = 0.0  # an open-licence lab sells nothing: no money comes in this month
    # Exactly what would reach its current best: short of the required improvement.
    gpu_hours = 10 ** (lab.best_capability - lab.potential_capability(1.0))
    lab.budget = gpu_hours * m.gpu_market_price / lab.spec.training_spend_share
    lab.step()
    assert lab.run is None
    saved = gpu_hours * m.gpu_market_price / lab.spec.training_spend_share
    assert lab.budget == pytest.approx(saved)


def test_releases_respect_the_minimum_interval():
    m = advance(make_model(overrides={"labs.nonprofit.grant_usd_per_month": 1e9}), 36)
    rel = m.releases.arrays()
    for lab in m.labs:
        months = np.unique(rel["month"][(rel["lab"] == lab.index) & ~rel["derivative"]])
        gaps = np.diff(months)
        assert (gaps >= lab.spec.min_release_interval_months).all(), (lab.kind, months)
    rich = labs_of(m, "nonprofit")
    assert all(len(np.unique(rel["month"][rel["lab"] == lab.index])) >= 3 for lab in rich)


def test_a_lab_with_more_income_reaches_higher_capability():
    m = make_model()
    poor, rich = labs_of(m, "academic")[:2]
    poor.grant, rich.grant = 1e5, 1e8
    poor.last_release_month = rich.last_release_month = 0
    advance(m, 30)
    assert rich.best_capability > poor.best_capability + 1.0
    assert rich.compute_gpu_hours > poor.compute_gpu_hours


def test_the_cost_of_a_frontier_run_grows_over_time():
    """Sales grow with the frontier and are re-invested: frontier training runs get dearer
    (calibration: ~2.4x per year) while the frontier only moves up."""
    df = advance(make_model(n=300), 36).metrics.frame()
    cost, frontier = df["frontier.training_cost_usd"], df["capability.frontier"]
    assert cost.iloc[-1] > 4 * cost.iloc[0]
    assert (np.diff(frontier) >= 0).all() and frontier.iloc[-1] > frontier.iloc[0] + 2


def test_api_revenue_is_reinvested_in_the_lab():
    """With no spending by the rest of the economy, a closed lab still builds a budget: its
    training share of last month's API sales to researchers."""
    m = make_model(overrides={"economy.ai_spend_usd_per_month": 0.0})
    closed = labs_of(m, "frontier_closed")
    earned = 0.0
    for _ in range(5):
        pending = {lab.index: lab.revenue for lab in closed}
        budget = {lab.index: lab.budget for lab in closed}
        before = len(m.releases)
        m.step()
        trained = set(m.releases.arrays()["lab"][before:].tolist())
        for lab in closed:
            assert lab.sales == 0.0 and lab.investment == 0.0
            assert lab.income == pytest.approx(pending[lab.index])
            if lab.index not in trained:
                saved = lab.spec.training_share * pending[lab.index]
                assert lab.budget == pytest.approx(budget[lab.index] + saved)
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
