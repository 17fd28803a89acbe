"""The explorer's model: a scenario and its market baseline, stepped month by month together.

The page compares a scenario, with its levers moved by sliders, to the market with the same
seed. Both are plain :class:`simulation.model.EcosystemModel` runs; this Mesa model holds the
two and steps them in lockstep, so every curve has its baseline drawn to the same month.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa

from cli.explorer.settings import DEFAULT_RESEARCHERS, DEFAULT_SCENARIO, DEFAULT_STEPS
from simulation.config import Config, load_scenario
from simulation.errors import UsageError, check_whole
from simulation.model import EcosystemModel

BASELINE = "market"


@dataclass(frozen=True)
class Lever:
    """One slider: a model parameter, the config key it sets and the slider's range.

    Attributes:
        name: The :class:`ExplorerModel` parameter.
        label: The slider's label, with its unit.
        key: The dotted config key; ``{institution}`` stands for the scenario's first
            institution with a budget (``public`` or ``institutions.<name>``).
        scale: Config value = slider value x scale (the budget slider is in millions).
        low: The slider's minimum.
        high: Its maximum.
        step: Its increment.
        public: True for a public institution's lever: it applies only to a scenario that has
            one, and never to the baseline. The others describe the world (prices, budgets)
            and apply to the scenario and the baseline alike.
        meaning: What the lever sets, in words, for the page.
    """

    name: str
    label: str
    key: str
    scale: float
    low: float
    high: float
    step: float
    public: bool
    meaning: str


LEVERS = (
    Lever("public_budget", "public budget (M USD/month)", "{institution}.budget_usd_per_month",
          1e6, 0.0, 100.0, 1.0, public=True,
          meaning="the institution's monthly budget; 0 closes it"),
    Lever("price_share", "price share (0-1)", "{institution}.price_share",
          1.0, 0.0, 1.0, 0.01, public=True,
          meaning="the share of the cost a researcher pays on the institution's channels "
          "(0 free, 1 at cost)"),
    Lever("gpu_price", "GPU price (USD/hour)", "market.gpu_price_usd_per_hour",
          1.0, 0.5, 8.0, 0.05, public=False,
          meaning="the cost of an H100-equivalent GPU-hour in month 0 (it falls with "
          "hardware progress)"),
    Lever("global_south_budget", "Global South budget (USD)",
          "groups.global_south.budget_median_usd", 1.0, 0.0, 200.0, 0.1, public=False,
          meaning="the median monthly compute money of a Global South researcher"),
)  # fmt: skip


def institution_prefix(config: Config) -> str | None:
    """The dotted prefix of the scenario's first institution with a budget, or None."""
    names = list(config.spending_institutions())
    if not names:
        return None
    return "public" if names[0] == "public" else f"institutions.{names[0]}"


def lever_defaults(scenario: str) -> dict[str, float]:
    """The scenario's own value of every lever, in slider units.

    A scenario without a public institution takes the public levers of ``public_option`` (the
    modes share them), so the sliders start somewhere sensible whichever scenario comes first.
    """
    config = load_scenario(scenario)
    public = load_scenario(DEFAULT_SCENARIO) if institution_prefix(config) is None else config
    out = {}
    for lever in LEVERS:
        source = public if lever.public else config
        key = lever.key.format(institution=institution_prefix(source))
        out[lever.name] = round(read_key(source, key) / lever.scale, 6)
    return out


def read_key(config: Config, key: str) -> float:
    """The value of a dotted key in a loaded config (``market.gpu_price_usd_per_hour``)."""
    node = config
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return float(node)


def overrides(config: Config, values: dict[str, float], baseline: bool) -> dict[str, float]:
    """The dotted overrides the slider ``values`` make for ``config``.

    Args:
        config: The scenario (or the baseline) as loaded, before the levers.
        values: Slider values by lever name (slider units).
        baseline: True for the baseline: only the world's levers apply.

    Returns:
        Values by dotted key. A public lever is left out when ``config`` has no institution
        with a budget (a market has no price share to set).
    """
    prefix = institution_prefix(config)
    out = {}
    for lever in LEVERS:
        if lever.public and (baseline or prefix is None):
            continue
        out[lever.key.format(institution=prefix)] = values[lever.name] * lever.scale
    return out


class ExplorerModel(mesa.Model):
    """A scenario with its levers set, and the market baseline with the same seed.

    Each step simulates one month of both. The scenario's metrics are this model's
    ``datacollector``; the baseline's are ``baseline.datacollector``. The world's levers
    (GPU price, Global South budget) reach both; the public institution's levers (budget,
    price share) only the scenario, and only if it has an institution with a budget.

    Attributes:
        scenario_name (str): The scenario shown.
        seed (int): The seed of both runs.
        horizon (int): Months after which ``running`` turns False.
        values (dict[str, float]): The slider values, by lever name.
        applied (dict[str, float]): The dotted overrides the scenario was built with.
        ignored (list[str]): Levers that do not apply to this scenario (no institution).
        policy (EcosystemModel): The scenario's run.
        baseline (EcosystemModel): The market's run (the same object when the scenario and its
            levers make exactly the market).
        datacollector (MetricsCollector): The scenario's metrics.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        seed: int = 0,
        researchers: int = DEFAULT_RESEARCHERS,
        horizon: int = DEFAULT_STEPS,
        public_budget: float | None = None,
        price_share: float | None = None,
        gpu_price: float | None = None,
        global_south_budget: float | None = None,
    ) -> None:
        """Build both runs at month 0.

        Args:
            scenario_name: A scenario name in scenarios/.
            seed: The seed of both runs (common random numbers).
            researchers: Simulated researchers in each run.
            horizon: Months to offer; ``running`` turns False after them.
            public_budget: The institution's budget, M USD/month.
            price_share: The share of the cost a researcher pays at the point of use.
            gpu_price: The GPU-hour cost in month 0, USD.
            global_south_budget: The Global South's median monthly compute money, USD.

        A lever left at None takes the scenario's own value (:func:`lever_defaults`), so the
        model of a scenario with no levers given is that scenario as configured.

        Raises:
            ConfigError: An unknown scenario, or a lever value the schema refuses.
            UsageError: ``seed``, ``researchers`` or ``horizon`` out of range.
        """
        check_whole("seed", seed, 0)
        check_whole("horizon", horizon, 1)
        super().__init__(rng=seed)  # draws nothing itself: each run has its own generator
        self.scenario_name = scenario_name
        self.seed = seed
        self.horizon = horizon
        given = {
            "public_budget": public_budget,
            "price_share": price_share,
            "gpu_price": gpu_price,
            "global_south_budget": global_south_budget,
        }
        own = lever_defaults(scenario_name) if None in given.values() else {}
        self.values = {k: own[k] if v is None else v for k, v in given.items()}
        for lever in LEVERS:
            check_range(lever, self.values[lever.name])
        config = load_scenario(scenario_name)
        self.applied = overrides(config, self.values, baseline=False)
        self.ignored = [
            lever.label for lever in LEVERS if lever.public and institution_prefix(config) is None
        ]
        policy_config = load_scenario(scenario_name, self.applied, option="slider")
        market = load_scenario(BASELINE)
        market_config = load_scenario(
            BASELINE, overrides(market, self.values, baseline=True), option="slider"
        )
        self.policy = EcosystemModel(policy_config, rng=seed, researchers=researchers)
        self.baseline = (
            self.policy
            if policy_config == market_config
            else EcosystemModel(market_config, rng=seed, researchers=researchers)
        )
        self.datacollector = self.policy.datacollector
        self.running = True

    @property
    def month(self) -> int:
        """Months simulated so far."""
        return self.policy.month

    def step(self) -> None:
        """Simulate one month of the scenario and of the baseline."""
        self.policy.step()
        if self.baseline is not self.policy:
            self.baseline.step()
        self.running = self.policy.month < self.horizon


def check_range(lever: Lever, value: float) -> None:
    """A slider value inside its lever's range, else a one-line UsageError."""
    if not isinstance(value, int | float) or not lever.low <= value <= lever.high:
        raise UsageError(
            f"{lever.name}: expected a number in {lever.low:g}..{lever.high:g}, got {value!r}"
        )
