"""Compiled population rules: one loop per researcher, written as the scalar rule reads.

The researcher population decides with loops over individuals that numba compiles to machine
code, so a rule reads as it would for one researcher and runs without the temporary matrices
that the same rule costs in numpy. ``cache=True`` keeps the compiled code beside this file
(``__pycache__``), so only the first run in a checkout pays for compilation (a few seconds);
later processes load it (~0.3 s).

Arrays that travel together are passed as named tuples (numba compiles attribute access on
them like a local variable), so each kernel takes a handful of tables instead of two dozen
positional arrays. numba compiles one version per combination of field types: keep dtypes and
dimensions fixed (int64 indices, float64 amounts, bool flags, Python ``float``/``bool``/``int``
scalars), or a changed type silently compiles (and caches) another version.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

RUN, FINETUNE, DEPLOY = 0, 1, 2
LOCAL, PUBLIC, CREDIT, MARKET, NONE = 0, 1, 2, 3, 4  # where a task is done

# Columns of ``cost_rows``: per task, from ``ROW_TASK * task``; then the terms; then prices.
MEM, HOURS, PER_USER, REPLICA, FACTOR = 0, 1, 2, 3, 4
ROW_TASK = 5
ROW_WEIGHTS, ROW_FINETUNE, ROW_USERS = 3 * ROW_TASK, 3 * ROW_TASK + 1, 3 * ROW_TASK + 2
ROW_PRICES = 3 * ROW_TASK + 3


class Population(NamedTuple):
    """Every simulated researcher's own state, one entry per researcher (all of them).

    Kernels read researcher ``i`` as ``pop.field[i]``; ``budget``, ``credit``, ``quota`` and
    ``own_hours`` are spent in place by ``pay``.
    """

    group: np.ndarray  # int64: the researcher's group
    friction: np.ndarray  # multiplier on commercial prices
    hardware: np.ndarray  # GB of local accelerator memory (0: none)
    eligible: np.ndarray  # bool: approved by their institution, may use its compute
    language: np.ndarray  # int64: the language they need
    deploy_users: np.ndarray  # users a deployment must serve
    taste: np.ndarray  # (researchers, hosters) felt price / price: accounts, trust, latency
    budget: np.ndarray  # USD they can still spend this month (in/out)
    credit: np.ndarray  # USD of public credit left this month (in/out; inf: rationed later)
    weight: float  # real researchers each simulated one stands for
    program: np.ndarray  # int64: their institution (-1: none)
    public_host: np.ndarray  # int64: their institution's public hoster (-1: none)
    price_share: np.ndarray  # share of the cost they pay on a public channel
    quota: np.ndarray  # subsidised GPU-hours they may still use this month (in/out)
    own_hours: np.ndarray  # GPU-hours of their own hardware still free this month (in/out)


class Requests(NamedTuple):
    """One entry per request: who asks (index into ``Population``) and for which release."""

    idx: np.ndarray  # int64 researcher
    release: np.ndarray  # int64 release


class Hosters(NamedTuple):
    """The hosting market this month, as the kernels read it.

    Each hoster's listing, reach, price and whether it is full, plus the cheapest market offer
    per (group, release) that planning relies on.
    """

    listed: np.ndarray  # (hosters, releases) offers the release (on the channel considered)
    serves: np.ndarray  # (hosters, groups) serves the group's region
    price: np.ndarray  # (hosters,) USD per GPU-hour
    full: np.ndarray  # (hosters,) turned someone away this month
    cheapest_price: np.ndarray  # (groups, releases) lowest market USD per GPU-hour (inf: none)
    cheapest_hoster: np.ndarray  # (groups, releases) the market hoster offering it
    public_listed: np.ndarray  # (hosters, releases) a public hoster with capacity offers it


class Offers(NamedTuple):
    """Each researcher's preferred hosters for their release, and what they charge.

    One on the open market and one among credit hosters, each with what it charges them per
    GPU-hour (price x friction; inf: none).
    """

    market_price: np.ndarray
    market_hoster: np.ndarray  # -1: none offers it
    credit_price: np.ndarray
    credit_hoster: np.ndarray  # -1: none offers it


class Task(NamedTuple):
    """What doing one task (run, fine-tune or deploy) takes, and which ways are open.

    Its GPU-hours for one researcher are ``gpu_hours`` of the three hour fields.
    """

    mem: np.ndarray  # (releases,) GB of memory the task needs
    hours: np.ndarray  # (releases,) GPU-hours of work, whoever does it (run, fine-tune)
    hours_per_user: np.ndarray  # (releases,) GPU-hours of work per user served (deploy)
    replica_hours: np.ndarray  # (releases,) a whole copy rented all month (deploy; 0: by use)
    local_ok: np.ndarray  # (releases,) can run on own hardware (weights available)
    surcharge: np.ndarray  # (researchers,) one-off USD on a hosted bill (migration)
    use_public: bool  # the public hoster may be asked
    price_factor: np.ndarray  # (releases,) multiple of the hourly price billed (API fine-tunes)


class Venue(NamedTuple):
    """Where each request would do its task, and what it costs (one entry per request)."""

    kind: np.ndarray  # LOCAL / PUBLIC / CREDIT / MARKET / NONE
    hoster: np.ndarray  # index into the hosters, -1 for local or none
    hours: np.ndarray  # GPU-hours the task takes there
    out_of_pocket: np.ndarray  # USD from own budget
    credit: np.ndarray  # USD of public credit used


class Candidates(NamedTuple):
    """The releases researchers choose among: per-release tables and which releases those are.

    ``cost_rows`` reads the tables at the candidates' release ids itself, so they are not
    copied per candidate first. Only ``appeal`` is per candidate: worked out in numpy (its
    ``log1p`` rounds differently compiled).
    """

    release: np.ndarray  # (candidates,) int64 release id of each candidate
    appeal: np.ndarray  # (candidates,) openness + popularity utility
    mem: np.ndarray  # (3, releases) GB of memory each task needs
    hours: np.ndarray  # (3, releases) GPU-hours of work of each task (``Task``)
    hours_per_user: np.ndarray  # (3, releases) GPU-hours of work per user served
    replica_hours: np.ndarray  # (3, releases) a whole copy rented all month (0: by use)
    weights: np.ndarray  # (releases,) weights available (local runs possible)
    finetune_ok: np.ndarray  # (releases,) may be fine-tuned (weights allow it, or an API)
    max_users: np.ndarray  # (releases,) largest deployment the terms allow (0: none)
    finetune_price: np.ndarray  # (releases,) multiple of the hourly price a fine-tune is billed
    public_listed: np.ndarray  # (hosters, releases) on a public hoster with capacity
    capability: np.ndarray  # (releases,)
    language_fit: np.ndarray  # (releases, languages) fit for each language
    language_gap: np.ndarray  # (languages,) capability lost by a release with no fit
    best_market: np.ndarray  # (groups, releases) cheapest market GPU-hour
    best_credit: np.ndarray  # (programs x groups, releases) cheapest credit-hoster GPU-hour


class Choosers(NamedTuple):
    """The researchers choosing a model, with their uniform draws (one entry per chooser).

    Each considers the first ``shared`` candidates (every lab's latest families) and the
    candidates in its row of ``extra`` (its own model and what its search found).
    """

    idx: np.ndarray  # int64 researcher
    slot_draw: np.ndarray  # expects a public slot if below the service rate
    logit_draw: np.ndarray  # for the multinomial-logit draw
    held: np.ndarray  # int64 candidate they hold a fine-tune of (-1: none)
    shared: int  # candidates 0..shared-1 are considered by everyone
    extra: np.ndarray  # (choosers, k) int64 further candidates each considers (-1: none)


class ChoiceRule(NamedTuple):
    """Parameters of the model choice this month."""

    service_rate: np.ndarray  # (programs, 3) share of public requests served last month
    price: np.ndarray  # (hosters,) USD per GPU-hour
    thresholds: np.ndarray  # (3,) capable for a plan of t + 1 tasks if >= thresholds[t]; rising
    capability_weight: float
    cost_weight: float
    use_credit: bool  # some chooser has public credit
    use_public: bool  # the public hoster may be planned on (False: plan B)
    credit_rate: np.ndarray  # (programs, 3) share of credit requests granted last month


class Deployments(NamedTuple):
    """Each researcher's running deployment (in/out, one entry per researcher)."""

    release: np.ndarray  # release deployed (-1: none)
    host: np.ndarray  # hoster serving it (-1: own hardware)
    stranded: np.ndarray  # cut off (licence revoked or host gone): must migrate
    stranded_months: np.ndarray  # months stranded without a new home


class DeployTerms(NamedTuple):
    """What deploying each release takes.

    Its terms (licence, or its lab's API), GPU-hours a month (as in ``Task``) and the months of
    hosting a forced migration costs.
    """

    revoked: np.ndarray  # (releases,) licence withdrawn
    max_users: np.ndarray  # (releases,) largest deployment allowed (0: none, e.g. API only)
    hours_per_user: np.ndarray  # (releases,) GPU-hours a month per user served
    replica_hours: np.ndarray  # (releases,) a whole copy rented all month (0: billed by use)
    migration_months: float


@njit(cache=True)
def gpu_hours(
    hours: float, per_user: float, replica_hours: float, users: float, rented: bool
) -> float:
    """GPU-hours a task takes one researcher: its work, plus ``per_user`` per user served.

    At a hoster that rents whole GPUs (``rented``, and a task kept running all month:
    ``replica_hours`` > 0) the work is rounded up to whole copies of the model running all
    month, at least one; on own hardware, or at an API that bills by use, the work alone.
    """
    work = hours + users * per_user
    if rented and replica_hours > 0.0:
        return max(1.0, np.ceil(work / replica_hours)) * replica_hours
    return work


@njit(cache=True)
def cost_twins(rows: np.ndarray, shared: int) -> np.ndarray:
    """Per candidate, the first shared candidate on which every plan costs the same (-1: none).

    Derivatives mostly share their base's size, terms and (lack of) listings, so a chooser's
    plan on them costs what it costs on the base: ``choose_models`` costs the base once and
    its twins read that cost (a shared candidate is its own twin when it is the first). Two
    candidates are twins when their cost rows (all a plan's cost reads) agree; shared
    candidates are looked up by their run hours.

    Args:
        rows: the cost rows of the candidates (``cost_rows``).
        shared: candidates 0..shared-1 are the shared ones.
    """
    n = rows.shape[0]
    twin = np.full(n, -1, dtype=np.int64)
    order = np.argsort(rows[:shared, HOURS], kind="mergesort")  # equal hours: by position
    keys = rows[order, HOURS]
    for c in range(n):
        for p in range(np.searchsorted(keys, rows[c, HOURS]), shared):
            b = order[p]
            if keys[p] != rows[c, HOURS] or b > c:
                break  # no shared candidate before it has its hours
            same = True
            for col in range(rows.shape[1]):
                if rows[b, col] != rows[c, col]:
                    same = False
                    break
            if same:
                twin[c] = b
                break
    return twin


@njit(cache=True)
def cost_rows(cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """What a chooser reads of each candidate, one row per candidate (copies, no rounding).

    The cost rows: per task ``t`` the columns ``ROW_TASK * t + (MEM, HOURS, PER_USER, REPLICA,
    FACTOR)``, then ``ROW_WEIGHTS``, ``ROW_FINETUNE``, ``ROW_USERS`` (flags as 0/1), then from
    ``ROW_PRICES`` ``best_market`` by group, ``best_credit`` by row and ``public_listed`` by
    hoster; only a fine-tune's price factor is not 1. The liking rows: the appeal, then the
    capability for each language (capability - gap x (1 - fit), as ``effective_capability``).
    A chooser reads a few candidates scattered among thousands: a row keeps each one's in a few
    cache lines instead of one per table, and a twin (whose costs are its base's) only its
    liking row, in one.
    """
    n_groups, n_credit = cand.best_market.shape[0], cand.best_credit.shape[0]
    n_hosters, n_languages = cand.public_listed.shape[0], cand.language_gap.size
    rows = np.empty((cand.release.size, ROW_PRICES + n_groups + n_credit + n_hosters))
    liking = np.empty((cand.release.size, 1 + n_languages))
    for c in range(cand.release.size):
        r = cand.release[c]
        for t in range(3):
            at = ROW_TASK * t
            rows[c, at + MEM] = cand.mem[t, r]
            rows[c, at + HOURS] = cand.hours[t, r]
            rows[c, at + PER_USER] = cand.hours_per_user[t, r]
            rows[c, at + REPLICA] = cand.replica_hours[t, r]
            rows[c, at + FACTOR] = cand.finetune_price[r] if t == FINETUNE else 1.0
        rows[c, ROW_WEIGHTS] = cand.weights[r]
        rows[c, ROW_FINETUNE] = cand.finetune_ok[r]
        rows[c, ROW_USERS] = cand.max_users[r]
        for g in range(n_groups):
            rows[c, ROW_PRICES + g] = cand.best_market[g, r]
        for k in range(n_credit):
            rows[c, ROW_PRICES + n_groups + k] = cand.best_credit[k, r]
        for h in range(n_hosters):
            rows[c, ROW_PRICES + n_groups + n_credit + h] = cand.public_listed[h, r]
        liking[c, 0] = cand.appeal[c]
        for lg in range(n_languages):
            liking[c, 1 + lg] = felt_capability(
                cand.capability[r], cand.language_gap[lg], cand.language_fit[r, lg]
            )
    return rows, liking


class Buyer(NamedTuple):
    """A chooser's own terms this month, as ``plan_costs`` reads them."""

    friction: float  # multiplier on commercial prices
    hardware: float  # GB of own accelerator memory
    budget: float  # USD they can spend this month
    users: float  # users a deployment must serve
    share: float  # share of the cost they pay on a public channel
    quota: float  # subsidised GPU-hours they may use
    own_hours: float  # GPU-hours of their own hardware free
    credit: float  # USD of public credit they have
    public_host: int  # their institution's public hoster (-1: none)
    col_market: int  # the cost rows' column of their group's cheapest market price
    col_credit: int  # ... of their programme and group's cheapest credit price
    col_public: int  # ... of whether their public hoster lists it
    public: np.ndarray  # (3,) bool: expects a public slot for each task
    credit_ok: np.ndarray  # (3,) bool: expects credit for each task


@njit(cache=True, inline="always")
def plan_costs(
    row: np.ndarray, out: np.ndarray, holds_finetune: bool, buyer: Buyer, rule: ChoiceRule
) -> int:
    """Cost the nested plans (run, + fine-tune, + deploy) on one candidate for one chooser.

    A task is free on own hardware (within its memory and hours), and the fine-tune of a model
    they already hold a fine-tune of costs nothing (it is kept); a public slot or credit is
    used within the quota. Inlined into ``choose_models`` (numba ``inline="always"``): a call
    per candidate would pass a dozen arrays.

    Args:
        row: the candidate's cost row (``cost_rows``).
        out: (3,) set to the cost of each plan costed, in USD.
        holds_finetune: they hold a fine-tune of this candidate.
        buyer: the chooser.
        rule: prices and whether credit is used.

    Returns:
        How many of the nested plans are affordable (0-3).
    """
    p_mk = row[buyer.col_market] * buyer.friction
    p_cr = row[buyer.col_credit] * buyer.friction if rule.use_credit else 0.0
    gross_mk = gross_cr = subsidisable = 0.0
    quota, own_left = buyer.quota, buyer.own_hours  # what the plan may still use
    users, share, ph = buyer.users, buyer.share, buyer.public_host
    affordable = 0
    for t in range(3):
        if t == FINETUNE and row[ROW_FINETUNE] == 0.0:
            break  # the licence stops the plan here
        if t == DEPLOY and not (row[ROW_USERS] > 0 and row[ROW_USERS] >= users):
            break
        at = ROW_TASK * t
        work, per_user = row[at + HOURS], row[at + PER_USER]
        own_hours = gpu_hours(work, per_user, 0.0, users, False)
        own = row[ROW_WEIGHTS] != 0.0 and buyer.hardware >= row[at + MEM] and own_hours <= own_left
        hours = gpu_hours(work, per_user, row[at + REPLICA], users, True)
        billed = hours * row[at + FACTOR]  # GPU-hours' worth paid for
        if t == FINETUNE and holds_finetune:
            pass  # nothing to do or pay
        elif own:  # free, within its memory and the hours it has left
            own_left -= own_hours
        elif buyer.public[t] and row[buyer.col_public] != 0.0 and hours <= quota:
            quota -= hours  # its share of the cost at the public hoster
            gross_mk += share * rule.price[ph] * billed
            gross_cr += share * rule.price[ph] * billed
        else:  # hosted: pay by the hour, the subsidised part within the quota
            gross_mk += p_mk * billed
            if rule.use_credit and buyer.credit_ok[t] and hours <= quota:
                quota -= hours
                subsidisable += p_cr * billed
            else:
                gross_cr += p_cr * billed
        cost = gross_mk
        if rule.use_credit:
            subsidy = min(buyer.credit, (1.0 - share) * subsidisable)
            cost = min(gross_mk, gross_cr + subsidisable - subsidy)
        out[t] = cost
        if cost > buyer.budget:  # plans are nested and costs only add up: none further fits
            break
        affordable += 1
    return affordable


@njit(cache=True)
def choose_models(
    cand: Candidates, pop: Population, who: Choosers, rule: ChoiceRule
) -> tuple[np.ndarray, np.ndarray]:
    """Each chooser picks a release by multinomial logit among those that fit their plan.

    Utility = capability + appeal - cost_weight * log(1 + cost of the plan).

    Each chooser considers every lab's latest families (the first ``who.shared`` candidates)
    and its own finds (``who.extra``): a consideration set, so that thousands of community
    derivatives cost each chooser a handful of candidates, not thousands.

    The plan is run, run + fine-tune or run + fine-tune + deploy: the most ambitious one some
    model capable for it (``rule.thresholds``: per plan, the capability its hardest task needs)
    makes affordable (if none is capable, the most ambitious one any model makes
    affordable). Only models that afford that plan (and are capable, if any is) are chosen from.
    A plan is costed against ``pop.budget`` and ``pop.credit``; a task is free on own hardware
    (within its memory and hours), and the fine-tune of a model they already hold a fine-tune
    of costs nothing (it is kept). A candidate whose costs match a shared one's (``cost_twins``)
    takes that one's plan costs for the chooser instead of costing them again: the same numbers.
    While a capable model is affordable only capable ones can be chosen, so the others' plans
    are costed only for a chooser to whom no capable model is affordable (or as the twin a
    capable one reads): the same choice, for about half the costing (most of a chooser's set is
    below the capable bar for their language). A model capable for some plan is one capable to
    run it: the thresholds never fall from plan to plan (a plan needs its hardest task's).

    Args:
        cand: the candidate releases.
        pop: the whole population; ``who.idx`` picks the choosers.
        who: the choosers and their draws.
        rule: service rates, capability threshold and utility weights.

    Returns:
        Per chooser, the candidate position chosen (-1: none affordable) and whether a capable
        model was affordable.

    Raises:
        ValueError: thresholds that fall from one plan to the next.
    """
    if rule.thresholds[1] < rule.thresholds[0] or rule.thresholds[2] < rule.thresholds[1]:
        raise ValueError("plan thresholds must not fall from one plan to the next")
    n, n_cand = who.idx.size, cand.release.size
    n_groups = cand.best_market.shape[0]
    choice = np.full(n, -1, dtype=np.int64)
    chose_capable = np.zeros(n, dtype=np.bool_)
    # A chooser's working arrays are by place in their set (shared candidate c at place c),
    # kept small and together however many candidates there are.
    size = who.shared + who.extra.shape[1]
    consider = np.empty(size, dtype=np.int64)  # the candidate at each place
    source = np.empty(size, dtype=np.int64)  # the place whose costs it has (a twin's, or its own)
    plan_cost = np.empty((size, 3))  # USD of plan run (0), + fine-tune (1), + deploy (2)
    level = np.zeros(size, dtype=np.int64)  # how many of the nested plans are affordable
    cap = np.empty(size)
    utility = np.empty(size)
    feasible = np.empty(size, dtype=np.int64)  # places of the models that fit the plan
    log_cost = np.empty(size)  # log1p of the plan's cost, shared by twins
    logged = np.full(size, -1, dtype=np.int64)  # the chooser it was last computed for
    public = np.zeros(3, dtype=np.bool_)
    credit_ok = np.zeros(3, dtype=np.bool_)
    seen = np.full(n_cand, -1, dtype=np.int64)  # the chooser who last put it in their set
    costed = np.full(size, -1, dtype=np.int64)  # the chooser a place's plan was last costed for
    capable = np.empty(size, dtype=np.int64)  # places capable for some plan, in order
    rows, liking = cost_rows(cand)  # costs; appeal and capability by language
    n_credit = cand.best_credit.shape[0]
    col_market, col_credit = ROW_PRICES, ROW_PRICES + n_groups  # + group, + credit row
    col_public = ROW_PRICES + n_groups + n_credit  # + hoster
    twin = cost_twins(rows, who.shared)  # costed once per chooser, read by twins
    for c in range(who.shared):  # every set starts with the shared candidates
        consider[c] = c
    n_languages = liking.shape[1] - 1
    shared_capable = np.empty((n_languages, who.shared), dtype=np.int64)
    n_shared_capable = np.zeros(n_languages, dtype=np.int64)
    for lg in range(n_languages):  # per language, the shared candidates capable for a plan
        for c in range(who.shared):
            if liking[c, 1 + lg] >= rule.thresholds[0]:
                shared_capable[lg, n_shared_capable[lg]] = c
                n_shared_capable[lg] += 1
    for j in range(n):
        i = who.idx[j]
        g, fr, hw, money = pop.group[i], pop.friction[i], pop.hardware[i], pop.budget[i]
        users, lang = pop.deploy_users[i], pop.language[i]
        prog, ph, share = pop.program[i], pop.public_host[i], pop.price_share[i]
        public_ok = rule.use_public and pop.eligible[i] and ph >= 0
        for t in range(3):  # expects a public slot, or credit, for task t (the same draw)
            public[t] = public_ok and who.slot_draw[j] < rule.service_rate[max(prog, 0), t]
            credit_ok[t] = who.slot_draw[j] < rule.credit_rate[max(prog, 0), t]
        buyer = Buyer(
            fr,
            hw,
            money,
            users,
            share,
            pop.quota[i],
            pop.own_hours[i],
            pop.credit[i],
            ph,
            col_market + g,
            col_credit + max(prog, 0) * n_groups + g,
            col_public + max(ph, 0),
            public,
            credit_ok,
        )
        n_set = who.shared  # the shared candidates, then their own finds
        n_capable = n_shared_capable[lang]
        capable[:n_capable] = shared_capable[lang, :n_capable]
        for e in range(who.extra.shape[1]):
            c = who.extra[j, e]
            if c >= who.shared and seen[c] != j:
                seen[c] = j
                consider[n_set] = c
                if liking[c, 1 + lang] >= rule.thresholds[0]:
                    capable[n_capable] = n_set
                    n_capable += 1
                n_set += 1
        best_capable, best_any = 0, 0
        held = who.held[j]
        # Phase 0 costs the capable places; phase 1 the others, only if no capable one is
        # affordable (otherwise they cannot be chosen).
        for phase in range(2):
            if phase == 1 and best_capable > 0:
                break
            for k in range(n_capable if phase == 0 else n_set):
                q = capable[k] if phase == 0 else k
                c = consider[q]
                cap[q] = liking[c, 1 + lang]
                if phase == 1 and cap[q] >= rule.thresholds[0]:
                    continue
                b = twin[c]
                # its twin b (at place b: shared) is costed for it, unless either is held
                s = b if b >= 0 and b != c and b != held and c != held else q
                source[q] = s
                if costed[s] != j:
                    costed[s] = j
                    holds = consider[s] == held  # the fine-tune they hold is kept
                    level[s] = plan_costs(rows[consider[s]], plan_cost[s], holds, buyer, rule)
                affordable = level[s]
                for p in range(affordable, 0, -1):  # the most ambitious plan it is capable for
                    if cap[q] >= rule.thresholds[p - 1]:
                        best_capable = max(best_capable, p)
                        break
                best_any = max(best_any, affordable)
        chose_capable[j] = best_capable > 0
        plan = best_capable if best_capable > 0 else best_any
        if plan == 0:
            continue
        top, n_ok = -np.inf, 0
        for k in range(n_capable if best_capable > 0 else n_set):  # the feasible, in order
            q = capable[k] if best_capable > 0 else k
            c = consider[q]
            b = source[q]
            if level[b] >= plan and (best_capable == 0 or cap[q] >= rule.thresholds[plan - 1]):
                if logged[b] != j:  # the same cost as its twin's: the same log
                    log_cost[b], logged[b] = np.log1p(plan_cost[b, plan - 1]), j
                utility[q] = (
                    rule.capability_weight * cap[q] + liking[c, 0] - rule.cost_weight * log_cost[b]
                )
                top = max(top, utility[q])
                feasible[n_ok] = q
                n_ok += 1
        total = 0.0
        for f in range(n_ok):  # logit weights relative to the best
            q = feasible[f]
            utility[q] = np.exp(utility[q] - top)
            total += utility[q]
        target, cum = who.logit_draw[j] * total, 0.0
        for f in range(n_ok):  # inverse CDF: first feasible model whose cumulative reaches it
            q = feasible[f]
            if utility[q] > 0.0:
                cum += utility[q]
                choice[j] = consider[q]
                if cum >= target:
                    break
    return choice, chose_capable


class Licensing(NamedTuple):
    """What each release's licence (or its lab's API) allows, as ``licence_terms`` reads it."""

    licence: np.ndarray  # (releases,) its licence (an index into the per-licence tables)
    revoked: np.ndarray  # (releases,) licence withdrawn
    weights: np.ndarray  # (releases,) weights published
    lab: np.ndarray  # (releases,) the lab that made it
    closed: np.ndarray  # (licences,) no weights: only its lab's API serves it
    finetune: np.ndarray  # (licences,) the licence allows fine-tuning (and publishing it)
    max_users: np.ndarray  # (licences,) largest deployment the licence allows
    api_finetune: np.ndarray  # (labs,) the lab's API fine-tunes its closed models
    api_deploy: np.ndarray  # (labs,) the lab's API deploys its closed models
    api_finetune_price: np.ndarray  # (labs,) multiple of the hourly price an API fine-tune costs


@njit(cache=True)
def licence_terms(
    terms: Licensing,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per release, what may be done with it: the rule of ``Researchers._licence_allows``.

    One pass that selects each release's values (no arithmetic: the same numbers as the rule
    in numpy, without a temporary array per step).

    Returns:
        ``finetune``, ``derivative``, ``max_users`` and ``finetune_price`` per release.
    """
    n = terms.licence.size
    finetune, derivative = np.empty(n, np.bool_), np.empty(n, np.bool_)
    max_users, finetune_price = np.empty(n), np.empty(n)
    for r in range(n):
        lic, lab, revoked = terms.licence[r], terms.lab[r], terms.revoked[r]
        usable = terms.weights[r] and not revoked
        api_only = terms.closed[lic] and not revoked  # its lab's API serves it
        api_finetune = api_only and terms.api_finetune[lab]
        derivative[r] = terms.finetune[lic] and usable
        finetune[r] = derivative[r] or api_finetune
        if usable:
            max_users[r] = terms.max_users[lic]
        else:
            max_users[r] = np.inf if api_only and terms.api_deploy[lab] else 0.0
        finetune_price[r] = terms.api_finetune_price[lab] if api_finetune else 1.0
    return finetune, derivative, max_users, finetune_price


@njit(cache=True)
def gather_candidates(
    found: np.ndarray, shared: np.ndarray, n_releases: int, tried: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The month's candidates: the shared ones, then every release someone found (ascending).

    Args:
        found: (choosers, 1 + k) int64 release ids (-1: none): their own model, then their
            search finds, each counted in ``tried`` (in place: a fetch to evaluate it).
        shared: int64 ids every chooser considers.
        n_releases: releases there are.
        tried: (releases,) fetches so far this month (in/out).

    Returns:
        The candidates' release ids, each chooser's ``found`` as candidate positions (-1:
        none), and each release's candidate position (-1: not a candidate).
    """
    mark = np.zeros(n_releases, dtype=np.bool_)
    for j in range(found.shape[0]):
        for e in range(found.shape[1]):
            r = found[j, e]
            if r >= 0:
                mark[r] = True
                if e >= 1 and r < tried.size:
                    tried[r] += 1.0
    for c in shared:
        mark[c] = False
    cand = np.empty(shared.size + mark.sum(), dtype=np.int64)
    cand[: shared.size] = shared
    k = shared.size
    for r in range(n_releases):
        if mark[r]:
            cand[k] = r
            k += 1
    position = np.full(n_releases, -1, dtype=np.int64)
    for k in range(cand.size):
        position[cand[k]] = k
    extra = np.full(found.shape, -1, dtype=np.int64)
    for j in range(found.shape[0]):
        for e in range(found.shape[1]):
            if found[j, e] >= 0:
                extra[j, e] = position[found[j, e]]
    return cand, extra, position


@njit(cache=True)
def pareto(exponential: np.ndarray, alpha: float) -> np.ndarray:
    """``Generator.pareto(alpha)`` values from the same stream's ``standard_exponential`` draws.

    numpy draws a Pareto value as ``expm1(exponential / alpha)`` with C's ``expm1``, which
    ``math.expm1`` calls too, compiled or not (``np.expm1`` may round differently); so a month
    draws the cheap exponentials for everyone and turns only the givers' into values (tested
    against numpy).
    """
    values = np.empty(exponential.size)
    for k in range(exponential.size):
        values[k] = math.expm1(exponential[k] / alpha)
    return values


@njit(cache=True)
def felt_capability(capability: float, language_gap: float, fit: float) -> float:
    """A release's capability as felt in a language: it loses the language's gap x (1 - fit).

    The one statement of the language rule (ODD 7.15) that the choice, the researchers' success
    and the metrics all read.
    """
    return capability - language_gap * (1.0 - fit)


@njit(cache=True)
def effective_capability(
    release: np.ndarray,
    language: np.ndarray,
    capability: np.ndarray,
    language_fit: np.ndarray,
    language_gap: np.ndarray,
) -> np.ndarray:
    """Per researcher, the capability of their release as felt in their language.

    A release loses ``language_gap`` of the language x (1 - its fit for the language).

    Args:
        release: (researchers,) int64 release of each.
        language: (researchers,) int64 language each needs.
        capability: (releases,) capability.
        language_fit: (releases, languages) fit per language.
        language_gap: (languages,) capability lost by a release with no fit.
    """
    out = np.empty(release.size)
    for i in range(release.size):
        r, lg = release[i], language[i]
        out[i] = felt_capability(capability[r], language_gap[lg], language_fit[r, lg])
    return out


@njit(cache=True)
def due_for_review(
    choice: np.ndarray,
    chose_capable: np.ndarray,
    kept: np.ndarray,
    language: np.ndarray,
    capability: np.ndarray,
    language_fit: np.ndarray,
    language_gap: np.ndarray,
    threshold: float,
    draw: np.ndarray,
    probability: float,
) -> np.ndarray:
    """Who chooses a model again this month.

    Those whose model is no longer ``kept`` (superseded or withdrawn), those whose capable
    model fell below ``threshold`` as felt in their language (they notice; who knowingly
    settled for a weaker one does not), and a random few (``draw < probability``).

    Args:
        choice: per researcher, the release chosen (-1: none).
        chose_capable: per researcher, a capable model was affordable when they chose.
        kept: per release, still offered (a candidate, or a derivative not withdrawn).
        language: per researcher, the language they need.
        capability: (releases,) capability.
        language_fit: (releases, languages) fit per language.
        language_gap: (languages,) capability lost by a release with no fit.
        threshold: the capability a model needs to count as capable.
        draw: per researcher, a uniform draw.
        probability: the chance of a review in a month.
    """
    review = np.empty(choice.size, dtype=np.bool_)
    for i in range(choice.size):
        r, lg = max(choice[i], 0), language[i]
        gone = choice[i] >= 0 and not kept[r]
        outdated = (
            chose_capable[i]
            and felt_capability(capability[r], language_gap[lg], language_fit[r, lg]) < threshold
        )
        review[i] = gone or outdated or draw[i] < probability
    return review


@njit(cache=True)
def search_shelves(
    findable: np.ndarray, maker_language: np.ndarray, weight: np.ndarray, n_languages: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per language, the findable releases in id order and their cumulative search weights.

    A release is on the shelf of its maker's language, a lab's own (maker language -1) on
    every shelf. Weights add up in shelf order, as ``np.cumsum`` adds them.

    Args:
        findable: (releases,) bool, whether a search can find it.
        maker_language: (releases,) int64 its maker's language (-1: a lab's own).
        weight: (releases,) its search weight.
        n_languages: shelves to make.

    Returns:
        As ``search`` takes them: each shelf's offset (plus the end), the release ids shelf
        after shelf, and their cumulative weights restarting on each shelf.
    """
    start = np.zeros(n_languages + 1, dtype=np.int64)
    for lg in range(n_languages):
        on = 0
        for r in range(findable.size):
            if findable[r] and (maker_language[r] < 0 or maker_language[r] == lg):
                on += 1
        start[lg + 1] = start[lg] + on
    ids = np.empty(start[-1], dtype=np.int64)
    cum = np.empty(start[-1])
    for lg in range(n_languages):
        k, total = start[lg], 0.0
        for r in range(findable.size):
            if findable[r] and (maker_language[r] < 0 or maker_language[r] == lg):
                total += weight[r]
                ids[k], cum[k] = r, total
                k += 1
    return start, ids, cum


@njit(cache=True)
def search(
    idx: np.ndarray,
    language: np.ndarray,
    current: np.ndarray,
    findable: np.ndarray,
    draws: np.ndarray,
    shelf_start: np.ndarray,
    shelf_ids: np.ndarray,
    shelf_cum: np.ndarray,
    guide: np.ndarray,
) -> np.ndarray:
    """Each searcher's own model, if it can still be found, and their finds on its shelf.

    A searcher's finds are draws from the shelf of their language, weighted by rank. Shelf
    ``l`` is ``shelf_ids[shelf_start[l]:shelf_start[l + 1]]`` with cumulative search weights
    ``shelf_cum`` over the same slice; a draw ``u`` finds the first release whose cumulative
    weight exceeds ``u`` x the shelf's total (inverse CDF, by bisection).

    The bisection starts from the guide's bracket for ``u`` (``search_guide``), which is
    checked to hold the answer (else the whole shelf is searched): the same find, in a few
    steps instead of one per doubling of the shelf.

    Args:
        idx: (searchers,) int64 the researchers searching.
        language: (researchers,) int64 language of each.
        current: (researchers,) int64 the release each uses now (-1: none).
        findable: (releases,) bool, whether a search can find it; one's own model stays in
            view only if it is findable (not shared, revoked or without weights).
        draws: (searchers, k) uniform draws.
        shelf_start: (languages + 1,) int64 offsets of each language's shelf.
        shelf_ids: release ids, shelf after shelf.
        shelf_cum: cumulative weights, restarting on each shelf.
        guide: int64 positions per shelf, laid out as ``shelf_ids`` plus one per shelf
            (``search_guide``).

    Returns:
        (searchers, 1 + k) int64: their own model, then their finds; -1 for no model, a model
        that cannot be found, or a find on an empty shelf.
    """
    out = np.full((idx.size, 1 + draws.shape[1]), -1, dtype=np.int64)
    for j in range(idx.size):
        c, lg = current[idx[j]], language[idx[j]]
        if c >= 0 and findable[c]:
            out[j, 0] = c
        lo0, hi0 = shelf_start[lg], shelf_start[lg + 1]
        if hi0 == lo0:
            continue
        total = shelf_cum[hi0 - 1]
        buckets = hi0 - lo0
        g0 = lo0 + lg  # this shelf's guide: buckets + 1 entries
        for e in range(draws.shape[1]):
            target = draws[j, e] * total
            b = min(int(draws[j, e] * buckets), buckets - 1)
            lo, hi = guide[g0 + b], guide[g0 + b + 1]
            if lo < 0 or not (
                (lo == lo0 or shelf_cum[lo - 1] <= target)
                and (hi == hi0 - 1 or shelf_cum[hi] > target)
            ):
                lo, hi = lo0, hi0 - 1  # the bracket misses it (rounding): the whole shelf
            while lo < hi:  # first position whose cumulative weight exceeds the target
                mid = (lo + hi) // 2
                if shelf_cum[mid] > target:
                    hi = mid
                else:
                    lo = mid + 1
            out[j, 1 + e] = shelf_ids[lo]
    return out


@njit(cache=True)
def search_guide(shelf_start: np.ndarray, shelf_cum: np.ndarray) -> np.ndarray:
    """Where each draw's find lies on its shelf, to bracket ``search``'s bisection.

    A shelf of ``n`` releases gets ``n`` equal buckets of draws: entry ``b`` is the first
    position whose cumulative weight exceeds ``b / n`` of the shelf's total (the last entry:
    the shelf's last position), so a draw in bucket ``b`` finds a release between entries
    ``b`` and ``b + 1``. A shelf whose cumulative weights fall somewhere (a negative weight)
    gets -1 throughout: ``search`` bisects the whole shelf.

    Returns:
        int64, per shelf its ``n + 1`` entries (absolute positions), shelf after shelf.
    """
    n_shelves = shelf_start.size - 1
    guide = np.empty(shelf_start[-1] + n_shelves, dtype=np.int64)
    for lg in range(n_shelves):
        lo0, hi0 = shelf_start[lg], shelf_start[lg + 1]
        g0, n = lo0 + lg, hi0 - lo0
        rising = True
        for p in range(lo0 + 1, hi0):
            rising = rising and shelf_cum[p] >= shelf_cum[p - 1]
        p = lo0 if rising else -1
        for b in range(n):
            if rising:  # sweep to the first position above the bucket's lower edge
                edge = b / n * shelf_cum[hi0 - 1]
                while p < hi0 - 1 and shelf_cum[p] <= edge:
                    p += 1
            guide[g0 + b] = p
        guide[g0 + n] = max(hi0 - 1, lo0) if rising else -1
    return guide


@njit(cache=True)
def cheapest_offers(
    listed: np.ndarray, serves: np.ndarray, price: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per (group, release): the lowest price among the hosters listing it and serving the group.

    And which hoster offers it: the first at that price (inf and 0 when a release is listed
    but not for the group, as ``argmin`` over all-inf; inf and -1 when no hoster lists it).

    Args:
        listed: (hosters, releases) the channel's listings.
        serves: (hosters, groups) whether a hoster serves a group's region.
        price: (hosters,) USD per GPU-hour.
    """
    n_hosters, n_releases = listed.shape
    n_groups = serves.shape[1]
    best = np.full((n_groups, n_releases), np.inf)
    where = np.full((n_groups, n_releases), -1, dtype=np.int64)
    for r in range(n_releases):
        offered = False
        for h in range(n_hosters):
            offered = offered or listed[h, r]
        if not offered:
            continue
        for g in range(n_groups):
            low, at = np.inf, 0
            for h in range(n_hosters):
                if listed[h, r] and serves[h, g] and price[h] < low:
                    low, at = price[h], h
            best[g, r], where[g, r] = low, at
    return best, where


@njit(cache=True)
def preferred_offers(
    hosters: Hosters, pop: Population, req: Requests, charged: np.ndarray, hoster: np.ndarray
) -> None:
    """Find each requester's preferred hoster and what it charges them.

    The preferred hoster has the lowest felt price (price x taste) among those listing the
    release, serving the researcher's group and not full. Taste picks the hoster; the price is
    what is paid, times the researcher's friction.

    Args:
        hosters: the market; ``listed`` is the channel considered (market or credit hosters).
        pop: the population (group, friction, taste).
        req: who asks for which release.
        charged: out, per researcher: USD per GPU-hour they would pay (inf: none offers it).
        hoster: out, per researcher: the hoster (-1: none offers it).
    """
    listed, serves, full, price = hosters.listed, hosters.serves, hosters.full, hosters.price
    for k in range(req.idx.size):
        i, r = req.idx[k], req.release[k]
        g = pop.group[i]
        best, at = np.inf, -1  # kept in registers: written out once
        for h in range(price.size):
            felt = price[h] * pop.taste[i, h]  # taste picks the hoster; the price is what is paid
            if listed[h, r] and serves[h, g] and not full[h] and felt < best:
                best, at = felt, h
        hoster[i] = at
        charged[i] = price[at] * pop.friction[i] if at >= 0 else np.inf


@njit(cache=True)
def choose_venues(
    req: Requests, task: Task, pop: Population, offers: Offers, hosters: Hosters
) -> Venue:
    """Cheapest way for each request to do a task.

    Own hardware if the task fits its memory and the hours it has left this month, else the
    public hoster if eligible, else public credits at a credit hoster, else paying a commercial
    hoster (the preferred one, or the cheapest if the preferred is beyond the budget and no
    hoster is full yet); NONE if nothing is affordable. A hosted bill is the hourly price x
    GPU-hours x the task's ``price_factor`` for the release.

    Args:
        req: who asks for which release.
        task: what the task needs; ``surcharge`` is added to any hosted bill.
        pop: the population (hardware and its hours left, eligibility, budget and credit left).
        offers: each researcher's preferred market and credit hoster, at their price.
        hosters: the market (``full``, cheapest offers, the public hoster).

    Returns:
        Per request: kind, hoster (-1: local or none), GPU-hours there, out-of-pocket USD and
        credit USD.
    """
    n = req.idx.size
    kind = np.full(n, NONE, dtype=np.int64)
    hoster = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n)
    out_of_pocket = np.zeros(n)
    credit_used = np.zeros(n)
    fallback = not hosters.full.any()  # once one is full, the next preferred instead
    for k in range(n):
        i, r = req.idx[k], req.release[k]
        users = pop.deploy_users[i]
        work, per_user, replica = task.hours[r], task.hours_per_user[r], task.replica_hours[r]
        own_hours = gpu_hours(work, per_user, replica, users, False)
        fits = pop.hardware[i] >= task.mem[r] and own_hours <= pop.own_hours[i]
        if task.local_ok[r] and fits:
            kind[k], used[k] = LOCAL, own_hours
            continue
        money, credit = pop.budget[i], pop.credit[i]
        hours = used[k] = gpu_hours(work, per_user, replica, users, True)
        share, quota = pop.price_share[i], pop.quota[i]
        ph = pop.public_host[i]
        subsidised = pop.eligible[i] and hours <= quota
        billed = hours * task.price_factor[r]  # GPU-hours' worth paid for
        if subsidised and task.use_public and ph >= 0 and hosters.public_listed[ph, r]:
            cost_public = share * (hosters.price[ph] * billed + task.surcharge[i])
            if cost_public <= money:
                kind[k], hoster[k], out_of_pocket[k] = PUBLIC, ph, cost_public
                continue
        cost_credit = offers.credit_price[i] * billed + task.surcharge[i]
        cost_market = offers.market_price[i] * billed + task.surcharge[i]
        h_market = offers.market_hoster[i]
        if fallback and cost_market > money:  # the preferred hoster too dear: the cheapest
            g = pop.group[i]
            cheap = hosters.cheapest_price[g, r] * pop.friction[i] * billed + task.surcharge[i]
            if cheap <= money:
                cost_market, h_market = cheap, hosters.cheapest_hoster[g, r]
        subsidy = min(credit, (1.0 - share) * cost_credit) if subsidised else 0.0
        own_share = cost_credit - subsidy
        if subsidy > 0 and own_share <= money:  # an infinite cost never fits
            kind[k], hoster[k] = CREDIT, offers.credit_hoster[i]
            out_of_pocket[k], credit_used[k] = own_share, subsidy
        elif cost_market <= money:
            kind[k], hoster[k], out_of_pocket[k] = MARKET, h_market, cost_market
    return Venue(kind, hoster, used, out_of_pocket, credit_used)


@njit(cache=True)
def pay(
    req: Requests,
    venue: Venue,
    served: np.ndarray,
    pop: Population,
    routes_data: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Served requests pay from their budget, credit and quota (``pop`` updated in place).

    A task on own hardware pays nothing but uses its hours.

    Args:
        req: who asked for which release.
        venue: where each request was to be done, its GPU-hours there and its bill.
        served: per request, whether it was served.
        pop: the population; ``budget``, ``credit``, ``quota`` and ``own_hours`` are spent.
        routes_data: (programs,) whether the institution sends credit-paid usage data
            somewhere other than the hoster's data owner.

    Returns:
        Per hoster: GPU-hours, USD received and credit-paid GPU-hours whose data is routed;
        per program: credit used (USD) and credit-paid GPU-hours; all in real researchers.
    """
    n_hosters = pop.taste.shape[1]
    gpu_by, paid_by, routed_by = np.zeros(n_hosters), np.zeros(n_hosters), np.zeros(n_hosters)
    n_programs = routes_data.size
    credit_by, credit_hours = np.zeros(n_programs), np.zeros(n_programs)
    for k in range(req.idx.size):
        if not served[k]:
            continue
        i = req.idx[k]
        hours = venue.hours[k]
        if venue.kind[k] == LOCAL:
            pop.own_hours[i] -= hours
            continue
        pop.budget[i] -= venue.out_of_pocket[k]
        h = venue.hoster[k]
        if h >= 0:
            gpu_by[h] += hours * pop.weight
            paid_by[h] += (venue.out_of_pocket[k] + venue.credit[k]) * pop.weight
        if venue.kind[k] == PUBLIC or venue.kind[k] == CREDIT:
            pop.quota[i] -= hours
        if venue.kind[k] == CREDIT:
            p = pop.program[i]
            pop.credit[i] -= venue.credit[k]
            credit_by[p] += venue.credit[k] * pop.weight
            credit_hours[p] += hours * pop.weight
            if routes_data[p]:
                routed_by[h] += hours * pop.weight
    return gpu_by, paid_by, routed_by, credit_by, credit_hours


class Attempt(NamedTuple):
    """What became of one round of requests for a task (one entry per request)."""

    idx: np.ndarray  # int64 researcher
    kind: np.ndarray  # where it was to be done (``Venue.kind``)
    hoster: np.ndarray  # the hoster asked (-1: own hardware or none)
    served: np.ndarray  # bool: it was served
    no_credit: np.ndarray  # bool: refused credit before its turn


@njit(cache=True)
def record_attempt(
    a: Attempt,
    task: int,
    program: np.ndarray,
    public_asked: np.ndarray,
    public_served: np.ndarray,
    done: np.ndarray,
    where: np.ndarray,
    credit: np.ndarray,
    full: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """Record a round of requests, and who was turned away to try again elsewhere.

    Per researcher: whether they succeeded and where (``done``, ``where``; -1 unless served at
    a hoster); per programme, the requests its public hoster was asked and served for ``task``.
    A hoster that turned someone away is ``full``, unless it is the public hoster or it was
    their credit that was refused; who was refused credit has none left this month (``credit``
    0) once anyone is to try again.

    Returns:
        The researchers turned away by a hoster, in request order, and whether the public
        hoster turned anyone away.

    Raises:
        ValueError: a request at the public hoster from outside every programme.
    """
    turned = np.empty(a.idx.size, dtype=np.int64)
    n_turned, public_full = 0, False
    for k in range(a.idx.size):
        i, h, public = a.idx[k], a.hoster[k], a.kind[k] == PUBLIC
        if public:
            if program[i] < 0:
                raise ValueError("a request at the public hoster from outside every programme")
            public_asked[program[i], task] += 1.0
            if a.served[k]:
                public_served[program[i], task] += 1.0
        done[i] = a.served[k]
        where[i] = h if a.served[k] else -1
        if not a.served[k] and h >= 0:
            turned[n_turned] = i
            n_turned += 1
            if public:
                public_full = True
            elif not a.no_credit[k]:
                full[h] = True
    if n_turned > 0:
        for k in range(a.idx.size):
            if a.no_credit[k]:
                credit[a.idx[k]] = 0.0  # the credit ran out before their turn
    return turned[:n_turned], public_full


# A hoster's capacity is used up to this relative tolerance (rounding in the sums of demand).
FILL_TOLERANCE = 1 + 1e-12


@njit(cache=True)
def room_for_all(
    mask: np.ndarray, hoster: np.ndarray, demand: np.ndarray, remaining: np.ndarray
) -> bool:
    """Whether every request in ``mask`` fits its hoster's remaining capacity (no queue needed).

    Demand is summed per hoster in request order, as ``np.bincount`` sums it.
    """
    asked = np.zeros(remaining.size)
    for i in range(mask.size):
        if mask[i]:
            asked[hoster[i]] += demand[i]
    return np.all(asked <= remaining * FILL_TOLERANCE)


@njit(cache=True)
def serve_in_order(
    order: np.ndarray,
    hoster: np.ndarray,
    demand: np.ndarray,
    remaining: np.ndarray,
    out: np.ndarray,
) -> None:
    """Serve requests in queue order until each hoster's remaining capacity is used.

    ``order`` holds each hoster's queue in turn. A request is served if its hoster's demand up
    to and including it fits; the running total is the cumulative sum over the whole order
    less its value before the hoster's queue (``np.cumsum`` arithmetic, so the same rounding).

    Args:
        order: the requests (indices into the other arrays), hoster after hoster.
        hoster: per request, its hoster.
        demand: per request, GPU-hours (real researchers).
        remaining: per hoster, GPU-hours it can still sell.
        out: per request, set to whether it is served (in place).
    """
    total, before, current = 0.0, 0.0, -1
    for i in order:
        total += demand[i]
        if hoster[i] != current:  # the next hoster's queue starts
            current, before = hoster[i], total - demand[i]
        out[i] = total - before <= remaining[current] * FILL_TOLERANCE


@njit(cache=True)
def plan_deployments(
    pop: Population,
    dep: Deployments,
    ran: np.ndarray,
    run_release: np.ndarray,
    terms: DeployTerms,
    hosters: Hosters,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each researcher deploys this month.

    The model just run if its terms cover the deployment's size, else the existing
    deployment if still healthy. A deployment whose licence was revoked or whose host no longer
    lists it or serves the region is stranded (``dep.stranded`` is set in place) and must
    migrate, paying ``terms.migration_months`` of hosting at the cheapest market price on top.

    Args:
        pop: the population (group, friction, deployment size).
        dep: the running deployments.
        ran: per researcher, ran a model this month.
        run_release: per researcher, the release run.
        terms: per release, what deploying it takes.
        hosters: the market (``listed`` over all hosters, ``serves``, ``cheapest_price``).

    Returns:
        Per researcher: target release (-1: none), migration surcharge (USD) and whether it is
        a renewal.
    """
    n = dep.release.size
    target = np.full(n, -1, dtype=np.int64)
    surcharge = np.zeros(n)
    renewing = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        d, h, g = dep.release[i], dep.host[i], pop.group[i]
        if d >= 0 and (
            terms.revoked[d] or (h >= 0 and not (hosters.listed[h, d] and hosters.serves[h, g]))
        ):
            dep.stranded[i] = True
        r = run_release[i]
        if ran[i] and terms.max_users[r] > 0 and terms.max_users[r] >= pop.deploy_users[i]:
            target[i] = r
        elif d >= 0 and not dep.stranded[i]:
            target[i] = d
        t = target[i]
        if t < 0:
            continue
        if dep.stranded[i]:
            price = hosters.cheapest_price[g, t] * pop.friction[i]
            hours = gpu_hours(
                0.0, terms.hours_per_user[t], terms.replica_hours[t], pop.deploy_users[i], True
            )
            month_cost = price * hours if np.isfinite(price) else 0.0
            surcharge[i] = terms.migration_months * month_cost
        renewing[i] = d >= 0 and not dep.stranded[i] and t == d
    return target, surcharge, renewing


@njit(cache=True)
def deployed_on(host: int, dep: Deployments, n_releases: int) -> np.ndarray:
    """Per release, whether it has a healthy (not stranded) deployment at ``host``."""
    on = np.zeros(n_releases, dtype=np.bool_)
    for i in range(dep.release.size):
        if dep.host[i] == host and not dep.stranded[i]:
            on[dep.release[i]] = True
    return on


@njit(cache=True)
def hoster_listing(
    pool: np.ndarray, base: np.ndarray, usable: np.ndarray, dep: Deployments, host: int
) -> np.ndarray:
    """What a hoster lists: its pool, the derivatives of what is in it, what is deployed there.

    A derivative runs wherever the lab's release at the root of its chain is in the pool (the
    renter brings the weights; a derivative's base precedes it in id order); models
    already deployed at the hoster stay listed (hosters do not drop paying customers); only
    ``usable`` releases are listed.

    Args:
        pool: the release ids it chose to list.
        base: per release, the release it was fine-tuned from (-1: a lab's own).
        usable: per release, it may be listed (not revoked, its lab not delisted here).
        dep: the researchers' deployments.
        host: the hoster's position.

    Returns:
        Per release, whether it is listed.
    """
    in_pool = np.zeros(base.size, dtype=np.bool_)
    for r in pool:
        in_pool[r] = True
    listed = deployed_on(host, dep, base.size)
    for r in range(base.size):
        if base[r] >= 0:  # derivatives of derivatives inherit their base's membership
            in_pool[r] = in_pool[r] or in_pool[base[r]]
        listed[r] = (listed[r] or in_pool[r]) and usable[r]
    return listed


@njit(cache=True)
def settle_deployments(
    dep: Deployments, done: np.ndarray, host: np.ndarray, target: np.ndarray, abandon_after: int
) -> None:
    """Record the month's deployments in ``dep`` (in place).

    A stranded one that found no new home stays stranded; its owner shuts it down after
    ``abandon_after`` months.

    Args:
        dep: the deployments to update.
        done: per researcher, whether this month's deployment was served.
        host: hoster that took each deployment (-1: own hardware).
        target: release each researcher deployed (or tried to).
        abandon_after: months a stranded deployment is kept before it is shut down.
    """
    for i in range(done.size):
        if done[i]:
            dep.release[i], dep.host[i], dep.stranded[i] = target[i], host[i], False
        elif not dep.stranded[i]:
            dep.release[i], dep.host[i] = -1, -1
        dep.stranded_months[i] = dep.stranded_months[i] + 1 if dep.stranded[i] else 0
        if dep.stranded_months[i] > abandon_after:
            dep.release[i], dep.host[i], dep.stranded[i], dep.stranded_months[i] = -1, -1, False, 0


class FineTunes(NamedTuple):
    """The fine-tune each researcher holds (in/out, one entry per researcher)."""

    base: np.ndarray  # int64 release it was made of (-1: none)
    via_api: np.ndarray  # bool: made at a lab's API (no weights to publish)


@njit(cache=True)
def keep_finetunes(
    held: FineTunes,
    choice: np.ndarray,
    release: np.ndarray,
    finetune_ok: np.ndarray,
    ran: np.ndarray,
) -> np.ndarray:
    """Drop the fine-tunes that cannot be kept (in place); who wants a new one.

    A fine-tune is kept while its base is still their model and may still be fine-tuned; a new
    base, or one no longer allowed (revoked, say), drops it. Who ran a model that may be
    fine-tuned and keeps no fine-tune of it wants one.

    Args:
        held: the fine-tunes held; ``base`` set to -1 where dropped.
        choice: per researcher, the release chosen (-1: none).
        release: per researcher, the release run (or chosen; 0 for none).
        finetune_ok: per release, whether it may be fine-tuned.
        ran: per researcher, ran it this month.

    Returns:
        Per researcher, whether they try to fine-tune it.
    """
    wants = np.zeros(ran.size, dtype=np.bool_)
    for i in range(ran.size):
        r = release[i]
        keeps = choice[i] >= 0 and held.base[i] == r and finetune_ok[r]
        if not keeps:
            held.base[i] = -1
        wants[i] = ran[i] and finetune_ok[r] and not keeps
    return wants


@njit(cache=True)
def record_finetunes(
    held: FineTunes,
    done: np.ndarray,
    draw: np.ndarray,
    skill: np.ndarray,
    release: np.ndarray,
    hoster: np.ndarray,
    is_api: np.ndarray,
) -> np.ndarray:
    """Record the month's new fine-tunes (in place): a fine-tune done works if ``draw < skill``.

    Args:
        held: the fine-tunes held; a new one replaces ``base`` and ``via_api``.
        done: per researcher, the fine-tune task was done.
        draw: per researcher, a uniform draw.
        skill: per researcher, the chance a fine-tune works.
        release: per researcher, the release fine-tuned.
        hoster: per researcher, where it was done (-1: own hardware).
        is_api: per hoster, whether it is a lab's API.

    Returns:
        Per researcher, whether they made a new fine-tune this month.
    """
    new = np.zeros(done.size, dtype=np.bool_)
    for i in range(done.size):
        if done[i] and draw[i] < skill[i]:
            new[i] = True
            held.base[i] = release[i]
            held.via_api[i] = hoster[i] >= 0 and is_api[hoster[i]]
    return new


@njit(cache=True)
def month_uses(
    ran: np.ndarray,
    ran_at: np.ndarray,
    finetuned: np.ndarray,
    held: FineTunes,
    deployed: np.ndarray,
    deploy_host: np.ndarray,
    release: np.ndarray,
    capability: np.ndarray,
    is_api: np.ndarray,
    n_releases: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each researcher used this month, as the outcome and next month's popularity read it.

    Args:
        ran: per researcher, ran a model.
        ran_at: per researcher, the hoster it ran at (-1: own hardware).
        finetuned: per researcher, used a fine-tune of the model run.
        held: the fine-tunes held (``via_api``: made at a lab's API).
        deployed: per researcher, a deployment runs.
        deploy_host: per researcher, the deployment's hoster (-1: own hardware).
        release: per researcher, the release run.
        capability: per researcher, its capability as felt in their language.
        is_api: per hoster, whether it is a lab's API.
        n_releases: releases there are.

    Returns:
        (tasks, researchers) done through a lab's API; per release, the researchers who ran it;
        per researcher, the capability run (NaN: none).
    """
    via_api = np.zeros((3, ran.size), dtype=np.bool_)
    users = np.zeros(n_releases)
    used = np.full(ran.size, np.nan)
    for i in range(ran.size):
        via_api[RUN, i] = ran[i] and ran_at[i] >= 0 and is_api[ran_at[i]]
        via_api[FINETUNE, i] = finetuned[i] and held.via_api[i]
        via_api[DEPLOY, i] = deployed[i] and deploy_host[i] >= 0 and is_api[deploy_host[i]]
        if ran[i]:
            users[release[i]] += 1.0
            used[i] = capability[i]
    return via_api, users, used
