"""Scenario configuration: a typed, validated tree loaded from TOML files in scenarios/.

Scenario files extend a base (``extends = "base"``) and override only what differs. Every key is
checked before anything runs: an unknown key, a wrong type or an impossible value raises
:class:`ConfigError` with the file, the dotted key and what was expected.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from simulation.errors import UsageError, did_you_mean

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
STAGES = ("pretraining", "inference", "posttraining", "deployment", "data")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names already used inside metric families: downloads.top_release, capture.private, ...
RESERVED_NAMES = frozenset(
    {
        "top_release",
        "top_decile_share",
        "top1pct_download_share",
        "zero_download_share",
        "derivatives",
        "private",
        "language",
    }
)
LICENCES = ("open", "restricted", "closed")

# Upper bounds on what sizes memory or time (docs/ODD.md, section 6): a simulated researcher
# takes ~4 kB (docs/performance.md: 405 MB at 100,000), so the population bound is ~4 GB.
MAX_RESEARCHERS = 1_000_000
MAX_STEPS = 1_200  # months: a century
MAX_COUNT = 100  # labs (or hosters) of one kind, and in all: hosters size a per-researcher array
MAX_KINDS = 20  # lab kinds, hoster kinds, groups: each adds metric columns
MAX_VARIANTS = 8  # sizes per release family
MAX_LISTED = 10_000
MAX_EVENTS = 1_000
# The fields each event type uses; setting another is an error, not silently ignored.
EVENT_FIELDS = {
    "licence_revocation": {"lab_kind"},
    "delist": {"hoster_kind", "lab_kind"},
    "leave_region": {"hoster_kind", "group"},
    "price_shock": {"factor"},
    "budget_cut": {"factor"},
}

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Utility = Annotated[float, Field(ge=-20.0, le=20.0)]  # a logit utility: exp() stays finite


class ConfigError(UsageError):
    """A scenario or override that cannot be used; the message is one line for the user."""


class Strict(BaseModel):
    """Base of every config table: unknown keys and coerced types are errors.

    A typo in a scenario file or a ``--set`` key must fail loudly rather than silently fall back
    to a default. Assignments to a field are validated too.
    """

    # strict: a string, bool or float where a number, flag or count is expected is an error;
    # inf and nan are refused everywhere (TOML reads 1e400 as inf)
    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )


class Simulation(Strict):
    """Run length and population size (``[simulation]``).

    Attributes:
        steps: Months to simulate; ``EcosystemModel.running`` turns False after them.
        researchers: Simulated researchers N; changes resolution, not the size of the market.
        researchers_represented: Real researchers the population stands for; each simulated
            researcher counts for ``researchers_represented / researchers``.
    """

    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 120
    researchers: Annotated[int, Field(ge=1, le=MAX_RESEARCHERS)] = 10_000
    researchers_represented: Positive = 200_000.0


class Market(Strict):
    """GPU cost and the commercial hosters' pricing and capacity rules (``[market]``).

    Attributes:
        gpu_price_usd_per_hour: Underlying cost of an H100-equivalent GPU-hour in month 0.
        gpu_cost_decline_per_year: Yearly fall of the underlying cost (hardware progress).
        target_utilisation: Utilisation at which a commercial price holds steady; every
            hoster starts there, so month 0 prices are neutral.
        price_elasticity: How strongly the scarcity factor follows utilisation above or below
            target, each month.
        price_factor_bounds: Lowest and highest scarcity factor; must satisfy low <= 1 <= high.
        background_utilisation: Share of an independent commercial hoster's capacity the rest
            of the economy uses each month.
        hoster_taste_sigma: Spread of researchers' lognormal taste per hoster (accounts, trust,
            latency); picks the hoster, not the price paid.
        capacity_growth_per_year: Yearly growth of commercial capacity.
        capacity_investment_rate: Extra yearly growth per unit of utilisation above target.
    """

    gpu_price_usd_per_hour: Positive = 2.85
    gpu_cost_decline_per_year: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.20  # 1: free GPUs
    target_utilisation: Share = 0.75
    price_elasticity: NonNegative = 0.5
    price_factor_bounds: Annotated[list[Positive], Field(min_length=2, max_length=2)] = [0.7, 3.0]
    background_utilisation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.6
    hoster_taste_sigma: NonNegative = 0.15
    capacity_growth_per_year: NonNegative = 0.3
    capacity_investment_rate: NonNegative = 0.5

    @field_validator("price_factor_bounds")
    @classmethod
    def _bounds_bracket_one(cls, bounds: list[float]) -> list[float]:
        lo, hi = bounds
        if not lo <= 1.0 <= hi:
            raise ValueError(f"must satisfy low <= 1 <= high, got {bounds}")
        return bounds


class Capability(Strict):
    """Capability is log10 of effective training compute (GPU-hours x algorithmic efficiency).

    Attributes:
        requirement: What "capable" means: ``relative``, within ``capable_gap`` of the standard
            (the frontier as researchers perceive it), for every task; or ``absolute``, at least
            what each task needs (``required``), whatever the frontier.
        required: With an absolute requirement, the capability running, fine-tuning and
            deploying need in month 0 (log10 effective GPU-hours).
        required_growth_per_year: How fast those requirements rise, in the same units a year.
        flop_per_gpu_hour: Training FLOP one GPU-hour delivers; turns training compute into a
            model's size (``tokens_per_param``).
        compute_growth_before_start: Yearly growth of frontier training compute before month
            0; with algorithmic efficiency it dates the frontier before the first release on
            record, for the open-weight lag.
        language_penalty: Capability a release loses for a researcher per unit of its
            language's ``resource_gap`` it misses (1 - its fit for the language).
        trained_language_fit: Fit of a release for a language its lab trains for
            (``labs.<kind>.trained_languages``).
        language_training_share: Share of a run's compute each trained-for language takes
            (language data in place of the rest): the capability it costs.
    """

    algorithmic_efficiency_per_year: Annotated[float, Field(ge=1.0)] = 3.0
    requirement: Literal["relative", "absolute"] = "relative"
    required: Annotated[list[float], Field(min_length=3, max_length=3)] = [6.2, 6.2, 6.5]
    required_growth_per_year: NonNegative = 0.1
    flop_per_gpu_hour: Positive = 1.2e18
    compute_growth_before_start: Annotated[float, Field(ge=1.0)] = 4.7
    size_penalty: NonNegative = 0.5
    capable_gap: NonNegative = 1.5
    standard_adjust_months: Annotated[float, Field(ge=1.0)] = 6.0
    language_penalty: NonNegative = 1.0
    trained_language_fit: Share = 0.9
    language_training_share: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.1


class Tasks(Strict):
    """Resource needs of the three tasks, per billion parameters of the model used.

    Attributes:
        run_memory_gb_per_b: Memory to run a model (quantised weights and overhead).
        finetune_memory_gb_per_b: Memory to fine-tune it (QLoRA-like).
        deploy_memory_gb_per_b: Memory of one serving copy.
        gpu_memory_gb: Memory of one rented GPU (H100).
        run_gpu_hours_per_b: GPU-hours of a month's running (evaluation, API-like use).
        finetune_gpu_hours_per_b: GPU-hours of one fine-tune.
        deploy_hours_per_month: Hours a rented serving copy runs each month.
        deploy_tokens_per_user_per_month: Tokens a deployment serves each user a month.
        inference_flop_per_gpu_hour: FLOP a GPU-hour does when serving a model.
        own_hardware_share: Share of their own hardware's hours a month researchers have for
            this research (its memory counts as that many rented GPUs' worth of hours).
        migration_cost_months: Months of hosting a stranded deployment pays to migrate.
        abandon_after_months: Months a stranded deployment is kept before it is shut down.
    """

    run_memory_gb_per_b: Positive = 0.6
    finetune_memory_gb_per_b: Positive = 0.75
    deploy_memory_gb_per_b: Positive = 1.0
    gpu_memory_gb: Positive = 80.0
    run_gpu_hours_per_b: Positive = 0.1
    finetune_gpu_hours_per_b: Positive = 2.0
    deploy_hours_per_month: Positive = 730.0
    deploy_tokens_per_user_per_month: NonNegative = 1e5  # assumption
    inference_flop_per_gpu_hour: Positive = 7.2e17  # assumption, near hosted token prices
    own_hardware_share: Share = 0.5  # assumption
    migration_cost_months: NonNegative = 1.0
    abandon_after_months: Annotated[int, Field(ge=0)] = 12


class LicenceTerms(Strict):
    """What a licence lets researchers do with a release's weights.

    Attributes:
        finetune: Whether derivatives (fine-tunes) are allowed.
        max_deploy_users: Largest deployment, in users, the licence allows.
    """

    finetune: bool = True
    max_deploy_users: NonNegative = 7e8


class Licences(Strict):
    """Terms of the open and restricted licences (``[licences]``).

    Closed releases have no terms to configure: no weights, only their lab's API, which may
    offer fine-tuning and deployment (``labs.<kind>.api_finetune``, ``api_deploy``).

    Attributes:
        open: Terms of open licences.
        restricted: Terms of restricted licences, which the lab may also revoke.
    """

    open: LicenceTerms = LicenceTerms()
    restricted: LicenceTerms = LicenceTerms()


class LabKind(Strict):
    """Parameters shared by the labs of one kind (``[labs.<kind>]``).

    A lab has no income path: it earns from sales (the economy's AI spending, its API),
    raises investment on them, and receives grants and public money (docs/ODD.md 7.1).

    Attributes:
        count: Labs of this kind.
        grant_usd_per_month: Median grant or donation money for compute, flat in nominal USD
            (non-profit and academic labs live on it); each lab draws a lognormal multiplier.
        grant_sigma: Spread of that multiplier.
        training_share: Share of sales, API revenue and investment a lab saves for training
            (the rest pays staff, inference and other compute).
        strategic: Whether it chooses openness by expected payoff at each release; False: its
            licence stays what the kind says (a charter or mission), unless it revokes by event.
        restricted_revenue_share: Of the economy's spending on its models while they are
            restricted-open, the share it earns (licence fees, its own products); closed it
            earns all, under an open licence nothing.
        initial_training_gpu_hours: Training compute of the model each lab starts with.
        initial_release_months: Release month of each lab's starting model (0 or earlier:
            real dates before the run's start, month 0 = early 2024), cycled over the kind's labs.
        tokens_per_param: Training tokens per parameter; sets the flagship's size from its
            training compute (compute-optimal: about 20).
        training_spend_share: Share of its savings a training run spends.
        training_months: Months a training run takes; it buys its GPU-hours from the
            independent hosters in equal monthly instalments and releases when it ends.
        min_release_interval_months: Shortest time between two training runs.
        min_improvement: Capability a new flagship must add over the lab's best to be trained.
        licence: Licence of its releases at the start.
        weights: Whether its releases have weights at the start; a closed licence must not.
        distilled_params_b: Sizes of the smaller, distilled variants released with a flagship
            (billions of parameters); only those smaller than the flagship are released.
        underserved_language_fit: Fit of its models for every language with a resource gap,
            0 to 1, before language data in the commons and training for a language raise it.
        trained_languages: Languages it trains its models for: their fit is
            ``capability.trained_language_fit``, at ``capability.language_training_share`` of
            the run's compute each.
        absorb_effort: Effort it puts into absorbing community value, 0 to 1.
        talent: Multiplier on its absorptive capacity.
        api_capacity_gpu_hours_per_month: Capacity of its own API hoster; 0: no API.
        api_markup: Markup its API charges over cost.
        api_finetune: Whether researchers may fine-tune its closed models through its API
            (they get no weights, so no derivative to publish).
        api_deploy: Whether researchers may deploy its closed models through its API.
        api_finetune_price_factor: Price of a fine-tuning GPU-hour at its API, as a multiple
            of the API's price (a running GPU-hour).
        strategy: How it builds a new model (docs/ODD.md 7.1): ``scratch`` pre-trains its own;
            ``continue`` continues pre-training the best base it may build on (effective
            compute adds); ``adapt`` adapts such a base to its languages in a small run (the
            base's capability); ``auto`` picks, at each run, the option with the best expected
            capability for its languages, the cheapest of those within ``min_improvement``.
        base_licences: Licences of other labs' releases it may build on (``continue``,
            ``adapt``); its own releases it may always build on.
        adapt_gpu_hours_per_b: GPU-hours an adaptation run takes per billion parameters it
            adapts (the base's size and its smaller distilled sizes).
    """

    count: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 1
    grant_usd_per_month: NonNegative = 0.0
    grant_sigma: NonNegative = 0.5
    training_share: Share = 0.06
    strategic: bool = False
    restricted_revenue_share: Share = 0.1
    initial_training_gpu_hours: NonNegative = 1e5  # 0: a new lab with no model yet
    initial_release_months: Annotated[
        list[Annotated[int, Field(ge=-120, le=0)]], Field(min_length=1, max_length=MAX_COUNT)
    ] = [0]
    tokens_per_param: Positive = 20.0
    training_spend_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    training_months: Annotated[int, Field(ge=1, le=24)] = 3
    min_release_interval_months: Annotated[int, Field(ge=1)] = 6
    min_improvement: NonNegative = 0.25
    licence: Literal["open", "restricted", "closed"] = "open"
    weights: bool = True
    distilled_params_b: Annotated[list[Positive], Field(max_length=MAX_VARIANTS - 1)] = []
    underserved_language_fit: Share = 0.3
    trained_languages: Annotated[list[str], Field(max_length=MAX_KINDS)] = []
    absorb_effort: Share = 1.0
    talent: Positive = 1.0
    api_capacity_gpu_hours_per_month: NonNegative = 0.0
    api_markup: Annotated[float, Field(ge=1.0)] = 2.0
    api_finetune: bool = False  # assumption: an API only runs models unless a kind says more
    api_deploy: bool = False
    api_finetune_price_factor: Positive = 2.9  # cal: GPT-4o fine-tuning (see base.toml)
    strategy: Literal["scratch", "continue", "adapt", "auto"] = "scratch"
    base_licences: Annotated[
        list[Literal["open", "restricted"]], Field(min_length=1, max_length=2)
    ] = ["open"]
    adapt_gpu_hours_per_b: NonNegative = 1900.0  # cal-derived: SEA-LION v3 9B, ~17k GPU-hours

    @model_validator(mode="after")
    def _closed_means_api(self) -> LabKind:
        if self.licence == "closed" and self.weights:
            raise ValueError("a closed licence releases no weights: set weights = false")
        return self


class Economy(Strict):
    """The rest of the economy's spending on AI, which pays the labs (``[economy]``).

    Attributes:
        ai_spend_usd_per_month: What the economy pays for AI models (APIs, products, licences)
            in month 0.
        capability_elasticity: Decades of spending per decade of frontier capability gained:
            demand grows as models become more useful (below 1, growth settles).
        max_ai_spend_usd_per_month: Ceiling on that spending (a growth limit); None: none.
        quality_sensitivity: How steeply the economy's spending follows capability: a lab's
            weight is exp(sensitivity x (its best capability - the frontier)).
        open_weights_appeal: Extra log weight of a lab whose models have downloadable weights
            (cheaper, hosted by anyone, adaptable): the economy uses it more, all else equal.
        investment_per_revenue: Investment raised per USD of sales by the leader growing 1x.
        investor_growth_cap: Most sales growth (x per year) investors reward.
        max_investment_usd_per_month: Most investment one lab can raise a month (a growth
            limit); None: none.
        adoption_value_usd_per_user: What a strategic lab counts each real researcher using
            its weights as worth a month (talent, contributions, ecosystem) when it weighs
            opening against closing.
        revocation_trust_cost: Share of its open models' spending a lab expects to lose for
            good if it revokes their licences.
        decision_noise: Spread of a lab's openness decisions, relative to the payoffs.
    """

    ai_spend_usd_per_month: NonNegative = 1.2e9
    capability_elasticity: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.45
    max_ai_spend_usd_per_month: Positive | None = 4e11
    quality_sensitivity: NonNegative = 1.5
    open_weights_appeal: Annotated[float, Field(ge=0.0, le=20.0)] = 1.2
    investment_per_revenue: NonNegative = 0.4
    investor_growth_cap: Annotated[float, Field(ge=1.0)] = 3.0
    max_investment_usd_per_month: Positive | None = 6e9
    adoption_value_usd_per_user: NonNegative = 200.0
    revocation_trust_cost: NonNegative = 0.8
    decision_noise: Positive = 0.25


class HosterKind(Strict):
    """Parameters shared by the hosters of one configured name (``[hosters.<name>]``).

    Attributes:
        kind: ``"commercial"`` (priced by utilisation) or ``"public"`` (at cost, capacity
            bought by the institution).
        count: Hosters of this name.
        capacity_gpu_hours_per_month: Starting capacity of a commercial hoster.
        markup: Price over cost at neutral utilisation.
        max_listed: Most releases it lists by popularity (releases with a running deployment
            stay listed on top of these).
        serves_groups: Researcher groups it serves; None: all.
        institution: For a public hoster, the institution that buys its capacity
            (``"public"``, the default one, or a name in ``[institutions]``).
    """

    kind: Literal["commercial", "public"] = "commercial"
    count: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 1
    capacity_gpu_hours_per_month: NonNegative = 1e6
    markup: Annotated[float, Field(ge=1.0)] = 1.3
    max_listed: Annotated[int, Field(ge=0, le=MAX_LISTED)] = 20
    serves_groups: list[str] | None = None
    institution: str = "public"


class Language(Strict):
    """A language, or a group of languages alike in how well models serve them.

    Attributes:
        resource_gap: How much capability a model with no fit for it loses, in units of
            ``capability.language_penalty`` (the gap of Hindi and Thai, from which the penalty
            is derived, is 1); 0: a language every model serves.
    """

    resource_gap: NonNegative = 0.0


class Group(Strict):
    """A researcher group and how its members are drawn (``[groups.<name>]``).

    Money and deployment sizes are per real researcher.

    Attributes:
        share: Share of researchers in the group; shares sum to 1.
        budget_median_usd: Median monthly compute money.
        budget_sigma: Spread of the lognormal budget.
        hardware_none_share: Share with no local accelerator.
        hardware_median_gb: Median local accelerator memory of those who have one.
        hardware_sigma: Spread of the lognormal memory.
        skill_mean: Mean skill, the chance a fine-tune succeeds (Beta distributed).
        skill_concentration: Concentration of the Beta skill distribution.
        languages: Share of the group needing each language (``[languages]`` names); they
            sum to 1.
        deploy_users_median: Median users a deployment would serve (checked against licences).
        commercial_price_friction: Multiplier on commercial prices for the group.
    """

    share: Share
    budget_median_usd: NonNegative
    budget_sigma: NonNegative = 1.0
    hardware_none_share: Share = 0.5
    hardware_median_gb: NonNegative = 24.0
    hardware_sigma: NonNegative = 0.8
    skill_mean: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    skill_concentration: Positive = 4.0
    languages: dict[str, Share] = {}
    deploy_users_median: Positive = 1_000.0
    commercial_price_friction: Annotated[float, Field(ge=1.0)] = 1.0


class Contributions(Strict):
    """Community contributions, their absorption by labs, and the data flywheel.

    Attributes:
        run_probability: Monthly chance that a researcher who ran a model contributes.
        finetune_probability: The same for one who fine-tuned.
        pareto_alpha: Tail index of contribution value; smaller is more unequal.
        home_bias: Share of the value built on a lab's models that the lab takes first (scaled
            by its absorb effort).
        absorb_elasticity: Exponent of training compute in a lab's absorptive capacity.
        capability_gain: Capability added per log10(1 + absorbed / ``value_scale``).
        value_scale: Scale of absorbed value in that bonus (arbitrary units).
        data_gain: Capability added per log10(1 + data GPU-hours / ``data_scale_gpu_hours``).
        data_scale_gpu_hours: Scale of usage data in that bonus.
        data_value_per_gpu_hour: Commons value of a GPU-hour of public usage data or data money.
        stock_decay_per_month: Monthly ageing of the commons stock (and of what labs embedded).
        absorb_scale: Absorptive capacity at which a lab closes 1 - 1/e of the gap between the
            stock and what it has embedded in a month (the rate saturates: 1 - exp(-cap/scale)).
        give_back: Share of a release's progress (capability gain over its lab's best, valued
            at ``value_scale`` per unit) that a release with weights adds to the stock.
        share_alike: Only labs releasing weights may absorb from the stock (what is built on
            their own models they still absorb).
        publish_credit: Utility of publishing a contribution (credit, reputation), against 0
            for abstaining.
        reciprocity: Extra utility of publishing when the model built on is fully open.
        derivative_credit: Extra utility when a fine-tune may be published as a derivative.
        private_value: Utility of keeping a contribution private (an exclusive advantage).
        language_data_scale: Language data in the commons (value units, from the published
            contributions of the language's speakers) at which a new release closes 1 - 1/e
            of its gap in that language, as far as its lab absorbs (``absorb_effort``).
        derivative_language_gain: Share of its base's gap in its maker's language that a
            published derivative closes.
        derivatives: Whether a published fine-tune becomes a release of its own (a community
            derivative others can find and use); False: contributions only.
        derivative_quality: Capability a derivative gains per decade of its maker's
            contribution value (skill x (1 + Pareto); below 1 it loses): how unequal fine-tunes
            are.
    """

    run_probability: Share = 0.02
    finetune_probability: Share = 0.15
    pareto_alpha: Annotated[float, Field(gt=1.0)] = 1.3
    home_bias: Share = 0.3
    absorb_elasticity: NonNegative = 0.5
    capability_gain: NonNegative = 0.3
    value_scale: Positive = 1_000.0
    data_gain: NonNegative = 0.2
    data_scale_gpu_hours: Positive = 1e6
    data_value_per_gpu_hour: NonNegative = 0.001
    stock_decay_per_month: Share = 0.02  # assumption: knowledge half-life ~3 years
    absorb_scale: Positive = 4e4  # assumption: a frontier lab closes ~1/3 of its gap a month
    give_back: Share = 1.0  # assumption: open weights disclose all of a release's progress
    share_alike: bool = False
    # the decision to publish (assumptions, in the spirit of "Fine-Tuning Games", calibration.md)
    publish_credit: Utility = 0.5
    reciprocity: Annotated[float, Field(ge=0.0, le=20.0)] = 0.5
    derivative_credit: Annotated[float, Field(ge=0.0, le=20.0)] = 0.5
    private_value: Utility = 0.5
    language_data_scale: Positive = 1e6
    derivatives: bool = True
    derivative_quality: NonNegative = 0.1
    derivative_language_gain: Share = 0.3


class Adoption(Strict):
    """How researchers choose a model: weights of the logit utility and how often they look.

    Attributes:
        capability_weight: Weight of effective capability.
        openness_weight: Bonus of an open licence.
        popularity_weight: Weight of ln(1 + popularity) (preferential attachment).
        cost_weight: Weight of the penalty ln(1 + the plan's cost).
        review_probability: Monthly chance that a researcher reconsiders their model anyway.
        search_results: Releases beyond each lab's latest family (older families, community
            derivatives) a chooser finds by searching: drawn in proportion to
            ``search_visibility`` + last month's users, among those tagged with their language
            (a lab's own releases count for every language).
        search_visibility: A release's weight in the search before it has users (real
            researchers' worth): how easily a new upload is found.
    """

    capability_weight: NonNegative = 2.0
    openness_weight: NonNegative = 0.5
    popularity_weight: NonNegative = 0.5
    cost_weight: NonNegative = 0.5
    review_probability: Share = 0.2
    search_results: Annotated[int, Field(ge=0, le=50)] = 10
    search_visibility: Positive = 1.0


class StageSplit(Strict):
    """Shares of the public budget, net of overhead, per lifecycle stage; they sum to 1.

    Attributes:
        pretraining: Funds labs.
        inference: Buys the public hoster's run pool (or credits).
        posttraining: Buys its fine-tune pool (or credits).
        deployment: Buys its deploy pool (or credits).
        data: Buys datasets.
    """

    # cal: IndiaAI, 44% of the budget for compute (inference + post-training + deployment)
    pretraining: Share = 0.46
    inference: Share = 0.2
    posttraining: Share = 0.08
    deployment: Share = 0.16
    data: Share = 0.1

    @model_validator(mode="after")
    def _sums_to_one(self) -> StageSplit:
        total = sum(getattr(self, s) for s in STAGES)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the five stage shares must sum to 1, got {total:g}")
        return self


class Public(Strict):
    """A public institution's levers (``[public]`` or ``[institutions.<name>]``).

    A governance mode is a default setting of these levers (docs/ODD.md section 8 has the
    table of every lever by mode); every institution has all of them, and each applies to
    every user of every channel the institution funds. They follow the paper's four parts of
    public AI: support (where the money goes), access (who may use public compute and on what
    terms), governance, and private commitment; and the failure modes every programme can
    suffer.

    Attributes:
        mode: Label of the governance mode; changes nothing by itself.
        budget_usd_per_month: Monthly appropriation; 0: the institution does not exist.
        stage_split: How the budget, net of overhead, is split across stages.
        overhead: Share of the budget spent on administration.
        funded_lab_kinds: Lab kinds the pre-training money funds.
        funded_labs: ``"all"`` labs of those kinds, or only the ``"largest"`` by income.
        contract_months: Months after which lab contracts end; 0: never.
        compute_channel: How compute money reaches researchers: ``"none"``, a
            ``"public_hoster"`` (capacity it buys) or ``"credits"`` at commercial hosters.
        credit_hosters: Where credits are taken: ``"all"`` independent commercial hosters or
            the ``"largest"`` (the champion hoster).
        champion_price_cap: Price cap on the champion hoster, x cost; None: no cap.
        eligible_groups: Groups eligible for its compute.
        eligible_share: Share of their members who are eligible, drawn once.
        reserved_group: Group whose members get a reserved share of its compute.
        reserved_share: That share, of every pool and of the credit money.
        price_share: Share of the cost a researcher pays at the point of use, on every
            channel (0 free, 1 at cost); the institution pays the rest.
        quota_gpu_hours_per_month: Most subsidised GPU-hours a researcher may use a month;
            0: no quota.
        rationing: Who is served when demand exceeds supply: ``"queue"`` (in order of
            approval), ``"lottery"`` (a new random order each month) or ``"equal_share"``
            (each approved researcher may use an equal share of the month's supply).
        listing: Which models its public hoster serves: ``"all"`` open-weight candidates,
            ``"open_licence"`` only fully open ones, or ``"public_lab"`` only those of the labs it
            funds (``funded_lab_kinds``).
        data_to: Where the usage data of its channels and its data money go: the
            ``"commons"`` every lab absorbs, its ``"members"`` (the funded labs, each holding
            all of it), the ``"funded_labs"`` (split among them) or the ``"provider"`` that
            served the use (a silo, or the champion lab).
        unspent: What happens to money not used in a month: ``"rechannel"`` (next month it
            funds the first stage that can use it: labs, then compute, then data),
            ``"carry_over"`` (added to next month's budget) or ``"lapse"`` (returned).
        capture_risk: Monthly chance of capture; once captured, conditions lapse, insiders
            alone stay eligible and ``capture_rent_share`` of the budget is diverted.
        capture_rent_share: Share of the monthly budget diverted as rent once captured.
        lapse_probability: Monthly chance that funding is interrupted (stop-go).
        lapse_months: Months an interruption lasts.
        approval_months: Mean months an eligible researcher waits for approval before using
            its compute (administrative friction); 0: approved at once.
        buildout_months: Months between paying for public hoster capacity and its coming
            into service.
        data_commons: Old name of ``data_to``: true is ``"commons"``, false ``"funded_labs"``.
        licence_irrevocable: Old name of ``regulation.irrevocable_licences``.
        release_commitment: Whether funded labs must keep releasing weights, irrevocably.
    """

    mode: Literal[
        "none",
        "outsourced_provision",
        "networked_collaboration",
        "state_backed_integration",
        "public_option",
    ] = "none"
    budget_usd_per_month: NonNegative = 0.0
    stage_split: StageSplit = StageSplit()
    overhead: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05  # assumption
    # support: where the money goes
    funded_lab_kinds: list[str] = []
    funded_labs: Literal["all", "largest"] = "all"
    contract_months: Annotated[int, Field(ge=0)] = 0
    compute_channel: Literal["none", "public_hoster", "credits"] = "none"
    credit_hosters: Literal["all", "largest"] = "all"
    champion_price_cap: Annotated[float, Field(ge=1.0)] | None = None
    # access
    eligible_groups: list[str] = []
    eligible_share: Share = 1.0
    reserved_group: str | None = None
    reserved_share: Share = 0.0
    # The defaults below are the same in every mode (docs/ODD.md section 8).
    price_share: Share = 0.58  # cal: IndiaAI GPU-hour at INR 67 against INR 115 on the market
    quota_gpu_hours_per_month: NonNegative = 0.0  # assumption: no quota
    # assumption: a fresh random order each month; equal shares of an indivisible supply would
    # leave deployments (730+ GPU-hours) unserved
    rationing: Literal["queue", "lottery", "equal_share"] = "lottery"
    listing: Literal["all", "open_licence", "public_lab"] = "all"
    # governance
    data_to: Literal["commons", "members", "funded_labs", "provider"] = "provider"
    unspent: Literal["rechannel", "carry_over", "lapse"] = "rechannel"  # assumption
    # failure modes: zero where no source gives a rate (the experiment and sensitivity vary them)
    capture_risk: Share = 0.0
    capture_rent_share: Share = 0.2  # assumption: acts only once captured
    lapse_probability: Share = 0.0
    lapse_months: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 6  # assumption
    # zero: no source gives a delay, and the IndiaAI uptake does not identify one
    # (scenarios/calibration/fitted_friction.toml, docs/validation.md)
    approval_months: Annotated[float, Field(ge=0.0, le=MAX_STEPS)] = 0.0
    buildout_months: Annotated[int, Field(ge=0, le=MAX_STEPS)] = 0
    # old names, kept working (see ALIASES)
    data_commons: bool | None = None
    licence_irrevocable: bool | None = None
    # private commitment
    release_commitment: bool = False

    @property
    def spends(self) -> bool:
        """Whether the institution exists: it has a budget."""
        return self.budget_usd_per_month > 0


class Regulation(Strict):
    """Rules that bind every month, with or without public money (``[regulation]``).

    Attributes:
        release_delay_months: A lab whose latest training run reached
            ``release_threshold_gpu_hours`` must release the weights of each model it launches
            closed this many months after launch; 0: no mandate.
        release_threshold_gpu_hours: Training compute above which the mandate applies.
        irrevocable_licences: Licences granted cannot be revoked (a lab may still stop
            releasing weights: that is a separate commitment).
        max_markup: Highest ratio of price to cost any hoster may charge, the same for every
            customer; 0: no cap.
        migration_cost_factor: Multiplier on the cost of migrating a stranded deployment
            (portability: below 1 cheaper).
        transparency: Share of a closed lab's progress it must disclose: a closed flagship adds
            that share of its capability gain over the lab's best, valued at
            ``contributions.value_scale`` per unit, to the commons every lab absorbs.
    """

    release_delay_months: Annotated[int, Field(ge=0, le=MAX_STEPS)] = 0
    # assumption: the EU AI Act's 1e25 FLOP (Art. 51; not in calibration.md) at
    # capability.flop_per_gpu_hour (1.2e18, cal-derived from Llama 3.1 405B)
    release_threshold_gpu_hours: NonNegative = 8.3e6
    irrevocable_licences: bool = False
    max_markup: NonNegative = 0.0
    migration_cost_factor: NonNegative = 1.0
    transparency: Share = 0.0

    @field_validator("max_markup")
    @classmethod
    def _cap_at_or_above_cost(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (no cap) or at least 1 (at cost)")
        return value


class Event(Strict):
    """A scheduled shock (``[[events]]``), applied at the start of its month.

    Attributes:
        month: Month it fires.
        type: What happens; each type needs some of the fields below.
        lab_kind: Lab kind that revokes or is delisted.
        hoster_kind: Configured hoster name that delists or leaves a region.
        group: Researcher group a hoster stops serving.
        factor: Multiplier of a price shock or budget cut.
    """

    month: Annotated[int, Field(ge=0)]
    type: Literal["licence_revocation", "delist", "leave_region", "price_shock", "budget_cut"]
    lab_kind: str | None = None
    hoster_kind: str | None = None
    group: str | None = None
    factor: Positive = 1.0


class Config(Strict):
    """A whole scenario, validated: every table of the TOML file plus cross-checks.

    The cross-checks catch what one table cannot see: names that refer to other tables,
    shares that must sum to 1, and a public hoster channel without a public hoster.

    Attributes:
        description: One line shown by ``run.py list``.
        extends: The scenario this one was merged onto, if any.
        labs: Lab kinds by name, in creation order.
        hosters: Hoster kinds by configured name, in creation order.
        groups: Researcher groups by name.
        languages: Languages by name, in the order ``language_fit`` columns follow.
        events: Scheduled shocks.
    """

    description: str = ""
    extends: str | None = None
    simulation: Simulation = Simulation()
    market: Market = Market()
    capability: Capability = Capability()
    economy: Economy = Economy()
    tasks: Tasks = Tasks()
    licences: Licences = Licences()
    labs: Annotated[dict[str, LabKind], Field(max_length=MAX_KINDS)]
    hosters: Annotated[dict[str, HosterKind], Field(max_length=MAX_KINDS)]
    groups: Annotated[dict[str, Group], Field(max_length=MAX_KINDS)]
    languages: Annotated[dict[str, Language], Field(min_length=1, max_length=MAX_KINDS)] = {
        "english": Language()
    }
    contributions: Contributions = Contributions()
    adoption: Adoption = Adoption()
    public: Public = Public()
    institutions: Annotated[dict[str, Public], Field(max_length=MAX_KINDS)] = {}
    regulation: Regulation = Regulation()
    events: Annotated[list[Event], Field(max_length=MAX_EVENTS)] = []

    def spending_institutions(self) -> dict[str, Public]:
        """The institutions with a budget, by name: ``public`` first, then ``[institutions]``."""
        every = {"public": self.public, **self.institutions}
        return {name: inst for name, inst in every.items() if inst.spends}

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        """A tree given whole (not read from files) has its old keys translated too."""
        return _old_keys_of_layer(data, "config") if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        for name in self.institutions:
            if not NAME.fullmatch(name) or name in RESERVED_NAMES or name == "public":
                raise ValueError(
                    f"institutions.{name}: names must be identifiers (letters, digits, _), not "
                    "'public' (the [public] table is that one)"
                )
        for table in ("labs", "hosters", "groups", "languages"):
            for name in getattr(self, table):
                if not NAME.fullmatch(name) or name in RESERVED_NAMES:
                    raise ValueError(
                        f"{table}.{name}: names must be identifiers (letters, digits, _) and not "
                        f"{sorted(RESERVED_NAMES)}, so metric names split cleanly on dots"
                    )
        if not self.groups:
            raise ValueError("at least one researcher group is needed")
        total = sum(g.share for g in self.groups.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"groups.*.share must sum to 1, got {total:g}")
        for name, g in self.groups.items():
            _known(f"groups.{name}.languages", list(g.languages), self.languages)
            if g.languages and abs(sum(g.languages.values()) - 1.0) > 1e-6:
                raise ValueError(
                    f"groups.{name}.languages: shares must sum to 1, got "
                    f"{sum(g.languages.values()):g}"
                )
        for name, k in self.labs.items():
            _known(f"labs.{name}.trained_languages", k.trained_languages, self.languages)
            if len(k.trained_languages) * self.capability.language_training_share >= 1:
                raise ValueError(
                    f"labs.{name}.trained_languages: {len(k.trained_languages)} languages at "
                    "capability.language_training_share each leave no compute for the rest"
                )
        if not any(k.count for k in self.labs.values()):
            raise ValueError("at least one lab is needed (labs.*.count)")
        for table in ("labs", "hosters"):
            total = sum(k.count for k in getattr(self, table).values())
            if total > MAX_COUNT:
                raise ValueError(
                    f"{table}.*.count: at most {MAX_COUNT} in all (each sizes per-researcher "
                    f"memory), got {total}"
                )
        every = {"public": self.public, **self.institutions}
        for name, inst in every.items():
            key = "public" if name == "public" else f"institutions.{name}"
            _known(f"{key}.funded_lab_kinds", inst.funded_lab_kinds, self.labs)
            _known(f"{key}.eligible_groups", inst.eligible_groups, self.groups)
            if inst.reserved_group is not None:
                _known(f"{key}.reserved_group", [inst.reserved_group], self.groups)
            hosts = [
                h for h in self.hosters.values() if h.kind == "public" and h.institution == name
            ]
            if (
                inst.spends
                and inst.compute_channel == "public_hoster"
                and not any(h.count for h in hosts)
            ):
                raise ValueError(
                    f"{key}.compute_channel = 'public_hoster' needs a public hoster "
                    f"(a [hosters.<name>] table with kind = 'public' and institution = {name!r})"
                )
        for name, h in self.hosters.items():
            if h.serves_groups is not None:
                _known(f"hosters.{name}.serves_groups", h.serves_groups, self.groups)
            if h.kind == "public":
                _known(f"hosters.{name}.institution", [h.institution], every)
                if h.capacity_gpu_hours_per_month > 0:
                    raise ValueError(
                        f"hosters.{name}.capacity_gpu_hours_per_month: a public hoster's capacity "
                        "is bought each month by its institution; set it to 0"
                    )
                owner = every[h.institution]
                if h.count and owner.spends and owner.compute_channel != "public_hoster":
                    raise ValueError(
                        f"hosters.{name}: institution {h.institution!r} funds compute through "
                        f"{owner.compute_channel!r}, not a public hoster; set its count to 0 or "
                        "its compute_channel to 'public_hoster'"
                    )
                if (
                    sum(
                        x.count
                        for x in self.hosters.values()
                        if x.kind == "public" and x.institution == h.institution
                    )
                    > 1
                ):
                    raise ValueError(
                        f"hosters.{name}: institution {h.institution!r} has more than one public "
                        "hoster; give it one (count = 1)"
                    )
        if (
            len(
                {
                    n
                    for n, i in self.spending_institutions().items()
                    if i.compute_channel == "credits" and i.credit_hosters == "largest"
                }
            )
            > 1
        ):
            raise ValueError(
                "at most one institution may bind the champion hoster (credit_hosters = 'largest')"
            )
        for i, e in enumerate(self.events):
            where = f"events[{i}]"
            unused = [  # a default value is no setting (a round trip through to_dict has them)
                f
                for f in ("lab_kind", "hoster_kind", "group", "factor")
                if f not in EVENT_FIELDS[e.type] and getattr(e, f) != Event.model_fields[f].default
            ]
            if unused:
                uses = ", ".join(sorted(EVENT_FIELDS[e.type]))
                raise ValueError(f"{where}.{unused[0]}: a {e.type} event does not use it ({uses})")
            if e.type == "licence_revocation":
                _need(where, "lab_kind", e.lab_kind, self.labs)
            if e.type in ("delist", "leave_region"):
                _need(where, "hoster_kind", e.hoster_kind, self.hosters)
            if e.type == "delist":
                _need(where, "lab_kind", e.lab_kind, self.labs)
            if e.type == "leave_region":
                _need(where, "group", e.group, self.groups)
        return self


def _known(key: str, names: list[str], table: dict) -> None:
    for n in names:
        if n not in table:
            raise ValueError(f"{key}: unknown name {n!r}; expected one of {sorted(table)}")


def _need(where: str, field: str, value: str | None, table: dict) -> None:
    if value is None:
        raise ValueError(f"{where}.{field} is required for this event type")
    _known(f"{where}.{field}", [value], table)


# ---------------------------------------------------------------------------------------------
# Loading


def scenario_names() -> list[str]:
    """Names of the scenarios in scenarios/ (the TOML files directly in it), sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def scenario_path(name_or_path: str | Path) -> Path:
    """Resolve a scenario name in scenarios/ or a path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.parent != Path("."):
        if not p.is_file():
            raise ConfigError(f"{p}: scenario file not found")
        return p
    candidate = SCENARIO_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        hint = _suggest(str(name_or_path), scenario_names())
        raise ConfigError(
            f"unknown scenario {str(name_or_path)!r}{hint}; known: {', '.join(scenario_names())}"
        )
    return candidate


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; any problem (syntax, encoding, a read error) is one ConfigError.

    Args:
        path: The file.

    Raises:
        ConfigError: naming the file and what is wrong with it.
    """
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None


def _merge(base: dict, over: dict) -> dict:
    """Tables merge key by key; anything else (values, arrays) replaces the base."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _old_keys_of_layer(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """One file's tree with its old keys turned into the new ones, before it is merged.

    A file may inherit a new key from its parent and set the old one itself (or the reverse):
    only the same file setting both, inconsistently, is an error.

    Raises:
        ConfigError: The file sets an old key and its new key to different values, or an
            ``[institutions]`` table sets ``licence_irrevocable`` (a rule for every lab).
    """
    out = dict(raw)
    tables = [("public", out.get("public"))]
    tables += [(f"institutions.{n}", t) for n, t in (out.get("institutions") or {}).items()]
    for where, table in tables:
        if not isinstance(table, dict):
            continue
        table = dict(table)
        old = table.get("data_commons")
        if isinstance(old, bool):
            implied = "commons" if old else "funded_labs"
            if table.get("data_to", implied) != implied:
                raise ConfigError(
                    f"{source}: {where}.data_commons = {str(old).lower()} (the old name of "
                    f"data_to) disagrees with {where}.data_to = {table['data_to']!r}: set "
                    "data_to only"
                )
            table["data_to"] = implied
            del table["data_commons"]
        irrevocable = table.get("licence_irrevocable")
        if irrevocable is not None and where != "public":
            raise ConfigError(
                f"{source}: {where}.licence_irrevocable: irrevocability is a rule for every lab, "
                "not an institution's lever: set regulation.irrevocable_licences"
            )
        regulation = out.get("regulation", {})
        if isinstance(irrevocable, bool) and isinstance(regulation, dict):
            new = regulation.get("irrevocable_licences", irrevocable)
            if new != irrevocable:
                raise ConfigError(
                    f"{source}: public.licence_irrevocable = {str(irrevocable).lower()} (the old "
                    "name of regulation.irrevocable_licences) disagrees with "
                    f"regulation.irrevocable_licences = {new!r}: set the new key only"
                )
            out["regulation"] = {**regulation, "irrevocable_licences": irrevocable}
            del table["licence_irrevocable"]
        if where == "public":
            out["public"] = table
        else:
            out["institutions"] = {**out["institutions"], where.split(".", 1)[1]: table}
    return out


def translate_overrides(overrides: dict[str, Any], source: str = "--set") -> dict[str, Any]:
    """Overrides with old keys turned into the new ones (``public.data_commons`` -> ``data_to``).

    Raises:
        ConfigError: Two overrides set the same key (an old and its new one) to different values.
    """
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in overrides.items():
        new, translated = _new_key(key, value)
        if new in out and out[new] != translated:
            raise ConfigError(
                f"{source} {key}={value!r} disagrees with {given[new]}={overrides[given[new]]!r}: "
                f"both set {new}; set {new} only"
            )
        out[new], given[new] = translated, key
    return out


def _raw_tree(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    raw = _old_keys_of_layer(read_toml(path), str(path))
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: key 'extends': expected a scenario name, got {parent!r}")
    parent_path = path.parent / f"{parent}.toml"
    if not parent_path.is_file():
        raise ConfigError(f"{path}: key 'extends': no scenario {parent!r} beside this file")
    merged = _merge(_raw_tree(parent_path, (*seen, path.resolve())), raw)
    return merged


def load_scenario(
    name_or_path: str | Path, overrides: dict[str, Any] | None = None, option: str = "--set"
) -> Config:
    """Load, merge with its base, apply dotted-path overrides and validate a scenario.

    Args:
        name_or_path: A scenario name in scenarios/ or a path to a TOML file.
        overrides: Values by dotted key (``public.budget_usd_per_month``); each key must
            already exist in the scenario or the schema.
        option: Names the command-line option the overrides came from in error messages.

    Returns:
        The validated config.

    Raises:
        ConfigError: The scenario cannot be found or read, or it or an override is invalid;
            the message names the file or the override.
    """
    path = scenario_path(name_or_path)
    tree = _raw_tree(path)
    config = validate(tree, source=str(path))
    if not overrides:
        return config
    for key, value in translate_overrides(overrides, option).items():
        tree = apply_override(tree, key, value, source=option)
    try:
        return Config.model_validate(tree)
    except ValidationError as e:  # name the override(s) the error is about
        loc = ".".join(str(p) for p in e.errors()[0]["loc"])
        named = [k for k in overrides if k.startswith(loc) or loc.startswith(k)] or list(overrides)
        source = f"{option} " + ", ".join(f"{k}={overrides[k]!r}" for k in named)
        raise ConfigError(f"{source}: {_describe(e, tree)}") from None


def validate(tree: dict[str, Any], source: str = "config") -> Config:
    """Validate a config tree, turning pydantic's error into a one-line ``ConfigError``.

    Args:
        tree: The config as plain data (a merged TOML tree or ``to_dict`` output).
        source: What the tree came from (a file, an override), named in the error.

    Returns:
        The validated config.

    Raises:
        ConfigError: The tree is not a valid config.
    """
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e, tree)}") from None


# Old keys a new lever replaced: an override of one sets the new key (in a file, the table's
# validator translates it, and refuses a file that sets both inconsistently).
ALIASES = {
    "data_commons": ("data_to", lambda old: "commons" if old else "funded_labs"),
    "licence_irrevocable": ("regulation.irrevocable_licences", lambda old: old),
}


def _new_key(key: str, value: Any) -> tuple[str, Any]:
    """The key and value an override of an old key stands for (others unchanged)."""
    parts = key.split(".")
    in_institution = (len(parts) == 2 and parts[0] == "public") or (
        len(parts) == 3 and parts[0] == "institutions"
    )
    if not in_institution or parts[-1] not in ALIASES or not isinstance(value, bool):
        return key, value
    new, translate = ALIASES[parts[-1]]
    if new.startswith("regulation."):
        return (new, translate(value)) if parts[0] == "public" else (key, value)
    return ".".join([*parts[:-1], new]), translate(value)


def apply_override(tree: dict, key: str, value: Any, source: str = "--set") -> dict:
    """Return a copy of ``tree`` with the dotted ``key`` set; the key must already exist.

    An old key a new lever replaced (``public.data_commons``) sets the new one.
    """
    key, value = _new_key(key, value)
    parts = key.split(".")
    out = _merge(tree, {})
    node = out
    schema_node: Any = Config
    for i, part in enumerate(parts):
        known = _known_keys(schema_node, node)
        if part not in known:
            where = ".".join(parts[:i]) or "the top level"
            raise ConfigError(
                f"{source} {key}: unknown key {part!r} in {where}{_suggest(part, known)}"
            )
        if i == len(parts) - 1:
            node[part] = value
        else:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
            schema_node = _child_schema(schema_node, part)
    return out


def _known_keys(schema_node: Any, node: dict) -> list[str]:
    if isinstance(schema_node, type) and issubclass(schema_node, BaseModel):
        return list(schema_node.model_fields)
    return list(node)  # a dict table (labs, hosters, groups): its entries


def _child_schema(schema_node: Any, part: str) -> Any:
    """The schema below ``part``: a model class, or {"__value__": T} for a table or array of T."""
    if isinstance(schema_node, dict):
        return schema_node["__value__"]
    if isinstance(schema_node, type) and issubclass(schema_node, BaseModel):
        ann = schema_node.model_fields[part].annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        origin, args = getattr(ann, "__origin__", None), getattr(ann, "__args__", ())
        if origin in (dict, list) and args:
            return {"__value__": args[-1]}
    return None


def _suggest(word: str, options: list[str]) -> str:
    return did_you_mean(word, options, cutoff=0.5)


def _describe(err: ValidationError, tree: dict) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        parent = first["loc"][:-1]
        options = _fields_at(parent, tree)
        return f"unknown key {loc!r}{_suggest(str(first['loc'][-1]), options)}"
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    return f"key {loc!r}: {msg}{shown}" if loc else msg


def _fields_at(loc: tuple, tree: dict) -> list[str]:
    schema: Any = Config
    for part in loc:
        schema = _child_schema(schema, str(part)) if schema is not None else None
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return list(schema.model_fields)
    return []


def to_dict(config: Config) -> dict[str, Any]:
    """The config as plain JSON-able data (the form batches store and workers receive)."""
    return config.model_dump(mode="json")


def lookup(tree: dict[str, Any], key: str) -> Any:
    """The value at a dotted key of a config as plain data (``to_dict``).

    Raises:
        KeyError: the tree has no such key.
    """
    node: Any = tree
    try:
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        raise KeyError(key) from None
    return node


def toml_text(value: Any) -> str:
    """``value`` written as a TOML value, so ``--set KEY=<text>`` reads it back unchanged.

    Raises:
        ConfigError: a value TOML cannot hold (None, an arbitrary object).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} as a TOML value")
