"""Labs, hosters and the public institution: few, heterogeneous, with readable monthly rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulation import kernels
from simulation.config import STAGES, HosterKind, LabKind, Public
from simulation.economy import earned_share, params_from_compute, spending_shares
from simulation.metrics import TASKS
from simulation.releases import CLOSED, LICENCE_CODES, OPEN, RESTRICTED

if TYPE_CHECKING:
    from simulation.model import EcosystemModel


STRATEGIES = ("scratch", "continue", "adapt")  # what ``auto`` chooses from


@dataclass
class TrainingRun:
    """A training run under way: money committed, bought month by month from the market.

    ``strategy`` is how it builds the model (scratch, continue or adapt) and ``base`` the
    release it builds on (-1: none).
    """

    money_left: float
    months_left: int
    gpu_hours: float = 0.0
    paid: float = 0.0
    strategy: str = "scratch"
    base: int = -1


@dataclass
class RunPlan:
    """A run a lab could start now, what it costs and the flagship it expects from it."""

    strategy: str
    money: float  # USD it commits
    gpu_hours: float  # expected, at the market price
    base: int  # the release it builds on (-1: from scratch)
    capability: float  # expected flagship capability
    fit: np.ndarray  # expected language fit


def continued_capability(base: float, scratch: float) -> float:
    """Capability of continued pre-training: the base's effective compute plus the run's.

    log10(10**base + 10**scratch), where ``scratch`` is what the run's GPU-hours give from
    scratch. Both terms are positive, so it is never below the base nor below scratch at the
    same GPU-hours, and at most log10(2) above the larger of the two.
    """
    high, low = max(base, scratch), min(base, scratch)
    return high + math.log10(1.0 + 10.0 ** (low - high))  # exact, and safe for large values


class Lab(mesa.Agent):
    """Earns from what it sells, trains when its savings buy a clearly better model.

    Its money comes from the economy's spending on its models (as much as its licence lets it
    charge), its API sales to researchers, investment that follows sales, lead and growth,
    grants and public funding; a share goes into training savings. It trains only when the
    model it could buy beats its best by ``min_improvement``, so rich labs release often and
    poor ones rarely; a strategic lab decides at each release whether to release weights
    (docs/ODD.md 7.1, 7.2).

    Attributes:
        kind (str): Its lab kind, a key of ``config.labs``.
        spec (LabKind): The kind's parameters.
        index (int): Its position in ``model.labs``; releases record it as their lab.
        grant (float): Grant money a month, USD (flat).
        sales (float): USD earned from the economy's spending this month.
        investment (float): USD raised from investors this month.
        income (float): All the money it received this month, USD.
        budget (float): Savings available for training, USD.
        licence (int): Licence code of its next release (open, restricted or closed).
        weights (bool): Whether its next release has downloadable weights.
        absorbed (float): Community value embedded in its models so far (it does not age).
        embedded (float): Of the commons stock, what it holds now (ages with the stock).
        absorbed_private (float): Of which absorbed while its licence was closed or restricted.
        data_gpu_hours (float): Usage data it holds, GPU-hours served (the data flywheel).
        api_data_value (float): Value of the usage data its own API kept so far (value units,
            ``data_value_per_gpu_hour`` a GPU-hour): community value it captures privately.
        strategy (str): How its latest release was built: ``scratch``, ``continue`` or
            ``adapt`` (for an ``auto`` lab, what it chose); "" before its first.
        release_strategies (list[tuple[int, str]]): (release month, strategy) of each family
            it released, its starting model included.
    """

    def __init__(
        self, model: EcosystemModel, kind: str, spec: LabKind, index: int, rng: np.random.Generator
    ) -> None:
        """Create a lab with its own grant draw, starting model date and decision stream.

        Args:
            model: The model it belongs to.
            kind: Its lab kind, a key of ``config.labs``.
            spec: The kind's parameters.
            index: Its position in ``model.labs``.
            rng: The labs' shared stream. Labs draw from it in config order (grant multiplier,
                then a spawned stream of their own), so adding a lab of a later kind leaves
                the earlier labs' draws unchanged.
        """
        super().__init__(model)
        self.kind = kind
        self.spec = spec
        self.index = index
        self.grant = spec.grant_usd_per_month * float(rng.lognormal(0.0, spec.grant_sigma))
        rank = sum(lab.kind == kind for lab in model.labs)  # its place among its kind
        months = spec.initial_release_months
        self.age_of_model = -months[rank % len(months)]  # its model's real release date
        self.decision_rng = rng.spawn(1)[0]  # its own stream: other labs' draws stay put
        self.budget = 0.0
        self.revenue = 0.0  # API revenue from researchers this month, re-invested next month
        self.sales = self.investment = self.income = 0.0
        self.sales_history: list[float] = []  # the last 12 months' sales, oldest first
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
        self.closed_at: int | None = None  # month it stopped releasing weights, if it did
        self.run: TrainingRun | None = None  # the training run under way, if any
        self.strategy = ""  # how its latest release was built
        self.release_strategies: list[tuple[int, str]] = []  # (month, strategy) per family

    # -- decisions -----------------------------------------------------------------------------
    def potential_capability(self, gpu_hours: float, month: int | None = None) -> float:
        """Capability a training run of ``gpu_hours`` reaches (log10 effective compute).

        Args:
            gpu_hours: Training compute.
            month: When it is released (default now): algorithmic efficiency of that date.
        """
        m, c = self.model, self.model.config.contributions
        when = m.month if month is None else month
        efficiency = m.config.capability.algorithmic_efficiency_per_year ** (when / 12)
        languages = len(self.spec.trained_languages) * m.config.capability.language_training_share
        return (
            math.log10(gpu_hours * efficiency * (1 - languages))  # language data displaces some
            + c.capability_gain * math.log10(1 + self.absorbed / c.value_scale)
            + c.data_gain * math.log10(1 + self.data_gpu_hours / c.data_scale_gpu_hours)
        )

    def language_fit(self) -> np.ndarray:
        """Fit of a release it makes now, per language (1 for a language every model serves).

        Its kind's fit for under-served languages, raised by the language data in the commons
        as far as it absorbs (``absorb_effort``: a gap closes 1 - exp(-data /
        ``language_data_scale``)), and set to ``trained_language_fit`` for the languages it
        trains for (docs/ODD.md 7.5).
        """
        m = self.model
        served = m.language_gap <= 0
        base = np.where(served, 1.0, self.spec.underserved_language_fit)
        data = 1.0 - np.exp(-m.language_data / m.config.contributions.language_data_scale)
        fit = base + (1.0 - base) * self.spec.absorb_effort * data
        trained = self.trained_language_index()
        fit[trained] = np.maximum(fit[trained], m.config.capability.trained_language_fit)
        return fit

    def trained_language_index(self) -> list[int]:
        """Positions of the languages it trains for, in ``model.language_names``."""
        names = self.model.language_names
        return [names.index(name) for name in self.spec.trained_languages]

    def language_capability(self, capability: float, fit: np.ndarray) -> float:
        """What a release offers the speakers of the languages it trains for (``auto``'s yardstick).

        Its capability minus ``language_gap`` x (1 - fit), averaged over its trained
        languages: the effective capability researchers needing them see (docs/ODD.md 7.5).
        The plain capability for a lab that trains for no language.
        """
        trained = self.trained_language_index()
        if not trained:
            return capability
        return capability - float(np.mean(self.model.language_gap[trained] * (1 - fit[trained])))

    def allowed_base(self) -> int:
        """The release it may build on (continue, adapt): the most capable allowed, or -1.

        Another lab's release is allowed if it is usable (not revoked), has weights and its
        licence is one of ``base_licences``; its own (not revoked) always are. A community
        derivative is never a base: labs build on labs' releases.
        """
        rel = self.model.releases.arrays()
        codes = [LICENCE_CODES[name] for name in self.spec.base_licences]
        allowed = (rel["weights"] & np.isin(rel["licence"], codes)) | (rel["lab"] == self.index)
        ok = np.flatnonzero(allowed & ~rel["revoked"] & ~rel["derivative"])
        if ok.size == 0:
            return -1
        return int(ok[np.argmax(rel["capability"][ok])])

    def family_sizes(self, top: float) -> list[float]:
        """Sizes of a family with a ``top`` billion-parameter flagship: it, then smaller variants.

        Its kind's ``distilled_params_b`` below ``top``.
        """
        return [top] + [s for s in self.spec.distilled_params_b if s < top]

    def expected_release(
        self, strategy: str, gpu_hours: float, base: int = -1, month: int | None = None
    ) -> tuple[float, float, np.ndarray]:
        """Flagship capability, flagship size and language fit a run gives.

        ``scratch``: ``potential_capability`` at the compute-optimal size
        (``economy.params_from_compute``), fit ``language_fit``. ``continue``: effective
        compute adds, ``continued_capability(base's, scratch's)``, at the base's size
        (architecture fixed), and per language the better of the base's fit and its own.
        ``adapt``: the base's capability and size (no gain), the base's fit with its trained
        languages at ``trained_language_fit`` (they cost it no capability).

        Args:
            strategy: ``scratch``, ``continue`` or ``adapt``.
            gpu_hours: The run's GPU-hours.
            base: The release it builds on (continue, adapt).
            month: Release month (default now).

        Returns:
            (capability, billions of parameters, fit per language).
        """
        m = self.model
        scratch = self.potential_capability(gpu_hours, month)
        if strategy == "scratch":
            top = params_from_compute(
                gpu_hours, m.config.capability.flop_per_gpu_hour, self.spec.tokens_per_param
            )
            return scratch, top, self.language_fit()
        base_fit = m.releases.arrays()["language_fit"][base]
        top, capability = float(m.releases.params_b[base]), float(m.releases.capability[base])
        if strategy == "continue":
            return (
                continued_capability(capability, scratch),
                top,
                np.maximum(base_fit, self.language_fit()),
            )
        fit = base_fit.copy()
        trained = self.trained_language_index()
        fit[trained] = np.maximum(fit[trained], m.config.capability.trained_language_fit)
        return capability, top, fit

    def plan(self, strategy: str) -> RunPlan | None:
        """The run of ``strategy`` it could start now, or None if it cannot.

        Pre-training (scratch, continue) waits ``min_release_interval_months`` after its last
        pre-training release and commits ``training_spend_share`` of its savings, bought at
        last month's market price; with no base to build on, continue is scratch. An
        adaptation needs a base, costs ``adapt_gpu_hours_per_b`` GPU-hours per billion
        parameters of the family it adapts, at the market price, and must fit in its savings;
        the rest stays saved. Continued pre-training includes an adaptation (the same
        languages at the same fit), so it buys at least the adaptation's GPU-hours.
        """
        m = self.model
        base = -1 if strategy == "scratch" else self.allowed_base()
        adapting = 0.0  # GPU-hours an adaptation of the base takes
        if base >= 0:
            sizes = self.family_sizes(float(m.releases.params_b[base]))
            adapting = self.spec.adapt_gpu_hours_per_b * sum(sizes)
        if strategy == "adapt":
            gpu_hours, money = adapting, adapting * m.gpu_market_price
            if base < 0 or gpu_hours <= 0 or money > self.budget:
                return None
        else:
            if m.month - self.last_release_month < self.spec.min_release_interval_months:
                return None
            money = self.budget * self.spec.training_spend_share
            gpu_hours = money / m.gpu_market_price
            if gpu_hours <= 0 or (strategy == "continue" and gpu_hours < adapting):
                return None
            if base < 0:
                strategy = "scratch"
        capability, _, fit = self.expected_release(strategy, gpu_hours, base)
        return RunPlan(strategy, money, gpu_hours, base, capability, fit)

    def choose_run(self) -> RunPlan | None:
        """The run to start now, if any: its strategy's, if it beats its best clearly.

        A run must promise a flagship ``min_improvement`` above its best. An ``auto`` lab
        weighs every strategy it can start now by ``language_capability`` and takes the
        cheapest of those within ``min_improvement`` of the best (a dearer run must add a clear
        improvement to be worth it); at equal cost, the higher.
        """
        spec = self.spec
        options = STRATEGIES if spec.strategy == "auto" else (spec.strategy,)
        plans = [
            plan
            for plan in (self.plan(strategy) for strategy in options)
            if plan is not None and plan.capability >= self.best_capability + spec.min_improvement
        ]
        if len(plans) <= 1:
            return plans[0] if plans else None
        value = [self.language_capability(plan.capability, plan.fit) for plan in plans]
        near = [
            (plan.money, -v, i)
            for i, (plan, v) in enumerate(zip(plans, value, strict=True))
            if v >= max(value) - spec.min_improvement
        ]
        return plans[min(near)[2]]

    def earn(self, share: float) -> None:
        """This month's sales, investment and income, and what goes into training savings.

        Sales are its ``share`` of the economy's AI spending, times what its licence lets it
        charge (``economy.earned_share``). Investors add ``investment_per_revenue`` per USD of
        sales, scaled by its lead (its share over the leader's) and its sales growth over
        the past year (capped at ``investor_growth_cap``), up to ``max_investment_usd_per_month``.
        ``training_share`` of sales, API revenue and investment is saved for training, with all
        grant and public money.

        Args:
            share: Its share of the economy's spending (``economy.spending_shares``).
        """
        m, e = self.model, self.model.config.economy
        self.sales = share * m.ai_spend * earned_share(self.licence, self.spec)
        past = self.sales_history[0] if self.sales_history else self.sales  # up to a year ago
        growth = min(e.investor_growth_cap, self.sales / past) if past > 0 else 1.0
        lead = share / m.lead_share if m.lead_share > 0 else 0.0
        invest = e.investment_per_revenue * self.sales * lead * max(1.0, growth)
        cap = e.max_investment_usd_per_month
        self.investment = invest if cap is None else min(invest, cap)
        self.sales_history = (self.sales_history + [self.sales])[-12:]
        commercial = self.sales + self.revenue + self.investment
        self.income = commercial + self.grant + self.public_funding
        self.budget += self.spec.training_share * commercial + self.grant + self.public_funding
        self.revenue = self.public_funding = 0.0

    def under_commitment(self) -> bool:
        """Whether a public release commitment binds it this month.

        While bound it cannot tighten to closed and its releases are irrevocable. Funding sets
        ``committed_until`` to the next month, so the commitment outlasts the funding by one
        month.
        """
        return self.model.month <= self.committed_until

    def openness_payoffs(self, capability: float, gpu_hours: float) -> tuple[float, float]:
        """Expected monthly payoff of releasing a new flagship closed, and with weights.

        Closed, it earns all the spending its share of the economy brings, for as long as a
        delayed-release mandate leaves it exclusive (after that, restricted terms). With
        weights its share is larger (``open_weights_appeal``), but it earns only the
        restricted share of that spending, plus the value of adoption:
        each real researcher using its weights counts ``adoption_value_usd_per_user`` (talent,
        contributions, ecosystem).

        Args:
            capability: The new flagship's capability.
            gpu_hours: Its training compute (a mandate applies above the threshold).

        Returns:
            (closed payoff, open payoff), USD a month.
        """
        m, e, reg = self.model, self.model.config.economy, self.model.config.regulation
        caps, weights = m.lab_capabilities(), m.lab_weights()
        caps[self.index] = max(caps[self.index], capability)
        weights[self.index] = False
        spend_closed = m.ai_spend * spending_shares(caps, weights, e)[self.index]
        weights[self.index] = True
        spend_open = m.ai_spend * spending_shares(caps, weights, e)[self.index]
        restricted = earned_share(RESTRICTED, self.spec)
        exclusive = 1.0
        if reg.release_delay_months and gpu_hours >= reg.release_threshold_gpu_hours:
            cycle = self.spec.min_release_interval_months + self.spec.training_months
            exclusive = min(1.0, reg.release_delay_months / cycle)  # of a model's time as the best
        closed = spend_closed * (exclusive + (1 - exclusive) * restricted)
        users = m.researchers.users  # its weights' users, on the community's derivatives too
        n = users.size
        mine = (m.releases.lab[:n] == self.index) & m.releases.weights[:n]
        adopters = float(users[mine].sum()) * m.researchers.weight
        return closed, spend_open * restricted + e.adoption_value_usd_per_user * adopters

    def release_licence(self, capability: float, gpu_hours: float) -> tuple[int, bool]:
        """Decide the licence of the next release.

        A strategic lab compares the expected payoffs of closing and of releasing weights
        (``openness_payoffs``) and chooses by a logit whose spread is ``decision_noise`` of
        their sum: near the frontier exclusive sales pay most, far behind adoption does. A
        public contract keeps it releasing weights; a lab that closes may also revoke the
        restricted licences it granted (``consider_revoking``). A lab that is not strategic
        keeps its kind's licence. Draws come from the lab's own stream.

        Args:
            capability: The new flagship's capability.
            gpu_hours: Its training compute.

        Returns:
            The licence code and whether weights are released.
        """
        if not self.spec.strategic:
            return self.licence, self.weights
        closed, opened = self.openness_payoffs(capability, gpu_hours)
        if closed + opened <= 0:  # nothing at stake either way: it keeps its licence
            return self.licence, self.weights
        p_close = _logit(closed, opened, self.model.config.economy.decision_noise)
        close = self.decision_rng.random() < p_close and not self.under_commitment()
        if close and self.weights:
            self.licence, self.weights = CLOSED, False
            self.closed_at = self.model.month
            self.consider_revoking()
        elif not close and not self.weights:
            self.licence, self.weights = RESTRICTED, True
            self.closed_at = None
        return self.licence, self.weights

    def consider_revoking(self) -> None:
        """On closing, revoke its restricted licences if recovering their users pays.

        Revoking moves the spending on its open models from the restricted share to its API
        (the gain) but loses ``revocation_trust_cost`` of that spending for good (customers who
        no longer trust it); a logit with the same spread as the openness choice.
        """
        m, e = self.model, self.model.config.economy
        spend = m.ai_spend * m.shares[self.index]
        gain = spend * (1 - earned_share(RESTRICTED, self.spec))
        cost = spend * e.revocation_trust_cost
        if gain + cost <= 0:  # nothing to gain or lose: no reason to revoke
            return
        if self.decision_rng.random() < _logit(gain, cost, e.decision_noise):
            self.revoke_licences()

    def step(self) -> None:
        """Earn this month's money and start a training run if it can buy a clearly better model.

        With no run under way, the lab plans one by its ``strategy`` (``choose_run``): a
        pre-training run (scratch or continue) only once ``min_release_interval_months`` have
        passed since its last one, spending ``training_spend_share`` of its savings at last
        month's market price; an adaptation whenever a base clearly better than its best is
        allowed and its savings pay for it. The flagship must be ``min_improvement`` above its
        best; otherwise it keeps saving. A pre-training run buys its GPU-hours from the market
        over ``training_months`` (``buy_training``), an adaptation in one month; the model is
        released at the start of the month after its last instalment.
        """
        m = self.model
        self.release_mandated()
        self.earn(m.shares[self.index])  # on the licence the month's shares were set with
        self.release_finished_run()
        if self.run is not None:
            return
        plan = self.choose_run()
        if plan is None:
            return
        self.budget -= plan.money
        months = 1 if plan.strategy == "adapt" else self.spec.training_months
        self.run = TrainingRun(plan.money, months, strategy=plan.strategy, base=plan.base)

    def training_ask(self) -> float:
        """USD its run wants to spend on GPU-hours this month: an equal instalment."""
        run = self.run
        return run.money_left / run.months_left if run is not None and run.months_left > 0 else 0.0

    def buy_training(self, gpu_hours: float, paid: float) -> None:
        """Add what the market sold its run this month; the model is out the month after.

        Money the market could not turn into GPU-hours (all capacity taken) goes back to its
        savings at the end: a GPU shortage makes a smaller run, not a costlier one.

        Args:
            gpu_hours: GPU-hours bought this month.
            paid: USD paid for them.
        """
        run = self.run
        if run is None:
            return
        run.gpu_hours += gpu_hours
        run.paid += paid
        run.money_left -= paid
        run.months_left -= 1

    def release_finished_run(self) -> None:
        """Release the model of a run that bought its last instalment last month."""
        run = self.run
        if run is None or run.months_left > 0:
            return
        self.run = None
        self.budget += max(0.0, run.money_left)
        if run.gpu_hours > 0:
            self.train(run.gpu_hours, cost=run.paid, strategy=run.strategy, base=run.base)

    def train(
        self,
        gpu_hours: float,
        existing: bool = False,
        cost: float | None = None,
        strategy: str = "scratch",
        base: int = -1,
    ) -> None:
        """Release a family of models from a training run.

        The flagship gets the capability, size and language fit its strategy gives at its
        release date (``expected_release``: from scratch, the compute-optimal size); its
        distilled variants, smaller, lose ``size_penalty`` per factor of ten in size. A family
        built on another lab's restricted release is restricted too, revocable if its base is,
        and revoked with it. A flagship above the frontier becomes the frontier.

        Args:
            gpu_hours: GPU-hours of the training run.
            existing: Marks the model a lab already has at the start, released under its
                kind's licence without a new licence decision, ``age_of_model`` months ago.
            cost: USD the run paid (default: at the GPU cost of now).
            strategy: How the run built it: ``scratch``, ``continue`` or ``adapt``.
            base: The release a continue or adapt run builds on.
        """
        m = self.model
        month = m.month - self.age_of_model if existing else m.month
        # an adaptation is no pre-training run: its lab's absorptive capacity does not shrink
        adapt = strategy == "adapt"
        self.compute_gpu_hours = max(self.compute_gpu_hours, gpu_hours) if adapt else gpu_hours
        self.training_cost = gpu_hours * m.gpu_cost if cost is None else cost  # its latest run
        flagship, top, fit = self.expected_release(strategy, gpu_hours, base, month)
        licence, weights = (
            (self.licence, self.weights) if existing else self.release_licence(flagship, gpu_hours)
        )
        sizes = self.family_sizes(top)
        penalty = m.config.capability.size_penalty
        caps = [flagship - penalty * math.log10(top / s) for s in sizes]
        regulation = m.config.regulation
        irrevocable = regulation.irrevocable_licences or self.under_commitment()
        rel = m.releases
        inherits = base >= 0 and weights and rel.lab[base] != self.index
        if inherits and rel.licence[base] == RESTRICTED:  # never more open than its base
            licence = RESTRICTED
            irrevocable = irrevocable and bool(rel.irrevocable[base])
        ids = m.releases.add_family(
            self.index, month, sizes, caps, fit, licence, weights, irrevocable, built_on=base
        )
        if base >= 0 and rel.revoked[base]:  # its base was revoked while it trained
            m.releases.revoke(ids)
        self.release_ids.extend(ids)
        self.strategy = strategy
        self.release_strategies.append((month, strategy))
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
        if not adapt:  # the interval is between pre-training runs
            self.last_release_month = month
        if flagship > m.frontier:
            m.frontier, m.frontier_lab = flagship, self
            m.frontier_cost = self.training_cost  # what the run that set it paid

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
                self.language_fit(),
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
        self.unmet = 0.0  # training demand it could not serve this month
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
        self.used = self.served = self.unmet = 0.0
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
        pool = m.candidates[ok[m.candidates] & a["weights"][m.candidates]]  # labs' own
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
        # With the derivatives of what it lists (the renter brings the weights), and the models
        # already deployed here (hosters do not drop paying customers).
        deployed = m.researchers.deployments()
        self.listed = kernels.hoster_listing(pool, a["base"], ok, deployed, self.position)

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

    def sell_training(self, gpu_hours: float, paid: float, unmet: float) -> None:
        """Record GPU-hours sold to labs' training runs, and the demand it could not meet.

        Training takes capacity before researchers ask (labs book ahead); unmet demand counts
        towards this month's utilisation, which sets next month's price and build-out.
        """
        self.used += gpu_hours
        self.revenue += paid
        self.unmet += unmet

    def close_month(self) -> None:
        """Record this month's utilisation, which sets next month's price and capacity growth.

        Utilisation is demand over capacity: with labs' unmet training demand it can exceed 1.
        """
        demand = self.used + self.unmet
        self.utilisation = demand / self.capacity if self.capacity > 0 else 0.0


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
            labs = [max(labs, key=lambda lab: (lab.income, lab.best_capability))]
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


def _logit(a: float, b: float, noise: float) -> float:
    """Probability of choosing the option worth ``a`` over one worth ``b`` (both >= 0, not both 0).

    A logit whose spread is ``noise`` of the sum: the choice follows relative, not absolute,
    differences in payoff.
    """
    z = (a - b) / (noise * (a + b))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
