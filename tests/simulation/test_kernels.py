"""The compiled per-researcher rules, checked directly on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import kernels

INF = np.inf


def _population(n: int = 1, **over) -> kernels.Population:
    """``n`` researchers of group 0 with no hardware, no public access, no credit, 1000 USD,
    friction 1 and an even taste for a single hoster; keyword overrides replace any field."""
    fields = dict(
        group=np.zeros(n, np.int64),
        friction=np.ones(n),
        hardware=np.zeros(n),
        eligible=np.zeros(n, bool),
        language=np.zeros(n, np.int64),
        deploy_users=np.ones(n),
        taste=np.ones((n, 1)),
        budget=np.full(n, 1000.0),
        credit=np.zeros(n),
        weight=1.0,
        program=np.zeros(n, np.int64),
        public_host=np.full(n, -1, np.int64),
        price_share=np.zeros(n),
        quota=np.full(n, INF),
        own_hours=np.full(n, INF),
    )
    fields.update(over)
    # the kernels do not check bounds: a field shorter than the population reads past its end
    assert all(len(v) == n for k, v in fields.items() if k != "weight"), "field lengths"
    return kernels.Population(**fields)


def _hosters(n_rel: int = 1, n_groups: int = 1, **over) -> kernels.Hosters:
    """One hoster listing every release to every group at 1 USD, not full, no cheaper offer
    and no public hoster; keyword overrides replace any field."""
    fields = dict(
        listed=np.ones((1, n_rel), bool),
        serves=np.ones((1, n_groups), bool),
        price=np.ones(1),
        full=np.zeros(1, bool),
        cheapest_price=np.ones((n_groups, n_rel)),
        cheapest_hoster=np.zeros((n_groups, n_rel), np.int64),
        public_listed=np.zeros((1, n_rel), bool),
    )
    fields.update(over)
    return kernels.Hosters(**fields)


def _choice_inputs(n: int = 1, **over):
    """Two candidate releases of the same size, open weights, capable; one researcher group
    with no hardware and no public access; market GPU-hour at 1 USD. Keyword overrides replace
    any field of the four tables ``choose_models`` takes (field names do not repeat)."""
    cand = 2
    candidates = dict(
        release=np.arange(cand, dtype=np.int64),  # candidate c is release c
        appeal=np.zeros(cand),
        mem=np.ones((3, cand)),
        hours=np.array([[1.0] * cand, [10.0] * cand, [100.0] * cand]),
        hours_per_user=np.zeros((3, cand)),
        replica_hours=np.zeros((3, cand)),
        weights=np.ones(cand, bool),
        finetune_ok=np.ones(cand, bool),
        max_users=np.full(cand, INF),
        finetune_price=np.ones(cand),
        public_listed=np.zeros((1, cand), bool),
        capability=np.full(cand, 10.0),
        language_fit=np.ones((cand, 1)),
        language_gap=np.zeros(1),
        best_market=np.ones((1, cand)),
        best_credit=np.full((1, cand), INF),
    )
    choosers = dict(
        idx=np.arange(n, dtype=np.int64),
        slot_draw=np.full(n, 0.5),
        logit_draw=np.full(n, 0.5),
        held=np.full(n, -1),
        shared=cand,  # every candidate is considered by everyone unless a test says otherwise
        extra=None,  # (choosers, k) further candidates; default none
    )
    rule = dict(
        service_rate=np.ones((1, 3)),
        price=np.ones(1),
        thresholds=np.full(3, 9.0),
        capability_weight=1.0,
        cost_weight=1.0,
        use_credit=False,
        use_public=True,
        credit_rate=np.ones((1, 3)),
    )
    pop = {f: over.pop(f) for f in kernels.Population._fields if f in over}
    sizes = {len(v) for k, v in pop.items() if k != "weight"}
    n = max(sizes | {n})  # a population given whole: every field must match it (no bounds checks)
    for table in (candidates, choosers, rule):
        table.update({k: over.pop(k) for k in list(over) if k in table})
    assert not over, f"unknown fields {sorted(over)}"
    if choosers["extra"] is None:
        choosers["extra"] = np.full((len(choosers["idx"]), 0), -1, np.int64)
    return (
        kernels.Candidates(**candidates),
        _population(n, **pop),
        kernels.Choosers(**choosers),
        kernels.ChoiceRule(**rule),
    )


def choose(**over):
    """``choose_models`` on ``_choice_inputs(**over)``: (choice, chose_capable)."""
    return kernels.choose_models(*_choice_inputs(**over))


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


def test_with_no_capable_model_affordable_a_weak_one_is_chosen():
    # Candidate 0 is capable but beyond the budget even to run; the weak one is taken, and
    # the chooser knows it settled (the weak candidate is costed only because of that).
    for u in (0.01, 0.99):
        chosen, capable = choose(
            capability=np.array([10.0, 5.0]),
            best_market=np.array([[1e6, 1.0]]),
            budget=np.array([200.0]),
            logit_draw=np.array([u]),
        )
        assert chosen[0] == 1 and not capable[0]


def test_a_capable_find_costed_as_its_weak_shared_twin_is_chosen():
    # The find (1) costs what the shared candidate (0) costs, so it reads 0's plan costs; 0 is
    # below the capable bar, yet its costs must be worked out for 1.
    chosen, capable = choose(
        capability=np.array([5.0, 10.0]),
        shared=1,
        extra=np.array([[1]]),
        logit_draw=np.array([0.99]),
    )
    assert chosen[0] == 1 and capable[0]


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


def test_choosers_are_picked_from_the_population_by_index():
    # Researcher 1 of three chooses; only its budget (0) and hardware (2 GB) count.
    chosen, _ = choose(
        idx=np.array([1]),
        slot_draw=np.array([0.5]),
        logit_draw=np.array([0.5]),
        budget=np.array([1000.0, 0.0, 1000.0]),
        hardware=np.array([0.0, 2.0, 0.0]),
        group=np.zeros(3, np.int64),
        friction=np.ones(3),
        eligible=np.zeros(3, bool),
        language=np.zeros(3, np.int64),
        deploy_users=np.ones(3),
        taste=np.ones((3, 1)),
        credit=np.zeros(3),
        program=np.zeros(3, np.int64),
        public_host=np.full(3, -1, np.int64),
        price_share=np.zeros(3),
        quota=np.full(3, INF),
    )
    assert chosen.shape == (1,) and chosen[0] >= 0  # own hardware: free despite no budget


def test_an_expected_public_slot_makes_hosting_free():
    # Listed on the public hoster and eligible: no budget needed if a slot is expected.
    over = dict(
        budget=np.array([0.0]),
        eligible=np.array([True]),
        public_host=np.array([0]),
        public_listed=np.array([[True, True]]),
    )
    assert choose(**over)[0][0] >= 0
    assert choose(**over, service_rate=np.zeros((1, 3)))[0][0] == -1  # expects no slot
    assert choose(**over, use_public=False)[0][0] == -1  # plan B: the public hoster is out


def test_credit_pays_for_what_the_budget_cannot():
    over = dict(best_credit=np.ones((1, 2)), budget=np.array([0.5]), use_credit=True)
    assert choose(**over, credit=np.array([0.0]))[0][0] == -1
    assert choose(**over, credit=np.array([200.0]))[0][0] >= 0
    # who expects no grant (last month's rate below their draw) does not plan on credit
    assert choose(**over, credit=np.array([200.0]), credit_rate=np.full((1, 3), 0.4))[0][0] == -1


def _offers(full=(False, False, False), group=0):
    hosters = _hosters(
        n_groups=2,
        listed=np.array([[True], [True], [False]]),  # hoster 2 does not list release 0
        serves=np.array([[True, True], [True, False], [True, True]]),
        price=np.array([1.0, 2.0, 1.0]),
        full=np.array(full),
    )
    pop = _population(
        group=np.array([group]),
        friction=np.array([1.5]),
        taste=np.array([[3.0, 1.0, 0.1]]),  # felt = price x taste
    )
    charged, hoster = np.full(1, -7.0), np.full(1, -7)
    req = kernels.Requests(np.array([0]), np.array([0]))
    kernels.preferred_offers(hosters, pop, req, charged, hoster)
    return hoster[0], charged[0]


def test_the_preferred_hoster_has_the_lowest_felt_price_among_those_offering():
    assert _offers() == (1, 3.0)  # felt 3 vs 2 (hoster 2 felt 0.1 but does not list it)


def test_full_hosters_and_those_not_serving_the_region_are_skipped():
    assert _offers(full=(False, True, False)) == (0, 1.5)
    assert _offers(group=1) == (0, 1.5)
    assert _offers(full=(True, True, False)) == (-1, INF)


def test_the_cheapest_offer_is_the_lowest_price_among_hosters_listing_it_for_the_group():
    listed = np.array(
        [[True, True, False, False], [True, False, False, True], [True, True, False, True]]
    )
    serves = np.array([[True, True], [True, False], [False, True]])
    best, where = kernels.cheapest_offers(listed, serves, np.array([3.0, 2.0, 1.0]))
    # release 0: group 0 from hoster 1 (2 < 3; hoster 2 does not serve it), group 1 from 2
    assert best[:, 0].tolist() == [2.0, 1.0] and where[:, 0].tolist() == [1, 2]
    # release 3: listed only by hoster 1 for group 0 and hoster 2 for group 1
    assert best[:, 3].tolist() == [2.0, 1.0] and where[:, 3].tolist() == [1, 2]
    assert best[:, 2].tolist() == [INF, INF] and where[:, 2].tolist() == [-1, -1]  # unlisted


def test_cheapest_offers_equal_the_minimum_over_hosters_in_numpy():
    rng = np.random.default_rng(0)
    listed, serves = rng.random((6, 300)) < 0.3, rng.random((6, 3)) < 0.6
    price = rng.choice([1.0, 2.0, 2.0, 3.5], 6)  # ties: the first hoster at the price
    offer = np.where(listed[:, None, :] & serves[:, :, None], price[:, None, None], np.inf)
    on = listed.any(axis=0)
    best, where = kernels.cheapest_offers(listed, serves, price)
    assert np.array_equal(best[:, on], offer.min(axis=0)[:, on])
    assert np.array_equal(where[:, on], offer.argmin(axis=0)[:, on])
    assert np.isinf(best[:, ~on]).all() and (where[:, ~on] == -1).all()


def _venues(full=False, use_public=True, price_factor=1.0, **pop):
    """One request for release 0 (2 GB, 10 GPU-hours, runs locally) by one researcher whose
    preferred market hoster (0) charges 3 USD an hour and credit hoster (1) 1 USD; the
    cheapest market offer is hoster 2 at 2 USD. Hoster 3 is public and lists the release."""
    task = kernels.Task(
        mem=np.array([2.0]),
        hours=np.array([10.0]),
        hours_per_user=np.zeros(1),
        replica_hours=np.zeros(1),
        local_ok=np.ones(1, bool),
        surcharge=np.zeros(1),
        use_public=use_public,
        price_factor=np.array([price_factor]),
    )
    offers = kernels.Offers(np.array([3.0]), np.array([0]), np.array([1.0]), np.array([1]))
    hosters = _hosters(
        price=np.ones(4),
        full=np.array([False, False, False, full]),
        cheapest_price=np.array([[2.0]]),
        cheapest_hoster=np.array([[2]]),
        public_listed=np.array([[False], [False], [False], [True]]),
    )
    pop.setdefault("public_host", np.array([3]))
    req = kernels.Requests(np.array([0]), np.array([0]))
    v = kernels.choose_venues(req, task, _population(**pop), offers, hosters)
    assert v.hours[0] == 10.0
    return v.kind[0], v.hoster[0], v.out_of_pocket[0], v.credit[0]


def test_a_task_goes_local_then_public_then_credit_then_market():
    assert _venues(hardware=np.array([2.0]))[:2] == (kernels.LOCAL, -1)
    assert _venues(eligible=np.array([True]))[:2] == (kernels.PUBLIC, 3)
    assert _venues(eligible=np.array([True]), use_public=False)[:2] == (kernels.MARKET, 0)
    approved = dict(eligible=np.array([True]), credit=np.array([4.0]))
    assert _venues(**approved, public_host=np.array([-1])) == (kernels.CREDIT, 1, 6.0, 4.0)
    assert _venues(credit=np.array([4.0]))[0] == kernels.MARKET  # credit needs approval
    assert _venues() == (kernels.MARKET, 0, 30.0, 0.0)


def test_a_price_factor_multiplies_the_hosted_bill_not_the_hours():
    # An API bills a fine-tune at a multiple of its hourly price: 10 hours x 3 USD x 2.
    assert _venues(price_factor=2.0) == (kernels.MARKET, 0, 60.0, 0.0)
    assert _venues(price_factor=2.0, budget=np.array([50.0]))[:2] == (kernels.MARKET, 2)  # 40
    assert _venues(price_factor=2.0, hardware=np.array([2.0]))[:3] == (kernels.LOCAL, -1, 0.0)


def test_a_plan_pays_the_fine_tune_price_factor():
    # Run 1 h and fine-tune 10 h at 1 USD; candidate 0's fine-tune is billed at 3x (31 USD in
    # all), candidate 1's at list price (11 USD). With 25 USD only candidate 1 affords the
    # fine-tune plan, so it is the only one chosen from.
    over = dict(budget=np.array([25.0]), max_users=np.zeros(2))
    assert choose(**over, finetune_price=np.array([3.0, 1.0]))[0][0] == 1
    assert choose(**over, finetune_price=np.array([1.0, 3.0]))[0][0] == 0


def test_a_budget_short_of_the_preferred_hoster_falls_back_to_the_cheapest():
    assert _venues(budget=np.array([25.0])) == (kernels.MARKET, 2, 20.0, 0.0)
    assert _venues(budget=np.array([25.0]), full=True)[0] == kernels.NONE  # retry: no fallback
    assert _venues(budget=np.array([15.0]))[:2] == (kernels.NONE, -1)


def test_served_requests_pay_and_hosters_are_credited_in_real_researchers():
    pop = _population(
        2,
        budget=np.array([100.0, 100.0]),
        credit=np.array([5.0, 5.0]),
        weight=2.0,
        taste=np.ones((2, 2)),
        quota=np.array([50.0, 50.0]),
    )
    req = kernels.Requests(np.array([0, 1]), np.array([0, 0]))
    venue = kernels.Venue(
        np.array([kernels.CREDIT, kernels.MARKET]),
        np.array([0, 0]),
        np.array([10.0, 10.0]),
        np.array([1.0, 30.0]),
        np.array([4.0, 0.0]),
    )
    served = np.array([True, False])
    gpu, paid, routed, credit, hours = kernels.pay(req, venue, served, pop, np.ones(1, bool))
    assert list(pop.budget) == [99.0, 100.0] and list(pop.credit) == [1.0, 5.0]
    assert list(gpu) == [20.0, 0.0] and list(paid) == [10.0, 0.0] and list(credit) == [8.0]
    assert list(hours) == [20.0] and list(routed) == [20.0, 0.0]  # credit-paid data is routed
    assert list(pop.quota) == [40.0, 50.0]  # the subsidised hours count against the quota


def test_the_price_share_is_paid_on_every_public_channel():
    # At the public hoster (cost 1 USD an hour, 10 hours): the share of the cost.
    assert _venues(eligible=np.array([True]), price_share=np.array([0.5]))[:3] == (
        kernels.PUBLIC,
        3,
        5.0,
    )
    # Credit pays (1 - share) of the credit hoster's bill (10 USD), at most what is left.
    assert _venues(
        credit=np.array([100.0]),
        eligible=np.array([True]),
        use_public=False,
        price_share=np.array([0.4]),
    ) == (kernels.CREDIT, 1, 4.0, 6.0)
    assert _venues(
        credit=np.array([2.0]),
        eligible=np.array([True]),
        use_public=False,
        price_share=np.array([0.4]),
    ) == (kernels.CREDIT, 1, 8.0, 2.0)
    # At cost (share 1) credit buys nothing: the preferred market hoster.
    assert (
        _venues(
            credit=np.array([100.0]),
            eligible=np.array([True]),
            use_public=False,
            price_share=np.array([1.0]),
        )[0]
        == kernels.MARKET
    )


def test_a_task_beyond_the_quota_is_not_subsidised():
    over = dict(eligible=np.array([True]), credit=np.array([100.0]))
    assert _venues(**over, quota=np.array([10.0]))[:2] == (kernels.PUBLIC, 3)
    assert _venues(**over, quota=np.array([9.0]))[:2] == (kernels.MARKET, 0)


def test_a_plan_is_costed_at_the_price_share_within_the_quota():
    over = dict(
        budget=np.array([0.5]),  # a run takes 1 GPU-hour, at 1 USD on the public hoster
        eligible=np.array([True]),
        public_host=np.array([0]),
        public_listed=np.array([[True, True]]),
    )
    assert choose(**over, price_share=np.array([0.4]))[0][0] >= 0  # pays 0.4 USD
    assert choose(**over, price_share=np.array([0.6]))[0][0] == -1  # 0.6 USD: beyond budget
    # Beyond the quota the public hoster is not planned on: the market's 1 USD is too dear.
    assert choose(**over, price_share=np.array([0.4]), quota=np.array([0.5]))[0][0] == -1


def test_a_rented_deployment_is_whole_copies_running_all_month():
    # 730 GPU-hours a copy, 0.5 GPU-hours of work per user
    def hours(users, rented=True, replica=730.0):
        return kernels.gpu_hours(0.0, 0.5, replica, users, rented)

    assert hours(10) == 730.0  # a few users still rent a whole copy
    assert hours(1460) == 730.0 and hours(1461) == 1460.0  # more users, more copies
    assert hours(10, rented=False) == 5.0  # own hardware does the work alone
    assert hours(10, replica=0.0) == 5.0  # and so does an API billing by use
    assert kernels.gpu_hours(3.0, 0.0, 0.0, 1e6, True) == 3.0  # a run ignores users


def test_deploying_to_more_users_costs_more():
    # Deploy only (run and fine-tune free), copies of 730 GPU-hours at 1 USD an hour; candidate
    # 0 takes 0.5 GPU-hours a user, candidate 1 (a smaller model) 0.05. With 100 users either
    # fits one copy (730 USD); with 2000 candidate 0 needs two (1460 USD), beyond the budget,
    # so only candidate 1 makes the whole plan affordable.
    over = dict(
        hours=np.zeros((3, 2)),
        hours_per_user=np.array([[0.0, 0.0], [0.0, 0.0], [0.5, 0.05]]),
        replica_hours=np.array([[0.0, 0.0], [0.0, 0.0], [730.0, 730.0]]),
        budget=np.array([1000.0, 1000.0]),
        deploy_users=np.array([100.0, 2000.0]),
    )
    chosen, _ = choose(n=2, **over)
    assert list(chosen) == [0, 1]
    # At a hoster the venue rents the copies; on own hardware only the work counts.
    task = kernels.Task(
        mem=np.ones(1),
        hours=np.zeros(1),
        hours_per_user=np.array([0.5]),
        replica_hours=np.array([730.0]),
        local_ok=np.ones(1, bool),
        surcharge=np.zeros(2),
        use_public=True,
        price_factor=np.ones(1),
    )
    offers = kernels.Offers(np.ones(2), np.zeros(2, np.int64), np.full(2, INF), np.full(2, -1))
    req = kernels.Requests(np.arange(2), np.zeros(2, np.int64))
    users = np.array([100.0, 2000.0])
    pop = _population(2, deploy_users=users, budget=np.full(2, 1e4), taste=np.ones((2, 1)))
    v = kernels.choose_venues(req, task, pop, offers, _hosters())
    assert list(v.hours) == [730.0, 1460.0] and list(v.out_of_pocket) == [730.0, 1460.0]
    own = pop._replace(hardware=np.full(2, 2.0))
    v = kernels.choose_venues(req, task, own, offers, _hosters())
    assert list(v.kind) == [kernels.LOCAL] * 2 and list(v.hours) == [50.0, 1000.0]


def test_own_hardware_has_hours_as_well_as_memory():
    # The task takes 10 GPU-hours and fits the memory: local only with 10 hours left.
    assert _venues(hardware=np.array([2.0]), own_hours=np.array([10.0]))[:2] == (kernels.LOCAL, -1)
    assert _venues(hardware=np.array([2.0]), own_hours=np.array([9.0]))[:2] == (kernels.MARKET, 0)


def test_a_task_on_own_hardware_uses_its_hours_and_no_money():
    pop = _population(1, own_hours=np.array([25.0]))
    req = kernels.Requests(np.array([0]), np.array([0]))
    venue = kernels.Venue(
        np.array([kernels.LOCAL]), np.array([-1]), np.array([10.0]), np.zeros(1), np.zeros(1)
    )
    gpu, paid, *_ = kernels.pay(req, venue, np.array([True]), pop, np.ones(1, bool))
    assert pop.own_hours[0] == 15.0 and pop.budget[0] == 1000.0 and gpu.sum() == paid.sum() == 0


def test_a_plan_shares_own_hours_across_its_tasks():
    # No money: only own hardware. A run takes 1 hour; candidate 0's fine-tune 10, candidate
    # 1's 4. With 5 hours only candidate 1's run and fine-tune both fit.
    over = dict(
        budget=np.array([0.0]),
        hardware=np.array([2.0]),
        hours=np.array([[1.0, 1.0], [10.0, 4.0], [100.0, 100.0]]),
        max_users=np.zeros(2),
    )
    assert choose(**over, own_hours=np.array([5.0]))[0][0] == 1
    assert choose(**over)[0][0] == 0  # with hours to spare, the two are alike


def test_a_fine_tune_held_is_free_in_a_plan():
    # Run 1 USD, fine-tune 10 USD, 5 USD to spend: only a held fine-tune makes the plan fit.
    over = dict(budget=np.array([5.0]), max_users=np.zeros(2))
    assert choose(**over)[0][0] == 0  # both alike: the first
    assert choose(**over, held=np.array([1]))[0][0] == 1  # the model whose fine-tune they keep


def test_a_candidate_beyond_the_shared_set_is_considered_only_by_who_found_it():
    """Candidate 1 is better, but only chooser 1 found it (its ``extra`` row); chooser 0 sees
    only the shared candidate 0, and a find listed twice counts once."""
    chosen, _ = choose(
        n=3,
        shared=1,
        capability=np.array([10.0, 12.0]),
        capability_weight=50.0,  # candidate 1 wins wherever it is seen
        extra=np.array([[-1, -1], [1, -1], [1, 1]], np.int64),
    )
    assert chosen.tolist() == [0, 1, 1]


def test_the_language_penalty_is_that_of_the_choosers_language():
    """Candidate 0 misses language 1 badly; a speaker of language 1 takes candidate 1."""
    chosen, _ = choose(
        n=2,
        language=np.array([0, 1], np.int64),
        capability=np.array([10.0, 9.5]),
        language_fit=np.array([[1.0, 0.0], [1.0, 1.0]]),  # candidate 0 misses language 1
        language_gap=np.array([0.0, 2.0]),
        capability_weight=50.0,
    )
    assert chosen.tolist() == [0, 1]


def test_effective_capability_loses_the_language_gap_times_the_missing_fit():
    fit = np.array([[1.0, 0.5], [0.0, 0.25]])
    felt = kernels.effective_capability(
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([2.0, 3.0]),
        fit,
        np.array([1.0, 0.4]),
    )
    assert felt.tolist() == [2.0, 2.0 - 0.4 * 0.5, 3.0 - 1.0, 3.0 - 0.4 * 0.75]


def test_search_shelves_put_labs_releases_on_every_shelf_and_derivatives_on_their_makers():
    findable = np.array([True, True, False, True, True])
    maker = np.array([-1, 1, -1, 0, -1], np.int64)
    weight = np.array([0.5, 1.0, 9.0, 2.0, 0.25])
    start, ids, cum = kernels.search_shelves(findable, maker, weight, 2)
    assert start.tolist() == [0, 3, 6]
    assert ids.tolist() == [0, 3, 4, 0, 1, 4]
    for lg in range(2):  # the cumulative weights are np.cumsum's, shelf by shelf
        shelf = ids[start[lg] : start[lg + 1]]
        assert np.array_equal(cum[start[lg] : start[lg + 1]], np.cumsum(weight[shelf]))


def _attempt(served, no_credit):
    """``record_attempt`` on six requests for task 1; returns its outputs and the arrays.

    Researcher 5 runs locally, 4 at hoster 1, 3 and 0 at the public hoster 2 (programme 1),
    2 at credit hoster 0 and 1 at hoster 3 (markets).
    """
    attempt = kernels.Attempt(
        idx=np.array([5, 4, 3, 2, 1, 0]),
        kind=np.array(
            [
                kernels.LOCAL,
                kernels.MARKET,
                kernels.PUBLIC,
                kernels.CREDIT,
                kernels.MARKET,
                kernels.PUBLIC,
            ]
        ),
        hoster=np.array([-1, 1, 2, 0, 3, 2]),
        served=np.array(served),
        no_credit=np.array(no_credit),
    )
    program = np.array([1, 0, 0, 1, 0, 0])
    out = dict(
        asked=np.zeros((2, 3)),
        served=np.zeros((2, 3)),
        done=np.ones(6, bool),  # written either way
        where=np.full(6, -7),
        credit=np.full(6, 9.0),
        full=np.zeros(4, bool),
    )
    turned, public_full = kernels.record_attempt(attempt, 1, program, *out.values())
    return turned, public_full, out


def test_an_attempt_records_success_and_who_tries_again():
    # served: local 5, hoster 1 (4), public (0); turned away: public (3), credit refused (2),
    # hoster 3 full (1)
    turned, public_full, out = _attempt(
        served=[True, True, False, False, False, True],
        no_credit=[False, False, False, True, False, False],
    )
    assert out["done"].tolist() == [True, False, False, False, True, True]
    assert out["where"].tolist() == [2, -1, -1, -1, 1, -1]  # a hoster that served them
    assert turned.tolist() == [3, 2, 1] and public_full
    assert out["asked"][1].tolist() == [0.0, 2.0, 0.0]  # programme 1, task 1
    assert out["served"][1].tolist() == [0.0, 1.0, 0.0] and out["asked"][0].sum() == 0
    assert out["credit"].tolist() == [9.0, 9.0, 0.0, 9.0, 9.0, 9.0]  # refused: none left
    # full: the hoster that turned someone away (3); not the public one, nor for a credit refusal
    assert out["full"].tolist() == [False, False, False, True]


def test_an_attempt_where_everyone_is_served_turns_no_one_away():
    turned, public_full, out = _attempt(served=[True] * 6, no_credit=[False] * 6)
    assert turned.size == 0 and not public_full and not out["full"].any()
    assert out["done"].all() and out["where"].tolist() == [2, 3, 0, 2, 1, -1]


def test_plan_thresholds_may_not_fall():
    with pytest.raises(ValueError, match="must not fall"):
        choose(thresholds=np.array([9.0, 5.0, 9.0]))


def _held(base, via_api=None) -> kernels.FineTunes:
    base = np.array(base, np.int64)
    flags = np.zeros(base.size, bool) if via_api is None else np.array(via_api, bool)
    return kernels.FineTunes(base, flags)


def test_a_fine_tune_is_kept_only_on_the_same_allowed_model():
    # 0 keeps its fine-tune of 1; 1 chose another model; 2's model may no longer be
    # fine-tuned; 3 has no model (release 0 stands in); 4 holds none but ran a model that may
    # be fine-tuned
    held = _held([1, 0, 2, 0, -1])
    wants = kernels.keep_finetunes(
        held,
        choice=np.array([1, 1, 2, -1, 0]),
        release=np.array([1, 1, 2, 0, 0]),
        finetune_ok=np.array([True, True, False]),
        ran=np.array([True, True, True, False, True]),
    )
    assert held.base.tolist() == [1, -1, -1, -1, -1]
    assert wants.tolist() == [False, True, False, False, True]


def test_a_fine_tune_done_works_with_the_researchers_skill_and_records_its_venue():
    held = _held([5, 5, 5, 5], via_api=[True, True, True, True])
    new = kernels.record_finetunes(
        held,
        done=np.array([True, True, False, True]),
        draw=np.array([0.1, 0.9, 0.0, 0.2]),
        skill=np.full(4, 0.5),
        release=np.array([1, 2, 3, 4]),
        hoster=np.array([-1, 0, 0, 1]),
        is_api=np.array([False, True]),
    )
    assert new.tolist() == [True, False, False, True]
    assert held.base.tolist() == [1, 5, 5, 4]  # only the new ones replace what was held
    assert held.via_api.tolist() == [False, True, True, True]  # own hardware: no API


def test_month_uses_count_runs_per_release_and_api_use_per_task():
    via_api, users, used = kernels.month_uses(
        ran=np.array([True, True, False, True]),
        ran_at=np.array([1, -1, 1, 0]),
        finetuned=np.array([True, False, False, True]),
        held=_held([0, -1, -1, 2], via_api=[True, False, True, False]),
        deployed=np.array([False, True, True, False]),
        deploy_host=np.array([-1, 1, 0, -1]),
        release=np.array([2, 0, 1, 2]),
        capability=np.array([3.0, 4.0, 5.0, 6.0]),
        is_api=np.array([False, True]),
        n_releases=4,
    )
    assert via_api.tolist() == [
        [True, False, False, False],  # ran at the API (hoster 1); 2 did not run
        [True, False, False, False],  # the fine-tune used was made at an API
        [False, True, False, False],  # deployed at the API
    ]
    assert users.tolist() == [1.0, 0.0, 2.0, 0.0]  # release 2 run twice, 0 once
    assert np.isnan(used[2]) and used[[0, 1, 3]].tolist() == [3.0, 4.0, 6.0]


def test_a_review_is_due_for_a_model_gone_a_capable_model_fallen_behind_or_by_chance():
    # 0: model gone; 1: capable choice now below the bar in its language (fit 0 loses the gap);
    # 2: the same model, but they knowingly chose a weak one; 3: by chance; 4: no model, no draw
    review = kernels.due_for_review(
        choice=np.array([0, 1, 1, 1, -1]),
        chose_capable=np.array([False, True, False, False, False]),
        kept=np.array([False, True]),
        language=np.array([0, 1, 1, 0, 0]),
        capability=np.array([9.0, 5.0]),
        language_fit=np.array([[1.0, 1.0], [1.0, 0.0]]),
        language_gap=np.array([0.0, 2.0]),
        threshold=4.0,
        draw=np.array([0.9, 0.9, 0.9, 0.1, 0.9]),
        probability=0.2,
    )
    assert review.tolist() == [True, True, False, True, False]


def test_deployed_on_lists_the_releases_with_a_healthy_deployment_at_the_hoster():
    dep = kernels.Deployments(
        release=np.array([0, 2, 1, -1, 3]),
        host=np.array([1, 1, 0, -1, 1]),
        stranded=np.array([False, False, False, False, True]),  # 3 at hoster 1 is cut off
        stranded_months=np.zeros(5, np.int64),
    )
    assert kernels.deployed_on(1, dep, 4).tolist() == [True, False, True, False]
    assert kernels.deployed_on(0, dep, 4).tolist() == [False, True, False, False]


def test_room_for_all_sums_each_hosters_requests_in_the_mask():
    hoster, demand = np.array([0, 0, 1]), np.array([2.0, 3.0, 9.0])
    remaining = np.array([5.0, 1.0])
    assert kernels.room_for_all(np.array([True, True, False]), hoster, demand, remaining)
    assert not kernels.room_for_all(np.array([True, True, True]), hoster, demand, remaining)
    assert not kernels.room_for_all(np.array([True, True, False]), hoster, demand + 0.1, remaining)


def test_a_hoster_lists_its_pool_their_derivatives_and_what_is_deployed_there():
    # releases: 0, 1 labs' own; 2 a derivative of 0; 3 of 1; 4 of the derivative 2; 5 revoked
    # derivative of 0; 6 a lab's release outside the pool, deployed at hoster 1
    base = np.array([-1, -1, 0, 1, 2, 0, -1])
    usable = np.array([True, True, True, True, True, False, True])
    dep = kernels.Deployments(
        release=np.array([6, 1]),
        host=np.array([1, 0]),
        stranded=np.zeros(2, bool),
        stranded_months=np.zeros(2, np.int64),
    )
    listed = kernels.hoster_listing(np.array([0]), base, usable, dep, 1)
    # 2 follows its base 0, and 4 its base 2 (a derivative of a derivative); 6 stays listed:
    # deployed here
    assert listed.tolist() == [True, False, True, False, True, False, True]
    # a derivative of a derivative of a release outside the pool is not listed
    assert not kernels.hoster_listing(np.array([1]), base, usable, dep, 0)[4]


def test_a_search_keeps_the_searchers_own_model_in_view_if_it_can_be_found():
    # one shelf holding releases 5 and 6 (weights 1 and 3); researcher 2 uses release 4, which
    # can no longer be found; researcher 0 uses 6
    start, ids, cum = np.array([0, 2]), np.array([5, 6]), np.array([1.0, 4.0])
    guide = kernels.search_guide(start, cum)
    findable = np.zeros(7, bool)
    findable[[5, 6]] = True
    out = kernels.search(
        np.array([2, 0]),
        np.zeros(3, np.int64),
        np.array([6, -1, 4]),
        findable,
        np.array([[0.1, 0.9], [0.3, 0.2]]),
        start,
        ids,
        cum,
        guide,
    )
    assert out.tolist() == [[-1, 5, 6], [6, 6, 5]]  # 0.3 x 4 = 1.2 falls past the first
