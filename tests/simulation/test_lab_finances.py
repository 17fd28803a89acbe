"""Lab finances from revenue: the economy's AI spending, sales by licence, investment, grants.

No lab has an income path: each test sets up what a lab sells or receives and checks that its
money follows (docs/ODD.md 7.1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advance, labs_of, make_model, train_now

from simulation.config import Economy, LabKind
from simulation.economy import ai_spend, earned_share, params_from_compute, spending_shares
from simulation.releases import CLOSED, OPEN, RESTRICTED, ReleaseRegistry, open_lag_months

LAB_KINDS = ("frontier_closed", "commercial_open", "nonprofit", "academic")


def test_the_economy_spends_more_as_the_frontier_gains_up_to_its_ceiling():
    e = Economy(
        ai_spend_usd_per_month=1e9, capability_elasticity=0.5, max_ai_spend_usd_per_month=5e9
    )
    assert ai_spend(e, 8.0, 8.0) == pytest.approx(1e9)
    assert ai_spend(e, 9.0, 8.0) == pytest.approx(1e9 * 10**0.5)  # a decade: x 10^0.5
    assert ai_spend(e, 12.0, 8.0) == pytest.approx(5e9)  # the growth limit binds
    assert ai_spend(e.model_copy(update={"max_ai_spend_usd_per_month": None}), 12.0, 8.0) > 5e9


def test_spending_follows_capability_and_the_appeal_of_weights():
    e = Economy(quality_sensitivity=2.0, open_weights_appeal=1.0)
    caps = np.array([10.0, 9.0, -math.inf])
    closed = spending_shares(caps, np.array([False, False, False]), e)
    assert closed.sum() == pytest.approx(1.0) and closed[2] == 0.0  # no model, no spending
    assert closed[0] / closed[1] == pytest.approx(math.exp(2.0))  # a decade ahead
    opened = spending_shares(caps, np.array([False, True, False]), e)
    assert opened[1] == pytest.approx(closed[1] * math.e / (closed[0] + closed[1] * math.e))


def test_a_lab_earns_what_its_licence_lets_it_charge():
    e = LabKind(restricted_revenue_share=0.3)
    assert (earned_share(CLOSED, e), earned_share(RESTRICTED, e), earned_share(OPEN, e)) == (
        1.0,
        0.3,
        0.0,
    )


def test_sales_investment_and_savings_follow_the_rules():
    m = advance(make_model(n=200), 1)
    e = m.config.economy
    leader = labs_of(m, "frontier_closed")[0]
    share = m.shares[leader.index]
    leader.sales_history = [leader.sales_history[-1] / 2]  # sales doubled over the year
    budget, revenue = leader.budget, 1e6
    leader.revenue = revenue
    leader.earn(share)
    assert leader.sales == pytest.approx(share * m.ai_spend)  # closed: it earns it all
    lead = share / m.lead_share
    growth = min(e.investor_growth_cap, leader.sales / leader.sales_history[0])
    invested = e.investment_per_revenue * leader.sales * lead * growth
    assert leader.investment == pytest.approx(invested)
    saved = leader.spec.training_share * (leader.sales + revenue + leader.investment)
    assert leader.budget == pytest.approx(budget + saved + leader.grant)
    nonprofit = labs_of(m, "nonprofit")[0]  # open licence: it lives on its grant
    before = nonprofit.budget
    nonprofit.earn(m.shares[nonprofit.index])
    assert nonprofit.sales == 0.0 and nonprofit.investment == 0.0
    assert nonprofit.budget == pytest.approx(before + nonprofit.grant)


def test_investment_is_capped_and_follows_the_lead():
    m = advance(make_model(overrides={"economy.max_investment_usd_per_month": 1e6}, n=200), 2)
    for lab in m.labs:
        assert lab.investment <= 1e6 * (1 + 1e-12)
    m = advance(make_model(n=200), 2)
    e = m.config.economy
    selling = [lab for lab in m.labs if lab.sales > 0]
    for lab in selling:  # investment per USD of sales follows the lead and the sales growth
        lead = m.shares[lab.index] / m.lead_share
        past = lab.sales_history[0]
        growth = min(e.investor_growth_cap, lab.sales / past) if past > 0 else 1.0
        want = e.investment_per_revenue * lead * max(1.0, growth)
        assert lab.investment / lab.sales == pytest.approx(want, rel=1e-9)
    leader = max(selling, key=lambda lab: m.shares[lab.index])  # investors back the leader
    assert leader.investment / leader.sales >= e.investment_per_revenue * (1 - 1e-9)


def test_without_sales_or_grants_no_lab_has_money():
    """No income path: with no spending by the economy, no grants and no researcher able to pay
    an API, labs receive nothing and train nothing."""
    over = {
        "economy.ai_spend_usd_per_month": 0.0,
        "labs.nonprofit.grant_usd_per_month": 0.0,
        "labs.academic.grant_usd_per_month": 0.0,
        "labs.frontier_closed.api_capacity_gpu_hours_per_month": 0.0,
        "labs.commercial_open.api_capacity_gpu_hours_per_month": 0.0,
    }
    m = make_model(overrides=over, n=200)
    releases = len(m.releases)
    advance(m, 24)
    assert all(lab.income == 0.0 and lab.budget == 0.0 for lab in m.labs)
    assert (~m.releases.arrays()["derivative"]).sum() == releases  # the community's only
    richer = advance(make_model(n=200), 24)
    assert len(richer.releases) > releases


def test_more_spending_by_the_economy_pays_for_bigger_training_runs():
    def frontier(spend):
        over = {"economy.ai_spend_usd_per_month": spend}
        return advance(make_model(overrides=over, n=200), 30).frontier

    assert frontier(5e9) > frontier(2e8) + 0.3


def test_model_size_follows_training_compute():
    # cal: Llama 3.1 405B, 30.84M H100-hours, ~37 tokens per parameter
    assert params_from_compute(30.84e6, 1.2e18, 37.0) == pytest.approx(405, rel=0.02)
    assert params_from_compute(4 * 30.84e6, 1.2e18, 37.0) == pytest.approx(
        2 * params_from_compute(30.84e6, 1.2e18, 37.0)
    )  # compute-optimal: parameters ~ compute^0.5
    m = advance(make_model(n=200), 1)
    lab = labs_of(m, "commercial_open")[0]
    new = train_now(m, lab)
    sizes = m.releases.arrays()["params_b"][new]
    assert sizes[0] == pytest.approx(
        params_from_compute(lab.compute_gpu_hours, 1.2e18, lab.spec.tokens_per_param)
    )
    assert sorted(sizes[1:], reverse=True) == sorted(lab.spec.distilled_params_b, reverse=True)


def _registry(rows):
    r = ReleaseRegistry()
    for month, cap, weights in rows:
        r.add_family(0, month, [1.0], [cap], 0.5, RESTRICTED if weights else CLOSED, weights, False)
    return r.arrays()


def test_the_open_lag_is_read_from_release_dates():
    # the frontier reached 8.0 at month -10; the best open model (8.0, month -1) lags it
    a = _registry([(-10, 8.0, False), (-2, 9.0, False), (-1, 8.0, True)])
    assert open_lag_months(a, 0, 1.0) == 10.0
    assert open_lag_months(a, 5, 1.0) == 15.0  # the lag grows until a better open model
    # an open model below the first release on record: the frontier is dated back on its trend
    a = _registry([(-10, 8.0, False), (-1, 7.5, True)])
    assert open_lag_months(a, 0, 1.0) == pytest.approx(10 + 6)  # half a decade at 1 a year
    assert math.isnan(open_lag_months(_registry([(-10, 8.0, False)]), 0, 1.0))
    # an open model at the frontier: no lag
    assert open_lag_months(_registry([(-10, 8.0, False), (3, 9.0, True)]), 3, 1.0) == 0.0


def test_starting_models_keep_their_real_release_dates():
    m = make_model(n=50)
    rel = m.releases.arrays()
    for lab in m.labs:
        months = rel["month"][rel["lab"] == lab.index]
        assert set(months) == {lab.last_release_month}
        assert lab.last_release_month in lab.spec.initial_release_months
    assert rel["month"].min() < 0
    row = advance(m, 1).metrics.frame().iloc[0]
    assert row["capability.open_lag_months"] > 1  # not capped at the run's age


def test_training_buys_gpu_time_from_the_market_over_several_months():
    m = advance(make_model(n=200), 1)
    lab = labs_of(m, "commercial_open")[0]
    lab.budget, lab.last_release_month = 5e9, -100
    before = len(m.releases)
    m.step()  # the run starts and buys its first instalment
    assert lab.run is not None and lab.run.gpu_hours > 0
    gpu = [m.hosters[i] for i in m.gpu_market_index]
    background = m.config.market.background_utilisation
    assert sum(h.used for h in gpu) > background * sum(h.capacity for h in gpu)
    advance(m, lab.spec.training_months)
    new = np.flatnonzero(m.releases.arrays()["lab"][before:] == lab.index)
    assert new.size and lab.run is None or lab.run.gpu_hours < 1  # released, then maybe anew
    assert lab.training_cost > 0


def test_a_training_boom_raises_gpu_prices_for_everyone():
    def price(budget):
        m = advance(make_model(n=200), 1)
        for lab in labs_of(m, "frontier_closed"):
            lab.budget, lab.last_release_month = budget, -100
        advance(m, 3)
        return m.metrics.frame()["market.gpu_price"].iloc[-1]

    assert price(5e11) > 1.2 * price(0.0)


def test_a_gpu_shortage_makes_a_smaller_run_not_a_dearer_one():
    over = {
        "hosters.hyperscaler.capacity_gpu_hours_per_month": 1e6,
        "hosters.specialty.capacity_gpu_hours_per_month": 1e6,
    }
    m = advance(make_model(overrides=over, n=50), 1)
    lab = labs_of(m, "frontier_closed")[0]
    lab.budget, lab.last_release_month = 1e10, -100
    committed = 1e10 * lab.spec.training_spend_share
    advance(m, lab.spec.training_months + 1)
    assert lab.compute_gpu_hours < committed / m.gpu_market_price / 10  # capacity bound
    assert lab.budget > 0.9 * committed  # unspent money went back to its savings


def test_a_world_where_no_lab_starts_with_a_model_runs_and_grows_from_its_first():
    over = {f"labs.{k}.initial_training_gpu_hours": 0.0 for k in LAB_KINDS}
    m = make_model(overrides=over, n=200)
    m.step()  # nobody can do anything, but the month is measured
    assert len(m.releases) == 0 and not m.researchers.outcome.ran.any()
    advance(m, 23)
    assert len(m.releases) > 0 and m.researchers.outcome.ran.any()
    first = m.frontier_at_start  # spending grows from the first frontier, not from nothing
    assert math.isfinite(first) and m.ai_spend >= m.config.economy.ai_spend_usd_per_month


def test_a_lab_with_nothing_at_stake_keeps_its_licence():
    m = advance(make_model(overrides={"economy.ai_spend_usd_per_month": 0.0}, n=200), 1)
    lab = labs_of(m, "commercial_open")[0]
    m.researchers.users[:] = 0.0  # no adopters either
    draws = lab.decision_rng.bit_generator.state
    assert lab.release_licence(m.frontier + 1.0, 1e8) == (RESTRICTED, True)
    assert lab.decision_rng.bit_generator.state == draws  # no coin flipped
