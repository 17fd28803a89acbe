"""Researchers: many individuals kept as arrays, deciding together each month with numpy.

Each researcher has their own group, monthly budget, local hardware, skill, language need and
deployment size, and their own model choice and deployment. The rules read per researcher
(comments give the scalar rule); the code applies them to everyone at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from simulation import kernels
from simulation.kernels import CREDIT, LOCAL, NONE, Venue
from simulation.releases import CLOSED, OPEN

if TYPE_CHECKING:
    from collections.abc import Callable

    from simulation.config import Contributions
    from simulation.model import EcosystemModel

TASKS = ("run", "finetune", "deploy")
FORWARD_FLOP_PER_PARAM = 2.0  # cal: a forward pass ~ 2 x parameters FLOPs per token (Kaplan 2020)


class Needs(NamedTuple):
    """What each task takes per release: rows run, fine-tune, deploy; (3, releases) each.

    The fields are those of ``kernels.Task``; ``kernels.gpu_hours`` turns the three hour fields
    into one researcher's GPU-hours.
    """

    mem: np.ndarray  # GB of memory
    hours: np.ndarray  # GPU-hours of work, whoever does it
    hours_per_user: np.ndarray  # GPU-hours of work per user served
    replica_hours: np.ndarray  # GPU-hours of a whole copy rented all month (0: billed by use)


class Venues(NamedTuple):
    """Where each researcher did each task this month and what it cost them (agent records).

    Kept only when asked for (``Researchers.venues`` not None), so a run without agent records
    does no work for them.
    """

    kind: np.ndarray  # (tasks, researchers) kernels venue kind of a served request; NONE: not done
    hoster: np.ndarray  # (tasks, researchers) hoster used; -1: own hardware or not done
    spent: np.ndarray  # (researchers,) USD paid out of their own budget this month
    credit: np.ndarray  # (researchers,) USD of public credit used this month

    @classmethod
    def empty(cls, n: int) -> Venues:
        """Nothing done yet this month, for ``n`` researchers."""
        tasks = len(TASKS)
        return cls(np.full((tasks, n), NONE), np.full((tasks, n), -1), np.zeros(n), np.zeros(n))


@dataclass
class Outcome:
    """What happened to the population this month (per researcher), for metrics and capture."""

    ran: np.ndarray
    finetuned: np.ndarray  # use a fine-tune of the model they ran: made this month or kept
    deployed: np.ndarray
    capability_used: np.ndarray
    capable: np.ndarray
    via_api: np.ndarray  # (tasks, researchers): run, fine-tuned, deployed through a lab's API


class Researchers:
    """The researcher population: one entry per simulated researcher in each array.

    Each month (``step``) they choose a model, run, fine-tune and deploy it and contribute
    back; the per-researcher rules are the compiled loops in ``simulation.kernels``, which take
    these arrays grouped as named tuples (``kernels.Population`` and the tables beside it).
    """

    def __init__(
        self,
        model: EcosystemModel,
        n: int,
        rng: np.random.Generator,
        dynamics_rng: np.random.Generator,
        contribution_rng: np.random.Generator,
    ) -> None:
        """Draw the population at month 0, with no model chosen and nothing deployed.

        Args:
            model: The model they belong to; its hosters must exist (tastes are per hoster).
            n: Simulated researchers; each stands for
                ``simulation.researchers_represented / n`` real ones.
            rng: The population stream, used only here and in a fixed order that does not
                depend on the scenario, so that scenarios run with the same seed have the same
                people.
            dynamics_rng: The stream for monthly draws (reviews, choices, fine-tune success,
                queue keys).
            contribution_rng: The stream for contributions (whether one has something, its
                value, the publish choice): three draws per researcher a month whatever else
                happens, so paired scenarios compare the same contributions.
        """
        self.model = model
        cfg = model.config
        self.n = n
        self.rng = dynamics_rng  # monthly draws; ``rng`` only draws the population
        self.contribution_rng = contribution_rng
        self.weight = cfg.simulation.researchers_represented / n  # real researchers per simulated
        self.group_names = list(cfg.groups)
        groups = list(cfg.groups.values())

        def per_group(attr: str) -> np.ndarray:
            return np.array([getattr(g, attr) for g in groups], dtype=float)[self.group]

        # Draw order is fixed and independent of the scenario: same seed, same people.
        u = rng.random((6, n))
        z = rng.standard_normal((3, n))
        cum = np.cumsum([g.share for g in groups])
        self.group = np.minimum(np.searchsorted(cum / cum[-1], u[0], side="right"), len(groups) - 1)
        self.budget = per_group("budget_median_usd") * np.exp(per_group("budget_sigma") * z[0])
        has_hardware = u[1] >= per_group("hardware_none_share")
        hw = per_group("hardware_median_gb") * np.exp(per_group("hardware_sigma") * z[1])
        self.hardware_gb = np.where(has_hardware, hw, 0.0)
        mean, conc = per_group("skill_mean"), per_group("skill_concentration")
        self.skill = rng.beta(mean * conc, (1 - mean) * conc)
        self.language = self._draw_languages(u[2], groups)
        self.deploy_users = per_group("deploy_users_median") * np.exp(z[2])
        self.friction = per_group("commercial_price_friction")
        self._join_programs(u[3])
        self.queue_key = u[4]  # redrawn monthly; first month uses this
        # Which hosters are labs' APIs, and what each lab's API offers beyond running its
        # closed models (a lab without an API offers nothing).
        self.is_api = np.array([h.owner is not None for h in model.hosters], dtype=bool)
        has_api = np.zeros(len(model.labs), dtype=bool)
        has_api[[h.owner.index for h in model.hosters if h.owner is not None]] = True
        specs = [lab.spec for lab in model.labs]
        self.api_finetune = has_api & np.array([s.api_finetune for s in specs], dtype=bool)
        self.api_deploy = has_api & np.array([s.api_deploy for s in specs], dtype=bool)
        self.api_finetune_price = np.array([s.api_finetune_price_factor for s in specs])
        n_hosters = len(model.hosters)
        taste = rng.standard_normal((n_hosters, n))  # hoster by hoster: stable across scenarios
        # (researchers, hosters): one researcher's tastes side by side for the hoster pick
        self.hoster_taste = np.ascontiguousarray(np.exp(cfg.market.hoster_taste_sigma * taste).T)
        self.choice = np.full(n, -1)
        self.chose_capable = np.zeros(n, dtype=bool)  # a capable model was affordable when chosen
        self.finetuned_on = np.full(n, -1)  # release they hold a fine-tune of (-1: none)
        self.finetune_api = np.zeros(n, dtype=bool)  # that fine-tune was made at a lab's API
        self.deployment = np.full(n, -1)  # release deployed on
        self.deploy_host = np.full(n, -1)  # hoster serving it (-1: own hardware)
        self.stranded = np.zeros(n, dtype=bool)
        self.stranded_months = np.zeros(n, dtype=np.int64)
        self.users = np.zeros(0)  # researchers (simulated) per release last month
        # Share of requests the public hoster served last month: researchers expect a slot
        # with this probability when they plan (they sense congestion; they do not predict it).
        # (programs, tasks); one row when there is no institution
        self.public_service_rate = np.ones((max(1, len(model.institutions)), len(TASKS)))
        self._public_asked = np.zeros_like(self.public_service_rate)
        # share of credit requests granted last month, per programme (rationed credit only)
        self.credit_rate = np.ones_like(self.public_service_rate)
        self._credit_asked = np.zeros_like(self.credit_rate)
        self._credit_granted = np.zeros_like(self.credit_rate)
        self._public_served = np.zeros_like(self.public_service_rate)
        # Offer buffers, filled anew wherever read: the month's (run, fine-tune, deploy) and
        # a scratch one for each retry after a full hoster (no fresh 10,000-long arrays a call).
        self._month_offers, self._retry_offers = _offer_buffers(n), _offer_buffers(n)
        self.outcome: Outcome | None = None
        self.venues: Venues | None = None  # an agent recorder sets it: then kept every month
        self.published_share = np.nan  # of this month's would-be contributions, those published
        self.uploads: tuple[np.ndarray, ...] | None = None  # last month's derivatives
        self.tried = np.zeros(0)  # per release, simulated choosers who fetched it to evaluate
        self._terms_of: dict | None = None  # the release arrays ``_terms`` was computed for
        self._terms: dict[str, np.ndarray] = {}
        self._shelves_key: tuple | None = None  # (month, releases, revoked) ``_shelves`` is for
        self._shelves: tuple = ()
        self._needs_buffer = Needs(*(np.zeros((len(TASKS), 16)) for _ in Needs._fields))
        self._needs_known = 0  # releases whose needs are in ``_needs_buffer``

    def _draw_languages(self, draw: np.ndarray, groups: list) -> np.ndarray:
        """Each researcher's language: a group's shares, the first language if it gives none."""
        names = self.model.language_names
        shares = np.zeros((len(groups), len(names)))
        for g, spec in enumerate(groups):
            if spec.languages:
                for name, share in spec.languages.items():
                    shares[g, names.index(name)] = share
            else:
                shares[g, 0] = 1.0
        cum = np.cumsum(shares, axis=1)
        cum /= cum[:, -1:]
        mine = cum[self.group]
        return np.minimum((draw[:, None] >= mine).sum(axis=1), len(names) - 1).astype(np.int64)

    def _join_programs(self, draw: np.ndarray) -> None:
        """Who belongs to which institution's programme, drawn once.

        A researcher of an eligible group is a member of the first institution (config order)
        that takes them: the first admits those whose population ``draw`` is below its
        ``eligible_share``, each later one draws anew from its own stream; members start unapproved
        (``approval_months``). Insiders are the members of its best-funded eligible group:
        after capture they alone stay eligible.
        """
        insts, groups = self.model.institutions, self.model.config.groups
        n = self.n
        self.program = np.full(n, -1, dtype=np.int64)
        self.reserved = np.zeros(n, dtype=bool)
        self.insider = np.zeros(n, dtype=bool)
        for p, inst in enumerate(insts):
            s = inst.spec
            codes = [self.group_names.index(g) for g in s.eligible_groups]
            # the first institution uses the population's draw; later ones their own stream, so
            # each admits its share of those the earlier ones left
            mine = draw if p == 0 else inst.draws.random(self.n)
            joins = (self.program < 0) & np.isin(self.group, codes) & (mine < s.eligible_share)
            self.program[joins] = p
            if s.reserved_group is not None:
                self.reserved |= joins & (self.group == self.group_names.index(s.reserved_group))
            if s.eligible_groups:
                richest = max(s.eligible_groups, key=lambda g: groups[g].budget_median_usd)
                self.insider |= joins & (self.group == self.group_names.index(richest))
        self.approved = np.zeros(n, dtype=bool)
        self.approval_key = np.zeros(n)  # month approved + a random place: the queue's order
        host = [i.hoster.position if i.hoster is not None else -1 for i in insts]
        self.public_host = np.where(self.program >= 0, np.array(host + [-1])[self.program], -1)
        shares = np.array([i.spec.price_share for i in insts] + [1.0])
        self.price_share = shares[self.program]  # -1 picks 1.0: no programme pays in full
        self.eligible = np.zeros(n, dtype=bool)

    def _open_programs(self) -> tuple[np.ndarray, np.ndarray]:
        """This month's approvals, eligibility, credit and quota.

        Each institution approves its waiting members with probability 1 / (1 +
        ``approval_months``) a month (a mean wait of ``approval_months``), drawn from its own
        stream. With ``equal_share`` rationing each approved member may use an equal share of
        the month's supply (the reserved group's share set aside for it): credit in USD, or
        public hoster GPU-hours as a quota; otherwise credit is rationed when it is used.

        Returns:
            Per researcher: USD of credit and subsidised GPU-hours they may use this month.
        """
        m = self.model
        credit = np.zeros(self.n)
        quota = np.full(self.n, np.inf)
        self.eligible = np.zeros(self.n, dtype=bool)
        for p, inst in enumerate(m.institutions):
            s = inst.spec
            waiting = np.flatnonzero((self.program == p) & ~self.approved)
            if waiting.size:
                draw = inst.draws.random(waiting.size)
                new = waiting[draw < 1.0 / (1.0 + s.approval_months)]
                self.approved[new] = True
                self.approval_key[new] = m.month + inst.draws.random(new.size)
            members = (self.program == p) & self.approved
            if inst.captured:
                members &= self.insider
            self.eligible |= members
            if s.quota_gpu_hours_per_month > 0:
                quota[members] = s.quota_gpu_hours_per_month
            equal = s.rationing == "equal_share"
            if s.compute_channel == "credits" and inst.credit_pool > 0:
                shares = self._equal_shares(inst.credit_pool, members, inst) if equal else None
                credit[members] = shares[members] if equal else np.inf
            if s.compute_channel == "public_hoster" and inst.hoster is not None and equal:
                hours = self._equal_shares(inst.hoster.capacity, members, inst)
                quota[members] = np.minimum(quota[members], hours[members])
        return credit, quota

    def _equal_shares(self, supply: float, members: np.ndarray, inst) -> np.ndarray:
        """Split ``supply`` (for real researchers) equally per real member, reserve first."""
        out = np.zeros(self.n)
        supply /= self.weight
        reserved = members & self.reserved
        if reserved.any() and inst.reserved_share > 0:
            out[reserved] += supply * inst.reserved_share / reserved.sum()
            supply *= 1 - inst.reserved_share
        if members.any():
            out[members] += supply / members.sum()
        return out

    def deployments(self) -> kernels.Deployments:
        """The running deployments as the kernels take them.

        This object's own arrays, not copies: ``plan_deployments`` and ``settle_deployments``
        update them in place.
        """
        return kernels.Deployments(
            self.deployment, self.deploy_host, self.stranded, self.stranded_months
        )

    # -- monthly step --------------------------------------------------------------------------
    def step(self) -> Outcome:
        """One month: choose a model, run it, fine-tune it, deploy it, and contribute back.

        Returns:
            What happened to each researcher this month (also kept as ``self.outcome``).
        """
        m, cfg = self.model, self.model.config
        rel = m.releases.arrays()
        n_rel = len(rel["lab"])
        if self.venues is not None:
            self.venues = Venues.empty(self.n)
        if n_rel == 0:  # no model exists yet (every lab starts without one): nothing to do
            no = np.zeros(self.n, dtype=bool)
            nan = np.full(self.n, np.nan)
            self.users = np.zeros(0)
            self.model.contributions_by_home = np.zeros(len(m.labs))
            self.model.language_contributions = np.zeros(len(m.language_names))
            self.outcome = Outcome(no, no, no, nan, no, np.zeros((len(TASKS), self.n), bool))
            return self.outcome
        self._prepare_prices(rel)
        self.needs = self._task_needs(rel)
        self.tried = np.zeros(n_rel)  # this month's evaluation downloads of search finds
        # The month's budget, credit, quota and own hours, spent in place as tasks are done.
        pop = self._population(self.budget.copy(), *self._open_programs(), self._own_hours())

        # 1. Choose a model. Everyone chooses in the first month; later, those whose model was
        #    superseded or withdrawn, those whose capable model fell out of the capable range
        #    (they notice; who knowingly settled for a weaker one does not), and a random few.
        is_candidate = np.zeros(n_rel, dtype=bool)
        is_candidate[m.candidates] = True
        # a lab's release is superseded once it is no longer among the candidates; a
        # derivative only when withdrawn
        kept = is_candidate | (rel["derivative"] & ~rel["revoked"])
        review = kernels.due_for_review(
            self.choice,
            self.chose_capable,
            kept,
            self.language,
            rel["capability"],
            rel["language_fit"],
            m.language_gap,
            float(m.capable_threshold),
            self.rng.random(self.n),
            float(cfg.adoption.review_probability),
        )
        if m.month == 0:
            review[:] = True
        self._choose(np.flatnonzero(review), pop)

        # 2. Run the chosen model; whoever is turned away re-plans once without the public
        #    hoster (plan B) and tries again.
        run = self._task(0, rel["weights"])
        wants = self.choice >= 0
        rr = np.where(wants, self.choice, 0)
        everyone = kernels.Requests(np.arange(self.n), rr)
        offers = self._offers(everyone, pop, into=self._month_offers)  # reused: fine-tune
        ran, ran_at = self._do_task("run", wants, rr, run, pop, offers=offers)
        retry = np.flatnonzero(wants & ~ran)
        if retry.size:
            self._choose(retry, pop, public_ok=False)
            wants = np.zeros(self.n, dtype=bool)
            wants[retry] = self.choice[retry] >= 0
            rr = np.where(self.choice >= 0, self.choice, 0)
            # only the re-planned need new offers
            self._offers(kernels.Requests(retry, rr[retry]), pop, into=offers)
            plan_b = run._replace(use_public=False)
            ran_b, at_b = self._do_task("run", wants, rr, plan_b, pop, offers=offers)
            ran |= ran_b
            ran_at = np.where(ran_b, at_b, ran_at)
        eff_cap = self._effective_capability(rel, rr)
        capable = ran & (eff_cap >= m.capable_threshold)

        # 3. Fine-tune it: needs weights whose licence allows derivatives, or a closed model
        #    whose lab's API offers fine-tuning (at its fine-tune price); and enough skill.
        #    A fine-tune is kept while its base stays their model and may still be fine-tuned:
        #    only a new base (or one no longer allowed, e.g. revoked) needs a new one.
        terms = self._licence_allows(rel)
        held = kernels.FineTunes(self.finetuned_on, self.finetune_api)
        wants_ft = kernels.keep_finetunes(held, self.choice, rr, terms["finetune"], ran)
        finetune = self._task(1, rel["weights"], price_factor=terms["finetune_price"])
        ft_done, ft_at = self._do_task("finetune", wants_ft, rr, finetune, pop, offers=offers)
        draw = self.rng.random(self.n)
        new = kernels.record_finetunes(held, ft_done, draw, self.skill, rr, ft_at, self.is_api)
        finetuned = ran & (self.finetuned_on >= 0)  # use a fine-tune of the model they ran

        # 4. Deploy: keep, start, switch or migrate a deployment that runs all month.
        deployed = self._deploy(rel, ran, rr, terms, pop, offers)
        via_api, self.users, capability_used = kernels.month_uses(
            ran,
            ran_at,
            finetuned,
            held,
            deployed,
            self.deploy_host,
            rr,
            eff_cap,
            self.is_api,
            n_rel,
        )
        self.queue_key = self.rng.random(self.n)
        asked = self._public_asked > 0
        self.public_service_rate[asked] = self._public_served[asked] / self._public_asked[asked]
        self._public_asked[:] = 0
        self._public_served[:] = 0
        asked = self._credit_asked > 0
        self.credit_rate[asked] = self._credit_granted[asked] / self._credit_asked[asked]
        self._credit_asked[:] = 0
        self._credit_granted[:] = 0
        self.outcome = Outcome(ran, finetuned, deployed, capability_used, capable, via_api)
        self._contribute(rel, rr, ran, finetuned, terms, new & terms["derivative"][rr])
        return self.outcome

    def _own_hours(self) -> np.ndarray:
        """GPU-hours each researcher's own hardware gives this research in a month.

        Its memory counted in rented GPUs' worth (H100-equivalents), for the hours of a month,
        times the share of them left for this research (``tasks.own_hardware_share``).
        """
        t = self.model.config.tasks
        gpus = self.hardware_gb / t.gpu_memory_gb
        return gpus * t.deploy_hours_per_month * t.own_hardware_share

    def _task(
        self,
        t: int,
        local_ok: np.ndarray,
        surcharge: np.ndarray | None = None,
        price_factor: np.ndarray | None = None,
    ) -> kernels.Task:
        """Task ``t`` (0 run, 1 fine-tune, 2 deploy) as the kernels take it, this month.

        Args:
            t: Its row in ``self.needs``.
            local_ok: Per release, whether it can be done on own hardware (weights).
            surcharge: Per researcher, one-off USD on a hosted bill (default none).
            price_factor: Per release, multiple of the hourly price billed (default 1).
        """
        needs = self.needs
        return kernels.Task(
            needs.mem[t],
            needs.hours[t],
            needs.hours_per_user[t],
            needs.replica_hours[t],
            local_ok,
            np.zeros(self.n) if surcharge is None else surcharge,
            True,
            np.ones(local_ok.size) if price_factor is None else price_factor,
        )

    def _through_api(self, hoster: np.ndarray) -> np.ndarray:
        """Per researcher, whether ``hoster`` (-1: own hardware or none) is a lab's API."""
        return (hoster >= 0) & self.is_api[np.maximum(hoster, 0)]

    def _population(
        self, budget: np.ndarray, credit: np.ndarray, quota: np.ndarray, own_hours: np.ndarray
    ) -> kernels.Population:
        """The researchers' own arrays as the kernels take them.

        Args:
            budget: USD each can still spend this month (the kernels spend it in place).
            credit: USD of public credit each has left this month (spent in place).
            quota: Subsidised GPU-hours each may still use this month (spent in place).
            own_hours: GPU-hours of their own hardware still free this month (spent in place).

        Returns:
            A ``kernels.Population`` viewing this object's arrays (nothing is copied).
        """
        return kernels.Population(
            self.group,
            self.friction,
            self.hardware_gb,
            self.eligible,
            self.language,
            self.deploy_users,
            self.hoster_taste,
            budget,
            credit,
            float(self.weight),
            self.program,
            self.public_host,
            self.price_share,
            quota,
            own_hours,
        )

    # -- prices and venues ---------------------------------------------------------------------
    def _prepare_prices(self, rel: dict[str, np.ndarray]) -> None:
        """Build this month's price tables.

        Which hoster offers which release to which group, each hoster's price, and the cheapest
        offer per (group, release) for planning. A researcher picks their own hoster by felt
        price (price x taste: accounts, trust, latency) and pays price x friction
        (``kernels.preferred_offers``).
        """
        m = self.model
        n_h, n_rel = len(m.hosters), len(rel["lab"])
        listed = np.array([h.listed for h in m.hosters], dtype=bool).reshape(n_h, n_rel)
        serves = np.array([h.serves for h in m.hosters], dtype=bool).reshape(n_h, -1)
        price = np.array([h.price for h in m.hosters])

        def channel(hosters: list[int]) -> np.ndarray:
            """``listed`` on these hosters alone (the others' rows False)."""
            on = np.zeros_like(listed)
            on[hosters] = listed[hosters]
            return on

        self.market_listed = channel(m.commercial_index)
        best_market, cheapest_market = kernels.cheapest_offers(self.market_listed, serves, price)
        # Credit: each institution's own credit hosters; one block of groups per programme.
        self.credit_listed = [channel(m.credit_hosters(inst)) for inst in m.institutions]
        blocks = [kernels.cheapest_offers(lst, serves, price)[0] for lst in self.credit_listed] or [
            np.full_like(best_market, np.inf)
        ]
        self.best_credit = np.concatenate(blocks, axis=0)
        public_listed = np.zeros((n_h, n_rel), dtype=bool)
        for inst in m.institutions:
            pub = inst.hoster
            if pub is not None and pub.capacity > 0:
                public_listed[pub.position] = pub.listed
        self.hosting = kernels.Hosters(
            listed,  # all hosters; ``market_listed`` and ``credit_listed`` hold the channels
            serves,
            price,
            np.zeros(n_h, dtype=bool),  # none full yet; ``_do_task`` marks who turns people away
            best_market,
            cheapest_market,
            public_listed,
        )

    def _offers(
        self,
        req: kernels.Requests,
        pop: kernels.Population,
        full: np.ndarray | None = None,
        into: kernels.Offers | None = None,
    ) -> kernels.Offers:
        """Each requester's preferred market and credit hoster for their release.

        Preferred means the lowest price x taste, on the open market and among credit hosters;
        each comes with what it charges them (price x friction).

        Args:
            req: who asks for which release.
            pop: the population (its credit decides whether credit hosters are looked at).
            full: per hoster, turned someone away this month (skipped); default none.
            into: offers to fill in at ``req.idx`` (others kept); default the scratch buffer,
                overwritten by the next such call.

        Returns:
            Per researcher offers, filled in at ``req.idx`` (``into`` itself if given); only
            those entries are meaningful.
        """
        hosting = self.hosting if full is None else self.hosting._replace(full=full)
        if into is None:
            into = self._retry_offers
        market = hosting._replace(listed=self.market_listed)
        kernels.preferred_offers(market, pop, req, into.market_price, into.market_hoster)
        if not self.credit_listed:  # no institution: the buffers' credit offers stay none
            return into
        into.credit_price[req.idx], into.credit_hoster[req.idx] = np.inf, -1
        program = self.program[req.idx]
        for p, listed in enumerate(self.credit_listed):
            mine = (program == p) & (pop.credit[req.idx] > 0)
            if mine.any():
                sub = kernels.Requests(req.idx[mine], req.release[mine])
                channel = hosting._replace(listed=listed)
                kernels.preferred_offers(channel, pop, sub, into.credit_price, into.credit_hoster)
        return into

    def _venue(
        self,
        req: kernels.Requests,
        task: kernels.Task,
        pop: kernels.Population,
        full: np.ndarray,
        offers: kernels.Offers | None = None,
    ) -> Venue:
        """Cheapest way for each request to do ``task``.

        Own hardware if it fits, else the public hoster if eligible, else public credits at a
        credit hoster, else paying a commercial hoster; NONE if nothing is affordable
        (``kernels.choose_venues``).

        Args:
            req: who asks for which release.
            task: what the task needs and which ways are open.
            pop: the population, with this month's budget and credit left.
            full: per hoster, turned someone away this month.
            offers: preferred hosters already known for ``req`` (default: looked up now).

        Returns:
            Per request: where it would be done and what it would cost.
        """
        if offers is None:
            offers = self._offers(req, pop, full)
        return kernels.choose_venues(req, task, pop, offers, self.hosting._replace(full=full))

    def _do_task(
        self,
        name: str,
        wants: np.ndarray,
        r: np.ndarray,
        task: kernels.Task,
        pop: kernels.Population,
        offers: kernels.Offers | None = None,
        priority: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Try a task for every researcher who wants it; pay, and ration hosted capacity.

        Args:
            name: the task, one of ``TASKS``.
            wants: per researcher, whether they try the task.
            r: per researcher, the release to use.
            task: what the task needs; ``task.surcharge`` (USD per researcher) is a one-off
                cost added to a hosted bill.
            pop: the population; budget and credit are spent in place.
            offers: preferred hosters for the first attempt (default: looked up).
            priority: per researcher, queues first at a hoster (running deployments renew).

        Returns:
            Per researcher: whether they succeeded and the hoster used (-1: own hardware or
            none).
        """
        idx = np.flatnonzero(wants)
        done = np.zeros(self.n, dtype=bool)
        where = np.full(self.n, -1)
        if idx.size == 0:
            return done, where
        # Whoever a full hoster turns away tries again elsewhere: the market after the public
        # hoster, the next preferred hoster after a full commercial one.
        full = np.zeros(len(self.model.hosters), dtype=bool)
        t = TASKS.index(name)
        for attempt in range(len(full) + 1):
            req = kernels.Requests(idx, r[idx])
            v = self._venue(req, task, pop, full, offers if attempt == 0 else None)
            served, no_credit = self._serve(name, idx, v, v.hours, priority)
            turned, public_full = kernels.record_attempt(
                kernels.Attempt(idx, v.kind, v.hoster, served, no_credit),
                t,
                self.program,
                self._public_asked,
                self._public_served,
                done,
                where,
                pop.credit,
                full,
            )
            self._pay(name, req, v, served, pop)
            if self.venues is not None:
                self._log_venues(t, idx, v, served, where)
            if turned.size == 0:
                break
            if public_full:  # the public hoster is full: not asked again
                task = task._replace(use_public=False)
            idx = turned
        return done, where

    def _log_venues(
        self, t: int, idx: np.ndarray, v: Venue, served: np.ndarray, where: np.ndarray
    ) -> None:
        """Keep where requests ``idx`` did task ``t`` and what they paid (as ``kernels.pay``)."""
        log = self.venues
        log.kind[t, idx] = np.where(served, v.kind, NONE)
        log.hoster[t, idx] = where[idx]
        log.spent[idx] += np.where(served & (v.kind != LOCAL), v.out_of_pocket, 0.0)
        log.credit[idx] += np.where(served & (v.kind == CREDIT), v.credit, 0.0)

    def _rationing_key(self, inst, idx: np.ndarray) -> np.ndarray:
        """Queue places in [0, 1) for ``inst``'s supply: by approval for ``queue``, else drawn."""
        if inst.spec.rationing == "queue":
            return self.approval_key[idx] / (self.model.month + 1)
        return self.queue_key[idx]

    def _serve(self, task, idx, v: Venue, hours, priority=None) -> tuple[np.ndarray, np.ndarray]:
        """Decide which requests are served, rationing credit and hosted capacity.

        Local tasks always run. Credit that ``queue`` or ``lottery`` rations is granted first
        (``_ration_credit``); who it does not cover is refused credit and tries again without.
        Hosted requests are served in a random queue until each hoster's capacity for the month
        is used; at a public hoster, in its institution's order, the reserved group first from
        the reserved share of each pool. Running deployments renew first.

        Returns:
            Per request: served, and refused credit.
        """
        m = self.model
        ok = v.kind == LOCAL
        hosted = v.hoster >= 0
        if not hosted.any():
            return ok, np.zeros(idx.size, dtype=bool)
        no_credit = self._ration_credit(task, idx, v)
        hosted &= ~no_credit
        demand = hours * self.weight
        remaining = np.array([h.remaining(task) for h in m.hosters])

        def queue_place(key: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
            """Places in a queue: by ``key``, running deployments first; worked out on demand."""
            if priority is None:
                return key
            return lambda: (key() + ~priority[idx]) / 2

        for inst in m.institutions:
            host = inst.hoster
            if host is None or not (at := hosted & (v.hoster == host.position)).any():
                continue
            pub, place = host.position, queue_place(partial(self._rationing_key, inst, idx))
            if inst.reserved_share > 0:
                cap = remaining.copy()
                cap[pub] = max(
                    0.0,
                    host.pools.get(task, 0.0) * inst.reserved_share
                    - host.reserved_used.get(task, 0.0),
                )
                got = _queue(v.hoster, demand, place, at & self.reserved[idx], cap)
                host.reserved_used[task] = host.reserved_used.get(task, 0.0) + demand[got].sum()
                remaining[pub] -= demand[got].sum()
                ok |= got
                at &= ~got
            ok |= _queue(v.hoster, demand, place, at, remaining)
            hosted &= v.hoster != pub
        place = queue_place(partial(np.take, self.queue_key, idx))
        ok |= _queue(v.hoster, demand, place, hosted, remaining)
        return ok, no_credit

    def _ration_credit(self, task: str, idx: np.ndarray, v: Venue) -> np.ndarray:
        """Grant rationed credit (``queue`` or ``lottery``) in each institution's order.

        Until the month's pool is used; the reserved group first, from its share.

        Returns:
            Per request: refused credit (it tries again without).
        """
        no_credit = np.zeros(idx.size, dtype=bool)
        if not self.model.institutions:
            return no_credit
        program, reserved, t = self.program[idx], self.reserved[idx], TASKS.index(task)
        for p, inst in enumerate(self.model.institutions):
            if inst.spec.compute_channel != "credits" or inst.spec.rationing == "equal_share":
                continue
            asks = (v.kind == CREDIT) & (program == p)
            if asks.any():
                place = partial(self._rationing_key, inst, idx)
                usd, one = v.credit * self.weight, np.zeros(idx.size, dtype=np.int64)
                got = np.zeros(idx.size, dtype=bool)
                if inst.reserved_share > 0:  # the reserved group first, from its share
                    block = min(inst.reserved_left, inst.credit_pool)
                    got = _queue(one, usd, place, asks & reserved, np.array([max(0.0, block)]))
                    inst.reserved_left -= usd[got].sum()
                left = inst.credit_pool - usd[got].sum()
                got |= _queue(one, usd, place, asks & ~got, np.array([max(0.0, left)]))
                no_credit |= asks & ~got
                self._credit_asked[p, t] += asks.sum()
                self._credit_granted[p, t] += (asks & got).sum()
        return no_credit

    def _pay(
        self,
        name: str,
        req: kernels.Requests,
        v: Venue,
        served: np.ndarray,
        pop: kernels.Population,
    ) -> None:
        """Served requests pay (``kernels.pay``); hosters and institutions are settled.

        Credit-paid usage data goes where the paying institution's ``data_to`` says: with
        ``provider`` it stays with the hoster's data owner, else the institution sends it on
        when it has a recipient (the commons, or labs it funds).

        Args:
            name: the task, one of ``TASKS`` (hosters keep their pools per task).
            req: who asked for which release.
            v: where each request was to be done, its GPU-hours there and its bill.
            served: per request, whether it was served.
            pop: the population; budget, credit and quota are spent in place.
        """
        m = self.model
        routes = np.array(  # credit-paid data the institution sends on (to someone)
            [
                i.spec.compute_channel == "credits"
                and (i.data_to == "commons" or (i.data_to != "provider" and bool(i.funded)))
                for i in m.institutions
            ]
            or [False]
        )
        gpu_by, paid_by, routed_by, credit_by, credit_hours = kernels.pay(
            req, v, served, pop, routes
        )
        settled = zip(m.hosters, gpu_by.tolist(), paid_by.tolist(), routed_by.tolist(), strict=True)
        for h, g_h, p_h, routed in settled:  # Python floats: cheaper sums in the hosters
            if g_h > 0:
                h.settle(g_h, p_h, name, routed)
        for p, inst in enumerate(m.institutions):
            if credit_by[p] > 0:
                inst.use_credits(credit_by[p])
            if routes[p]:
                inst.share_data(credit_hours[p], usage=True)

    # -- choices -------------------------------------------------------------------------------
    def _effective_capability(self, rel, r) -> np.ndarray:
        """Capability as each researcher experiences it: less if it misses their language.

        A release loses ``language_penalty`` x its language's ``resource_gap`` x (1 - its fit
        for the language).
        """
        if rel["capability"].size == 0:  # nothing released yet
            return np.full(self.n, -np.inf)
        return kernels.effective_capability(
            r, self.language, rel["capability"], rel["language_fit"], self.model.language_gap
        )

    def _choose(self, idx: np.ndarray, pop: kernels.Population, public_ok: bool = True) -> None:
        """Multinomial-logit choice over candidate releases.

        Utility = capability + openness + popularity (preferential attachment) - cost + taste.
        Researchers plan to run, fine-tune and deploy; the plan shrinks (to run and fine-tune,
        then to run only) when no model makes the whole plan affordable. The rule per
        researcher is ``kernels.choose_models``.

        Args:
            idx: the researchers choosing.
            pop: the population; its credit pays for plans (its budget is not used: a plan is
                costed against the whole monthly budget).
            public_ok: whether the public hoster may be planned on (False: plan B after it
                turned them away).
        """
        if idx.size == 0:
            return
        m, cfg = self.model, self.model.config
        rel = m.releases.arrays()
        found = self._search(rel, idx)  # (choosers, k) release ids beyond the shared set (-1)
        shared = m.candidates
        # search finds are fetched to evaluate: a download each (counted in ``tried``)
        cand, extra, position = kernels.gather_candidates(
            found, shared.astype(np.int64), len(rel["lab"]), self.tried
        )
        a = cfg.adoption
        terms = self._licence_allows(rel)
        appeal = a.openness_weight * (rel["licence"][cand] == OPEN) + (
            a.popularity_weight * np.log1p(m.popularity[cand])
        )
        held = np.append(position, -1)[self.finetuned_on[idx]]  # its fine-tune is kept (-1: none)
        slot_draw = self.rng.random(idx.size)  # one draw: an optimist expects every slot
        logit_draw = self.rng.random(idx.size)
        candidates = kernels.Candidates(  # whole tables: the kernel reads the candidates' columns
            release=cand,
            appeal=appeal,
            **self.needs._asdict(),
            weights=rel["weights"],
            finetune_ok=terms["finetune"],
            max_users=terms["max_users"],
            finetune_price=terms["finetune_price"],
            public_listed=self.hosting.public_listed,
            capability=rel["capability"],
            language_fit=rel["language_fit"],
            language_gap=m.language_gap,
            best_market=self.hosting.cheapest_price,
            best_credit=self.best_credit,
        )
        rule = kernels.ChoiceRule(
            self.public_service_rate,
            self.hosting.price,
            _plan_thresholds(m.capable_thresholds),
            float(a.capability_weight),
            float(a.cost_weight),
            bool(pop.credit[idx].any()),
            bool(public_ok),
            self.credit_rate,
        )
        chosen, self.chose_capable[idx] = kernels.choose_models(
            candidates,
            pop._replace(budget=self.budget),
            kernels.Choosers(idx, slot_draw, logit_draw, held, int(shared.size), extra),
            rule,
        )
        self.choice[idx] = np.append(cand, -1)[chosen]  # -1: none affordable

    def _search(self, rel: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        """What each chooser finds beyond every lab's latest family: a consideration set.

        The model they use now, and ``search_results`` draws among the other usable releases
        with weights (older families, community derivatives) tagged with their language (a
        lab's own release counts for every language), each drawn in proportion to
        ``search_visibility`` + last month's users (real researchers): a Hub search sorted by
        downloads. Draws are fixed per chooser, whatever the pool (docs/ODD.md 7.5).

        Returns:
            (choosers, 1 + search_results) release ids; -1 where there is none.
        """
        draws = self.rng.random((idx.size, self.model.config.adoption.search_results))
        # one's own model is always in view, unless it can no longer be found (or is shared)
        ok, shelves = self._search_shelves(rel)
        return kernels.search(idx, self.language, self.choice, ok, draws, *shelves)

    def _search_shelves(self, rel: dict[str, np.ndarray]) -> tuple[np.ndarray, tuple]:
        """What a search can find this month: per release, and per language its ranking.

        Returns:
            Whether each release can be found, and the shelves as ``kernels.search`` takes
            them: per language the findable release ids with their cumulative search weights,
            concatenated, with each language's offsets and the bisection guide (the same all
            month: cached).
        """
        m = self.model
        key = (m.month, len(rel["lab"]), int(rel["revoked"].sum()))
        if self._shelves_key == key:
            return self._shelves
        in_view = np.zeros(len(rel["lab"]), dtype=bool)
        in_view[m.candidates] = True
        ok = ~rel["revoked"] & rel["weights"] & ~in_view
        weight = m.config.adoption.search_visibility + m.popularity[: ok.size]
        start, ids, cum = kernels.search_shelves(
            ok, rel["maker_language"], weight, len(m.language_names)
        )
        shelves = (start, ids, cum, kernels.search_guide(start, cum))
        self._shelves_key, self._shelves = key, (ok, shelves)
        return self._shelves

    def _task_needs(self, rel: dict[str, np.ndarray]) -> Needs:
        """Memory and GPU-hours each task takes, per release (``_write_needs``).

        A release's size and licence never change, so its needs are worked out once, in the
        month it first appears, into buffers grown by doubling (as the registry's columns).
        """
        n, known = rel["params_b"].size, self._needs_known
        if n > self._needs_buffer.mem.shape[1]:
            size = max(n, 2 * self._needs_buffer.mem.shape[1])
            self._needs_buffer = Needs(*(_grown(b, size) for b in self._needs_buffer))
        if n > known:
            new = Needs(*(b[:, known:n] for b in self._needs_buffer))
            self._write_needs(new, rel["params_b"][known:], rel["licence"][known:])
            self._needs_known = n
        return Needs(*(b[:, :n] for b in self._needs_buffer))

    def _write_needs(self, needs: Needs, params_b: np.ndarray, licence: np.ndarray) -> None:
        """Fill ``needs`` (zeros) with what each task takes for releases of these sizes, licences.

        Running and fine-tuning take GPU-hours in proportion to the model's parameters. A
        deployment's work grows with the users it serves: each user's tokens a month at a
        forward pass of 2 FLOP per parameter per token, at the GPUs' effective inference
        throughput. A hoster rents whole GPUs: enough copies of the model (each on the GPUs
        its memory needs) to do that work, each running all month. A closed model is served by
        its lab's API, whose copies serve all its customers: it bills the work alone. What no
        task takes (a deployment's fixed hours, others' per-user hours and copies) stays 0.
        """
        t = self.model.config.tasks
        run, finetune, deploy = range(len(TASKS))
        needs.mem[run] = params_b * t.run_memory_gb_per_b
        needs.mem[finetune] = params_b * t.finetune_memory_gb_per_b
        needs.mem[deploy] = params_b * t.deploy_memory_gb_per_b
        needs.hours[run] = params_b * t.run_gpu_hours_per_b
        needs.hours[finetune] = params_b * t.finetune_gpu_hours_per_b
        flop_per_user = t.deploy_tokens_per_user_per_month * FORWARD_FLOP_PER_PARAM * params_b * 1e9
        needs.hours_per_user[deploy] = flop_per_user / t.inference_flop_per_gpu_hour
        copy_gpus = np.ceil(params_b * t.deploy_memory_gb_per_b / t.gpu_memory_gb)
        by_use = licence == CLOSED  # an API: shared copies, billed by use
        needs.replica_hours[deploy] = np.where(by_use, 0.0, copy_gpus * t.deploy_hours_per_month)

    def _licence_allows(self, rel) -> dict[str, np.ndarray]:
        """What may be done with each release beyond running it, and on what terms.

        Weights: what their licence allows, until it is revoked. A closed release: fine-tuning
        and deployment only through its lab's API, where the lab offers them (``api_finetune``,
        ``api_deploy``). An API fine-tune gives no weights, so no derivative to publish; the API
        caps no deployment's users, and bills a fine-tune at ``api_finetune_price_factor`` x
        its hourly price (the lab's per-token fine-tuning price).

        Returns:
            Per release: ``finetune`` (may be fine-tuned), ``derivative`` (a fine-tune may be
            published: weights whose licence allows derivatives), ``max_users`` (largest
            deployment allowed; 0: none) and ``finetune_price`` (multiple of the hourly price
            a fine-tune is billed at).
        """
        if self._terms_of is rel:  # asked several times a month: cached
            return self._terms
        lic = self.model.config.licences
        finetune, derivative, max_users, finetune_price = kernels.licence_terms(
            kernels.Licensing(
                rel["licence"],
                rel["revoked"],
                rel["weights"],
                rel["lab"],
                np.array([False, False, True]),  # per licence (open, restricted, closed): closed
                np.array([lic.open.finetune, lic.restricted.finetune, False]),
                np.array([lic.open.max_deploy_users, lic.restricted.max_deploy_users, 0.0]),
                self.api_finetune,
                self.api_deploy,
                self.api_finetune_price,
            )
        )
        self._terms_of, self._terms = (
            rel,
            {  # ``arrays()`` makes a new dict on any change
                "finetune": finetune,
                "derivative": derivative,
                "max_users": max_users,
                "finetune_price": finetune_price,
            },
        )
        return self._terms

    def _deploy(
        self,
        rel: dict[str, np.ndarray],
        ran: np.ndarray,
        rr: np.ndarray,
        terms: dict[str, np.ndarray],
        pop: kernels.Population,
        offers: kernels.Offers,
    ) -> np.ndarray:
        """Keep a deployment running all month, or start one on the model just run.

        A deployment whose licence was revoked or whose host stopped serving it is stranded: it
        must migrate, paying ``migration_cost_months`` of hosting on top, before it serves again.

        Args:
            rel: the release arrays.
            ran: per researcher, ran a model this month.
            rr: per researcher, the release run (or chosen).
            terms: what each release's licence allows (``_licence_allows``).
            pop: the population; budget and credit are spent in place.
            offers: preferred hosters for ``rr`` (reused where the deployment is of that model);
                updated in place for the other deployments (the month needs them no more).

        Returns:
            Per researcher, whether a deployment is running this month.
        """
        tk = self.model.config.tasks
        deploy_terms = kernels.DeployTerms(
            rel["revoked"],
            terms["max_users"],
            self.needs.hours_per_user[2],
            self.needs.replica_hours[2],
            float(tk.migration_cost_months * self.model.config.regulation.migration_cost_factor),
        )
        target, surcharge, renewing = kernels.plan_deployments(
            pop, self.deployments(), ran, rr, deploy_terms, self.hosting
        )
        wants = target >= 0
        t = np.maximum(target, 0)
        other = np.flatnonzero(wants & (t != rr))  # offers for the model run are reused
        if other.size:
            self._offers(kernels.Requests(other, t[other]), pop, into=offers)
        deploy = self._task(2, rel["weights"], surcharge)
        done, where = self._do_task("deploy", wants, t, deploy, pop, offers, priority=renewing)
        # New arrays each month, as before the kernel (``stranded`` alone is updated in place).
        self.deployment, self.deploy_host = self.deployment.copy(), self.deploy_host.copy()
        self.stranded_months = self.stranded_months.copy()
        kernels.settle_deployments(self.deployments(), done, where, t, int(tk.abandon_after_months))
        return done

    def _contribute(self, rel, rr, ran, finetuned, terms, made) -> None:
        """Successful users may contribute back: knowledge, and their fine-tunes as derivatives.

        Each has something to contribute with some probability (higher after a fine-tune);
        its value is heavy-tailed. They decide whether to publish it, keep it private or
        abstain (``publish_choice``). A published contribution reaches the commons, credited
        to the lab whose model it built on, and counts as language data for its maker's
        language; if they have just made a fine-tune whose licence allows derivatives
        (``made``), it is published with it as a derivative release (docs/ODD.md 7.9, 7.15).
        """
        m = self.model
        c = m.config.contributions
        p = np.where(finetuned, c.finetune_probability, np.where(ran, c.run_probability, 0.0))
        draws = self.contribution_rng  # fixed draws per researcher and month: paired scenarios
        has = draws.random(self.n) < p  # contribute the same heavy-tailed values
        exponential = draws.standard_exponential(self.n)  # Pareto draws, made for givers only
        draw = draws.random(self.n)
        who = np.flatnonzero(has)  # only those with something to contribute choose
        choice = publish_choice(
            c,
            rel["licence"][rr[who]] == OPEN,
            finetuned[who] & terms["derivative"][rr[who]],  # not through an API: no weights
            draw[who],
        )
        gives = who[choice == PUBLISH]
        self.published_share = gives.size / who.size if who.size else np.nan
        tail = kernels.pareto(exponential[gives], c.pareto_alpha)  # heavy-tailed values
        value = self.skill[gives] * (1 + tail) * self.weight
        m.contributions_by_home = np.bincount(
            rel["lab"][rr[gives]], weights=value, minlength=len(m.labs)
        )
        m.language_contributions = np.bincount(
            self.language[gives], weights=value, minlength=len(m.language_names)
        )
        if c.derivatives:
            made_now = made[gives]
            quality = value[made_now] / self.weight  # the contribution's value per real researcher
            self._publish_derivatives(rel, rr, gives[made_now], quality)

    def _publish_derivatives(self, rel, rr, makers: np.ndarray, quality: np.ndarray) -> None:
        """Their fine-tunes as releases: the base's, closer to the maker's language.

        Each closes ``derivative_language_gain`` of its base's gap in its maker's language, and
        is as good as its maker's work: its capability is the base's plus
        ``derivative_quality`` x log10(``quality``), the contribution's heavy-tailed value
        (skill x (1 + Pareto)): most fine-tunes lose a little of the base's general
        capability, a few (merges, strong instruction tunes) gain. Uploaded at the end of the
        month, they are on the Hub from the next (``release_uploads``).
        """
        if makers.size == 0:
            return
        c = self.model.config.contributions
        bases, lang = rr[makers], self.language[makers]
        fit = rel["language_fit"][bases].copy()
        rows = np.arange(makers.size)
        fit[rows, lang] += (1.0 - fit[rows, lang]) * c.derivative_language_gain
        capability = rel["capability"][bases] + c.derivative_quality * np.log10(quality)
        self.uploads = (bases, lang, fit, capability)

    def release_uploads(self) -> None:
        """Put last month's published fine-tunes on the Hub as derivative releases."""
        if self.uploads is None:
            return
        bases, lang, fit, capability = self.uploads
        self.uploads = None
        self.model.releases.add_derivatives(bases, self.model.month, lang, fit, capability)


PUBLISH, KEEP, ABSTAIN = 0, 1, 2


def publish_choice(
    c: Contributions, open_base: np.ndarray, derivative: np.ndarray, draw: np.ndarray
) -> np.ndarray:
    """Publish, keep private or abstain: a multinomial logit per researcher.

    Publishing earns credit, more when what they built on is fully open (reciprocity: its
    norms ask for sharing) and when they may publish a derivative (a fine-tune whose licence
    allows derivatives); keeping it private keeps an exclusive advantage; abstaining saves
    the effort (utility 0). In the spirit of "Fine-Tuning Games" (calibration.md): specialists
    contribute, free-ride or abstain. Every weight is an assumption.

    Args:
        c: The ``[contributions]`` parameters.
        open_base: Per researcher, the model they built on is fully open.
        derivative: Per researcher, they fine-tuned it and its licence allows derivatives.
        draw: Per researcher, a uniform draw for the choice.

    Returns:
        Per researcher, ``PUBLISH``, ``KEEP`` or ``ABSTAIN``.
    """
    publish = c.publish_credit + c.reciprocity * open_base + c.derivative_credit * derivative
    keep = np.full(draw.size, np.exp(c.private_value))
    weights = np.stack([np.exp(publish), keep, np.ones(draw.size)])
    cum = np.cumsum(weights / weights.sum(axis=0), axis=0)
    return (draw[None, :] >= cum[:-1]).sum(axis=0)


def _offer_buffers(n: int) -> kernels.Offers:
    """Offers for ``n`` researchers, as none found (inf price, hoster -1)."""
    return kernels.Offers(*(np.full(n, v) for v in (np.inf, -1, np.inf, -1)))


def _grown(buffer: np.ndarray, size: int) -> np.ndarray:
    """``buffer`` with room for ``size`` columns, its values kept."""
    out = np.zeros((buffer.shape[0], size))
    out[:, : buffer.shape[1]] = buffer
    return out


def _queue(hoster, demand, place, mask, remaining) -> np.ndarray:
    """First come, first served per hoster in queue order, until capacity is used.

    ``place()`` gives every request's place in the queue, in [0, 1); it is asked only when there
    are requests and some hoster has no room for all of its own.
    """
    if not mask.any() or kernels.room_for_all(mask, hoster, demand, remaining):  # no queue
        return mask.copy()
    out = np.zeros(hoster.size, dtype=bool)
    idx = np.flatnonzero(mask)
    key = place()
    order = idx[np.argsort(hoster[idx] + key[idx])]  # hoster, then place in the queue
    kernels.serve_in_order(order, hoster, demand, remaining, out)
    return out


def _plan_thresholds(per_task: np.ndarray) -> np.ndarray:
    """Capability a plan of run (0), + fine-tune (1), + deploy (2) needs: its hardest task's."""
    return np.maximum.accumulate(np.asarray(per_task, dtype=float))
