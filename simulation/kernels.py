"""Compiled population rules: one loop per researcher, written as the scalar rule reads.

The researcher population decides with loops over individuals that numba compiles to machine
code, so a rule reads as it would for one researcher and runs without the temporary matrices
that the same rule costs in numpy. ``cache=True`` keeps the compiled code beside this file
(``__pycache__``), so only the first run in a checkout pays for compilation (a few seconds);
later processes load it (~0.3 s).
"""

from __future__ import annotations

import numpy as np
from numba import njit

RUN, FINETUNE, DEPLOY = 0, 1, 2
LOCAL, PUBLIC, CREDIT, MARKET, NONE = 0, 1, 2, 3, 4  # where a task is done


@njit(cache=True)
def choose_models(
    # per candidate release
    mem: np.ndarray,  # (3, candidates) GB of memory each task needs
    hours: np.ndarray,  # (3, candidates) GPU-hours each task needs
    weights: np.ndarray,  # weights available (local runs possible)
    finetune_ok: np.ndarray,  # licence allows derivatives
    max_users: np.ndarray,  # largest deployment the licence allows (0: none)
    public_listed: np.ndarray,  # on the public hoster
    capability: np.ndarray,
    penalty: np.ndarray,  # capability lost by who needs an underserved language
    appeal: np.ndarray,  # openness + popularity utility
    best_market: np.ndarray,  # (groups, candidates) cheapest market GPU-hour
    best_credit: np.ndarray,  # (groups, candidates) cheapest credit-hoster GPU-hour
    # per choosing researcher
    group: np.ndarray,
    friction: np.ndarray,
    hardware: np.ndarray,
    budget: np.ndarray,
    credit: np.ndarray,
    underserved: np.ndarray,
    public_ok: np.ndarray,  # eligible for the public hoster
    deploy_users: np.ndarray,
    slot_draw: np.ndarray,  # uniform: expects a public slot if below the service rate
    logit_draw: np.ndarray,  # uniform for the multinomial-logit draw
    # scalars
    service_rate: np.ndarray,  # (3,) share of public requests served last month, per task
    threshold: float,  # capable if effective capability is at least this
    capability_weight: float,
    cost_weight: float,
    use_credit: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Each researcher picks a release by multinomial logit over
    utility = capability + appeal - cost_weight * log(1 + cost of the plan).

    The plan is run, run + fine-tune or run + fine-tune + deploy: the most ambitious one some
    capable model makes affordable (if none is capable, the most ambitious one any model makes
    affordable). Only models that afford that plan (and are capable, if any is) are chosen from.
    Returns the candidate position chosen (-1: none affordable) and whether a capable one was.
    """
    n, n_cand = group.size, capability.size
    choice = np.full(n, -1, dtype=np.int64)
    chose_capable = np.zeros(n, dtype=np.bool_)
    plan_cost = np.empty((n_cand, 3))  # USD of plan run (0), + fine-tune (1), + deploy (2)
    level = np.zeros(n_cand, dtype=np.int64)  # how many of the nested plans are affordable
    cap = np.empty(n_cand)
    utility = np.empty(n_cand)
    public = np.zeros(3, dtype=np.bool_)
    for j in range(n):
        g, fr, hw, money, users = group[j], friction[j], hardware[j], budget[j], deploy_users[j]
        for t in range(3):  # expects a free public slot for task t (if the model is listed)
            public[t] = public_ok[j] and slot_draw[j] < service_rate[t]
        best_capable, best_any = 0, 0
        for c in range(n_cand):
            p_mk = best_market[g, c] * fr
            p_cr = best_credit[g, c] * fr if use_credit else 0.0
            gross_mk = gross_cr = 0.0
            affordable = 0
            for t in range(3):
                if t == FINETUNE and not finetune_ok[c]:
                    break  # the licence stops the plan here
                if t == DEPLOY and not (max_users[c] > 0 and max_users[c] >= users):
                    break
                own = weights[c] and hw >= mem[t, c]
                if not (own or (public[t] and public_listed[c])):  # hosted: pay by the hour
                    gross_mk += p_mk * hours[t, c]
                    gross_cr += p_cr * hours[t, c]
                cost = gross_mk
                if use_credit:
                    cost = min(gross_mk, max(0.0, gross_cr - credit[j]))
                plan_cost[c, t] = cost
                if cost <= money:  # plans are nested: count the affordable ones
                    affordable += 1
            level[c] = affordable
            cap[c] = capability[c] - penalty[c] * underserved[j]
            if cap[c] >= threshold:
                best_capable = max(best_capable, affordable)
            best_any = max(best_any, affordable)
        chose_capable[j] = best_capable > 0
        plan = best_capable if best_capable > 0 else best_any
        if plan == 0:
            continue
        top = -np.inf
        for c in range(n_cand):
            utility[c] = -np.inf
            if level[c] >= plan and (best_capable == 0 or cap[c] >= threshold):
                cost = plan_cost[c, plan - 1]
                utility[c] = capability_weight * cap[c] + appeal[c] - cost_weight * np.log1p(cost)
                top = max(top, utility[c])
        total = 0.0
        for c in range(n_cand):  # logit weights relative to the best; 0 for the infeasible
            utility[c] = np.exp(utility[c] - top) if utility[c] > -np.inf else 0.0
            total += utility[c]
        target, cum = logit_draw[j] * total, 0.0
        for c in range(n_cand):  # inverse CDF: first feasible model whose cumulative reaches it
            if utility[c] > 0.0:
                cum += utility[c]
                choice[j] = c
                if cum >= target:
                    break
    return choice, chose_capable


@njit(cache=True)
def preferred_offers(
    listed: np.ndarray,  # (hosters, releases) offered on this channel
    serves: np.ndarray,  # (hosters, groups) serves the group's region
    full: np.ndarray,  # (hosters,) turned someone away this month
    taste: np.ndarray,  # (researchers, hosters) accounts, trust, latency: x price = felt price
    price: np.ndarray,  # (hosters,) USD per GPU-hour
    idx: np.ndarray,
    release: np.ndarray,
    group: np.ndarray,  # per researcher (all of them)
    friction: np.ndarray,
    charged: np.ndarray,  # out, per researcher: USD per GPU-hour they would pay
    hoster: np.ndarray,  # out, per researcher: the hoster (-1: none offers it)
) -> None:
    """Each requester's preferred hoster: the lowest felt price among those offering the
    release to the researcher's group and not full."""
    for k in range(idx.size):
        i, r, g = idx[k], release[k], group[idx[k]]
        best, hoster[i], charged[i] = np.inf, -1, np.inf
        for h in range(price.size):
            felt = price[h] * taste[i, h]  # taste picks the hoster; the price is what is paid
            if listed[h, r] and serves[h, g] and not full[h] and felt < best:
                best, hoster[i] = felt, h
        if hoster[i] >= 0:
            charged[i] = price[hoster[i]] * friction[i]


@njit(cache=True)
def choose_venues(
    idx: np.ndarray,
    release: np.ndarray,
    mem: np.ndarray,  # per release: GB the task needs
    hours: np.ndarray,  # per release: GPU-hours the task needs
    allow_local: np.ndarray,  # per release: can run on own hardware
    public_listed: np.ndarray,  # per release
    use_public: bool,
    price_market: np.ndarray,  # per researcher: preferred market hoster's price to them
    hoster_market: np.ndarray,
    price_credit: np.ndarray,  # per researcher: preferred credit hoster's price to them
    hoster_credit: np.ndarray,
    surcharge: np.ndarray,  # per researcher: one-off USD on a hosted bill (migration)
    cheapest_price: np.ndarray,  # (groups, releases) lowest market price, or empty: no fallback
    cheapest_hoster: np.ndarray,  # (groups, releases) the hoster offering it
    public_index: int,
    hardware: np.ndarray,  # per researcher (all of them)
    eligible: np.ndarray,
    group: np.ndarray,
    friction: np.ndarray,
    money: np.ndarray,
    credit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest way for each request to do a task: own hardware if it fits, else the public
    hoster if eligible, else public credits at a credit hoster, else paying a commercial hoster
    (the preferred one, or the cheapest if the preferred is beyond the budget); NONE if nothing
    is affordable. Returns kind, hoster (-1: local or none), out-of-pocket USD, credit USD."""
    n = idx.size
    kind = np.full(n, NONE, dtype=np.int64)
    hoster = np.full(n, -1, dtype=np.int64)
    out_of_pocket = np.zeros(n)
    credit_used = np.zeros(n)
    fallback = cheapest_price.size > 0
    for k in range(n):
        i, r = idx[k], release[k]
        if allow_local[r] and hardware[i] >= mem[r]:
            kind[k] = LOCAL
            continue
        if eligible[i] and public_listed[r] and use_public:
            kind[k], hoster[k] = PUBLIC, public_index
            continue
        cost_credit = price_credit[i] * hours[r] + surcharge[i]
        cost_market = price_market[i] * hours[r] + surcharge[i]
        h_market = hoster_market[i]
        if fallback and cost_market > money[i]:  # the preferred hoster too dear: the cheapest
            cheap = cheapest_price[group[i], r] * friction[i] * hours[r] + surcharge[i]
            if cheap <= money[i]:
                cost_market, h_market = cheap, cheapest_hoster[group[i], r]
        own_share = max(0.0, cost_credit - credit[i])
        if credit[i] > 0 and own_share <= money[i]:  # an infinite cost never fits
            kind[k], hoster[k] = CREDIT, hoster_credit[i]
            out_of_pocket[k], credit_used[k] = own_share, min(cost_credit, credit[i])
        elif cost_market <= money[i]:
            kind[k], hoster[k], out_of_pocket[k] = MARKET, h_market, cost_market
    return kind, hoster, out_of_pocket, credit_used


@njit(cache=True)
def pay(
    idx: np.ndarray,
    served: np.ndarray,
    hoster: np.ndarray,
    out_of_pocket: np.ndarray,
    credit_used: np.ndarray,
    hours: np.ndarray,
    weight: float,
    n_hosters: int,
    money: np.ndarray,
    credit: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Served requests pay from their budget and credit; returns GPU-hours and USD per hoster
    (in real researchers) and the public credit used."""
    gpu_by, paid_by = np.zeros(n_hosters), np.zeros(n_hosters)
    credit_total = 0.0
    for k in range(idx.size):
        if not served[k]:
            continue
        i = idx[k]
        money[i] -= out_of_pocket[k]
        credit[i] -= credit_used[k]
        credit_total += credit_used[k]
        if hoster[k] >= 0:
            gpu_by[hoster[k]] += hours[k] * weight
            paid_by[hoster[k]] += (out_of_pocket[k] + credit_used[k]) * weight
    return gpu_by, paid_by, credit_total * weight


@njit(cache=True)
def plan_deployments(
    deployment: np.ndarray,  # per researcher: release deployed on (-1: none)
    deploy_host: np.ndarray,  # hoster serving it (-1: own hardware)
    stranded: np.ndarray,  # in/out: deployment cut off, must migrate
    ran: np.ndarray,  # ran a model this month
    run_release: np.ndarray,  # the release run
    group: np.ndarray,
    friction: np.ndarray,
    deploy_users: np.ndarray,
    revoked: np.ndarray,  # per release
    weights: np.ndarray,
    max_users: np.ndarray,
    listed: np.ndarray,  # (hosters, releases)
    serves: np.ndarray,  # (hosters, groups)
    best_market: np.ndarray,  # (groups, releases) cheapest market GPU-hour
    hours: np.ndarray,  # per release: GPU-hours of a month's deployment
    migration_months: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each researcher deploys this month: the model just run if its licence covers
    the deployment's size, else the existing deployment if still healthy. A deployment whose
    licence was revoked or whose host no longer lists it or serves the region is stranded and
    must migrate, paying ``migration_months`` of hosting on top.
    Returns target release (-1: none), migration surcharge (USD) and whether it is a renewal."""
    n = deployment.size
    target = np.full(n, -1, dtype=np.int64)
    surcharge = np.zeros(n)
    renewing = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        d, h = deployment[i], deploy_host[i]
        if d >= 0 and (revoked[d] or (h >= 0 and not (listed[h, d] and serves[h, group[i]]))):
            stranded[i] = True
        r = run_release[i]
        if ran[i] and weights[r] and max_users[r] >= deploy_users[i]:
            target[i] = r
        elif d >= 0 and not stranded[i]:
            target[i] = d
        t = target[i]
        if t < 0:
            continue
        if stranded[i]:
            price = best_market[group[i], t] * friction[i]
            month_cost = price * hours[t] if np.isfinite(price) else 0.0
            surcharge[i] = migration_months * month_cost
        renewing[i] = d >= 0 and not stranded[i] and t == d
    return target, surcharge, renewing


@njit(cache=True)
def settle_deployments(
    done: np.ndarray,
    host: np.ndarray,  # hoster that took each deployment (-1: own hardware)
    target: np.ndarray,
    deployment: np.ndarray,  # in/out, as the three below
    deploy_host: np.ndarray,
    stranded: np.ndarray,
    stranded_months: np.ndarray,
    abandon_after: int,
) -> None:
    """Record the month's deployments. A stranded one that found no new home stays stranded;
    its owner shuts it down after ``abandon_after`` months."""
    for i in range(done.size):
        if done[i]:
            deployment[i], deploy_host[i], stranded[i] = target[i], host[i], False
        elif not stranded[i]:
            deployment[i], deploy_host[i] = -1, -1
        stranded_months[i] = stranded_months[i] + 1 if stranded[i] else 0
        if stranded_months[i] > abandon_after:
            deployment[i], deploy_host[i], stranded[i], stranded_months[i] = -1, -1, False, 0
