"""Knowledge as a non-rival stock: what one lab embeds never takes from another."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, labs_of, make_model

from simulation.model import absorb_from_commons


def test_adding_a_lab_never_lowers_another_labs_absorption():
    capacity, embedded = np.array([2e4, 5e3]), np.array([10.0, 0.0])
    alone = absorb_from_commons(100.0, embedded, capacity, 4e4, np.ones(2, bool))
    more = absorb_from_commons(
        100.0, np.r_[embedded, 0.0, 50.0], np.r_[capacity, 9e4, 1e3], 4e4, np.ones(4, bool)
    )
    assert np.array_equal(more[:2], alone)  # each lab's gain depends on itself and the stock


def test_absorption_rises_with_capacity_and_the_gap_and_stops_without_access():
    gained = absorb_from_commons(
        100.0,
        np.array([0.0, 0.0, 60.0, 0.0, 120.0]),
        np.array([1e3, 4e4, 4e4, 4e4, 4e4]),
        4e4,
        np.array([True, True, True, False, True]),
    )
    assert gained[0] < gained[1]  # more capacity, more embedded
    assert gained[1] == pytest.approx(100.0 * (1 - np.exp(-1)))  # 1 - 1/e of the gap at the scale
    assert gained[2] < gained[1]  # a smaller gap
    assert gained[3] == 0.0 and gained[4] == 0.0  # share-alike, or nothing left to learn


def test_more_nonprofit_labs_do_not_lower_what_the_frontier_labs_absorb_early():
    """Over three seeds: what is built on the frontier's own models moves with researchers'
    choices, but the commons it also draws on is not shared out. Fine-tunes through the
    frontier labs' APIs are off: more non-profit models draw those fine-tunes (and their
    home contributions, 7.9) away, a choice effect this test is not about."""

    def frontier(count: int) -> float:
        total = 0.0
        for seed in range(3):
            over = {
                "labs.nonprofit.count": count,
                "labs.frontier_closed.api_finetune": False,
                "labs.frontier_closed.api_deploy": False,
            }
            m = advance(make_model("market", over, n=3000, seed=seed), 3)
            total += sum(lab.absorbed for lab in labs_of(m, "frontier_closed"))
        return total

    assert frontier(6) >= 0.98 * frontier(3)


def test_share_alike_keeps_closed_labs_to_what_is_built_on_their_own_models():
    def closed(share_alike: bool) -> float:
        over = {"contributions.share_alike": share_alike}
        df = advance(make_model("market", over, n=400), 12).metrics.frame()
        return df["absorbed.frontier_closed"].iloc[-1]

    assert closed(True) < 0.5 * closed(False)


def test_the_stock_ages():
    quiet = {  # nothing flows in: no contributions, no give-back
        "contributions.run_probability": 0.0,
        "contributions.finetune_probability": 0.0,
        "contributions.give_back": 0.0,
        "contributions.stock_decay_per_month": 0.1,
    }
    m = advance(make_model("market", quiet, n=200), 1)
    m.commons_stock = 1000.0
    m.step()
    assert m.commons_stock == pytest.approx(900.0)


def test_an_open_release_gives_its_progress_back_and_a_closed_one_does_not():
    m = advance(make_model("market", {"labs.frontier_closed.strategic": False}, n=200), 1)
    scale = m.config.contributions.value_scale
    for kind, gives in (("nonprofit", True), ("frontier_closed", False)):
        lab = labs_of(m, kind)[0]
        best = lab.best_capability
        m.commons_inflow = 0.0
        lab.train(lab.compute_gpu_hours * 10)
        progress = lab.best_capability - best
        assert progress > 0
        assert m.commons_inflow == pytest.approx(scale * progress if gives else 0.0)


def _shares(c, open_base: bool, derivative: bool) -> np.ndarray:
    from simulation.researchers import publish_choice

    n = 20_000
    draw = np.random.default_rng(0).random(n)
    choice = publish_choice(c, np.full(n, open_base), np.full(n, derivative), draw)
    return np.bincount(choice, minlength=3) / n


def test_researchers_publish_more_what_they_built_on_open_models_and_may_share():
    c = make_model(n=10).config.contributions
    closed, restricted, open_ft = (
        _shares(c, False, False),
        _shares(c, False, True),
        _shares(c, True, True),
    )
    assert closed[0] < restricted[0] < open_ft[0]  # publish
    # the logit shares, exactly: publish vs keep vs abstain
    u = np.array([c.publish_credit + c.reciprocity + c.derivative_credit, c.private_value, 0.0])
    assert open_ft == pytest.approx(np.exp(u) / np.exp(u).sum(), abs=0.01)


def test_only_published_contributions_reach_the_commons():
    never = {"contributions.publish_credit": -20.0, "contributions.reciprocity": 0.0}
    never["contributions.derivative_credit"] = 0.0
    m = advance(make_model("market", never, n=400), 12)
    assert m.contributions_by_home.sum() == 0.0
    df = m.metrics.frame()
    assert (df["contributions.published_share"] < 1e-3).all()
    assert df["absorbed.frontier_closed"].iloc[-1] > 0  # open releases still give back
