"""The open-model ecosystem as a Mesa model: one step is one month."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from simulation.agents import Hoster, Lab, PublicInstitution
from simulation.collector import MetricsCollector
from simulation.config import (
    MAX_RESEARCHERS,
    Config,
    ConfigError,
    Event,
    HosterKind,
    apply_override,
    load_scenario,
    to_dict,
    translate_overrides,
    validate,
)
from simulation.economy import ai_spend, spending_shares
from simulation.errors import check_whole
from simulation.releases import ReleaseRegistry
from simulation.researchers import Researchers

if TYPE_CHECKING:
    from simulation.researchers import Outcome

# A lab's own API: a commercial hoster whose capacity and markup come from the lab's kind.
API = HosterKind(kind="commercial", count=0, capacity_gpu_hours_per_month=0.0, markup=1.0)


class EcosystemModel(mesa.Model):
    """Labs, hosters and a public institution (Mesa agents) and a researcher population (arrays).

    Monthly schedule: scheduled events -> public institution allocates -> labs earn, train and
    release -> last month's community derivatives appear -> hosters set prices, capacity and
    listings -> researchers choose, run, fine-tune, deploy and contribute -> hosters and
    institution close the month -> usage data flows -> labs absorb the commons -> metrics.

    Build it from a scenario name and keyword overrides, Mesa style, or from a loaded config::

        EcosystemModel(scenario="public_option", researchers=1000, rng=0,
                       public__budget_usd_per_month=1e7)
        EcosystemModel(simulation.load_scenario("market"), rng=0)

    so ``mesa.batch_run(EcosystemModel, parameters={"scenario": [...], ...}, rng=[...])`` and
    ``model.run_model()`` work. One step is one month; ``running`` turns False once the
    config's ``simulation.steps`` months have run, but ``step()`` itself never refuses a month.

    Attributes:
        config (Config): The validated scenario configuration (overrides applied).
        scenario_name (str | None): The scenario name or path the model was built from, or None
            when it was given a config. (``scenario`` itself is Mesa's scenario object.)
        month (int): Months simulated so far; during a step, the month being simulated (from
            0). Equal to Mesa's ``steps`` after each step.
        running (bool): True until ``config.simulation.steps`` months have run.
        datacollector (MetricsCollector): The monthly metrics, a ``mesa.DataCollector``.
        outcome (Outcome | None): What the researchers did in the last month simulated.
        labs (list[Lab]): The labs, in config order.
        hosters (list[Hoster]): Commercial hosters, then labs' APIs, then public hosters.
        institution (PublicInstitution | None): The public institution, if it has a budget.
        researchers (Researchers): The researcher population (arrays, not Mesa agents).
        releases (ReleaseRegistry): Every model released so far.
    """

    def __init__(
        self,
        config: Config | None = None,
        rng: int | np.random.SeedSequence | np.random.Generator | None = None,
        researchers: int | None = None,
        *,
        scenario: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        """Build the world of a scenario at month 0.

        Args:
            config: A loaded scenario (``simulation.load_scenario``). Give this or ``scenario``;
                with neither, the ``market`` scenario is used.
            rng: Seed or generator for all randomness (Mesa's ``rng``); None draws fresh entropy.
            researchers: Simulated researchers; None keeps ``config.simulation.researchers``.
            scenario: A scenario name in scenarios/ or a path to a scenario TOML file.
            **overrides: Config values to change, dotted keys spelled with ``__``:
                ``public__budget_usd_per_month=1e7`` sets ``public.budget_usd_per_month``.
                They apply to ``config`` or to the scenario loaded.

        Raises:
            ConfigError: If the config is not a ``Config``, both a config and a scenario are
                given, the scenario is unknown, or an override names an unknown key or gives
                an invalid value.
            UsageError: If ``researchers`` is not a whole number in 1..MAX_RESEARCHERS.
        """
        config, name = _configure(config, scenario, overrides)
        if researchers is not None:
            check_whole("researchers", researchers, 1, MAX_RESEARCHERS)
        super().__init__(rng=rng)  # not our scenario: Mesa's ``scenario`` is its own object
        self.scenario_name = name
        self.config = config
        self.month = 0
        self.outcome: Outcome | None = None
        # a fifth stream for contributions: the same draws whatever else a scenario changes
        pop_rng, lab_rng, dyn_rng, inst_rng, contrib_rng = self.rng.spawn(5)
        self.language_names = list(config.languages)
        # capability a release with no fit loses, per language, for who needs it
        self.language_gap = config.capability.language_penalty * np.array(
            [lang.resource_gap for lang in config.languages.values()]
        )
        self.language_data = np.zeros(len(self.language_names))  # in the commons, value units
        self.language_contributions = np.zeros(len(self.language_names))  # this month's
        self.releases = ReleaseRegistry(len(self.language_names))
        self.frontier = -math.inf
        self.frontier_lab: Lab | None = None  # whose model sets the frontier
        self.frontier_cost = np.nan  # USD the run that set the frontier paid
        self.price_shock = 1.0
        self.commons_inflow = 0.0
        self.commons_stock = 0.0  # knowledge in the commons, value units (ages; non-rival)
        self.contributions_by_home = np.zeros(0)
        self.popularity = np.zeros(0)

        self.labs: list[Lab] = []
        for kind, spec in config.labs.items():
            for _ in range(spec.count):
                self.labs.append(Lab(self, kind, spec, len(self.labs), lab_rng))
        self.lab_kinds = list(config.labs)

        # Commercial hosters, then labs' APIs, then public hosters: a scenario that adds a public
        # hoster leaves every other hoster's position (and random taste draws) unchanged.
        self.hosters: list[Hoster] = []
        for public in (False, True):
            if public:
                for lab in self.labs:
                    if lab.spec.api_capacity_gpu_hours_per_month > 0:
                        api = Hoster(self, f"{lab.kind}_api", API, len(self.hosters), lab)
                        self.hosters.append(api)
            for name, spec in config.hosters.items():
                if (spec.kind == "public") == public:
                    for _ in range(spec.count):
                        self.hosters.append(Hoster(self, name, spec, len(self.hosters)))
        self._index_hosters()

        spending = config.spending_institutions()
        self.institutions = [
            PublicInstitution(self, name, spec, program, rng)
            for program, ((name, spec), rng) in enumerate(
                zip(spending.items(), inst_rng.spawn(len(spending)), strict=True)
            )
        ]
        for hoster in self.hosters:
            if hoster.public:
                owner = [i for i in self.institutions if i.name == hoster.spec.institution]
                hoster.institution = owner[0] if owner else None
                if hoster.institution is not None:
                    hoster.institution.hoster = hoster
        n = researchers if researchers is not None else config.simulation.researchers
        self.researchers = Researchers(self, n, pop_rng, dyn_rng, contrib_rng)

        for lab in self.labs:  # every lab starts with the model it already has
            if lab.spec.initial_training_gpu_hours > 0:
                lab.train(lab.spec.initial_training_gpu_hours, existing=True)
        self.candidates = self.releases.candidates()
        self.popularity = np.zeros(len(self.releases))
        self.frontier_at_start = self.frontier
        self._open_economy()
        self.standard = self.frontier  # the state of the art researchers measure models against
        self.events_by_month: dict[int, list[Event]] = {}
        for e in config.events:
            self.events_by_month.setdefault(e.month, []).append(e)
        self.datacollector = MetricsCollector(self)

    @property
    def metrics(self) -> MetricsCollector:
        """The monthly metrics: another name for ``datacollector``."""
        return self.datacollector

    def _index_hosters(self) -> None:
        self.commercial_index = [h.position for h in self.hosters if not h.public]
        independent = [i for i in self.commercial_index if self.hosters[i].owner is None]
        self.gpu_market_index = independent
        self.champion_index = (
            [max(independent, key=lambda i: self.hosters[i].capacity)] if independent else []
        )

    @property
    def institution(self) -> PublicInstitution | None:
        """The first institution with a budget (``[public]`` if it has one), or None."""
        return self.institutions[0] if self.institutions else None

    @property
    def public_hoster(self) -> Hoster | None:
        """The first public hoster with an institution, if any."""
        hosts = [i.hoster for i in self.institutions if i.hoster is not None]
        return hosts[0] if hosts else None

    def credit_hosters(self, institution: PublicInstitution) -> list[int]:
        """Positions of the hosters where ``institution``'s credits are taken."""
        if institution.spec.credit_hosters == "largest":
            return self.champion_index
        return self.gpu_market_index

    @property
    def gpu_cost(self) -> float:
        """Underlying GPU-hour cost: falls with hardware progress, moved by price shocks."""
        mk = self.config.market
        return (
            mk.gpu_price_usd_per_hour
            * (1 - mk.gpu_cost_decline_per_year) ** (self.month / 12)
            * self.price_shock
        )

    @property
    def capable_thresholds(self) -> np.ndarray:
        """Capability a model needs this month to count as capable, per task.

        Tasks in order run, fine-tune, deploy. Relative (the default): within ``capable_gap``
        of the standard, the frontier as researchers perceive it, catching up with each new
        frontier release over months; the same for every task. Absolute: what each task needs
        (``capability.required``), rising ``required_growth_per_year``, whatever the frontier
        does.
        """
        c = self.config.capability
        if c.requirement == "absolute":
            return np.array(c.required) + c.required_growth_per_year * self.month / 12
        return np.full(3, self.standard - c.capable_gap)

    @property
    def capable_threshold(self) -> float:
        """Capability a model needs this month to count as capable for running it."""
        return float(self.capable_thresholds[0])

    # -- schedule ------------------------------------------------------------------------------
    def step(self) -> None:
        """Simulate one month and collect its metrics.

        Mesa wraps this method: calling ``model.step()`` also advances ``model.steps`` and
        ``model.time``. It runs a month even after ``running`` has turned False, so callers
        may run more months than the config's ``simulation.steps``.
        """
        for event in self.events_by_month.get(self.month, []):
            self.apply_event(event)
        self.commons_inflow = 0.0
        for institution in self.institutions:
            institution.step()
        self._open_economy()
        for lab in self.labs:
            lab.step()
        self.researchers.release_uploads()  # last month's published fine-tunes
        self.standard += (
            self.frontier - self.standard
        ) / self.config.capability.standard_adjust_months
        self.candidates = self.releases.candidates()
        self._grow_popularity()
        for hoster in self.hosters:
            hoster.step()
        self.sell_training_compute()
        self.outcome = self.researchers.step()
        for hoster in self.hosters:
            hoster.close_month()
        for institution in self.institutions:
            institution.close_month()
        self._absorb_commons()
        self.datacollector.collect(self)
        self.month += 1
        self.running = self.month < self.config.simulation.steps

    @property
    def gpu_market_price(self) -> float:
        """Capacity-weighted mean price of the independent hosters (``market.gpu_price``).

        What a lab expects its training run to pay per GPU-hour.
        """
        gpu = [self.hosters[i] for i in self.gpu_market_index]
        capacity = np.array([h.capacity for h in gpu])
        if capacity.sum() <= 0:
            return self.gpu_cost
        return float(np.array([h.price for h in gpu]) @ capacity / capacity.sum())

    def sell_training_compute(self) -> None:
        """The independent hosters sell this month's instalments of the labs' training runs.

        Each run spreads its instalment over the hosters in proportion to the capacity they
        have left after the rest of the economy's load, at their prices; a hoster asked for more
        than it has left sells that, pro rata. Training thus takes GPUs researchers would rent
        and raises utilisation, prices and build-out (docs/ODD.md 7.1, 7.3).
        """
        runs = [lab for lab in self.labs if lab.run is not None and lab.run.months_left > 0]
        if not runs:
            return
        gpu = [self.hosters[i] for i in self.gpu_market_index]
        if not gpu:  # no market to buy from: the instalments go unspent
            for lab in runs:
                lab.buy_training(0.0, 0.0)
            return
        free = np.array([max(0.0, h.capacity - h.used) for h in gpu])
        price = np.array([h.price for h in gpu])
        asks = np.array([lab.training_ask() for lab in runs])
        capacity = np.array([h.capacity for h in gpu])
        spread = free if free.sum() > 0 else capacity  # all taken: the asks are unmet demand
        spread = spread / spread.sum() if spread.sum() > 0 else np.full(len(gpu), 1 / len(gpu))
        hours = asks[:, None] * spread[None, :] / price[None, :]
        asked = hours.sum(axis=0)
        scale = np.where(asked > free, free / np.where(asked > 0, asked, 1.0), 1.0)
        sold = hours * scale[None, :]
        for h, g, a, p in zip(gpu, sold.sum(axis=0), asked, price, strict=True):
            h.sell_training(float(g), float(g * p), float(a - g))
        for lab, row in zip(runs, sold, strict=True):
            lab.buy_training(float(row.sum()), float(row @ price))

    def lab_capabilities(self) -> np.ndarray:
        """Per lab, the capability of its best model so far (-inf before its first)."""
        return np.array([lab.best_capability for lab in self.labs])

    def lab_weights(self) -> np.ndarray:
        """Per lab, whether it releases weights now."""
        return np.array([lab.weights for lab in self.labs], dtype=bool)

    def _open_economy(self) -> None:
        """This month's AI spending by the economy and each lab's share of it (docs/ODD.md 7.1)."""
        e = self.config.economy
        if not math.isfinite(self.frontier_at_start):  # no model at the start: from the first
            self.frontier_at_start = self.frontier
        self.ai_spend = ai_spend(e, self.frontier, self.frontier_at_start)
        self.shares = spending_shares(self.lab_capabilities(), self.lab_weights(), e)
        self.lead_share = float(self.shares.max()) if self.shares.size else 0.0

    def _grow_popularity(self) -> None:
        """Last month's users per release, with a lab's brand carried to its new releases."""
        old = self.popularity
        users = np.zeros(len(self.releases))
        u = self.researchers.users
        users[: u.size] = u * self.researchers.weight
        rel = self.releases.arrays()
        lab_users = np.bincount(rel["lab"], weights=users, minlength=len(self.labs))
        brand = lab_users[rel["lab"]]
        fresh = np.arange(len(self.releases)) >= old.size
        brand[rel["derivative"]] = 0.0  # a community upload starts unknown
        self.popularity = np.where(fresh, 0.5 * brand, users)

    def _absorb_commons(self) -> None:
        """Let the labs embed knowledge from the commons stock, which no absorption depletes.

        This month's contributions, commons data, disclosures and open releases' give-back
        enter the stock, which ages; each lab first takes, as far as it makes the effort, a
        home share of what was built on its own models, then closes part of the gap between
        the stock and what it has embedded, at a rate set by its own absorptive capacity
        (``absorb_from_commons``): knowledge is non-rival (docs/ODD.md 7.10).
        """
        c = self.config.contributions
        home = self.contributions_by_home
        effort = np.array([lab.spec.absorb_effort for lab in self.labs])
        at_home = home * c.home_bias * effort if home.size else np.zeros(len(self.labs))
        keep = 1.0 - c.stock_decay_per_month
        self.commons_stock = self.commons_stock * keep + home.sum() + self.commons_inflow
        self.language_data = self.language_data * keep + self.language_contributions
        embedded = np.array([lab.embedded for lab in self.labs]) * keep + at_home
        capacity = np.array([lab.absorptive_capacity() for lab in self.labs])
        allowed = np.array([lab.weights or not c.share_alike for lab in self.labs])
        gained = absorb_from_commons(
            self.commons_stock, embedded, capacity, c.absorb_scale, allowed
        )
        for lab, e, home_value, value in zip(self.labs, embedded, at_home, gained, strict=True):
            lab.embedded = e + value
            lab.absorb(home_value + value)

    # -- events --------------------------------------------------------------------------------
    def apply_event(self, e: Event) -> None:
        """Apply a scheduled event (licence revocation, delisting, price shock, ...).

        Args:
            e: The event, due this month.
        """
        if e.type == "licence_revocation":
            labs = [lab for lab in self.labs if lab.kind == e.lab_kind]
            if labs:
                max(labs, key=lambda lab: (lab.income, lab.best_capability)).revoke_licences()
        elif e.type == "delist":
            gone = {lab.index for lab in self.labs if lab.kind == e.lab_kind}
            for h in self.hosters:
                if h.name == e.hoster_kind:
                    h.delisted_labs |= gone
        elif e.type == "leave_region":
            g = list(self.config.groups).index(e.group)
            for h in self.hosters:
                if h.name == e.hoster_kind:
                    h.serves[g] = False
        elif e.type == "price_shock":
            self.price_shock *= e.factor
        elif e.type == "budget_cut":
            for institution in self.institutions:
                institution.budget *= e.factor


def absorb_from_commons(
    stock: float,
    embedded: np.ndarray,
    capacity: np.ndarray,
    scale: float,
    allowed: np.ndarray,
) -> np.ndarray:
    """Value each lab embeds this month from the commons stock, its own rate times its own gap.

    A lab's rate, ``1 - exp(-capacity / scale)``, and its gap, ``stock - embedded``, depend only
    on itself and the stock, so one lab's absorption never lowers another's.

    Args:
        stock: The commons stock, value units.
        embedded: Per lab, the part of the stock it has embedded so far (aged like the stock).
        capacity: Per lab, its absorptive capacity (``Lab.absorptive_capacity``).
        scale: ``contributions.absorb_scale``.
        allowed: Per lab, whether it may absorb from the stock (share-alike).

    Returns:
        Per lab, value embedded this month.
    """
    rate = np.where(allowed, 1.0 - np.exp(-capacity / scale), 0.0)
    return rate * np.maximum(0.0, stock - embedded)


def _configure(
    config: Config | None, scenario: str | Path | None, overrides: dict[str, Any]
) -> tuple[Config, str | None]:
    """The config a model is built from, and the scenario name it came from (None if given).

    Args:
        config: A loaded config, or None.
        scenario: A scenario name or path, or None.
        overrides: Keyword overrides, dotted keys spelled with ``__``.

    Returns:
        The validated config with the overrides applied, and the scenario name or None.

    Raises:
        ConfigError: For a non-Config config, both config and scenario, or a bad override.
    """
    dotted = {key.replace("__", "."): value for key, value in overrides.items()}
    if config is not None:
        if scenario is not None:
            raise ConfigError("give a config or a scenario, not both")
        if not isinstance(config, Config):
            raise ConfigError(
                f"config must be a simulation.config.Config, got {type(config).__name__}; "
                "load one with simulation.load_scenario() or pass scenario=<name>"
            )
        if not dotted:
            return config, None
        tree = to_dict(config)
        for key, value in translate_overrides(dotted, "override").items():
            tree = apply_override(tree, key, value, source="override")
        shown = ", ".join(f"{key}={value!r}" for key, value in dotted.items())
        return validate(tree, source=f"override {shown}"), None
    if scenario is None:
        scenario = "market"
    if not isinstance(scenario, str | Path):
        raise ConfigError(
            f"scenario must be a scenario name or a path to a TOML file, got {scenario!r}"
        )
    return load_scenario(scenario, dotted or None, option="override"), str(scenario)
