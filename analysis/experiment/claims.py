"""Experiment definitions: claims to test as paired comparisons between scenarios, read from TOML.

A claim names a treatment and a baseline *side*, metrics, and for each metric the direction the
claim predicts and a margin below which a difference counts as negligible. A side is a scenario
measured over a window of months, optionally minus another scenario (so two sides make a
difference-in-differences, e.g. "how much do shocks hurt here vs there"); a metric may be divided
by another metric of the same scenario (e.g. access gained per million USD of public spend). A
claim may also state premises: metrics its sides must hold equal for the comparison to mean what
the claim says (e.g. equal realised spend).

A claim whose sides set no window is judged in each of the experiment's windows (by default
``early``, months 12-35, the years the calibration facts describe, and ``late``, the final 12
months), because a claim about "the market" or "the public option" may hold in one period and not
the other. A claim that sets a window on any side asks a question about those months (a trend,
the months after a shock, a whole run's spending) and is judged once, in window ``own``.
Everything is validated when the file is loaded, before any run starts; each problem is one line
naming the file and key.
See scenarios/experiments/counterarguments.toml for a documented example.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.results.derived import check_names, metrics_used, parse
from analysis.results.load import AnalysisError
from analysis.results.window import FINAL_MONTHS
from simulation.config import SCENARIO_DIR, ConfigError, read_toml
from simulation.errors import did_you_mean

EXPERIMENT_DIR = SCENARIO_DIR / "experiments"
PREDICTIONS = ("higher", "lower", "not_higher", "not_lower")
COMBINE = ("all", "any")
EARLY = (12, 35)  # 2025-26: month 0 is early 2024
LATE = (-FINAL_MONTHS, -1)  # the final months, as compare, sensitivity and discover
WINDOWS = {"early": EARLY, "late": LATE}  # an experiment's windows unless it sets [windows]
OWN = "own"  # the window label of a claim whose sides set their own windows


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a scenario, or the difference between two.

    Its value is a scenario's metric averaged over a window of months, per replicate, minus the
    same for the ``minus`` scenario (paired by replicate) if given.

    Attributes:
        scenario: The scenario measured.
        minus: A scenario subtracted from it, replicate by replicate; None for none.
        window: First and last month, inclusive; negative months count from the end (-1 = the
            last month). None: the window the claim is judged in (each of the experiment's
            windows, or the final 12 months in a claim whose other side sets one).
    """

    scenario: str
    minus: str | None = None
    window: tuple[int, int] | None = None

    def describe(self) -> str:
        """The side as verdict tables name it, e.g. ``(a - b) in months 12-23``.

        A window is mentioned only if the side sets its own; the table's window column says
        the rest.
        """
        text = self.scenario if self.minus is None else f"({self.scenario} - {self.minus})"
        if self.window is not None:
            text += f" in {window_phrase(self.window)}"
        return text

    def window_in(self, window: tuple[int, int]) -> tuple[int, int]:
        """The side's months when its claim is judged in ``window``: its own if it sets one."""
        return self.window if self.window is not None else window

    @property
    def scenarios(self) -> list[str]:
        """The scenarios the side reads: ``scenario``, then ``minus`` if given."""
        return [self.scenario] + ([self.minus] if self.minus else [])


@dataclass(frozen=True)
class Test:
    """One metric of a claim, the direction the claim predicts, and a margin.

    The direction is that of treatment minus baseline, and the margin is the size below which a
    difference is negligible. With ``per``, each side's value is divided by that metric of the
    side's scenario (over the same window) over ``per_unit``: e.g. access gained per million
    USD of public spend.

    Attributes:
        metric: The metric tested (a derived one allowed).
        predicts: ``"higher"``, ``"lower"``, ``"not_higher"`` or ``"not_lower"``.
        margin: Negligible difference, in the metric's unit, fixed before looking at results.
        per: The metric to divide by, if any.
        per_unit: How much of ``per`` makes one unit (e.g. 1e6 for per million USD).
        note: Free text shown with the test.
    """

    metric: str
    predicts: str
    margin: float = 0.0
    per: str | None = None
    per_unit: float = 1.0
    note: str = ""

    def describe(self) -> str:
        """The metric as verdict tables name it, with its ``per`` divisor if any."""
        if self.per is None:
            return self.metric
        unit = "" if self.per_unit == 1 else f"{self.per_unit:g} "
        return f"{self.metric} per {unit}{self.per}"


@dataclass(frozen=True)
class Premise:
    """A metric the claim's sides must hold equal for its comparison to mean what it says.

    E.g. "at equal realised spend": each treatment's paired difference from the baseline in
    public spend must be negligible (its whole 95% interval within ``margin``). Where it is not,
    that treatment's tests in that window are inconclusive, whatever their effects: the claim
    says nothing about unequal spend.

    Attributes:
        metric: The metric held equal.
        margin: The largest difference still counted as equal, in the metric's unit.
        note: Free text shown with the premise.
    """

    metric: str
    margin: float
    note: str = ""


@dataclass(frozen=True)
class Claim:
    """A claim to test: treatments against a baseline, judged on one or more metrics.

    Every treatment is compared with the baseline on every test; the verdicts are combined
    into one for the claim, per window.

    Attributes:
        id: Short unique name, used in tables and figure names.
        statement: The claim in words, its combination rule included.
        treatments: The treatment sides, one or more.
        baseline: The side they are compared with.
        tests: The metrics, each with its prediction and margin.
        combine: ``"all"``: supported only if every test is; ``"any"``: supported if one is.
        rationale: Why these scenarios and metrics test the claim.
        premises: Metrics each treatment must hold equal to the baseline (see ``Premise``).
    """

    id: str
    statement: str
    treatments: tuple[Side, ...]
    baseline: Side
    tests: tuple[Test, ...]
    combine: str = "all"
    rationale: str = ""
    premises: tuple[Premise, ...] = ()

    @property
    def sides(self) -> tuple[Side, ...]:
        """The treatments, then the baseline."""
        return (*self.treatments, self.baseline)

    @property
    def own_window(self) -> bool:
        """Whether a side sets its window: then the claim is judged once, in window ``own``."""
        return any(side.window is not None for side in self.sides)

    def windows(self, windows: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        """The windows the claim is judged in, label -> window for its sides without one.

        ``{"own": LATE}`` if a side sets its own window (a side without one then takes the final
        12 months); else the given windows (those of the experiment that fit the run).
        """
        return {OWN: LATE} if self.own_window else dict(windows)


@dataclass(frozen=True)
class Experiment:
    """An experiment file, loaded and validated: its claims and what they need to run.

    Attributes:
        name: The file's stem.
        path: The file.
        description: One line describing the experiment.
        claims: The claims, in file order.
        derived: Derived metrics to add before judging, name -> expression.
        scenario_files: Scenarios that are files beside the experiment, not in scenarios/.
        windows: The windows every claim without its own is judged in, label -> [first, last].
    """

    name: str
    path: Path
    description: str
    claims: tuple[Claim, ...]
    derived: dict[str, str] = field(default_factory=dict)
    scenario_files: dict[str, Path] = field(default_factory=dict)  # name -> file, beyond scenarios/
    windows: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(WINDOWS))

    def fitting_windows(self, steps: int) -> tuple[dict[str, tuple[int, int]], list[str]]:
        """The experiment's windows a run of ``steps`` months holds, and a note per window skipped.

        A window that does not fit whole is skipped, not cut short: months 12-23 labelled
        "early" would describe other years than the label says. The final-12-months window
        fits every run (a shorter run uses all its months).

        Args:
            steps: Months in each run.

        Returns:
            (label -> window, notes): the windows to judge in, in file order, and one sentence
            for each window skipped.

        Raises:
            ValueError: No window fits, and a claim without its own window needs one.
        """
        fit: dict[str, tuple[int, int]] = {}
        skipped = []
        for label, window in self.windows.items():
            try:
                resolve_window(window, steps)
            except ValueError:
                skipped.append(label)
                continue
            fit[label] = window
        if not fit and not all(c.own_window for c in self.claims):
            named = ", ".join(f"{k} {list(w)}" for k, w in self.windows.items())
            raise ValueError(f"no window of the experiment ({named}) fits in {steps} months")
        rest = ", ".join(fit) or "no window"
        notes = [
            f"the {label} window ({window_phrase(self.windows[label])}) does not fit "
            f"in runs of {steps} months and is skipped; claims without their own window are "
            f"judged in {rest} only"
            for label in skipped
        ]
        return fit, notes

    @property
    def scenarios(self) -> list[str]:
        """Every scenario the claims use, in order of first mention."""
        names: list[str] = []
        for c in self.claims:
            for side in c.sides:
                names += side.scenarios
        return list(dict.fromkeys(names))

    def source(self, name: str) -> str:
        """What to pass to ``run.py batch`` for a scenario.

        Its name, or its file's path (relative to the working directory when possible).
        """
        path = self.scenario_files.get(name)
        if path is None:
            return name
        try:
            return os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            return str(path)


def describe_window(window: tuple[int, int]) -> str:
    """``[12, 23]`` -> "12-23", ``[24, -1]`` -> "24-end", ``[-12, -1]`` -> "end-11 to end"."""

    def month(m: int) -> str:
        return str(m) if m >= 0 else ("end" if m == -1 else f"end-{-m - 1}")

    first, last = window
    sep = " to " if first < 0 else "-"
    return f"{month(first)}{sep}{month(last)}"


def window_phrase(window: tuple[int, int]) -> str:
    """``[12, 23]`` -> "months 12-23", ``[-12, -1]`` -> "the final 12 months"."""
    first, last = window
    if first < 0 and last == -1:
        return f"the final {-first} months" if first < -1 else "the final month"
    return f"months {describe_window(window)}"


def resolve_window(window: tuple[int, int], steps: int) -> tuple[int, int]:
    """Months ``first..last`` of a run with ``steps`` months.

    Negative months count from the end (-1 = the last month). The late window is the final
    12 months, or every month of a shorter run (as in ``compare``); any other window must fit.

    Args:
        window: First and last month, as written in the experiment.
        steps: Months in the run.

    Returns:
        The first and last month, from 0, inclusive.

    Raises:
        ValueError: A window other than the default does not fit the run.
    """
    first, last = (m + steps if m < 0 else m for m in window)
    if window == LATE:
        first = max(first, 0)
    if not 0 <= first <= last < steps:
        raise ValueError(
            f"window {list(window)} is outside the run's months 0..{steps - 1} "
            f"(resolved to {first}..{last})"
        )
    return first, last


def find(name_or_path: str | Path) -> Path:
    """An experiment name in scenarios/experiments/ or a path to a TOML file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.parent != Path("."):
        if not p.is_file():
            raise AnalysisError(f"{p}: experiment file not found")
        return p
    candidate = EXPERIMENT_DIR / f"{p}.toml"
    if not candidate.is_file():
        known = sorted(q.stem for q in EXPERIMENT_DIR.glob("*.toml"))
        hint = did_you_mean(str(p), known)
        raise AnalysisError(f"unknown experiment {str(p)!r}{hint}; known: {', '.join(known)}")
    return candidate


def load_experiment(name_or_path: str | Path) -> Experiment:
    """Read and validate an experiment file; AnalysisError (one line) on any problem."""
    path = find(name_or_path)
    try:
        raw = read_toml(path)
    except ConfigError as e:
        raise AnalysisError(str(e)) from None
    try:
        return _build(path, raw)
    except _Invalid as e:
        raise AnalysisError(f"{path}: {e}") from None


class _Invalid(Exception):
    """A problem in the file; the message starts with the key."""


def _keys(where: str, table: Mapping[str, Any], allowed: set[str], required: set[str]) -> None:
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, sorted(allowed))
            raise _Invalid(f"{where}: unknown key {key!r}{hint}; expected {sorted(allowed)}")
    for key in sorted(required):
        if key not in table:
            raise _Invalid(f"{where}: missing key {key!r}")


def _str(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{where}: expected a non-empty string, got {value!r}")
    return value.strip()


def _number(where: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{where}: expected a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise _Invalid(f"{where}: expected a number {'> 0' if positive else '>= 0'}, got {value}")
    return float(value)


def _window(where: str, value: Any) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise _Invalid(
            f"{where}: expected [first, last] months (whole numbers; negative counts from the "
            f"end, -1 = the last month), got {value!r}"
        )
    first, last = value
    if (first < 0) == (last < 0) and first > last:
        raise _Invalid(f"{where}: expected first <= last, got {value!r}")
    return first, last


def _build(path: Path, raw: dict[str, Any]) -> Experiment:
    allowed = {"description", "scenarios", "derived", "windows", "claims"}
    _keys("top level", raw, allowed, {"claims"})
    files = _scenario_files(path, raw.get("scenarios", {}))
    windows = _windows(raw["windows"]) if "windows" in raw else dict(WINDOWS)
    derived = raw.get("derived", {})
    if not isinstance(derived, dict):
        raise _Invalid('derived: expected a table of name = "expression"')
    for name, expr in derived.items():
        try:
            check_names([name])
            parse(_str(f"derived.{name}", expr))
        except ValueError as e:
            raise _Invalid(f"derived.{name}: {e}") from None
    claims_raw = raw["claims"]
    if not isinstance(claims_raw, list) or not claims_raw:
        raise _Invalid("claims: expected one or more [[claims]] tables")
    claims = [_claim(i, c) for i, c in enumerate(claims_raw)]
    seen: set[str] = set()
    for i, c in enumerate(claims):
        if c.id in seen:
            raise _Invalid(f"claims[{i}].id: {c.id!r} is used twice")
        seen.add(c.id)
    experiment = Experiment(
        name=path.stem,
        path=path,
        description=str(raw.get("description", "")),
        claims=tuple(claims),
        derived=dict(derived),
        scenario_files=files,
        windows=windows,
    )
    _check_references(experiment)
    return experiment


def _windows(table: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(table, dict) or not table:
        raise _Invalid("windows: expected a table of label = [first, last], one or more")
    windows = {}
    for label, value in table.items():
        if label == OWN or not label.replace("_", "").replace("-", "").isalnum():
            raise _Invalid(
                f"windows.{label}: a label is letters, digits, '_' or '-', and not {OWN!r} "
                "(the label of claims that set their own windows)"
            )
        windows[label] = _window(f"windows.{label}", value)
    return windows


def _scenario_files(path: Path, table: Any) -> dict[str, Path]:
    if not isinstance(table, dict):
        raise _Invalid('scenarios: expected a table of name = "file.toml"')
    files: dict[str, Path] = {}
    for name, file in table.items():
        target = (path.parent / _str(f"scenarios.{name}", file)).resolve()
        if not target.is_file():
            raise _Invalid(f"scenarios.{name}: file {file!r} not found beside the experiment")
        if target.stem != name:
            raise _Invalid(
                f"scenarios.{name}: the file must be named {name}.toml "
                "(batches label scenarios by file name)"
            )
        files[name] = target
    return files


def _claim(i: int, raw: Any) -> Claim:
    where = f"claims[{i}]"
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: expected a table")
    allowed = {"id", "statement", "rationale", "treatment", "baseline", "metrics", "combine"}
    allowed.add("premises")
    _keys(where, raw, allowed, {"id", "statement", "treatment", "baseline", "metrics"})
    cid = _str(f"{where}.id", raw["id"])
    where = f"claims[{i}] ({cid!r})"
    treatments_raw = raw["treatment"]
    if not isinstance(treatments_raw, list):
        treatments_raw = [treatments_raw]
    if not treatments_raw:
        raise _Invalid(f"{where}.treatment: expected at least one scenario")
    treatments = tuple(
        _side(f"{where}.treatment" + (f"[{j}]" if len(treatments_raw) > 1 else ""), t)
        for j, t in enumerate(treatments_raw)
    )
    baseline = _side(f"{where}.baseline", raw["baseline"])
    combine = raw.get("combine", "all")
    if combine not in COMBINE:
        raise _Invalid(f"{where}.combine: expected one of {list(COMBINE)}, got {combine!r}")
    metrics_raw = raw["metrics"]
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise _Invalid(f"{where}.metrics: expected one or more [[claims.metrics]] tables")
    tests = tuple(_test(f"{where}.metrics[{j}]", m) for j, m in enumerate(metrics_raw))
    premises_raw = raw.get("premises", [])
    if not isinstance(premises_raw, list):
        raise _Invalid(f"{where}.premises: expected [[claims.premises]] tables")
    premises = tuple(_premise(f"{where}.premises[{j}]", p) for j, p in enumerate(premises_raw))
    return Claim(
        id=cid,
        statement=_str(f"{where}.statement", raw["statement"]),
        treatments=treatments,
        baseline=baseline,
        tests=tests,
        combine=combine,
        rationale=str(raw.get("rationale", "")).strip(),
        premises=premises,
    )


def _side(where: str, raw: Any) -> Side:
    if isinstance(raw, str):
        return Side(_str(where, raw))
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: expected a scenario name or a table with 'scenario'")
    _keys(where, raw, {"scenario", "minus", "window"}, {"scenario"})
    return Side(
        scenario=_str(f"{where}.scenario", raw["scenario"]),
        minus=_str(f"{where}.minus", raw["minus"]) if "minus" in raw else None,
        window=_window(f"{where}.window", raw["window"]) if "window" in raw else None,
    )


def _test(where: str, raw: Any) -> Test:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: expected a table with 'metric' and 'predicts'")
    allowed = {"metric", "predicts", "margin", "per", "per_unit", "note"}
    _keys(where, raw, allowed, {"metric", "predicts"})
    predicts = raw["predicts"]
    if predicts not in PREDICTIONS:
        hint = did_you_mean(str(predicts), PREDICTIONS)
        raise _Invalid(
            f"{where}.predicts: expected one of {list(PREDICTIONS)}, got {predicts!r}{hint}"
        )
    return Test(
        metric=_str(f"{where}.metric", raw["metric"]),
        predicts=predicts,
        margin=_number(f"{where}.margin", raw.get("margin", 0.0)),
        per=_str(f"{where}.per", raw["per"]) if "per" in raw else None,
        per_unit=_number(f"{where}.per_unit", raw.get("per_unit", 1.0), positive=True),
        note=str(raw.get("note", "")).strip(),
    )


def _premise(where: str, raw: Any) -> Premise:
    if not isinstance(raw, dict):
        raise _Invalid(f"{where}: expected a table with 'metric' and 'margin'")
    _keys(where, raw, {"metric", "margin", "note"}, {"metric", "margin"})
    return Premise(
        metric=_str(f"{where}.metric", raw["metric"]),
        margin=_number(f"{where}.margin", raw["margin"], positive=True),
        note=str(raw.get("note", "")).strip(),
    )


def _check_references(experiment: Experiment) -> None:
    """Check that every name an experiment uses exists, so a typo fails before the batch runs.

    Scenarios exist and load; metrics exist in every scenario that a claim reads them from
    (after derived metrics).
    """
    from simulation.config import ConfigError, load_scenario, scenario_names  # noqa: PLC0415
    from simulation.metrics import scenario_metric_names  # noqa: PLC0415

    available: dict[str, set[str]] = {}
    for name in experiment.scenarios:
        if name not in experiment.scenario_files and name not in scenario_names():
            hint = did_you_mean(name, scenario_names())
            raise _Invalid(
                f"unknown scenario {name!r}{hint}: use a name in scenarios/ or add it under "
                "[scenarios] with its file"
            )
        try:
            cfg = load_scenario(experiment.scenario_files.get(name, name))
        except ConfigError as e:
            raise _Invalid(f"scenario {name!r}: {e}") from None
        available[name] = set(scenario_metric_names(cfg))
    produced = set().union(*available.values())
    for dname, expr in experiment.derived.items():  # a term one scenario lacks counts as 0 there
        for metric in metrics_used(expr):
            if metric not in produced:
                hint = did_you_mean(metric, sorted(produced))
                raise _Invalid(
                    f"derived.{dname}: metric {metric!r} is not produced by any scenario of "
                    f"the experiment{hint}"
                )
        produced.add(dname)
    derived = set(experiment.derived)
    for claim in experiment.claims:
        names = [t.metric for t in claim.tests] + [t.per for t in claim.tests if t.per]
        names += [p.metric for p in claim.premises]
        for side in claim.sides:
            for scenario in side.scenarios:
                known = available[scenario] | derived
                for metric in names:
                    if metric not in known:
                        hint = did_you_mean(metric, sorted(known))
                        raise _Invalid(
                            f"claim {claim.id!r}: metric {metric!r} is not produced by scenario "
                            f"{scenario!r}{hint}"
                        )
