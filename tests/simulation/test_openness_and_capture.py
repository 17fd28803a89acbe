"""Closed labs, strategic openness, adoption and the capture of community contributions.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ONE_MODEL_WORLD, advance, labs_of, make_model

from simulation.releases import CLOSED, RESTRICTED


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
    # usage data kept by a lab's API counts as captured, and always privately
    total = sum(lab.absorbed + lab.api_data_value for lab in m.labs)
    assert df["capture.private"].iloc[-1] == pytest.approx(
        sum(lab.absorbed_private + lab.api_data_value for lab in m.labs) / total
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
