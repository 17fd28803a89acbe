"""``run.py calibrate``: fit the free parameters the targets constrain, by a designed search.

Objective (documented in docs/validation.md): the sum over targets of the squared normalised
distance of the replicate mean outside the target range shrunk by ``margin`` range-widths on each
side (analysis/fitting/targets.py: ``Target.distance``), in log space for ratios and growth
rates. The margin makes the fit aim inside the ranges, so that a point fitted at a small
population does not sit on an edge it may cross at the default population.

Search: a Latin hypercube over the parameter box (log scale where the file says so; scipy's
``qmc.LatinHypercube``), then rounds of smaller Latin hypercubes centred on the best point so far,
each round's box half as wide. Every round is one batch through the batch machinery (parallel,
Dask, resumable) that runs each point in every scenario the targets need (a target may name its
own scenario; each is scored on its scenario's runs), and all points and scenarios share the
replicate seeds (common random numbers), so differences between points are not replicate noise.
The best point is rounded to three significant figures and evaluated once more; that evaluation
is what fitted.toml reports. The search itself is :func:`search`, a function of an objective
callback, so tests can drive it with a cheap synthetic objective through the same code path.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.fitting import (
    CALIBRATE_BUDGET,
    CALIBRATE_OUT,
    CALIBRATE_REPLICATES,
    CALIBRATE_SEED,
    FIT_RESEARCHERS,
    FITTED_FILE,
    TARGETS_FILE,
)
from analysis.fitting.points import Runner, open_runner, run_points
from analysis.fitting.targets import (
    TargetSet,
    load_targets,
    objective,
    scenario_label,
    target_values,
)
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings
from simulation.config import ConfigError, load_scenario, lookup, to_dict, toml_text
from simulation.errors import UsageError
from simulation.files import check_writable_dir, write_text
from simulation.provenance import code_revision

ROUNDS = 4  # refinement rounds after the global design
SHRINK = 0.5  # each round's box is this fraction of the previous one's width


@dataclass(frozen=True)
class Parameter:
    """A free parameter of the fit, searched in [low, high] on a linear or log scale.

    One or more config keys are set to the same value (``keys`` ties them).

    Attributes:
        keys: The config keys it sets; the first names it.
        low: Lowest value searched.
        high: Highest value searched.
        log: Search on a log scale, evenly over orders of magnitude.
        why: What it moves among the targets, in words (the file's ``why``).
        integer: The keys hold whole numbers (the config refuses 3.0 for a count), so values
            are rounded; set by :func:`parameters_from` from the config itself.
    """

    keys: tuple[str, ...]
    low: float
    high: float
    log: bool = False
    why: str = ""
    integer: bool = False

    @property
    def name(self) -> str:
        """Its name in tables and fitted.toml: its first key."""
        return self.keys[0]

    def from_unit(self, u: float) -> float:
        """The value at ``u`` in [0, 1] of its range, on its scale.

        The search works in the unit cube, so every parameter gets the same resolution
        whatever its range.
        """
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return self.cast(value)

    def cast(self, value: float) -> float:
        """``value`` as the config takes it: rounded to a whole number for an integer key."""
        return int(round(value)) if self.integer else float(value)

    def to_unit(self, value: float) -> float:
        """Where ``value`` lies in its range, from 0 to 1: the inverse of ``from_unit``."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def overrides(self, value: float) -> dict[str, float]:
        """The config overrides that set every tied key to ``value``."""
        return dict.fromkeys(self.keys, self.cast(value))


def parameters_from(targets: TargetSet) -> list[Parameter]:
    """The ``[[calibration.parameter]]`` tables of the targets file, checked.

    The list is data: a parameter is added to the fit by adding a table (``keys``, ``low``,
    ``high``, optionally ``scale`` and ``why``), with no change here. Each key must exist and
    accept both ends of its range in every scenario the targets need, since every design point
    runs in each of them; a key holding a whole number is searched over whole numbers.
    """
    where = f"{targets.path}: calibration.parameter"
    entries = targets.calibration.get("parameter", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: expected one or more [[calibration.parameter]] tables")
    params = []
    for e in entries:
        keys = e.get("keys")
        low, high = e.get("low"), e.get("high")
        if not (isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys)):
            raise ConfigError(f"{where}: 'keys' must be a list of config keys")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            raise ConfigError(f"{where} {keys[0]}: 'low' and 'high' must be numbers")
        if low >= high:
            raise ConfigError(f"{where} {keys[0]}: 'low' must be below 'high'")
        scale = e.get("scale", "linear")
        if scale not in ("linear", "log") or (scale == "log" and low <= 0):
            raise ConfigError(f"{where} {keys[0]}: 'scale' must be 'linear' or 'log' (low > 0)")
        params.append(Parameter(tuple(keys), float(low), float(high), scale == "log",
                                str(e.get("why", ""))))  # fmt: skip
    scenarios = targets.scenarios()
    tree = to_dict(load_scenario(scenarios[0]))
    checked = []
    for p in params:
        try:
            integer = all(
                isinstance(v, int) and not isinstance(v, bool)
                for v in (lookup(tree, k) for k in p.keys)
            )
        except (KeyError, TypeError):
            integer = False  # not a key: load_scenario below says so, with a suggestion
        p = replace(p, integer=integer)
        for scenario in scenarios:  # every key must exist and accept both ends of its range
            for v in (p.low, p.high):
                load_scenario(scenario, p.overrides(v))
        checked.append(p)
    return checked


# ---------------------------------------------------------------------------------------------
# The search


@dataclass(frozen=True)
class Evaluation:
    """One scored point of the search.

    Attributes:
        round: Search round (0: the global design).
        unit: The point in the unit cube.
        objective: Its objective.
        details: Per-target replicate means (display units) and anything else to report.
    """

    round: int
    unit: np.ndarray  # the point in the unit cube
    objective: float
    details: dict[str, float]  # per-target replicate means (display units) and anything else


ObjectiveFn = Callable[[int | str, np.ndarray], list[tuple[float, dict[str, float]]]]


def search(evaluate: ObjectiveFn, dims: int, budget: int, seed: int) -> list[Evaluation]:
    """Search the unit cube for the lowest objective, in shrinking Latin hypercubes.

    A global Latin hypercube of half the budget, then ``ROUNDS`` shrinking hypercubes around the
    best point so far. ``evaluate(round, points)`` scores a batch of unit-cube points; the search
    is deterministic given ``seed`` and the scores.

    Args:
        evaluate: Scores a round's points: objective and details for each.
        dims: Number of parameters.
        budget: Points to evaluate in all.
        seed: Seeds every round's design.

    Returns:
        Every evaluation, in the order made.

    Raises:
        ValueError: ``budget`` is below 2.
    """
    if budget < 2:
        raise ValueError("budget must be at least 2")
    rngs = np.random.SeedSequence(seed).spawn(ROUNDS + 1)
    first = max(2, budget // 2)
    rest = budget - first
    sizes = [first] + [rest // ROUNDS + (1 if r < rest % ROUNDS else 0) for r in range(ROUNDS)]
    history: list[Evaluation] = []
    half = 0.5
    for r, size in enumerate(sizes):
        if size == 0:
            continue
        if r == 0:
            low, high = np.zeros(dims), np.ones(dims)
        else:
            half *= SHRINK
            centre = best(history).unit
            low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
        cube = _latin_hypercube(d=dims, seed=np.random.default_rng(rngs[r])).random(size)
        points = low + cube * (high - low)
        for unit, (value, details) in zip(points, evaluate(r, points), strict=True):
            history.append(Evaluation(r, unit, value, details))
    return history


def _latin_hypercube(d: int, seed: np.random.Generator):
    """The Latin hypercube sampler of scipy, imported on first use (it takes most of a second)."""
    from scipy.stats import qmc  # noqa: PLC0415

    return qmc.LatinHypercube(d=d, seed=seed)


def best(history: Sequence[Evaluation]) -> Evaluation:
    """The lowest objective; ties go to the earliest evaluation (deterministic)."""
    return min(history, key=lambda e: e.objective if np.isfinite(e.objective) else math.inf)


def round_sig(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant figures; 0, NaN and infinities unchanged.

    Args:
        value: The number to round.
        digits: Significant figures to keep.
    """
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


# ---------------------------------------------------------------------------------------------
# The simulation as the objective


def point_scores(
    results: pd.DataFrame, targets: TargetSet, margin: float
) -> list[tuple[float, dict[str, float]]]:
    """Objective and per-target replicate means (display units) for each design point.

    Each target is computed on its own scenario's runs of the point (``target_values``).
    """
    values = target_values(results, targets, by=["point"])
    out = []
    for _, runs in values.groupby("point", sort=True):
        means = {t.name: float(np.mean(runs[t.name])) for t in targets.targets}
        shown = {t.name: t.to_shown(means[t.name]) for t in targets.targets}
        out.append((objective(means, targets.targets, margin), shown))
    return out


def model_objective(
    runner: Runner,
    targets: TargetSet,
    params: Sequence[Parameter],
    out: Path,
    margin: float,
) -> ObjectiveFn:
    """Score unit-cube points by running the model: one batch directory per search round."""

    def evaluate(round_: int | str, points: np.ndarray) -> list[tuple[float, dict[str, float]]]:
        overrides = [to_overrides(params, u) for u in points]
        name = f"round{round_}" if isinstance(round_, int) else str(round_)
        results = run_points(runner, overrides, out / name)
        return point_scores(results, targets, margin)

    return evaluate


def to_overrides(params: Sequence[Parameter], unit: np.ndarray) -> dict[str, float]:
    """The config overrides for a point of the unit cube, values to six significant figures.

    Args:
        params: The parameters, in the order of the cube's dimensions.
        unit: The point.

    Returns:
        Dotted key -> value, for every key of every parameter.
    """
    out: dict[str, float] = {}
    for p, u in zip(params, unit, strict=True):
        out.update(p.overrides(round_sig(p.from_unit(float(u)), 6)))
    return out


# ---------------------------------------------------------------------------------------------
# The command


@dataclass(frozen=True)
class Fit:
    """A calibration's result.

    Attributes:
        values: Parameter name -> fitted value (rounded to 3 significant figures).
        objective: The objective at the fitted values.
        details: Per-target replicate means at the fitted values (display units).
        history: Every evaluation of the search.
        text: The fitted.toml written (empty until written).
        files: What was written.
    """

    values: dict[str, float]
    objective: float
    details: dict[str, float]
    history: list[Evaluation]
    text: str = ""
    files: tuple[Path, ...] = ()


def calibrate(
    runner: Runner,
    targets: TargetSet,
    params: Sequence[Parameter],
    *,
    budget: int,
    margin: float,
    out: Path,
    say: Callable[[str], None] = print,
) -> Fit:
    """The search, with the model as objective: one batch directory per round in ``out``."""
    evaluate = model_objective(runner, targets, params, out, margin)

    def logged(round_: int | str, points: np.ndarray) -> list[tuple[float, dict[str, float]]]:
        say(
            f"round {round_}: {len(points)} points x {len(runner.scenarios)} scenario(s) x "
            f"{runner.settings.replicates} replicates"
        )
        scores = evaluate(round_, points)
        say(f"  best objective this round: {min(s[0] for s in scores):.4g}")
        return scores

    history = search(logged, len(params), budget, runner.settings.seed)
    top = best(history)
    values = {
        p.name: p.cast(round_sig(p.from_unit(float(u))))
        for p, u in zip(params, top.unit, strict=True)
    }
    unit = np.array([p.to_unit(values[p.name]) for p in params])
    say("final: the best point, rounded to 3 significant figures")
    (final,) = evaluate("final", unit[None, :])
    return Fit(values, final[0], final[1], history)


def evaluations_frame(history: Sequence[Evaluation], params: Sequence[Parameter]) -> pd.DataFrame:
    """Every evaluation of the search as a table, written as evaluations.csv.

    Args:
        history: The evaluations.
        params: The parameters, to turn unit-cube points back into values.

    Returns:
        One row per evaluation: round, objective, parameter values and per-target means.
    """
    rows = []
    for e in history:
        row: dict[str, Any] = {"round": e.round, "objective": e.objective}
        row.update({p.name: p.from_unit(float(u)) for p, u in zip(params, e.unit, strict=True)})
        row.update(e.details)
        rows.append(row)
    return pd.DataFrame(rows)


def fitted_toml(
    fit: Fit, targets: TargetSet, params: Sequence[Parameter], meta: dict[str, Any]
) -> str:
    """fitted.toml: the values, how they were obtained, and what they achieve."""
    hit = sum(t.passes(fit.details[t.name]) for t in targets.targets)
    lines = [
        "# Written by `run.py calibrate` (analysis/fitting/calibrate.py). scenarios/base.toml",
        "# takes the defaults of these parameters from here; see docs/validation.md.",
        "",
        "[provenance]",
        *(f"{k} = {toml_text(v)}" for k, v in meta.items()),
        f"objective = {toml_text(round_sig(fit.objective, 4))}",
        f"targets_hit = {hit}",
        f"targets_total = {len(targets.targets)}",
        "",
        "[parameters]  # tied keys share one value",
    ]
    for p in params:
        for key in p.keys:
            lines.append(f'"{key}" = {toml_text(fit.values[p.name])}')
    lines += ["", "[targets]  # replicate means at the fitted values, each on its scenario's runs"]
    for t in targets.targets:
        v = fit.details[t.name]
        lines.append(
            f"{t.name} = {{ scenario = {toml_text(scenario_label(targets.scenario_of(t)))}, "
            f"value = {toml_text(round_sig(v, 4))}, "
            f"range = {toml_text(t.range_text())}, pass = {toml_text(t.passes(v))} }}"
        )
    return "\n".join(lines) + "\n"


def run_calibration(
    targets: str | Path = TARGETS_FILE,
    settings: RunSettings | None = None,
    out: str | Path = CALIBRATE_OUT,
    execution: Execution | None = None,
    budget: int = CALIBRATE_BUDGET,
    fitted: str | Path = FITTED_FILE,
    say: Callable[[str], None] = print,
) -> Fit:
    """Fit the targets file's free parameters and write the fit.

    Args:
        targets: The targets file, with its ``[[calibration.parameter]]`` ranges.
        settings: Replicates (default 8), seed (default 1), steps, researchers (default
            3,000) and overrides of every run.
        out: Where the search rounds, evaluations.csv and a copy of the fit go.
        execution: Workers, scheduler, force (quiet is taken from here for the round lines).
        budget: Design points to evaluate.
        fitted: Where the fit is written (scenarios/base.toml takes its values from there).
        say: Where progress lines go.

    Returns:
        The fitted values, their objective and per-target values, and the search history.
    """
    settings = settings or RunSettings(
        replicates=CALIBRATE_REPLICATES, seed=CALIBRATE_SEED, researchers=FIT_RESEARCHERS
    )
    execution = execution or Execution()
    target_set = load_targets(targets)
    params = parameters_from(target_set)
    margin = float(target_set.calibration.get("margin", 0.1))
    out, fitted = Path(out), Path(fitted)
    if execution.quiet:
        say = _silent
    if budget < 2:
        raise UsageError(f"budget: expected at least 2 design points, got {budget}")
    check_writable_dir(fitted.parent, "--fitted")  # written last: check it before computing
    check_writable_dir(out)
    scenarios = target_set.scenarios()
    labels = [scenario_label(s) for s in scenarios]
    with open_runner(scenarios, settings, execution) as runner:
        config = runner.configs[scenarios[0]]
        steps = {s: c.simulation.steps for s, c in runner.configs.items()}
        for line in target_set.outside_runs(steps):
            print(f"warning: {line}", file=sys.stderr)
        say(
            f"calibrating {len(params)} parameters of {', '.join(labels)} against "
            f"{len(target_set.targets)} targets: budget {budget} points x "
            f"{len(scenarios)} scenario(s) x {settings.replicates} replicates at "
            f"{config.simulation.researchers:,} researchers; {runner.pool.description}"
        )
        fit = calibrate(
            runner.quietly(), target_set, params, budget=budget, margin=margin, out=out, say=say
        )
    meta = {
        "command": runner.command,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_revision": code_revision(),
        "targets_file": str(target_set.path.relative_to(Path.cwd()))
        if target_set.path.is_relative_to(Path.cwd())
        else str(target_set.path),
        "scenarios": labels,
        "researchers": config.simulation.researchers,
        "steps": config.simulation.steps,
        "replicates": settings.replicates,
        "seed": settings.seed,
        "budget": budget,
        "margin": margin,
    }
    if settings.overrides:
        meta["set"] = [f"{k}={toml_text(v)}" for k, v in settings.overrides.items()]
    text = fitted_toml(fit, target_set, params, meta)
    out.mkdir(parents=True, exist_ok=True)
    write_text(evaluations_frame(fit.history, params).to_csv(index=False), out / "evaluations.csv")
    write_text(text, out / "fitted.toml")
    fitted.parent.mkdir(parents=True, exist_ok=True)
    write_text(text, fitted)
    return replace(fit, text=text, files=(fitted, out / "fitted.toml", out / "evaluations.csv"))


def _silent(line: str) -> None:
    """Say nothing."""
