"""Closed labs, strategic openness, adoption and the capture of community contributions.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ONE_MODEL_WORLD, advance, labs_of, make_model, train_now

from simulation.releases import CLOSED, RESTRICTED


def test_a_closed_lab_absorbs_contributions_but_releases_no_weights():
    m = advance(make_model(overrides={"labs.frontier_closed.strategic": False}, n=600), 12)
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


# Openness decisions that follow the payoffs: almost no decision noise.
DECIDED = {"economy.decision_noise": 1e-6}
# a commercial-open lab that earns little from its open models (the fitted share is ~1, where
# closing never pays): leading the field, it closes
CLOSES = {**DECIDED, "labs.commercial_open.restricted_revenue_share": 0.3}
FEES_ONLY = {"labs.commercial_open.restricted_revenue_share": 0.1}


def test_the_further_ahead_the_more_closing_pays():
    m = advance(make_model(overrides=DECIDED), 1)
    lab = labs_of(m, "commercial_open")[0]
    ratios = [np.divide(*lab.openness_payoffs(m.frontier + lead, 1e8)) for lead in (-3, 0, 2)]
    assert ratios[0] < ratios[1] < ratios[2]  # a leader's share needs no appeal of weights
    closed, opened = lab.openness_payoffs(m.frontier - 3.0, 1e8)
    assert opened > closed  # far behind, the appeal of weights outweighs exclusivity
    # a lab that earns only licence fees from its open models closes when it leads by far
    cheap = advance(make_model(overrides={**DECIDED, **FEES_ONLY}), 1)
    lab = labs_of(cheap, "commercial_open")[0]
    closed, opened = lab.openness_payoffs(cheap.frontier + 2.0, 1e8)
    assert closed > opened  # exclusive sales: the leader has no equal substitute


def test_a_strategic_lab_closes_at_the_frontier_and_opens_far_behind():
    # restricted terms earn half: far behind, the appeal of weights (x e^1.2) more than pays
    overrides = {**CLOSES, "labs.frontier_closed.restricted_revenue_share": 0.5}
    m = advance(make_model(overrides=overrides), 1)
    near, far = labs_of(m, "commercial_open")[:2]
    near.absorbed = 1e9  # its next run leads the field by far
    new = train_now(m, near)
    rel = m.releases.arrays()
    assert near.best_capability == m.frontier
    assert not rel["weights"][new].any() and (rel["licence"][new] == CLOSED).all()
    assert near.closed_at == m.month  # it stopped releasing weights
    closed = labs_of(m, "frontier_closed")[0]  # a closed lab far behind the new leader
    assert closed.best_capability < m.frontier - 1.0
    new = train_now(m, closed, budget=1e9)
    rel = m.releases.arrays()
    assert rel["weights"][new].all() and (rel["licence"][new] == RESTRICTED).all()
    assert closed.weights


def test_a_lab_that_is_not_strategic_keeps_its_licence():
    m = advance(make_model(overrides={**DECIDED, "labs.commercial_open.strategic": False}), 1)
    lab = labs_of(m, "commercial_open")[0]
    lab.absorbed = 1e9
    new = train_now(m, lab)
    assert lab.best_capability == m.frontier
    assert m.releases.arrays()["weights"][new].all()


def test_a_delayed_release_mandate_makes_closing_pay_less():
    def payoffs(delay):
        m = advance(make_model(overrides={"regulation.release_delay_months": delay}), 1)
        lab = labs_of(m, "commercial_open")[0]
        return lab.openness_payoffs(m.frontier + 0.5, 1e9)

    (free, opened), (mandated, opened_too) = payoffs(0), payoffs(6)
    assert mandated < free and opened_too == pytest.approx(opened)


@pytest.mark.parametrize("irrevocable", [False, True])
def test_a_lab_that_closes_may_revoke_its_earlier_licences(irrevocable):
    overrides = {
        **CLOSES,
        "economy.revocation_trust_cost": 0.0,  # revoking costs it nothing: it revokes
        "regulation.irrevocable_licences": irrevocable,
    }
    m = advance(make_model(overrides=overrides), 1)
    lab = labs_of(m, "commercial_open")[0]
    earlier = list(lab.release_ids)
    assert (m.releases.arrays()["licence"][earlier] == RESTRICTED).all()
    lab.absorbed = 1e9  # its next model leads: it closes
    new = train_now(m, lab)
    rel = m.releases.arrays()
    assert (rel["licence"][new] == CLOSED).all()
    assert rel["revoked"][earlier].all() != irrevocable
    assert not rel["revoked"][new].any()


def test_revoking_is_weighed_against_the_trust_it_costs():
    overrides = {**CLOSES, "economy.revocation_trust_cost": 5.0}
    m = advance(make_model(overrides=overrides), 1)
    lab = labs_of(m, "commercial_open")[0]
    lab.absorbed = 1e9
    train_now(m, lab)
    assert lab.licence == CLOSED
    assert not m.releases.arrays()["revoked"].any()


def test_a_release_commitment_keeps_a_funded_lab_releasing_weights():
    m = advance(make_model("outsourced_provision", DECIDED), 1)
    lab = labs_of(m, "commercial_open")[0]
    assert lab.under_commitment()
    lab.absorbed = 1e9  # it would lead, and close, without the contract
    new = train_now(m, lab)
    rel = m.releases.arrays()
    assert lab.best_capability == m.frontier
    assert rel["weights"][new].all() and (rel["licence"][new] == RESTRICTED).all()


def test_openness_reports_the_share_of_each_kinds_labs_releasing_weights():
    m = advance(make_model(n=200), 2)
    lab = labs_of(m, "commercial_open")[0]
    lab.licence, lab.weights = CLOSED, False
    m.step()
    row = m.metrics.frame().iloc[-1]
    for kind in m.lab_kinds:
        mine = labs_of(m, kind)
        if mine:
            assert row[f"openness.{kind}"] == pytest.approx(np.mean([x.weights for x in mine]))
    assert row["openness.commercial_open"] < 1.0 and row["openness.nonprofit"] == 1.0


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
            "labs.academic.initial_release_months": [0],
            "labs.academic.distilled_params_b": [],
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
    # usage data kept by a lab's API counts as captured, and always privately
    total = sum(lab.absorbed + lab.api_data_value for lab in m.labs)
    assert df["capture.private"].iloc[-1] == pytest.approx(
        sum(lab.absorbed_private + lab.api_data_value for lab in m.labs) / total
    )


def test_an_all_open_world_has_no_private_capture():
    overrides = {
        "labs.frontier_closed.count": 0,
        "labs.commercial_open.licence": "open",
        "labs.commercial_open.strategic": False,
    }
    m = advance(make_model(overrides=overrides, n=400), 12)
    df = m.metrics.frame()
    assert (df["capture.private"] == 0).all()
    assert (df["capture.commercial_open"] > 0).all()


def test_labs_absorb_the_commons_at_a_rate_set_by_their_own_capacity():
    m = advance(make_model(n=300), 2)
    c = m.config.contributions
    before = np.array([lab.absorbed for lab in m.labs])
    embedded = np.array([lab.embedded for lab in m.labs]) * (1 - c.stock_decay_per_month)
    capacity = np.array([lab.absorptive_capacity() for lab in m.labs])
    stock = m.commons_stock * (1 - c.stock_decay_per_month) + 1e6
    m.contributions_by_home = np.zeros(len(m.labs))
    m.commons_inflow = 1e6
    m._absorb_commons()
    gained = np.array([lab.absorbed for lab in m.labs]) - before
    rate = 1 - np.exp(-capacity / c.absorb_scale)
    assert np.allclose(gained, rate * (stock - embedded))
    assert gained.sum() > 1e6 * rate.max()  # non-rival: together they embed more than one can


def test_a_contribution_goes_first_to_the_lab_whose_model_it_built_on():
    m = advance(make_model(n=300), 2)
    c = m.config.contributions
    home = next(lab for lab in m.labs if lab.kind == "academic")
    stock_before = m.commons_stock
    m.contributions_by_home = np.zeros(len(m.labs))
    m.contributions_by_home[home.index] = 1000.0
    m.commons_inflow = 0.0
    embedded = home.embedded * (1 - c.stock_decay_per_month)
    m._absorb_commons()
    at_home = 1000.0 * c.home_bias * home.spec.absorb_effort  # as far as it makes the effort
    # the whole contribution enters the stock; the home lab already holds its home share
    assert m.commons_stock == pytest.approx(stock_before * (1 - c.stock_decay_per_month) + 1000)
    rate = 1 - np.exp(-home.absorptive_capacity() / c.absorb_scale)
    gap = m.commons_stock - (embedded + at_home)
    assert home.embedded == pytest.approx(embedded + at_home + rate * gap)


def test_a_lab_that_makes_no_effort_to_absorb_captures_less():
    def capture(effort):
        overrides = {"labs.nonprofit.absorb_effort": effort}
        m = advance(make_model(overrides=overrides, n=400), 12)
        return m.metrics.frame()["capture.nonprofit"].iloc[-1]

    assert capture(0.0) < 0.8 * capture(1.0)
