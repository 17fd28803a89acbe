"""The run plan of a batch: scenarios x sweep points x replicates, validated before anything runs.

Every scenario x sweep point config is resolved and validated here, so a typo in the thousandth
sweep point is an error before a directory is created or a worker started. Replicate seeds come
from one ``numpy.random.SeedSequence`` and are shared by every scenario and sweep point (common
random numbers), so policy differences within a replicate are paired.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shlex
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulation.cli import UsageError, parse_set, parse_value
from simulation.config import (
    ConfigError,
    apply_override,
    load_scenario,
    scenario_path,
    to_dict,
    validate,
)
from simulation.metrics import metric_names

PLAN_FORMAT = 1  # bump when the meaning of a plan (and so of its fingerprint) changes
ID_COLUMNS = ("scenario", "replicate", "seed")  # then one column per sweep key, then step


@dataclass(frozen=True)
class Sweep:
    """One ``--sweep KEY=V1,V2,...`` option: the values as typed and as parsed."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    """One scenario at one sweep point: its resolved, validated config."""

    scenario: str  # label: the scenario file's stem
    source: str  # the scenario argument as given (name or path), for ``run.py run``
    index: int
    sweep: dict[str, Any]  # sweep key -> validated value, in --sweep order
    set_items: tuple[str, ...]  # KEY=VALUE texts that reproduce this point with ``run.py run``
    config: dict[str, Any]


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    point: Point
    replicate: int
    seed: int

    def command(self, steps: int | None, researchers: int | None) -> str:
        """The ``run.py run`` command that reproduces this run alone."""
        argv = ["python", "run.py", "run", self.point.source, "--seed", str(self.seed)]
        if steps is not None:
            argv += ["--steps", str(steps)]
        if researchers is not None:
            argv += ["--researchers", str(researchers)]
        for item in self.point.set_items:
            argv += ["--set", item]
        return shlex.join(argv)


@dataclass(frozen=True)
class Plan:
    scenarios: dict[str, str]  # label -> source
    set_items: tuple[str, ...]
    sweeps: tuple[Sweep, ...]
    seed: int
    replicates: int
    steps: int | None
    researchers: int | None
    seeds: tuple[int, ...]
    points: tuple[Point, ...]
    runs: tuple[RunSpec, ...]
    fingerprint: str

    @property
    def sweep_keys(self) -> list[str]:
        return [s.key for s in self.sweeps]

    def describe(self) -> dict[str, Any]:
        """The plan as JSON-able data (for plan.json and batch.json)."""
        return {
            "format": PLAN_FORMAT,
            "fingerprint": self.fingerprint,
            "scenarios": self.scenarios,
            "set": list(self.set_items),
            "sweep": {s.key: list(s.texts) for s in self.sweeps},
            "seed": self.seed,
            "replicates": self.replicates,
            "replicate_seeds": list(self.seeds),
            "steps": self.steps,
            "researchers": self.researchers,
            "runs": len(self.runs),
        }


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """One integer seed per replicate: ``SeedSequence(seed).spawn(replicates)``, each child
    reduced to a 64-bit int so that any run can be repeated with ``run.py run --seed``."""
    children = np.random.SeedSequence(seed).spawn(replicates)
    return [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at top-level commas, so arrays and quoted strings may hold commas."""
    items: list[str] = []
    current: list[str] = []
    depth, quote, escaped = 0, "", False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return items


def parse_sweeps(items: list[str] | None) -> tuple[Sweep, ...]:
    sweeps: list[Sweep] = []
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        texts = split_values(raw) if raw.strip() else []
        if not sep or not key or not texts or any(not t for t in texts):
            raise UsageError(
                f"--sweep {item!r}: expected KEY=V1,V2,... with at least one value, "
                "e.g. public.budget_usd_per_month=0,1e7"
            )
        if len(set(texts)) != len(texts):
            raise UsageError(f"--sweep {item!r}: a value is given twice")
        if key in (s.key for s in sweeps):
            raise UsageError(f"--sweep {key}: given twice; list all its values in one --sweep")
        sweeps.append(Sweep(key, tuple(texts), tuple(parse_value(t) for t in texts)))
    return tuple(sweeps)


def build_plan(
    scenarios: list[str],
    *,
    set_items: list[str] | None = None,
    sweep_items: list[str] | None = None,
    seed: int = 0,
    replicates: int = 10,
    steps: int | None = None,
    researchers: int | None = None,
) -> Plan:
    """Resolve and validate every scenario x sweep point; raise UsageError/ConfigError if any
    cannot be used."""
    overrides = parse_set(set_items)
    sweeps = parse_sweeps(sweep_items)
    fixed = dict(overrides)
    if steps is not None:
        fixed["simulation.steps"] = steps
    if researchers is not None:
        fixed["simulation.researchers"] = researchers
    for s in sweeps:
        if s.key in fixed:
            given = "--set" if s.key in overrides else "--steps/--researchers"
            raise UsageError(f"--sweep {s.key}: also given with {given}; keep one")

    labels: dict[str, str] = {}
    for name in scenarios:
        label = scenario_path(name).stem
        if label in labels:
            raise UsageError(f"scenario {label!r} is given twice")
        labels[label] = str(name)

    set_texts = tuple(i.strip() for i in set_items or [])
    points: list[Point] = []
    for label, source in labels.items():
        base = load_scenario(source, fixed)
        _check_sweeps(label, base, sweeps)
        combos = itertools.product(*(range(len(s.values)) for s in sweeps))
        for index, combo in enumerate(combos):
            point = {s.key: s.values[i] for s, i in zip(sweeps, combo, strict=True)}
            try:
                config = to_dict(load_scenario(source, {**fixed, **point}))
            except ConfigError as e:
                shown = ", ".join(
                    f"{s.key}={s.texts[i]}" for s, i in zip(sweeps, combo, strict=True)
                )
                raise ConfigError(f"{label} at sweep point {shown}: {e}") from None
            texts = tuple(f"{s.key}={s.texts[i]}" for s, i in zip(sweeps, combo, strict=True))
            sweep_values = {k: _lookup(config, k, point[k]) for k in point}
            points.append(Point(label, source, index, sweep_values, set_texts + texts, config))

    seeds = replicate_seeds(seed, replicates)
    runs = tuple(
        RunSpec(f"{p.scenario}.p{p.index}.r{r}", p, r, seeds[r])
        for p in points
        for r in range(replicates)
    )
    return Plan(
        scenarios=labels,
        set_items=set_texts,
        sweeps=sweeps,
        seed=seed,
        replicates=replicates,
        steps=steps,
        researchers=researchers,
        seeds=tuple(seeds),
        points=tuple(points),
        runs=runs,
        fingerprint=fingerprint(seed, replicates, sweeps, points),
    )


def _check_sweeps(label: str, base, sweeps: tuple[Sweep, ...]) -> None:
    """Each sweep value on its own, so an error names the --sweep option and the value."""
    tree = to_dict(base)
    reserved = {*ID_COLUMNS, "step", *metric_names(list(base.groups), list(base.labs))}
    for s in sweeps:
        if s.key in reserved:
            raise UsageError(f"--sweep {s.key}: clashes with a result column of that name")
        for text, value in zip(s.texts, s.values, strict=True):
            source = f"--sweep {s.key}={text} ({label})"
            validate(apply_override(tree, s.key, value, source="--sweep"), source=source)


def _lookup(config: dict[str, Any], key: str, fallback: Any) -> Any:
    """The validated value at a dotted key (e.g. 1e7 and 10000000 both become 10000000.0), so a
    sweep column has one type whatever the user typed."""
    node: Any = config
    try:
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
    except (KeyError, IndexError, ValueError, TypeError):
        return fallback
    return node


def fingerprint(seed: int, replicates: int, sweeps: tuple[Sweep, ...], points: list[Point]) -> str:
    """What makes two batches "the same": the resolved configs, sweep, replicates and seed (steps
    and researchers are inside the configs); not the executor, worker count or verbosity."""
    data = {
        "format": PLAN_FORMAT,
        "seed": seed,
        "replicates": replicates,
        "sweep_keys": [s.key for s in sweeps],
        "points": [{"scenario": p.scenario, "sweep": p.sweep, "config": p.config} for p in points],
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
