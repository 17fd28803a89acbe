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
RESERVED_NAMES = frozenset({"top_release", "top_decile_share", "private"})
LICENCES = ("open", "restricted", "closed")

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class ConfigError(UsageError):
    """A scenario or override that cannot be used; the message is one line for the user."""


class Strict(BaseModel):
    # strict: a string, bool or float where a number, flag or count is expected is an error
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


class Simulation(Strict):
    steps: Annotated[int, Field(ge=1)] = 120
    researchers: Annotated[int, Field(ge=1)] = 10_000
    researchers_represented: Positive = 200_000.0


class Market(Strict):
    gpu_price_usd_per_hour: Positive = 2.85
    gpu_cost_decline_per_year: Share = 0.20
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
    """Capability is log10 of effective training compute (GPU-hours x algorithmic efficiency)."""

    algorithmic_efficiency_per_year: Annotated[float, Field(ge=1.0)] = 3.0
    size_penalty: NonNegative = 0.5
    capable_gap: NonNegative = 1.5
    standard_adjust_months: Annotated[float, Field(ge=1.0)] = 6.0
    language_penalty: NonNegative = 1.0


class Tasks(Strict):
    """Resource needs of the three tasks, per billion parameters of the model used."""

    run_memory_gb_per_b: Positive = 0.6
    finetune_memory_gb_per_b: Positive = 0.75
    deploy_memory_gb_per_b: Positive = 1.0
    gpu_memory_gb: Positive = 80.0
    run_gpu_hours_per_b: Positive = 0.1
    finetune_gpu_hours_per_b: Positive = 2.0
    deploy_hours_per_month: Positive = 730.0
    migration_cost_months: NonNegative = 1.0
    abandon_after_months: Annotated[int, Field(ge=0)] = 12


class LicenceTerms(Strict):
    finetune: bool = True
    max_deploy_users: NonNegative = 7e8


class Licences(Strict):
    open: LicenceTerms = LicenceTerms()
    restricted: LicenceTerms = LicenceTerms()


class LabKind(Strict):
    count: Annotated[int, Field(ge=0)] = 1
    income_usd_per_month: NonNegative = 0.0
    income_sigma: NonNegative = 0.5
    income_growth_per_year: Positive = 1.0
    income_ceiling_usd_per_month: Positive | None = None
    initial_training_gpu_hours: NonNegative = 1e5  # 0: a new lab with no model yet
    training_spend_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    min_release_interval_months: Annotated[int, Field(ge=1)] = 6
    min_improvement: NonNegative = 0.25
    licence: Literal["open", "restricted", "closed"] = "open"
    weights: bool = True
    close_within_gap: NonNegative | None = None
    close_probability: Share = 1.0
    revoke_when_closing: Share = 0.0
    variant_params_b: Annotated[list[Positive], Field(min_length=1)] = [7.0]
    underserved_language_fit: Share = 0.3
    absorb_effort: Share = 1.0
    talent: Positive = 1.0
    api_capacity_gpu_hours_per_month: NonNegative = 0.0
    api_markup: Annotated[float, Field(ge=1.0)] = 2.0

    @model_validator(mode="after")
    def _closed_means_api(self) -> LabKind:
        if self.licence == "closed" and self.weights:
            raise ValueError("a closed licence releases no weights: set weights = false")
        return self


class HosterKind(Strict):
    kind: Literal["commercial", "public"] = "commercial"
    count: Annotated[int, Field(ge=0)] = 1
    capacity_gpu_hours_per_month: NonNegative = 1e6
    markup: Annotated[float, Field(ge=1.0)] = 1.3
    max_listed: Annotated[int, Field(ge=0)] = 20
    serves_groups: list[str] | None = None


class Group(Strict):
    share: Share
    budget_median_usd: NonNegative
    budget_sigma: NonNegative = 1.0
    hardware_none_share: Share = 0.5
    hardware_median_gb: NonNegative = 24.0
    hardware_sigma: NonNegative = 0.8
    skill_mean: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    skill_concentration: Positive = 4.0
    underserved_language_share: Share = 0.1
    deploy_users_median: Positive = 1_000.0
    commercial_price_friction: Annotated[float, Field(ge=1.0)] = 1.0


class Contributions(Strict):
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


class Adoption(Strict):
    capability_weight: NonNegative = 2.0
    openness_weight: NonNegative = 0.5
    popularity_weight: NonNegative = 0.5
    cost_weight: NonNegative = 0.5
    review_probability: Share = 0.2


class StageSplit(Strict):
    pretraining: Share = 0.4
    inference: Share = 0.2
    posttraining: Share = 0.1
    deployment: Share = 0.2
    data: Share = 0.1

    @model_validator(mode="after")
    def _sums_to_one(self) -> StageSplit:
        total = sum(getattr(self, s) for s in STAGES)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the five stage shares must sum to 1, got {total:g}")
        return self


class Public(Strict):
    mode: Literal[
        "none",
        "outsourced_provision",
        "networked_collaboration",
        "state_backed_integration",
        "public_option",
    ] = "none"
    budget_usd_per_month: NonNegative = 0.0
    stage_split: StageSplit = StageSplit()
    overhead: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    capture_risk: Share = 0.0
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
    # governance
    data_commons: bool = False
    licence_irrevocable: bool = False
    # private commitment
    release_commitment: bool = False


class Event(Strict):
    month: Annotated[int, Field(ge=0)]
    type: Literal["licence_revocation", "delist", "leave_region", "price_shock", "budget_cut"]
    lab_kind: str | None = None
    hoster_kind: str | None = None
    group: str | None = None
    factor: Positive = 1.0


class Config(Strict):
    description: str = ""
    extends: str | None = None
    simulation: Simulation = Simulation()
    market: Market = Market()
    capability: Capability = Capability()
    tasks: Tasks = Tasks()
    licences: Licences = Licences()
    labs: dict[str, LabKind]
    hosters: dict[str, HosterKind]
    groups: dict[str, Group]
    contributions: Contributions = Contributions()
    adoption: Adoption = Adoption()
    public: Public = Public()
    events: list[Event] = []

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        for table in ("labs", "hosters", "groups"):
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
        if not any(k.count for k in self.labs.values()):
            raise ValueError("at least one lab is needed (labs.*.count)")
        _known("public.funded_lab_kinds", self.public.funded_lab_kinds, self.labs)
        _known("public.eligible_groups", self.public.eligible_groups, self.groups)
        if self.public.reserved_group is not None:
            _known("public.reserved_group", [self.public.reserved_group], self.groups)
        for name, h in self.hosters.items():
            if h.serves_groups is not None:
                _known(f"hosters.{name}.serves_groups", h.serves_groups, self.groups)
        spends = self.public.budget_usd_per_month > 0
        has_public_hoster = any(h.kind == "public" and h.count for h in self.hosters.values())
        if spends and self.public.compute_channel == "public_hoster" and not has_public_hoster:
            raise ValueError("public.compute_channel = 'public_hoster' needs a public hoster")
        for i, e in enumerate(self.events):
            where = f"events[{i}]"
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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML syntax error: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def _merge(base: dict, over: dict) -> dict:
    """Tables merge key by key; anything else (values, arrays) replaces the base."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _raw_tree(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle")
    raw = _read_toml(path)
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
    """Load, merge with its base, apply dotted-path overrides and validate a scenario;
    ``option`` names the command-line option the overrides came from in error messages."""
    path = scenario_path(name_or_path)
    tree = _raw_tree(path)
    config = validate(tree, source=str(path))
    if not overrides:
        return config
    for key, value in overrides.items():
        tree = apply_override(tree, key, value, source=option)
    try:
        return Config.model_validate(tree)
    except ValidationError as e:  # name the override(s) the error is about
        loc = ".".join(str(p) for p in e.errors()[0]["loc"])
        named = [k for k in overrides if k.startswith(loc) or loc.startswith(k)] or list(overrides)
        source = f"{option} " + ", ".join(f"{k}={overrides[k]!r}" for k in named)
        raise ConfigError(f"{source}: {_describe(e, tree)}") from None


def validate(tree: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e, tree)}") from None


def apply_override(tree: dict, key: str, value: Any, source: str = "--set") -> dict:
    """Return a copy of ``tree`` with the dotted ``key`` set; the key must already exist."""
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
