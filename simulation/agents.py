"""Labs, hosters and the public institution: few, heterogeneous, with readable monthly rules."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulation.config import STAGES, HosterKind, LabKind, Public
from simulation.releases import CLOSED, LICENCE_CODES, RESTRICTED

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
        absorbed (float): Community value embedded in its models so far.
        absorbed_private (float): Of which absorbed while its licence was closed or restricted.
        data_gpu_hours (float): Usage data it holds, GPU-hours served (the data flywheel).
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
        self.absorbed_private = 0.0  # of which while its releases were closed or revocable
        self.data_gpu_hours = 0.0  # usage data it holds (the flywheel)
        self.release_ids: list[int] = []

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
        irrevocable = m.config.public.licence_irrevocable or (
            self.under_commitment() and m.config.public.release_commitment
        )
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
        self.best_capability = max(self.best_capability, flagship)
        self.last_release_month = month
        if flagship > m.frontier:
            m.frontier, m.frontier_lab = flagship, self

    def revoke_licences(self) -> list[int]:
        """Withdraw the restricted licences it granted.

        Those made irrevocable by mandate or contract stay; future releases are closed (if any
        licence was revoked and no public commitment binds the lab).

        Returns:
            The ids of the releases revoked.
        """
        revoked = self.model.releases.revoke(
            [i for i in self.release_ids if self.model.releases.licence[i] == RESTRICTED]
        )
        if revoked and not self.under_commitment():
            self.licence, self.weights = CLOSED, False
        return revoked

    def absorptive_capacity(self) -> float:
        """Its weight in sharing out the pooled community value.

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
        return min(price, cost * self.price_cap) if self.price_cap is not None else price

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

    def settle(self, gpu_hours: float, paid: float, task: str) -> None:
        """Record GPU-hours sold to researchers and the money paid for them.

        The GPU-hours count against its capacity (and the task's pool at a public hoster) and
        are usage data: they go to its ``data_owner``, if any, feeding that lab's data
        flywheel. An API passes its revenue to its lab, to be re-invested next month.

        Args:
            gpu_hours: GPU-hours served, for real researchers (already scaled).
            paid: USD received, out of pocket plus credit.
            task: The task served; names the public hoster's pool.
        """
        self.used += gpu_hours
        self.served += gpu_hours
        if self.pools:
            self.pool_used[task] = self.pool_used.get(task, 0.0) + gpu_hours
        self.revenue += paid
        self.data_gpu_hours += gpu_hours
        if self.owner is not None:
            self.owner.revenue += paid
        if self.data_owner is not None:
            self.data_owner.data_gpu_hours += gpu_hours

    def close_month(self) -> None:
        """Record this month's utilisation, which sets next month's price and capacity growth."""
        self.utilisation = self.used / self.capacity if self.capacity > 0 else 0.0


class PublicInstitution(mesa.Agent):
    """Spends a monthly budget across the five lifecycle stages through the scenario's channels.

    Pre-training money funds labs (optionally binding them to release openly), inference,
    post-training and deployment money buys public hoster pools or credits, and data money buys
    datasets. Governance capture, once drawn, is permanent and lifts the conditions attached.

    Attributes:
        spec (Public): The scenario's ``[public]`` levers.
        budget (float): USD a month (cut by ``budget_cut`` events).
        captured (bool): Whether governance capture has happened.
        spent (float): USD spent this month, overhead included.
        available (float): USD it could have put to use this month.
        used (float): Of which put to use (``public.utilisation`` = used / available).
        credit_pool (float): USD of compute credit open to researchers this month.
        funded (list[Lab]): The labs it funds this month.
    """

    def __init__(self, model: EcosystemModel, spec: Public, rng: np.random.Generator) -> None:
        """Create the institution, uncaptured and with nothing spent.

        Args:
            model: The model it belongs to.
            spec: The scenario's ``[public]`` levers.
            rng: Its own stream, used only for the monthly capture draw, so that a capture
                risk does not shift anyone else's draws.
        """
        super().__init__(model)
        self.spec = spec
        self.capture_rng = rng
        self.budget = spec.budget_usd_per_month
        self.captured = False  # governance capture: conditions no longer enforced
        self.spent = 0.0
        self.available = 0.0  # money it could have put to use this month
        self.used = 0.0  # of which used
        self.credit_pool = 0.0
        self.funded: list[Lab] = []
        self.contract_start = 0

    def stage_money(self) -> dict[str, float]:
        """Split this month's budget, net of overhead, by the scenario's ``stage_split``.

        Returns:
            USD for each of the five lifecycle stages (``STAGES``).
        """
        net = self.budget * (1 - self.spec.overhead)
        return {s: net * getattr(self.spec.stage_split, s) for s in STAGES}

    def step(self) -> None:
        """Allocate this month's budget, before the labs act.

        Draw capture, fund labs from the pre-training money, bind the champion hoster, turn
        the inference, post-training and deployment money into public hoster pools or a credit
        pool, then place the data money. Overhead and public hoster capacity count as spent at
        once (capacity is paid for whether used or not); credits only as researchers use them.
        With no compute channel the compute money is not used.
        """
        m, s = self.model, self.spec
        self.spent = self.budget * s.overhead
        self.available = self.used = 0.0
        if s.capture_risk and not self.captured and self.capture_rng.random() < s.capture_risk:
            self.captured = True
        money = self.stage_money()
        self.fund_labs(money["pretraining"])
        self.bind_champion()
        compute = money["inference"] + money["posttraining"] + money["deployment"]
        if s.compute_channel == "public_hoster":
            stages = {"run": "inference", "finetune": "posttraining", "deploy": "deployment"}
            m.public_hoster_capacity({t: money[st] / m.gpu_cost for t, st in stages.items()})
            self.spent += compute  # capacity is paid for whether used or not
            self.available += compute
        elif s.compute_channel == "credits":
            self.credit_pool = compute  # spent only as researchers use it
            self.available += compute
        self.fund_data(money["data"])

    def fund_labs(self, amount: float) -> None:
        """Pay the pre-training money to the funded labs, committing them to open releases.

        Contracts start at month 0; once ``contract_months`` (if set) have passed they lapse,
        the money is not spent and no lab counts as funded. Otherwise the labs of the funded
        kinds (or only the one with the highest income) share it equally; with
        ``release_commitment`` and no capture, each is committed through next month and a lab
        that had closed re-opens with its kind's licence and weights.

        Args:
            amount: USD for pre-training this month.
        """
        s, month = self.spec, self.model.month
        if s.contract_months and month >= self.contract_start + s.contract_months:
            self.funded = []  # contracts lapsed: the money is no longer spent on labs
            return
        labs = [lab for lab in self.model.labs if lab.kind in s.funded_lab_kinds]
        if not labs or amount <= 0:
            return
        if s.funded_labs == "largest":
            labs = [max(labs, key=lambda lab: lab.income)]
        for lab in labs:
            lab.public_funding += amount / len(labs)
            if s.release_commitment and not self.captured:
                lab.committed_until = month + 1
                if lab.licence == CLOSED and lab.spec.weights:
                    lab.licence, lab.weights = LICENCE_CODES[lab.spec.licence], True
        self.funded = labs
        self.spent += amount
        self.available += amount
        self.used += amount

    def bind_champion(self) -> None:
        """Bind the champion hoster to the champion lab (state-backed integration).

        The champion hoster (the one taking credits) sends its usage data to the champion lab
        rather than keeping it in its silo, and keeps a price cap unless the institution has
        been captured. It acts only when ``credit_hosters`` is ``"largest"``.
        """
        m, s = self.model, self.spec
        if s.credit_hosters != "largest" or not m.credit_index:
            return
        host = m.hosters[m.credit_index[0]]
        host.price_cap = None if self.captured else s.champion_price_cap
        champion = self.funded[0] if s.funded_labs == "largest" and self.funded else None
        host.data_owner = champion

    def close_month(self) -> None:
        """Count the public hoster's used capacity as public money put to use."""
        pub = self.model.public_hoster
        if self.spec.compute_channel == "public_hoster" and pub is not None:
            self.used += pub.used * self.model.gpu_cost

    def fund_data(self, amount: float) -> None:
        """Data money buys datasets: into the commons, or to the funded labs when not mandated."""
        if amount <= 0:
            return
        m = self.model
        value = amount / m.gpu_cost * m.config.contributions.data_value_per_gpu_hour
        if self.spec.data_commons and not self.captured:
            m.commons_inflow += value
        elif self.funded:
            for lab in self.funded:
                lab.data_gpu_hours += amount / m.gpu_cost / len(self.funded)
        else:
            return
        self.spent += amount
        self.available += amount
        self.used += amount

    def use_credits(self, amount: float) -> None:
        """Count credit researchers used as spent and put to use.

        Unlike public hoster capacity, credit costs the institution only when it is used;
        unused credit lapses at the end of the month.

        Args:
            amount: USD of credit used, for real researchers (already scaled).
        """
        self.credit_pool -= amount
        self.spent += amount
        self.used += amount
