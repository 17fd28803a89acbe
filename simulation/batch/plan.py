"""The run plan of a batch: scenarios x sweep points x replicates, validated before anything runs.

Every scenario x sweep point config is resolved and validated here, so a typo in the thousandth
sweep point is an error before a directory is created or a worker started. Replicate seeds come
from one ``numpy.random.SeedSequence`` and are shared by every scenario and sweep point (common
random numbers), so policy differences within a replicate are paired.

Two shapes of plan: :func:`build_plan` crosses scenarios with a full-factorial sweep (what
``run.py batch`` runs); :func:`design_plan` runs one scenario at a list of design points (what
validation, calibration and sensitivity analysis run).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulation.config import (
    MAX_RESEARCHERS,
    MAX_STEPS,
    ConfigError,
    apply_override,
    load_scenario,
    lookup,
    scenario_path,
    to_dict,
    toml_text,
    validate,
)
from simulation.errors import UsageError, check_whole
from simulation.layout import ID_COLUMNS, STEP, sweep_cell
from simulation.metrics import scenario_metric_names

PLAN_FORMAT = 1  # bump when the meaning of a plan (and so of its fingerprint) changes
MAX_REPLICATES = 100_000  # a plan lists every run: bound its size


@dataclass(frozen=True)
class RunSettings:
    """What every run of a batch shares, apart from its scenario and sweep point.

    Attributes:
        replicates: Runs per scenario and sweep point, each with its own seed.
        seed: Root of the replicate seeds.
        steps: Months per run (None: each config's ``simulation.steps``).
        researchers: Population size (None: each config's ``simulation.researchers``).
        overrides: Dotted config keys set in every run (``--set`` on the command line).
        record_agents: Researchers whose records each run keeps, with every lab's
            (``simulation.records``; None: no records). Part of what the batch computes.
    """

    replicates: int = 10
    seed: int = 0
    steps: int | None = None
    researchers: int | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    record_agents: int | None = None

    def __post_init__(self) -> None:
        """Reject settings no batch could run, when they are made rather than mid-batch.

        Raises:
            UsageError: A count that is not a whole number in range (a bool is not one), or
                overrides that are not a mapping of dotted keys.
        """
        check_whole("replicates", self.replicates, 1, MAX_REPLICATES)
        check_whole("seed", self.seed, 0)
        if self.steps is not None:
            check_whole("steps", self.steps, 1, MAX_STEPS)
        if self.researchers is not None:
            check_whole("researchers", self.researchers, 1, MAX_RESEARCHERS)
        if self.record_agents is not None:
            check_whole("record_agents", self.record_agents, 1, MAX_RESEARCHERS)
        if not isinstance(self.overrides, Mapping) or not all(
            isinstance(k, str) for k in self.overrides
        ):
            raise UsageError(
                f"overrides: expected a mapping of dotted keys, got {self.overrides!r}"
            )

    def fixed(self) -> dict[str, Any]:
        """The overrides every run gets: ``overrides`` plus steps and researchers.

        Raises:
            UsageError: ``steps`` or ``researchers`` contradicts an override of the same key.
        """
        fixed = dict(self.overrides)
        for key, value, option in (
            ("simulation.steps", self.steps, "--steps"),
            ("simulation.researchers", self.researchers, "--researchers"),
        ):
            if value is None:
                continue
            if key in fixed and fixed[key] != value:
                raise UsageError(
                    f"{option} {value} conflicts with --set {key}={fixed[key]!r}; give one of them"
                )
            fixed[key] = value
        return fixed


@dataclass(frozen=True)
class Point:
    """One scenario at one sweep point: its resolved, validated config.

    Attributes:
        scenario: Label, the scenario file's stem.
        source: The scenario as given (name or path), for ``run.py run``.
        index: Position of the sweep point (or design row) within its scenario.
        sweep: Sweep key -> validated value.
        set_items: ``KEY=VALUE`` texts that reproduce this point with ``run.py run --set``.
        config: The resolved config as plain data.
    """

    scenario: str
    source: str
    index: int
    sweep: dict[str, Any]
    set_items: tuple[str, ...]
    config: dict[str, Any]


@dataclass(frozen=True)
class RunSpec:
    """One run: a point, a replicate and its seed; ``run_id`` names its shard."""

    run_id: str
    point: Point
    replicate: int
    seed: int

    def key(self) -> tuple[Any, ...]:
        """What this run's shard holds in its first row: scenario, replicate, seed, sweep values."""
        sweep = (sweep_cell(v)[0] for v in self.point.sweep.values())
        return (self.point.scenario, self.replicate, self.seed, *sweep)

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a manifest record names this run (scenario, sweep point, replicate, seed)."""
        return (
            record.get("scenario"),
            record.get("replicate"),
            record.get("seed"),
            _canonical(record.get("sweep")),
        ) == (self.point.scenario, self.replicate, self.seed, _canonical(self.point.sweep))

    def command(self, settings: RunSettings) -> str:
        """The ``run.py run`` command that reproduces this run alone."""
        argv = ["python", "run.py", "run", self.point.source, "--seed", str(self.seed)]
        if settings.steps is not None:
            argv += ["--steps", str(settings.steps)]
        if settings.researchers is not None:
            argv += ["--researchers", str(settings.researchers)]
        for item in self.point.set_items:
            argv += ["--set", item]
        return shlex.join(argv)


@dataclass(frozen=True)
class Plan:
    """Every run of a batch, validated, with the fingerprint that identifies the batch.

    Attributes:
        scenarios: Scenario label -> source (name or path).
        settings: What every run shares.
        sweep: Sweep key -> its values: the factor levels of a factorial plan, one value per
            design row of a design plan.
        factorial: Whether the points are the full factorial of ``sweep`` (``run.py batch``).
        seeds: One seed per replicate, shared by every point.
        points: Every scenario x sweep point.
        runs: Every point x replicate, in plan order.
        fingerprint: What makes two batches the same (see :func:`fingerprint`).
    """

    scenarios: dict[str, str]
    settings: RunSettings
    sweep: dict[str, tuple[Any, ...]]
    factorial: bool
    seeds: tuple[int, ...]
    points: tuple[Point, ...]
    runs: tuple[RunSpec, ...]
    fingerprint: str

    @property
    def sweep_keys(self) -> list[str]:
        """The swept config keys, in order: one results column each."""
        return list(self.sweep)

    def describe(self) -> dict[str, Any]:
        """The plan as JSON-able data (for plan.json and batch.json)."""
        s = self.settings
        return {
            "format": PLAN_FORMAT,
            "fingerprint": self.fingerprint,
            "scenarios": self.scenarios,
            "set": [f"{k}={toml_text(v)}" for k, v in s.overrides.items()],
            "sweep": {k: [toml_text(v) for v in values] for k, values in self.sweep.items()},
            "seed": s.seed,
            "replicates": s.replicates,
            "replicate_seeds": list(self.seeds),
            "steps": s.steps,
            "researchers": s.researchers,
            "record_agents": s.record_agents,
            "runs": len(self.runs),
        }

    def command(self, out: Path) -> str | None:
        """The ``run.py batch`` command that runs this plan (None for a design plan)."""
        if not self.factorial:
            return None
        s = self.settings
        argv = ["python", "run.py", "batch", *self.scenarios.values()]
        argv += ["--replicates", str(s.replicates), "--seed", str(s.seed)]
        if s.steps is not None:
            argv += ["--steps", str(s.steps)]
        if s.researchers is not None:
            argv += ["--researchers", str(s.researchers)]
        for key, value in s.overrides.items():
            argv += ["--set", f"{key}={toml_text(value)}"]
        for key, values in self.sweep.items():
            argv += ["--sweep", f"{key}={','.join(toml_text(v) for v in values)}"]
        if s.record_agents is not None:
            argv += ["--record-agents", str(s.record_agents)]
        return shlex.join([*argv, "--out", str(out)])


def _canonical(value: Any) -> str:
    """``value`` as canonical JSON, so a record read back compares equal to the plan's."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """One integer seed per replicate, spawned from one root seed.

    ``SeedSequence(seed).spawn(replicates)``, each child reduced to a 64-bit int so that any run
    can be repeated with ``run.py run --seed``.

    Args:
        seed: The batch's root seed.
        replicates: How many seeds.

    Returns:
        The seeds, in replicate order.
    """
    children = np.random.SeedSequence(seed).spawn(replicates)
    return [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]


def build_plan(
    scenarios: Sequence[str | Path],
    settings: RunSettings | None = None,
    sweep: Mapping[str, Sequence[Any]] | None = None,
) -> Plan:
    """Every scenario crossed with the full factorial of ``sweep``, each validated.

    Args:
        scenarios: Names in scenarios/ or paths to TOML files.
        settings: Replicates, seed, steps, researchers and overrides (default: RunSettings()).
        sweep: Dotted config key -> the values to run it at.

    Raises:
        UsageError: an impossible sweep or a scenario given twice.
        ConfigError: a scenario, key or value the config does not accept, at any point.
    """
    settings = settings or RunSettings()
    sweep = _check_sweep(sweep or {})
    fixed = settings.fixed()
    for key in sweep:
        if key in fixed:
            given = "--set" if key in settings.overrides else "--steps/--researchers"
            raise UsageError(f"--sweep {key}: also given with {given}; keep one")
    if not scenarios:
        raise UsageError("no scenario given")
    labels: dict[str, str] = {}
    for name in scenarios:
        label = scenario_path(name).stem
        if label in labels:
            raise UsageError(f"scenario {label!r} is given twice")
        labels[label] = str(name)

    fixed_texts = tuple(f"{k}={toml_text(v)}" for k, v in settings.overrides.items())
    points: list[Point] = []
    for label, source in labels.items():
        base = load_scenario(source, fixed)
        _check_sweep_values(label, base, sweep)
        for index, combo in enumerate(itertools.product(*sweep.values())):
            point = dict(zip(sweep, combo, strict=True))
            texts = tuple(f"{k}={toml_text(v)}" for k, v in point.items())
            try:
                config = to_dict(load_scenario(source, {**fixed, **point}))
            except ConfigError as e:
                raise ConfigError(f"{label} at sweep point {', '.join(texts)}: {e}") from None
            values = {k: _lookup(config, k, point[k]) for k in point}
            points.append(Point(label, source, index, values, fixed_texts + texts, config))
    return _plan(labels, settings, sweep, points, factorial=True)


def design_plan(
    scenario: str | Path,
    points: Sequence[Mapping[str, Any]],
    settings: RunSettings | None = None,
) -> Plan:
    """One scenario at each of a list of design points (config overrides), each validated.

    Args:
        scenario: A name in scenarios/ or a path to a TOML file.
        points: One mapping of dotted keys to values per design row; all with the same keys.
        settings: Replicates, seed, steps, researchers and overrides every point shares.

    Raises:
        UsageError: no points, or points with different keys.
        ConfigError: a key or value the config does not accept, at any point.
    """
    settings = settings or RunSettings()
    if not points:
        raise UsageError("a design needs at least one point")
    keys = list(points[0])
    if any(list(p) != keys for p in points):
        raise UsageError("every design point must set the same keys, in the same order")
    fixed = settings.fixed()
    label = scenario_path(scenario).stem
    load_scenario(scenario, fixed)
    fixed_texts = tuple(f"{k}={toml_text(v)}" for k, v in settings.overrides.items())
    built: list[Point] = []
    for index, point in enumerate(points):
        try:
            config = to_dict(load_scenario(scenario, {**fixed, **point}))
        except ConfigError as e:
            shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ConfigError(f"design point {index} ({shown}): {e}") from None
        texts = fixed_texts + tuple(f"{k}={toml_text(v)}" for k, v in point.items())
        built.append(Point(label, str(scenario), index, dict(point), texts, config))
    sweep = {k: tuple(p[k] for p in points) for k in keys}
    return _plan({label: str(scenario)}, settings, sweep, built, factorial=False)


def _plan(
    labels: dict[str, str],
    settings: RunSettings,
    sweep: dict[str, tuple[Any, ...]],
    points: list[Point],
    factorial: bool,
) -> Plan:
    seeds = replicate_seeds(settings.seed, settings.replicates)
    runs = tuple(
        RunSpec(f"{p.scenario}.p{p.index}.r{r}", p, r, seeds[r])
        for p in points
        for r in range(settings.replicates)
    )
    return Plan(
        scenarios=labels,
        settings=settings,
        sweep=sweep,
        factorial=factorial,
        seeds=tuple(seeds),
        points=tuple(points),
        runs=runs,
        fingerprint=fingerprint(
            settings.seed, settings.replicates, list(sweep), points, settings.record_agents
        ),
    )


def _check_sweep(sweep: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    """Each key a string with a non-empty list of distinct values."""
    checked: dict[str, tuple[Any, ...]] = {}
    for key, values in sweep.items():
        if not isinstance(key, str) or not key:
            raise UsageError(f"--sweep {key!r}: expected a dotted config key")
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
            raise UsageError(f"--sweep {key}: expected a list of values, got {values!r}")
        if not values:
            raise UsageError(f"--sweep {key}: expected at least one value")
        texts = [toml_text(v) for v in values]
        if len(set(texts)) != len(texts):
            raise UsageError(f"--sweep {key}: a value is given twice")
        checked[key] = tuple(values)
    return checked


def _check_sweep_values(label: str, base, sweep: dict[str, tuple[Any, ...]]) -> None:
    """Each sweep value on its own, so an error names the --sweep option and the value."""
    tree = to_dict(base)
    reserved = {*ID_COLUMNS, STEP, *scenario_metric_names(base)}
    for key, values in sweep.items():
        if key in reserved:
            raise UsageError(f"--sweep {key}: clashes with a result column of that name")
        for value in values:
            source = f"--sweep {key}={toml_text(value)} ({label})"
            validate(apply_override(tree, key, value, source="--sweep"), source=source)


def _lookup(config: dict[str, Any], key: str, fallback: Any) -> Any:
    """The validated value at a dotted key, or ``fallback`` if the config has no such key.

    Reading it back from the validated config (where 1e7 and 10000000 both become 10000000.0)
    gives a sweep column one type whatever the user typed.
    """
    try:
        return lookup(config, key)
    except KeyError:
        return fallback


def fingerprint(
    seed: int,
    replicates: int,
    sweep_keys: list[str],
    points: list[Point],
    record_agents: int | None = None,
) -> str:
    """A short hash of what makes two batches "the same", to tell a resume from a new batch.

    The resolved configs, sweep, replicates and seed count (steps and researchers are inside the
    configs), and the agent records asked for; not the executor, worker count or verbosity. A
    batch without records keeps the fingerprint it had before records existed.

    Args:
        seed: The batch's root seed.
        replicates: Runs per scenario and sweep point.
        sweep_keys: The swept dotted keys, in order.
        points: Every scenario at every sweep point, with its resolved config.
        record_agents: Researchers recorded per run (None: no records).

    Returns:
        The first 16 hex digits of a SHA-256 over them.
    """
    data = {
        "format": PLAN_FORMAT,
        "seed": seed,
        "replicates": replicates,
        "sweep_keys": sweep_keys,
        "points": [{"scenario": p.scenario, "sweep": p.sweep, "config": p.config} for p in points],
    }
    if record_agents is not None:
        data["record_agents"] = record_agents
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
