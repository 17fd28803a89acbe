"""Labs, hosters and the public institution: few, heterogeneous, with readable monthly rules."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulation.config import STAGES, HosterKind, LabKind, Public
from simulation.metrics import TASKS
from simulation.releases import CLOSED, LICENCE_CODES, OPEN, RESTRICTED

if TYPE_CHECKING:
    from simulation.model import EcosystemModel


class Lab(mesa.Agent):
    """Trains models when its savings can buy a clearly better one, then releases a family.

    It saves its income, API revenue and public funding, and trains only when the model it
    could buy beats its best by ``min_improvement``, so rich labs release often and poor ones
    rarely (docs/ODD.md 7.1, 7.2).

    Attributes:
        kind (str): Its lab kind, a key of ``config.labs``.
        spec (LabKind): The kind's parameters.
        index (int): Its position in ``model.labs``; releases record it as their lab.
        income (float): USD a month it can put into compute; grows towards the kind's ceiling.
        budget (float): Savings available for training, USD.
        licence (int): Licence code of its next release (open, restricted or closed).
        weights (bool): Whether its next release has downloadable weights.
        absorbed (float): Community value embedded in its models so far (it does not age).
        embedded (float): Of the commons stock, what it holds now (ages with the stock).
        absorbed_private (float): Of which absorbed while its licence was closed or restricted.
        data_gpu_hours (float): Usage data it holds, GPU-hours served (the data flywheel).
        api_data_value (float): Value of the usage data its own API kept so far (value units,
            ``data_value_per_gpu_hour`` a GPU-hour): community value it captures privately.
    """

    def __init__(
        self, model: EcosystemModel, kind: str, spec: LabKind, index: int, rng: np.random.Generator
    ) -> None:
        """Create a lab with its own income draw, release phase and decision stream.

        Args:
            model: The model it belongs to.
            kind: Its lab kind, a key of ``config.labs``.
            spec: The kind's parameters.
            index: Its position in ``model.labs``.
            rng: The labs' shared stream. Labs draw from it in config order (income multiplier,
                age of the model they start with, then a spawned stream of their own), so
                adding a lab of a later kind leaves the earlier labs' draws unchanged.
        """
        super().__init__(model)
        self.kind = kind
        self.spec = spec
        self.index = index
        self.income = spec.income_usd_per_month * float(rng.lognormal(0.0, spec.income_sigma))
        self.age_of_model = int(rng.integers(0, spec.min_release_interval_months))  # staggered
        self.decision_rng = rng.spawn(1)[0]  # its own stream: other labs' draws stay put
        self.budget = 0.0
        self.revenue = 0.0  # API revenue this month, re-invested next month
        self.public_funding = 0.0  # received from the public institution this month
        self.committed_until = -1  # month until which a public contract binds its releases
        self.licence = LICENCE_CODES[spec.licence]
        self.weights = spec.weights
        self.compute_gpu_hours = spec.initial_training_gpu_hours  # of its latest training run
        self.training_cost = 0.0
        self.best_capability = -math.inf
        self.last_release_month = -(10**6)
        self.absorbed = 0.0  # community value embedded in its models so far
        self.embedded = 0.0  # of the commons stock, what it holds now (ages with the stock)
        self.absorbed_private = 0.0  # of which while its releases were closed or revocable
        self.data_gpu_hours = 0.0  # usage data it holds (the flywheel)
        self.api_data_value = 0.0  # of which its API kept, valued as contributions (capture)
        self.release_ids: list[int] = []
        self.mandated: list[tuple[int, float, float]] = []  # (due month, capability, size)

    # -- decisions -----------------------------------------------------------------------------
    def potential_capability(self, gpu_hours: float) -> float:
        """Capability a training run of ``gpu_hours`` would reach now (log10 effective compute)."""
        m, c = self.model, self.model.config.contributions
        efficiency = m.config.capability.algorithmic_efficiency_per_year ** (m.month / 12)
        return (
            math.log10(gpu_hours * efficiency)
            + c.capability_gain * math.log10(1 + self.absorbed / c.value_scale)
            + c.data_gain * math.log10(1 + self.data_gpu_hours / c.data_scale_gpu_hours)
        )

    def monthly_growth(self) -> float:
        """Return this month's income growth factor.

        Income grows at the kind's yearly rate, slowing to nothing as it nears the ceiling
        (markets and investors are finite).
        """
        ceiling = self.spec.income_ceiling_usd_per_month
        headroom = 1.0 if ceiling is None else max(0.0, 1 - self.income / ceiling)
        return self.spec.income_growth_per_year ** (headroom / 12)

    def under_commitment(self) -> bool:
        """Whether a public release commitment binds it this month.

        While bound it cannot tighten to closed and its releases are irrevocable. Funding sets
        ``committed_until`` to the next month, so the commitment outlasts the funding by one
        month.
        """
        return self.model.month <= self.committed_until

    def release_licence(self, capability: float) -> tuple[int, bool]:
        """Decide the licence of the next release.

        A lab whose new model is close to the frontier may tighten to closed (API only), unless
        a public contract commits it to keep releasing weights; on tightening it may also
        revoke the restricted licences it granted before. The draws come from the lab's own
        stream and are made only when it could tighten.

        Args:
            capability: The new flagship's capability, compared with the frontier before it.

        Returns:
            The licence code and whether weights are released.
        """
        gap = self.spec.close_within_gap
        near_frontier = gap is not None and capability >= self.model.frontier - gap
        free = self.licence != CLOSED and not self.under_commitment()
        if free and near_frontier and self.decision_rng.random() < self.spec.close_probability:
            self.licence, self.weights = CLOSED, False
            if self.decision_rng.random() < self.spec.revoke_when_closing:
                self.revoke_licences()
        return self.licence, self.weights

    def step(self) -> None:
        """Earn this month's money and train if it can buy a clearly better model.

        Income, last month's API revenue and this month's public funding go into savings. The
        lab trains only once ``min_release_interval_months`` have passed since its last release
        and only if ``training_spend_share`` of its savings buys a flagship at least
        ``min_improvement`` above its best; otherwise it keeps saving.
        """
        m = self.model
        self.release_mandated()
        self.income *= self.monthly_growth()
        self.budget += self.income + self.revenue + self.public_funding
        self.revenue = self.public_funding = 0.0
        if m.month - self.last_release_month < self.spec.min_release_interval_months:
            return
        spend = self.budget * self.spec.training_spend_share
        gpu_hours = spend / m.gpu_cost
        if gpu_hours <= 0:
            return
        if self.potential_capability(gpu_hours) < self.best_capability + self.spec.min_improvement:
            return
        self.budget -= spend
        self.train(gpu_hours)

    def train(self, gpu_hours: float, existing: bool = False) -> None:
        """Release a family of models from a training run.

        The flagship gets the capability the compute buys now; smaller variants (released only
        with weights) lose ``size_penalty`` per factor of ten in size. A flagship above the
        frontier becomes the frontier.

        Args:
            gpu_hours: GPU-hours of the training run.
            existing: Marks the model a lab already has at the start, released under its
                kind's licence without a new licence decision, ``age_of_model`` months ago.
        """
        m = self.model
        month = m.month - self.age_of_model if existing else m.month
        self.compute_gpu_hours = gpu_hours
        self.training_cost = gpu_hours * m.gpu_cost  # USD of its latest pre-training run
        flagship = self.potential_capability(gpu_hours)
        licence, weights = (
            (self.licence, self.weights) if existing else self.release_licence(flagship)
        )
        sizes = self.spec.variant_params_b if weights else self.spec.variant_params_b[:1]
        top = max(sizes)
        penalty = m.config.capability.size_penalty
        caps = [flagship - penalty * math.log10(top / s) for s in sizes]
        regulation = m.config.regulation
        irrevocable = regulation.irrevocable_licences or self.under_commitment()
        ids = m.releases.add_family(
            self.index,
            month,
            sizes,
            caps,
            self.spec.underserved_language_fit,
            licence,
            weights,
            irrevocable,
        )
        self.release_ids.extend(ids)
        best = self.best_capability  # its progress, valued at the contributions' scale
        progress = max(0.0, flagship - best) if math.isfinite(best) else 0.0
        scale = m.config.contributions.value_scale
        if weights and not existing:  # open weights give their progress back to the commons
            m.commons_inflow += m.config.contributions.give_back * scale * progress
        if not weights and not existing:
            if (
                regulation.release_delay_months
                and gpu_hours >= regulation.release_threshold_gpu_hours
            ):
                self.mandated.append((month + regulation.release_delay_months, flagship, top))
            m.commons_inflow += regulation.transparency * scale * progress  # disclosure
        self.best_capability = max(self.best_capability, flagship)
        self.last_release_month = month
        if flagship > m.frontier:
            m.frontier, m.frontier_lab = flagship, self

    def release_mandated(self) -> None:
        """Release the weights a delayed open-release mandate now requires.

        Each model it launched closed after a run above the threshold gets a weights release,
        ``regulation.release_delay_months`` after launch, under a restricted licence (the lab's
        own terms; irrevocable if regulation says so). The API model stays.
        """
        m = self.model
        due = [x for x in self.mandated if x[0] <= m.month]
        if not due:
            return
        self.mandated = [x for x in self.mandated if x[0] > m.month]
        rel = m.releases.arrays()
        mine = (rel["lab"] == self.index) & rel["weights"] & ~rel["revoked"]
        best_open = rel["capability"][mine].max() if mine.any() else -math.inf
        for _, capability, size in due:
            if capability <= best_open:
                continue  # it already offers weights at least as good: nothing is owed
            ids = m.releases.add_family(
                self.index,
                m.month,
                [size],
                [capability],
                self.spec.underserved_language_fit,
                RESTRICTED,
                True,
                m.config.regulation.irrevocable_licences,
            )
            self.release_ids.extend(ids)

    def revoke_licences(self) -> list[int]:
        """Withdraw the restricted licences it granted, and stop releasing weights.

        Licences made irrevocable by regulation or contract stay. Stopping future weight
        releases is a separate commitment: the lab closes its future releases unless a public
        contract binds it, whether or not any licence could be revoked.

        Returns:
            The ids of the releases revoked.
        """
        revoked = self.model.releases.revoke(
            [i for i in self.release_ids if self.model.releases.licence[i] == RESTRICTED]
        )
        if not self.under_commitment():
            self.licence, self.weights = CLOSED, False
        return revoked

    def absorptive_capacity(self) -> float:
        """How fast it embeds the commons stock: its monthly rate is 1 - exp(-capacity / scale).

        Effort x talent x latest training compute ^ ``absorb_elasticity``: a lab that trains
        bigger models with more talent can make more of what others contribute, whether or not
        its own models are open (docs/ODD.md 7.10).
        """
        c = self.model.config.contributions
        return (
            self.spec.absorb_effort * self.spec.talent * self.compute_gpu_hours**c.absorb_elasticity
        )

    def absorb(self, value: float) -> None:
        """Embed community value in its models.

        It counts as private capture if the lab's models are closed or revocable while it does.
        """
        self.absorbed += value
        if self.licence in (CLOSED, RESTRICTED):
            self.absorbed_private += value


class Hoster(mesa.Agent):
    """Sells GPU-hours: a commercial hoster prices by utilisation, a public one at cost.

    A lab's API is a commercial hoster with an ``owner``: it lists only its owner's closed
    models and passes its revenue and usage data to that lab. A public hoster's capacity is
    bought each month by the institution, in one pool per task.

    Attributes:
        name (str): Its configured name, or ``<kind>_api`` for a lab's API.
        position (int): Its index in ``model.hosters`` (and in the researchers' hoster arrays).
        public (bool): Whether it is a public hoster.
        owner (Lab | None): The lab whose API it is, if any.
        capacity (float): GPU-hours it can sell this month.
        utilisation (float): Used / capacity last month; sets this month's price.
        listed (np.ndarray): Per release, whether it offers it.
        serves (np.ndarray): Per researcher group, whether it serves it.
    """

    def __init__(
        self,
        model: EcosystemModel,
        name: str,
        spec: HosterKind,
        position: int,
        owner: Lab | None = None,
    ) -> None:
        """Create a hoster at month 0, priced neutrally (utilisation at target).

        Args:
            model: The model it belongs to.
            name: Its configured name, or ``<kind>_api`` for a lab's API.
            spec: Its hoster kind's parameters (for a lab's API, ``simulation.model.API``:
                capacity and markup then come from the owner's kind).
            position: Its index in ``model.hosters``.
            owner: The lab whose API it is, or None for an independent or public hoster.
        """
        super().__init__(model)
        self.name = name
        self.position = position
        self.spec = spec
        self.public = spec.kind == "public"
        self.owner = owner
        self.capacity = spec.capacity_gpu_hours_per_month
        if owner is not None:
            self.capacity = owner.spec.api_capacity_gpu_hours_per_month
        self.markup = owner.spec.api_markup if owner is not None else spec.markup
        self.scarcity = 1.0  # price factor that follows utilisation
        groups = list(model.config.groups)
        served = spec.serves_groups if spec.serves_groups is not None else groups
        self.serves = np.array([g in served for g in groups], dtype=bool)
        self.delisted_labs: set[int] = set()
        self.price_cap: float | None = None  # x cost, while it takes public money with conditions
        self.institution: PublicInstitution | None = None  # a public hoster's owner
        self.data_owner: Lab | None = owner  # who gets the usage data it collects
        self.listed = np.zeros(0, dtype=bool)  # over all releases
        self.used = 0.0
        self.served = 0.0  # GPU-hours sold to the simulated researchers this month
        # A public hoster's capacity comes in pools per task, bought from the stage budgets
        # (inference -> run, post-training -> fine-tune, deployment -> deploy).
        self.pools: dict[str, float] = {}
        self.pool_used: dict[str, float] = {}
        self.reserved_used: dict[str, float] = {}
        self.utilisation = model.config.market.target_utilisation  # neutral first month
        self.revenue = 0.0
        self.data_gpu_hours = 0.0

    @property
    def price(self) -> float:
        """USD per GPU-hour this month.

        At cost for a public hoster; otherwise cost x markup x scarcity, never below cost, and
        never above a public price cap it has accepted.
        """
        cost = self.model.gpu_cost
        if self.public:
            return cost
        price = max(cost, cost * self.markup * self.scarcity)
        if self.price_cap is not None:
            price = min(price, cost * self.price_cap)
        cap = self.model.config.regulation.max_markup
        return min(price, cost * cap) if cap > 0 else price

    def step(self) -> None:
        """Set this month's price and capacity from last month's utilisation; choose listings."""
        mk = self.model.config.market
        if not self.public:
            excess = self.utilisation - mk.target_utilisation
            lo, hi = mk.price_factor_bounds
            self.scarcity = min(hi, max(lo, self.scarcity * math.exp(mk.price_elasticity * excess)))
            growth = (1 + mk.capacity_growth_per_year) ** (1 / 12) - 1
            invest = mk.capacity_investment_rate * max(0.0, excess) / 12
            self.capacity *= 1 + growth + invest
        self.used = self.served = 0.0
        self.pool_used, self.reserved_used = {}, {}
        if not self.public and self.owner is None:  # the rest of the economy rents GPUs too
            self.used = mk.background_utilisation * self.capacity
        self.revenue = 0.0
        self.list_models()

    def list_models(self) -> None:
        """Choose which releases it offers this month.

        An API lists its owner's closed models; other hosters list the most popular weights, a
        public hoster every open-weight one.
        """
        m = self.model
        a = m.releases.arrays()
        ok = ~a["revoked"]
        if self.delisted_labs:
            ok &= ~np.isin(a["lab"], list(self.delisted_labs))
        if self.owner is not None:
            self.listed = ok & (a["lab"] == self.owner.index) & (a["licence"] == CLOSED)
            return
        pool = m.candidates[ok[m.candidates] & a["weights"][m.candidates]]
        if self.institution is not None:  # a public hoster lists what its institution allows
            listing = self.institution.spec.listing
            if listing == "open_licence":
                pool = pool[a["licence"][pool] == OPEN]
            elif listing == "public_lab":
                kinds = self.institution.spec.funded_lab_kinds
                mine = np.array([lab.kind in kinds for lab in m.labs], dtype=bool)
                pool = pool[mine[a["lab"][pool]]]
        if pool.size > self.spec.max_listed:
            pool = pool[np.argsort(-m.popularity[pool], kind="stable")[: self.spec.max_listed]]
        self.listed = np.zeros(len(a["lab"]), dtype=bool)
        self.listed[pool] = True
        # Models already deployed here stay listed: hosters do not drop paying customers.
        self.listed |= m.researchers.deployed_on(self.position)
        self.listed &= ok

    def remaining(self, task: str) -> float:
        """GPU-hours it can still sell this month for a task.

        A public hoster sells from one pool per task, bought from the matching stage budget,
        so one task cannot use up another's money; a commercial hoster sells all tasks from
        one capacity (an independent one's partly taken by background load).

        Args:
            task: ``"run"``, ``"finetune"`` or ``"deploy"``.
        """
        if self.pools:
            return self.pools.get(task, 0.0) - self.pool_used.get(task, 0.0)
        return self.capacity - self.used

    def set_pools(self, pools: dict[str, float]) -> None:
        """Set a public hoster's capacity for the month from the institution's pools.

        Args:
            pools: GPU-hours per task; its capacity is their sum.
        """
        self.pools = pools
        self.capacity = sum(pools.values())

    def share_usage_data(self) -> None:
        """A public hoster's usage data goes where its institution's ``data_to`` says."""
        if self.institution is not None:
            self.institution.share_data(self.used, usage=True)

    def settle(self, gpu_hours: float, paid: float, task: str, routed: float = 0.0) -> None:
        """Record GPU-hours sold to researchers and the money paid for them.

        The GPU-hours count against its capacity (and the task's pool at a public hoster) and
        are usage data: they go to its ``data_owner``, if any, feeding that lab's data
        flywheel. An API passes its revenue to its lab, to be re-invested next month, and the
        lab keeps the data: valued at ``data_value_per_gpu_hour``, it counts as community value
        the lab captured privately (``api_data_value``; capture metrics, not its capability,
        on which the data acts through the flywheel).

        Args:
            gpu_hours: GPU-hours served, for real researchers (already scaled).
            paid: USD received, out of pocket plus credit.
            task: The task served; names the public hoster's pool.
            routed: Of the GPU-hours, those paid with public credit whose data the paying
                institution sends elsewhere (``data_to``); its data owner does not get them.
        """
        self.used += gpu_hours
        self.served += gpu_hours
        if self.pools:
            self.pool_used[task] = self.pool_used.get(task, 0.0) + gpu_hours
        self.revenue += paid
        self.data_gpu_hours += gpu_hours
        if self.owner is not None:
            self.owner.revenue += paid
            value = self.model.config.contributions.data_value_per_gpu_hour
            self.owner.api_data_value += (gpu_hours - routed) * value
        if self.data_owner is not None:
            self.data_owner.data_gpu_hours += gpu_hours - routed

    def close_month(self) -> None:
        """Record this month's utilisation, which sets next month's price and capacity growth."""
        self.utilisation = self.used / self.capacity if self.capacity > 0 else 0.0


class PublicInstitution(mesa.Agent):
    """Spends a monthly budget across the five lifecycle stages through its channels.

    Pre-training money funds labs (optionally binding them to release openly), inference,
    post-training and deployment money buys public hoster capacity or credits, and data money
    buys datasets. Every institution has the same levers and the same failure modes (capture,
    stop-go lapses, administrative friction, build-out lag); a mode is a setting of them.

    Money accounting (docs/ODD.md 7.12): ``spent`` is what left the budget this month
    (provision, overhead and diverted rent, net of the fees researchers paid it back); money
    not used in a month is re-channelled, carried over or returned, as ``unspent`` says.

    Attributes:
        name (str): ``public`` for the ``[public]`` table, else its ``[institutions]`` name.
        program (int): Its position in ``model.institutions``; researchers record it.
        spec (Public): Its levers.
        budget (float): Nominal USD a month (cut by ``budget_cut`` events).
        appropriated (float): USD appropriated this month (0 while a lapse interrupts funding).
        captured (bool): Whether capture has happened.
        lapse_left (int): Months of the current funding interruption still to come.
        spent (float): USD that left the budget this month, net of fees recovered.
        diverted (float): Of which diverted as rent.
        carried (float): USD not used, carried into next month.
        available (float): USD it could have put to use this month.
        used (float): Of which put to use (``public.utilisation`` = used / available).
        credit_pool (float): USD of credit left to researchers this month.
        funded (list[Lab]): The labs it funds this month.
        hoster (Hoster | None): Its public hoster, if it has one.
    """

    def __init__(
        self,
        model: EcosystemModel,
        name: str,
        spec: Public,
        program: int,
        rng: np.random.Generator,
    ) -> None:
        """Create the institution, uncaptured, funded, with nothing spent or carried.

        Args:
            model: The model it belongs to.
            name: Its name.
            spec: Its levers.
            program: Its position in ``model.institutions``.
            rng: Its own stream (capture, lapses, approvals), so that its failure modes do
                not shift anyone else's draws.
        """
        super().__init__(model)
        self.name = name
        self.program = program
        self.spec = spec
        # one stream per failure mode, so switching one on never moves another's draws
        self.capture_draws, self.lapse_draws, self.draws = rng.spawn(3)
        self.budget = spec.budget_usd_per_month
        self.appropriated = 0.0
        self.captured = False
        self.lapse_left = 0
        self.spent = self.diverted = self.carried = self.carried_in = 0.0
        self.compute_available = self.compute_used = 0.0
        self.available = self.used = 0.0
        self.credit_pool = self.reserved_left = 0.0
        self.unused = 0.0  # money not used this month (carried or returned at its end)
        self.funded: list[Lab] = []
        self.contract_start = 0
        self.hoster: Hoster | None = None
        self.building: list[tuple[int, dict[str, float]]] = []  # capacity paid, not yet in service

    # -- conditions --------------------------------------------------------------------------
    @property
    def data_to(self) -> str:
        """Where data goes now: a captured institution's data goes to the labs it funds."""
        if self.captured and self.spec.data_to in ("commons", "members"):
            return "funded_labs"
        return self.spec.data_to

    @property
    def reserved_share(self) -> float:
        """Share of its supply reserved for the reserved group; capture lifts the reservation."""
        return (
            0.0 if self.captured or self.spec.reserved_group is None else self.spec.reserved_share
        )

    def stage_money(self, net: float) -> dict[str, float]:
        """Split ``net`` USD by the ``stage_split``."""
        return {s: net * getattr(self.spec.stage_split, s) for s in STAGES}

    # -- the month ---------------------------------------------------------------------------
    def step(self) -> None:
        """Allocate this month's money, before the labs act.

        Draw the failure modes (capture, a funding lapse), take the appropriation and what was
        carried, pay overhead and any diverted rent, fund labs, buy public hoster capacity
        (paid now, in service after ``buildout_months``) or open a credit pool, and place the
        data money. Money a stage cannot use is ``unused``.
        """
        s = self.spec
        if s.capture_risk and not self.captured and self.capture_draws.random() < s.capture_risk:
            self.captured = True
        stop = self.lapse_left == 0 and s.lapse_probability  # stop-go: funding interrupted
        if stop and self.lapse_draws.random() < s.lapse_probability:
            self.lapse_left = s.lapse_months
        lapsed = self.lapse_left > 0
        self.lapse_left -= lapsed
        self.appropriated = 0.0 if lapsed else self.budget
        self.spent = self.appropriated * s.overhead
        self.diverted = self.appropriated * s.capture_rent_share if self.captured else 0.0
        self.spent += self.diverted
        self.available = self.used = self.unused = 0.0
        self.compute_available = self.compute_used = 0.0
        money = self.stage_money(self.appropriated - self.spent)
        self._add_carried(money)
        self.fund_labs(money["pretraining"])
        self.bind_champion()
        self.fund_compute(money["inference"], money["posttraining"], money["deployment"])
        self.fund_data(money["data"])

    def _add_carried(self, money: dict[str, float]) -> None:
        """Put last month's unused money back to work (``unspent``)."""
        carried, self.carried = self.carried, 0.0
        self.carried_in = carried
        if carried <= 0:
            return
        if self.spec.unspent == "carry_over":
            for stage, amount in self.stage_money(carried).items():
                money[stage] += amount
            return
        # rechannel: to the first stage that can use it: labs, then compute, then data
        if self._labs_to_fund():
            money["pretraining"] += carried
        elif self.spec.compute_channel != "none":
            compute = ("inference", "posttraining", "deployment")
            total = sum(getattr(self.spec.stage_split, st) for st in compute)
            for st in compute:
                share = getattr(self.spec.stage_split, st) / total if total else 1 / 3
                money[st] += carried * share
        else:
            money["data"] += carried

    def _labs_to_fund(self) -> list[Lab]:
        """The labs its pre-training money funds this month (none once contracts ended)."""
        s, month = self.spec, self.model.month
        if s.contract_months and month >= self.contract_start + s.contract_months:
            return []
        labs = [lab for lab in self.model.labs if lab.kind in s.funded_lab_kinds]
        if labs and s.funded_labs == "largest":
            labs = [max(labs, key=lambda lab: lab.income)]
        return labs

    def fund_labs(self, amount: float) -> None:
        """Pay the pre-training money to the funded labs, committing them to open releases.

        The labs of the funded kinds (or only the one with the highest income) share it
        equally; with ``release_commitment`` and no capture, each is committed through next
        month and a lab that had closed re-opens with its kind's licence and weights. With no
        lab to fund (none of the kinds, or contracts ended) the money is unused.

        Args:
            amount: USD for pre-training this month.
        """
        self.funded = labs = self._labs_to_fund()
        if amount <= 0:
            return
        self.available += amount
        if not labs:
            self.unused += amount
            return
        for lab in labs:
            lab.public_funding += amount / len(labs)
            if self.spec.release_commitment and not self.captured:
                lab.committed_until = self.model.month + 1
                if lab.licence == CLOSED and lab.spec.weights:
                    lab.licence, lab.weights = LICENCE_CODES[lab.spec.licence], True
        self.spent += amount
        self.used += amount

    def bind_champion(self) -> None:
        """Bind the champion hoster to the champion lab (``credit_hosters = "largest"``).

        The champion hoster (the one taking credits) sends its usage data to the champion lab
        rather than keeping it in its silo, and keeps a price cap unless the institution has
        been captured.
        """
        m, s = self.model, self.spec
        if s.credit_hosters != "largest" or s.compute_channel != "credits" or not m.champion_index:
            return
        host = m.hosters[m.champion_index[0]]
        host.price_cap = None if self.captured else s.champion_price_cap
        champion = self.funded[0] if s.funded_labs == "largest" and self.funded else None
        host.data_owner = champion

    def fund_compute(self, *stages: float) -> None:
        """Buy public hoster capacity for run, fine-tune and deploy, or open a credit pool.

        Capacity is paid for when bought, used or not, and comes into service after
        ``buildout_months``; credit costs the institution only as researchers use it. With no
        compute channel the money is unused.

        Args:
            stages: USD of inference, post-training and deployment money.
        """
        m, compute = self.model, sum(stages)
        if compute <= 0:
            if self.hoster is not None:
                self._open_capacity()
            return
        self.available += compute
        channel = self.spec.compute_channel
        if channel == "credits" or (channel == "public_hoster" and self.hoster is not None):
            self.compute_available = compute
        if self.spec.compute_channel == "public_hoster" and self.hoster is not None:
            pools = {t: amount / m.gpu_cost for t, amount in zip(TASKS, stages, strict=True)}
            self.building.append((m.month + self.spec.buildout_months, pools))
            self.spent += compute
            self._open_capacity()
        elif self.spec.compute_channel == "credits":
            self.credit_pool = compute
            self.reserved_left = compute * self.reserved_share
        else:
            self.unused += compute

    def _open_capacity(self) -> None:
        """Put the capacity whose build-out is over into service at its hoster this month."""
        month, ready = self.model.month, {t: 0.0 for t in TASKS}
        waiting = []
        for due, pools in self.building:
            if due <= month:
                for t in TASKS:
                    ready[t] += pools[t]
            else:
                waiting.append((due, pools))
        self.building = waiting
        self.hoster.set_pools(ready)

    def fund_data(self, amount: float) -> None:
        """Data money buys datasets, which go where ``data_to`` says (unused with no recipient)."""
        if amount <= 0:
            return
        self.available += amount
        if self.share_data(amount / self.model.gpu_cost):
            self.spent += amount
            self.used += amount
        else:
            self.unused += amount

    def share_data(
        self, gpu_hours: float, usage: bool = False, provider: Lab | None = None
    ) -> bool:
        """Send data worth ``gpu_hours`` of usage where ``data_to`` says.

        ``commons``: its value enters the commons every lab absorbs; ``members``: each funded
        lab holds all of it (a club good); ``funded_labs``: split among them; ``provider``:
        usage data stays with whoever served it (``provider``, the lab owning the hoster; None
        for a public or independent hoster: a silo no lab absorbs), datasets go to the funded
        labs.

        Args:
            gpu_hours: Data, in GPU-hours of usage (or their cost's worth of datasets).
            usage: Usage data from serving researchers, rather than datasets bought.
            provider: For usage data, the lab that owns the hoster that served it.

        Returns:
            Whether anyone received it.
        """
        m, to = self.model, self.data_to
        if gpu_hours <= 0:
            return False
        if to == "commons":
            m.commons_inflow += gpu_hours * m.config.contributions.data_value_per_gpu_hour
            return True
        if to == "provider" and usage:
            if provider is not None:
                provider.data_gpu_hours += gpu_hours
            return provider is not None
        labs = self.funded
        if not labs:
            return False
        for lab in labs:
            lab.data_gpu_hours += gpu_hours if to == "members" else gpu_hours / len(labs)
        return True

    def use_credits(self, amount: float) -> None:
        """Count credit researchers used as spent and put to use.

        Args:
            amount: USD of credit used, for real researchers (already scaled).
        """
        self.credit_pool -= amount
        self.spent += amount
        self.used += amount
        self.compute_used += amount

    def close_month(self) -> None:
        """Settle the month: capacity put to use, fees recovered, money left unused.

        Fees researchers paid at its hoster come back to it: they lower ``spent`` and are
        money to use again. Unused credit and fees are ``unused``; ``unspent`` decides whether
        they are carried into next month (rechannelled or carried over) or returned.
        """
        pub = self.hoster
        if self.spec.compute_channel == "public_hoster" and pub is not None:
            self.used += pub.used * self.model.gpu_cost
            self.compute_used += pub.used * self.model.gpu_cost
            self.spent -= pub.revenue
            self.unused += pub.revenue
            pub.share_usage_data()
        if self.spec.compute_channel == "credits":
            self.unused += max(0.0, self.credit_pool)
            self.credit_pool = 0.0
        self.carried = 0.0 if self.spec.unspent == "lapse" else self.unused
