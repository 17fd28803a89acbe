"""Stylized facts as data: load ``scenarios/calibration/targets.toml`` and score runs against it.

A target turns one run's metric table into one number (a *statistic*), summarises that number
across replicates with a 95% confidence interval, and says PASS when the replicate mean lies in
the target's range. The same distances drive the calibration objective, so validation and
calibration can never disagree about what a target means. Metric, group and lab-kind names come
from the targets file only; nothing here knows about particular groups or labs.

Statistics (per run; ``space`` is where replicates are averaged). The months a statistic reads
are the final ``months`` months of the run, or the months in the target's own ``window`` =
[first, end) when it gives one (a fact about a particular year rather than about the long run):

- ``mean``: the metric averaged over those months (linear space).
- ``ratio``: mean of the numerator over those months divided by mean of the denominator,
  both floored at ``floor`` (the resolution of the metric) so that a zero gives a large or small
  but finite ratio, and 0/0 gives 1 (log space: replicates are combined as a geometric mean).
- ``growth``: annual growth from a least-squares line through log(metric) over the months in
  ``window`` (default [0, 36): ``[settings] window``; log space: the slope per year).
  ``report = "factor"`` shows exp(slope) (2.4 = 2.4x a year), ``"change"`` shows
  exp(slope) - 1 (-0.2 = -20% a year).

Each target is a fact about one scenario: the file's ``[settings] scenario`` unless the target
names its own (``scenario = "outsourced_provision"``), and it is scored on that scenario's runs
only. Replicate r of every scenario shares one seed (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.fitting import TARGETS_FILE
from analysis.results.stats import t_interval
from simulation.config import ConfigError, load_scenario, read_toml, scenario_path
from simulation.metrics import scenario_metric_names

STATISTICS = ("mean", "ratio", "growth")
METRIC_FIELDS = {
    "mean": ("metric",),
    "ratio": ("numerator", "denominator"),
    "growth": ("metric",),
}
Statistic = Literal["mean", "ratio", "growth"]
GROWTH_WINDOW = (0, 36)  # a growth target's months when neither it nor [settings] gives a window


@dataclass(frozen=True)
class Estimate:
    """A replicate mean with its 95% t-interval, in display units."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Target:
    """One stylized fact: a statistic of one run's metrics, and the range it should fall in.

    Attributes:
        name: Unique name, used in tables and fitted.toml.
        statistic: How a run becomes one number: ``mean``, ``ratio`` or ``growth``.
        metrics: The metrics it reads, in the order of ``METRIC_FIELDS[statistic]``.
        low: Lower bound in display units; None: no lower bound.
        high: Upper bound in display units; None: no upper bound.
        source: Where the range comes from.
        description: What the target measures, in words.
        months: Final months averaged by ``mean`` and ``ratio`` without a ``window``.
        window: Months [first, end) the statistic reads: a ``growth`` line is fitted over them
            (None: ``GROWTH_WINDOW``); ``mean`` and ``ratio`` average over them
            instead of the final ``months`` (None: the final months).
        floor: ``ratio`` only: floor on numerator and denominator (the metric's resolution).
        report: ``growth`` only: shown as a ``"factor"`` a year or a ``"change"`` a year.
        scale: Overrides ``width()``, the unit of normalised distance.
        scenario: The scenario whose runs it is scored on; None: the targets file's
            ``[settings] scenario`` (``load_targets`` fills it in).
    """

    name: str
    statistic: Statistic
    metrics: tuple[str, ...]
    low: float | None
    high: float | None
    source: str
    description: str = ""
    months: int = 12
    window: tuple[int, int] | None = None
    floor: float = 0.0
    report: Literal["factor", "change"] = "factor"
    scale: float | None = None
    scenario: str | None = None

    # -- units --------------------------------------------------------------------------------
    @property
    def log_space(self) -> bool:
        """Whether replicates are averaged in log space: ratios and growth are multiplicative."""
        return self.statistic in ("ratio", "growth")

    def to_space(self, shown: float) -> float:
        """Display units -> the space replicates are averaged in."""
        if self.statistic == "ratio":
            return math.log(shown) if shown > 0 else -math.inf
        if self.statistic == "growth":
            factor = shown if self.report == "factor" else 1.0 + shown
            return math.log(factor) if factor > 0 else -math.inf
        return shown

    def to_shown(self, x: float) -> float:
        """The averaging space -> display units."""
        if self.statistic == "ratio":
            return math.exp(x) if np.isfinite(x) else (math.inf if x > 0 else 0.0)
        if self.statistic == "growth":
            return math.exp(x) if self.report == "factor" else math.expm1(x)
        return x

    def range_text(self) -> str:
        """The range as tables show it, e.g. ``3 to 30`` or ``>= 0.700``."""
        fmt = self.format
        if self.low is not None and self.high is not None:
            return f"{fmt(self.low)} to {fmt(self.high)}"
        if self.low is not None:
            return f">= {fmt(self.low)}"
        return f"<= {fmt(self.high)}"

    def format(self, shown: float) -> str:
        """A value in display units as tables show it: growth per year."""
        if not np.isfinite(shown):
            return "n/a" if np.isnan(shown) else ("inf" if shown > 0 else "-inf")
        if self.statistic == "growth":
            return f"{shown:.2f}x/yr" if self.report == "factor" else f"{shown * 100:+.0f}%/yr"
        if self.statistic == "ratio":
            return f"{shown:.3g}"
        if self.metrics[0].endswith("_months"):
            return f"{shown:.1f} mo"
        return f"{shown:.3f}"

    # -- scoring ------------------------------------------------------------------------------
    def passes(self, shown: float) -> bool:
        """Whether a value in display units lies in the range, bounds included; NaN fails."""
        if not np.isfinite(shown) and not np.isinf(shown):
            return False
        return (self.low is None or shown >= self.low) and (self.high is None or shown <= self.high)

    def bounds(self) -> tuple[float, float]:
        """The range in averaging space (-inf/inf for an open side)."""
        lo = self.to_space(self.low) if self.low is not None else -math.inf
        hi = self.to_space(self.high) if self.high is not None else math.inf
        return lo, hi

    def width(self) -> float:
        """What one unit of normalised distance is, so targets in different units add up.

        The range's width in averaging space, or the bound's magnitude for a one-sided range
        (``scale`` in the file overrides).
        """
        if self.scale is not None:
            return self.scale
        lo, hi = self.bounds()
        if np.isfinite(lo) and np.isfinite(hi):
            return hi - lo
        bound = lo if np.isfinite(lo) else hi
        return abs(bound) or 1.0

    def distance(self, x: float, margin: float = 0.0) -> float:
        """Normalised distance of an averaging-space value outside the range (0 inside).

        The range is first shrunk by ``margin`` widths on each side. NaN counts as far away;
        distances are capped at 10.

        Args:
            x: The value, in averaging space.
            margin: Widths the range is shrunk by on each side.
        """
        if np.isnan(x):
            return 10.0
        lo, hi = self.bounds()
        w = self.width()
        lo, hi = lo + margin * w, hi - margin * w
        if lo > hi:  # a margin larger than half the range: aim at the middle
            lo = hi = (lo + hi) / 2
        outside = (lo - x) if x < lo else (x - hi) if x > hi else 0.0
        return min(outside / w, 10.0)

    # -- per-run statistic ----------------------------------------------------------------------
    def months_read(self, steps: int) -> tuple[int, int]:
        """The months [first, end) this target reads in a run of ``steps`` months.

        ``first`` is negative when ``months`` exceeds the run (``TargetSet.outside_runs``
        says so); the statistic then reads the whole run.
        """
        if self.window is not None:
            return self.window
        if self.statistic == "growth":
            return GROWTH_WINDOW
        return steps - self.months, steps

    def per_run(self, run: pd.DataFrame) -> float:
        """This target's statistic for one run (rows sorted by step), in averaging space."""
        step = run["step"].to_numpy()
        first, end = self.months_read(int(step.max()) + 1)
        if self.statistic == "growth":
            return growth_per_year(step, run[self.metrics[0]].to_numpy(float), (first, end))
        read = (step >= first) & (step < end)
        if self.statistic == "mean":
            return float(_nanmean(run[self.metrics[0]].to_numpy(float)[read]))
        if self.statistic == "ratio":
            num = max(float(_nanmean(run[self.metrics[0]].to_numpy(float)[read])), self.floor)
            den = max(float(_nanmean(run[self.metrics[1]].to_numpy(float)[read])), self.floor)
            if num <= 0 or den <= 0:  # no floor given and a zero mean
                return math.inf if num > 0 else (-math.inf if den > 0 else math.nan)
            return math.log(num / den)
        raise ValueError(f"unknown statistic {self.statistic!r}")

    def estimate(self, values: Sequence[float]) -> Estimate:
        """Replicate mean and 95% t-interval of per-run values, shown in display units."""
        iv = t_interval(values)
        return Estimate(self.to_shown(iv.mean), self.to_shown(iv.low), self.to_shown(iv.high), iv.n)


def _nanmean(x: np.ndarray) -> float:
    """Mean ignoring NaN; NaN (without a warning) when nothing is left."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


def growth_per_year(step: np.ndarray, value: np.ndarray, window: tuple[int, int]) -> float:
    """Slope of log(value) against month over ``window``, times 12 (log growth per year)."""
    keep = (step >= window[0]) & (step < window[1]) & np.isfinite(value) & (value > 0)
    if keep.sum() < 2 or np.ptp(step[keep]) == 0:
        return math.nan
    slope = np.polyfit(step[keep].astype(float), np.log(value[keep]), 1)[0]
    return float(slope * 12.0)


# ---------------------------------------------------------------------------------------------
# The targets file


@dataclass(frozen=True)
class TargetSet:
    """The targets file: where it came from, its default scenario, and its targets.

    Attributes:
        path: The file.
        scenario: ``[settings] scenario``: the scenario of every target that names none.
        targets: The targets, in file order.
        calibration: The file's ``[calibration]`` table (margin, parameters).
    """

    path: Path
    scenario: str
    targets: tuple[Target, ...]
    calibration: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> list[str]:
        """Every metric the targets read, once each, in order of first use."""
        return list(dict.fromkeys(m for t in self.targets for m in t.metrics))

    def scenario_of(self, target: Target) -> str:
        """The scenario ``target`` is scored on: its own, or the file's default."""
        return target.scenario or self.scenario

    def scenarios(self) -> list[str]:
        """Every scenario some target is scored on, once each: the default first, if used.

        Only these are run, so a file whose targets all name other scenarios does not pay for
        runs of the default.
        """
        used = dict.fromkeys(self.scenario_of(t) for t in self.targets)
        return sorted(used, key=lambda s: s != self.scenario)  # stable: then order of first use

    def outside_runs(self, steps: Mapping[str, int]) -> list[str]:
        """Lines naming each target whose months are not all inside its scenario's runs.

        Such a target's value would not be the fact it stands for (a window past the end is
        NaN, a FAIL), so commands warn before they run anything.

        Args:
            steps: Scenario (as ``scenario_of`` gives it) -> months per run.
        """
        lines = []
        for t in self.targets:
            scenario = self.scenario_of(t)
            n = steps[scenario]
            first, end = t.months_read(n)
            if first < 0 or end > n:
                lines.append(
                    f"target {t.name!r} reads months [{first}, {end}) but runs of "
                    f"{scenario_label(scenario)} have months [0, {n})"
                )
        return lines


def scenario_label(scenario: str | Path) -> str:
    """The label a scenario's rows carry in a batch's ``scenario`` column: its file's stem."""
    return Path(scenario).stem


def load_targets(path: Path | str = TARGETS_FILE, check_metrics: bool = True) -> TargetSet:
    """Read and check the targets file; errors are one-line ConfigErrors naming file and key.

    Args:
        path: The targets file.
        check_metrics: Check each target's metrics against its scenario (loads every scenario
            the targets name; their existence is checked either way).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such targets file")
    raw = read_toml(path)
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: [settings] must be a table")
    scenario = settings.get("scenario", "market")
    _check_scenario(f"{path}: settings.scenario", scenario)
    entries = raw.get("target")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected one or more [[target]] tables")
    targets = tuple(_target(path, i, e, scenario, settings) for i, e in enumerate(entries))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: target names must be unique")
    calibration = raw.get("calibration", {})
    if not isinstance(calibration, dict):
        raise ConfigError(f"{path}: [calibration] must be a table")
    margin = calibration.get("margin", 0.1)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not (math.isfinite(margin) and 0 <= margin < 0.5)
    ):
        raise ConfigError(
            f"{path}: calibration.margin: expected a number in [0, 0.5) range-widths, "
            f"got {margin!r}"
        )
    result = TargetSet(path, scenario, targets, calibration)
    if check_metrics:
        known = {}
        for name in result.scenarios():
            config = load_scenario(name)
            known[name] = set(scenario_metric_names(config))
        for t in targets:
            for m in t.metrics:
                if m not in known[result.scenario_of(t)]:
                    raise ConfigError(
                        f"{path}: target {t.name!r}: no metric {m!r} in scenario "
                        f"{result.scenario_of(t)!r}"
                    )
    return result


def _check_scenario(where: str, scenario: Any) -> None:
    """A scenario name in scenarios/ or a path to one; anything else is a one-line error."""
    if not isinstance(scenario, str) or not scenario:
        raise ConfigError(f"{where}: expected a scenario name, got {scenario!r}")
    try:
        scenario_path(scenario)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _target(
    path: Path, index: int, e: dict[str, Any], scenario: str, settings: dict[str, Any]
) -> Target:
    """One ``[[target]]`` table, checked, with the ``[settings]`` defaults it does not override.

    ``[settings] months`` applies to every target, ``[settings] window`` to growth targets only:
    a window on a mean or ratio is a deliberate choice of months, so it must be the
    target's own.
    """
    where = f"{path}: target {e.get('name', index + 1)!r}"
    statistic = e.get("statistic")
    if statistic not in STATISTICS:
        raise ConfigError(f"{where}: key 'statistic': expected one of {', '.join(STATISTICS)}")
    missing = [k for k in ("name", "source", *METRIC_FIELDS[statistic]) if k not in e]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    allowed = {
        "name", "statistic", "low", "high", "source", "description", "months", "window", "floor",
        "report", "scale", "unit", "scenario", *METRIC_FIELDS[statistic],
    }  # fmt: skip
    unknown = sorted(set(e) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    if "scenario" in e:
        _check_scenario(f"{where}: key 'scenario'", e["scenario"])
    if "months" in e and "window" in e:
        raise ConfigError(f"{where}: give 'months' (the final months) or 'window', not both")
    low, high = _number(where, e, "low"), _number(where, e, "high")
    if low is None and high is None:
        raise ConfigError(f"{where}: give 'low', 'high' or both")
    if low is not None and high is not None and low >= high:
        raise ConfigError(f"{where}: 'low' must be below 'high'")
    window = e.get("window", settings.get("window") if statistic == "growth" else None)
    if window is not None and (
        not isinstance(window, list | tuple)
        or len(window) != 2
        or not all(isinstance(w, int) and not isinstance(w, bool) for w in window)
        or not 0 <= window[0] < window[1]
    ):
        raise ConfigError(
            f"{where}: key 'window': expected [first, end) months, 0 <= first < end, got {window!r}"
        )
    months = e.get("months", settings.get("months", 12))
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        raise ConfigError(f"{where}: key 'months': expected a whole number >= 1")
    report = e.get("report", "factor")
    if report not in ("factor", "change"):
        raise ConfigError(f"{where}: key 'report': expected 'factor' or 'change'")
    return Target(
        name=str(e["name"]),
        statistic=statistic,
        metrics=tuple(str(e[k]) for k in METRIC_FIELDS[statistic]),
        low=low,
        high=high,
        source=str(e["source"]),
        description=str(e.get("description", "")),
        months=months,
        window=None if window is None else (window[0], window[1]),
        floor=float(_number(where, e, "floor") or 0.0),
        report=report,
        scale=_number(where, e, "scale"),
        scenario=e.get("scenario", scenario),
    )


def _number(where: str, e: dict[str, Any], key: str) -> float | None:
    value = e.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: key {key!r}: expected a finite number, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------------------
# Scoring a results table


def per_run_values(
    results: pd.DataFrame, targets: Sequence[Target], by: Sequence[str]
) -> pd.DataFrame:
    """One row per run (grouped by ``by`` + replicate), one column per target (averaging space).

    Every run in ``results`` is scored on every target: pass one scenario's runs, or use
    :func:`target_values`, which does that for each scenario.
    """
    keys = [*by, "replicate"]
    rows = []
    for key, run in results.sort_values([*keys, "step"]).groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {**dict(zip(keys, key, strict=True)), **{t.name: t.per_run(run) for t in targets}}
        )
    return pd.DataFrame(rows)


def target_values(results: pd.DataFrame, targets: TargetSet, by: Sequence[str]) -> pd.DataFrame:
    """Per-run values of every target, each computed on its own scenario's runs only.

    Runs of different scenarios with the same ``by`` values and replicate (the same seed: common
    random numbers) share a row.

    Args:
        results: A batch's long table, with its ``scenario`` column.
        targets: The targets; each is scored on the rows of ``targets.scenario_of(t)``.
        by: Columns besides ``replicate`` that tell runs apart (``point`` for a design).

    Returns:
        One row per ``by`` + replicate, one column per target (averaging space).

    Raises:
        ValueError: ``results`` has no scenario column, or no runs of a scenario a target needs
            (scoring another scenario's runs instead would pass or fail the wrong fact).
    """
    if "scenario" not in results.columns:
        raise ValueError("results have no 'scenario' column: expected a batch's results table")
    keys = [*by, "replicate"]
    frames = []
    for scenario in targets.scenarios():
        label = scenario_label(scenario)
        mine = [t for t in targets.targets if targets.scenario_of(t) == scenario]
        runs = results[results["scenario"] == label]
        if runs.empty:
            raise ValueError(
                f"no runs of scenario {label!r} in the results, needed by target(s) "
                f"{', '.join(t.name for t in mine)}"
            )
        frames.append(per_run_values(runs, mine, by))
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.merge(frame, on=keys, how="outer")
    return merged.sort_values(keys, ignore_index=True)[[*keys, *(t.name for t in targets.targets)]]


def objective(means: dict[str, float], targets: Sequence[Target], margin: float = 0.0) -> float:
    """The calibration objective: squared normalised distances outside the ranges, summed.

    Args:
        means: Target name -> replicate mean, in averaging space (log for ratios and growth).
        targets: The targets.
        margin: Widths each range is shrunk by on each side, so a fit aims inside the ranges.
    """
    return float(sum(t.distance(means[t.name], margin) ** 2 for t in targets))
