"""The compiled per-researcher rules, checked directly on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import kernels

INF = np.inf


def _choice_inputs(n: int = 1, **over):
    """Two candidate releases of the same size, open weights, capable; one researcher group
    with no hardware and no public access; market GPU-hour at 1 USD. Keyword overrides replace
    any argument of ``choose_models``."""
    cand = 2
    args = dict(
        mem=np.ones((3, cand)),
        hours=np.array([[1.0] * cand, [10.0] * cand, [100.0] * cand]),
        weights=np.ones(cand, bool),
        finetune_ok=np.ones(cand, bool),
        max_users=np.full(cand, INF),
        public_listed=np.zeros(cand, bool),
        capability=np.full(cand, 10.0),
        penalty=np.zeros(cand),
        appeal=np.zeros(cand),
        best_market=np.ones((1, cand)),
        best_credit=np.full((1, cand), INF),
        group=np.zeros(n, np.int64),
        friction=np.ones(n),
        hardware=np.zeros(n),
        budget=np.full(n, 1000.0),
        credit=np.zeros(n),
        underserved=np.zeros(n, bool),
        public_ok=np.zeros(n, bool),
        deploy_users=np.ones(n),
        slot_draw=np.full(n, 0.5),
        logit_draw=np.full(n, 0.5),
        service_rate=np.ones(3),
        threshold=9.0,
        capability_weight=1.0,
        cost_weight=1.0,
        use_credit=False,
    )
    args.update(over)
    return args


def choose(**over):
    return kernels.choose_models(*_choice_inputs(**over).values())


def test_nothing_affordable_means_no_choice():
    chosen, capable = choose(budget=np.array([0.5]))  # run costs 1 USD everywhere
    assert chosen[0] == -1 and not capable[0]


def test_own_hardware_makes_a_model_free():
    chosen, _ = choose(budget=np.array([0.0]), hardware=np.array([2.0]))
    assert chosen[0] >= 0


def test_a_capable_model_is_preferred_to_a_cheaper_plan_on_a_weak_one():
    # Candidate 0 is capable but only its run is affordable; candidate 1 is weak and cheap
    # enough for the whole plan. The researcher settles for the smaller plan on a capable model.
    chosen, capable = choose(
        capability=np.array([10.0, 5.0]),
        best_market=np.array([[50.0, 1.0]]),
        budget=np.array([200.0]),
    )
    assert chosen[0] == 0 and capable[0]


def test_only_models_that_afford_the_most_ambitious_plan_are_chosen():
    # Both capable; only candidate 1 makes run + fine-tune + deploy affordable.
    for u in (0.01, 0.5, 0.99):
        chosen, _ = choose(best_market=np.array([[20.0, 1.0]]), logit_draw=np.array([u]))
        assert chosen[0] == 1


def test_a_licence_without_derivatives_caps_the_plan_at_running():
    # Candidate 0 forbids fine-tuning; candidate 1 allows the whole plan: it is taken.
    chosen, _ = choose(finetune_ok=np.array([False, True]), logit_draw=np.array([0.01]))
    assert chosen[0] == 1


def test_logit_shares_follow_the_utility_difference():
    n, gap = 20_000, 1.0
    rng = np.random.default_rng(0)
    chosen, _ = choose(n=n, appeal=np.array([gap, 0.0]), logit_draw=rng.random(n))
    share = (chosen == 0).mean()
    expected = np.exp(gap) / (1 + np.exp(gap))  # 0.731
    assert share == pytest.approx(expected, abs=0.015)


def test_an_expected_public_slot_makes_hosting_free():
    # Listed on the public hoster and eligible: no budget needed if a slot is expected.
    over = dict(
        budget=np.array([0.0]),
        public_ok=np.array([True]),
        public_listed=np.array([True, True]),
    )
    assert choose(**over)[0][0] >= 0
    assert choose(**over, service_rate=np.zeros(3))[0][0] == -1  # expects no slot


def test_credit_pays_for_what_the_budget_cannot():
    over = dict(best_credit=np.ones((1, 2)), budget=np.array([0.5]), use_credit=True)
    assert choose(**over, credit=np.array([0.0]))[0][0] == -1
    assert choose(**over, credit=np.array([200.0]))[0][0] >= 0


def _offers(full=(False, False, False), group=0):
    listed = np.array([[True], [True], [False]])  # hoster 2 does not list release 0
    serves = np.array([[True, True], [True, False], [True, True]])
    taste = np.array([[3.0, 1.0, 0.1]])  # felt = price x taste
    price = np.array([1.0, 2.0, 1.0])
    charged, hoster = np.full(1, -7.0), np.full(1, -7)
    kernels.preferred_offers(
        listed,
        serves,
        np.array(full),
        taste,
        price,
        np.array([0]),
        np.array([0]),
        np.array([group]),
        np.array([1.5]),
        charged,
        hoster,
    )
    return hoster[0], charged[0]


def test_the_preferred_hoster_has_the_lowest_felt_price_among_those_offering():
    assert _offers() == (1, 3.0)  # felt 3 vs 2 (hoster 2 felt 0.1 but does not list it)


def test_full_hosters_and_those_not_serving_the_region_are_skipped():
    assert _offers(full=(False, True, False)) == (0, 1.5)
    assert _offers(group=1) == (0, 1.5)
    assert _offers(full=(True, True, False)) == (-1, INF)


def test_a_revoked_deployment_is_stranded_and_pays_to_migrate():
    # Three researchers, all deployed at hoster 0: on release 0 (re-deploys release 2, which
    # it ran), on revoked release 1 (ran release 2) and on release 0 (ran nothing: keeps it).
    stranded = np.zeros(3, bool)
    target, surcharge, renewing = kernels.plan_deployments(
        np.array([0, 1, 0]),
        np.zeros(3, np.int64),
        stranded,
        np.array([True, True, False]),
        np.array([2, 2, 0]),
        np.zeros(3, np.int64),
        np.ones(3),
        np.ones(3),
        np.array([False, True, False]),  # release 1 revoked
        np.ones(3, bool),
        np.full(3, INF),
        np.ones((1, 3), bool),
        np.ones((1, 1), bool),
        np.full((1, 3), 2.0),  # USD per GPU-hour
        np.full(3, 10.0),  # GPU-hours a month
        1.5,  # months of hosting a migration costs
    )
    assert list(stranded) == [False, True, False]
    assert list(target) == [2, 2, 0]
    assert list(surcharge) == [0.0, 1.5 * 2.0 * 10.0, 0.0]
    assert list(renewing) == [False, False, True]


def test_a_stranded_deployment_is_abandoned_after_the_limit():
    deployment, host = np.array([3]), np.array([1])
    stranded, months = np.array([True]), np.array([0])
    for month in range(3):
        kernels.settle_deployments(
            np.array([False]), np.array([-1]), np.array([0]), deployment, host, stranded, months, 2
        )
        assert deployment[0] == (3 if month < 2 else -1)
    assert not stranded[0] and months[0] == 0
