"""Verdicts on claims, computed from paired effects and their confidence intervals.

Nothing about a verdict is decided in advance: each test's effect (treatment minus baseline,
replicate by replicate) is first classified from its 95% interval and the test's margin, then
the classification is read against the direction the claim predicts.

    clearly higher   the CI is above 0 and the estimate above +margin
    clearly lower    the CI is below 0 and the estimate below -margin
    negligible       the whole CI lies within [-margin, +margin]
    unclear          anything else: the CI straddles 0, or the estimate is within the margin
    undefined        fewer than two paired replicates: no interval

    higher       supported if clearly higher, not supported if clearly lower, else inconclusive
    lower        the mirror image
    not_higher   supported if clearly lower or negligible, not supported if clearly higher,
                 else inconclusive
    not_lower    the mirror image

Beside the interval each test reports the share of replicates whose own effect lies beyond the
margin in the predicted direction (higher: effect > m; lower: effect < -m; not_higher:
effect < m; not_lower: effect > -m). A mean and its t-interval describe one cluster; when
replicates split into two (say a lab closes in some and not others) the interval straddles 0
and says little, while "7 of 10 replicates beyond the margin" still says how often the claim
holds. The share is reported, not used in the verdict, so the verdict rules stay those above.

A claim is judged in each window separately (see ``claims``), so "the market works in 2025-26
but not in the long run" shows as two verdicts rather than one averaged away.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.experiment.claims import (
    LATE,
    Claim,
    Experiment,
    Premise,
    Side,
    Test,
    describe_window,
    resolve_window,
)
from analysis.results.load import POINT, AnalysisError, Results
from analysis.results.stats import paired, t_interval
from analysis.results.units import fmt

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
MET, NOT_MET = "met", "not met"  # a premise's verdict
TEST, PREMISE = "test", "premise"  # the role of a row of the tests table
HIGHER, LOWER, NEGLIGIBLE, UNCLEAR, UNDEFINED = (
    "clearly higher",
    "clearly lower",
    "negligible",
    "unclear",
    "undefined",
)
_READING = {
    "higher": {HIGHER: SUPPORTED, LOWER: NOT_SUPPORTED},
    "lower": {LOWER: SUPPORTED, HIGHER: NOT_SUPPORTED},
    "not_higher": {LOWER: SUPPORTED, NEGLIGIBLE: SUPPORTED, HIGHER: NOT_SUPPORTED},
    "not_lower": {HIGHER: SUPPORTED, NEGLIGIBLE: SUPPORTED, LOWER: NOT_SUPPORTED},
}


def classify(estimate: float, low: float, high: float, margin: float) -> str:
    """Where an effect's interval lies relative to 0 and the margin (see the module doc)."""
    if any(math.isnan(x) for x in (estimate, low, high)):
        return UNDEFINED
    if low > 0 and estimate > margin:
        return HIGHER
    if high < 0 and estimate < -margin:
        return LOWER
    if margin > 0 and -margin <= low and high <= margin:
        return NEGLIGIBLE
    return UNCLEAR


def verdict(
    estimate: float, low: float, high: float, predicts: str, margin: float = 0.0
) -> tuple[str, str, str]:
    """(verdict, finding, reason) for an effect with interval [low, high]."""
    if predicts not in _READING:
        raise ValueError(f"predicts must be one of {sorted(_READING)}, got {predicts!r}")
    finding = classify(estimate, low, high, margin)
    result = _READING[predicts].get(finding, INCONCLUSIVE)
    return result, finding, _reason(finding, estimate, low, high, margin)


def _reason(finding: str, estimate: float, low: float, high: float, margin: float) -> str:
    m = fmt(margin)
    if finding == UNDEFINED:
        return "no confidence interval (fewer than 2 paired replicates)"
    ci = f"{fmt(estimate, True)} [{fmt(low, True)}, {fmt(high, True)}]"
    if finding == HIGHER:
        return f"effect {ci}: CI above 0, estimate above +{m}"
    if finding == LOWER:
        return f"effect {ci}: CI below 0, estimate below -{m}"
    if finding == NEGLIGIBLE:
        return f"effect {ci}: CI within ±{m}"
    if low <= 0 <= high:
        return f"effect {ci}: CI straddles 0"
    return f"effect {ci}: estimate within ±{m}, CI beyond it"


def share_beyond_margin(effects: pd.Series | np.ndarray, predicts: str, margin: float) -> float:
    """The share of replicates whose effect lies beyond the margin in the predicted direction.

    higher: effect > margin; lower: effect < -margin; not_higher: effect < margin; not_lower:
    effect > -margin. Robust where the t-interval is not: when replicates split into two
    clusters, the share still says how often the claim holds.

    Args:
        effects: Paired effects, one per replicate (NaN dropped).
        predicts: The direction the claim predicts.
        margin: The test's margin.

    Returns:
        A share in [0, 1]; NaN without any effect.
    """
    x = np.asarray(effects, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan
    beyond = {
        "higher": x > margin,
        "lower": x < -margin,
        "not_higher": x < margin,
        "not_lower": x > -margin,
    }
    if predicts not in beyond:
        raise ValueError(f"predicts must be one of {sorted(beyond)}, got {predicts!r}")
    return float(beyond[predicts].mean())


def combine(verdicts: list[str], how: str = "all") -> str:
    """A claim's verdict from its tests' ("all": every test must support it; "any": one)."""
    if how == "all":
        if NOT_SUPPORTED in verdicts:
            return NOT_SUPPORTED
        return SUPPORTED if all(v == SUPPORTED for v in verdicts) else INCONCLUSIVE
    if how == "any":
        if SUPPORTED in verdicts:
            return SUPPORTED
        return NOT_SUPPORTED if all(v == NOT_SUPPORTED for v in verdicts) else INCONCLUSIVE
    raise ValueError(f"combine must be 'all' or 'any', got {how!r}")


def side_values(
    results: Results, side: Side, test: Test, point: str = "", window: tuple[int, int] = LATE
) -> pd.Series:
    """One side's values for a test, per replicate.

    The metric averaged over the side's months, minus the ``minus`` scenario's; with a ``per``
    divisor, the ratio of the two sums over those months (``cumulative``).

    Args:
        results: The batch, derived metrics included.
        side: The side.
        test: The metric and its ``per`` divisor.
        point: The sweep point's label ("" without a sweep).
        window: The window the claim is judged in; the side's own window wins.

    Returns:
        Values indexed by replicate; with ``per``, replicates whose ``per`` sum is not above 0
        are dropped.

    Raises:
        AnalysisError: The window does not fit the runs, or a scenario is not in the results.
    """
    first, last = side_months(results, side, window)
    for scenario in side.scenarios:
        if scenario not in results.scenarios:
            raise AnalysisError(f"scenario {scenario!r} is not in the results")
    if test.per is not None:
        return cumulative(results, side, test, point, (first, last))

    def of(metric: str, scenario: str) -> pd.Series:
        values = results.per_replicate(metric, first, last)
        try:
            return values.xs((scenario, point), level=("scenario", POINT))
        except KeyError:
            raise AnalysisError(
                f"scenario {scenario!r} has no results at sweep point {point!r}"
            ) from None

    value = of(test.metric, side.scenario)
    if side.minus is not None:
        value = paired(value, of(test.metric, side.minus))
    return value


def side_months(results: Results, side: Side, window: tuple[int, int]) -> tuple[int, int]:
    """The first and last month a side reads when its claim is judged in ``window``."""
    steps = results.months[-1] + 1
    try:
        return resolve_window(side.window_in(window), steps)
    except ValueError as e:
        raise AnalysisError(f"{side.describe()}: {e}") from None


def cumulative(
    results: Results, side: Side, test: Test, point: str, months: tuple[int, int]
) -> pd.Series:
    """A ``per`` test's value per replicate: a ratio of sums over the months, not of means.

    Sum over the months of the metric (minus the ``minus`` scenario's) divided by the sum of
    the ``per`` metric of the side's scenario over ``per_unit``. Money spent in a month that
    bought little access (e.g. on a lab that releases later) counts, which a ratio of one
    year's means would miss when the window is short; over the whole run this is access
    gained per dollar spent, cumulatively. Only months where every term is defined count, so
    numerator and denominator cover the same months.

    Args:
        results: The batch, derived metrics included.
        side: The side.
        test: The metric, its ``per`` divisor and ``per_unit``.
        point: The sweep point's label.
        months: First and last month, inclusive, resolved.

    Returns:
        The ratio per replicate; replicates whose ``per`` sum is not above 0 are dropped.
    """
    frame = results.frame
    rows = frame[(frame[POINT] == point) & frame["step"].between(*months)]

    def column(metric: str, scenario: str) -> pd.Series:
        mine = rows[rows["scenario"] == scenario]
        return mine.set_index(["replicate", "step"])[metric]

    terms = {"value": column(test.metric, side.scenario), "per": column(test.per, side.scenario)}
    if side.minus is not None:
        terms["minus"] = column(test.metric, side.minus)
    sums = pd.concat(terms, axis=1).dropna().groupby(level="replicate").sum()
    gained = sums["value"] - (sums["minus"] if side.minus is not None else 0.0)
    per = sums["per"] / test.per_unit
    return (gained / per.where(per > 0)).dropna()


def evaluate(results: Results, experiment: Experiment) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judge every claim of an experiment on a batch's results, in each of its windows.

    ``results`` must already hold the derived metrics. A claim without its own window is
    judged in each experiment window that fits the runs (``Experiment.fitting_windows``); a
    claim with one is judged once, in window ``own``.

    Args:
        results: The batch.
        experiment: The claims.

    Returns:
        (tests, claims): one row per claim x window x treatment x metric (x sweep point), premises
        included (``role`` "premise"), and one row per claim x window with the combined verdict.

    Raises:
        AnalysisError: A scenario the experiment needs is not in the results, or no window fits.
    """
    missing = [s for s in experiment.scenarios if s not in results.scenarios]
    if missing:
        raise AnalysisError(f"scenario {missing[0]!r} is not in the results")
    try:
        fitting, _ = experiment.fitting_windows(results.months[-1] + 1)
    except ValueError as e:
        raise AnalysisError(str(e)) from None
    tests: list[dict] = []
    claims: list[dict] = []
    for claim in experiment.claims:
        for label, window in claim.windows(fitting).items():
            rows = [
                r
                for point in results.points
                for r in _test_rows(results, claim, point, label, window)
            ]
            tests += rows
            verdicts = [r["verdict"] for r in rows if r["role"] == TEST]
            counts = ", ".join(
                f"{verdicts.count(v)} {v}"
                for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
                if verdicts.count(v)
            )
            unmet = sum(r["verdict"] == NOT_MET for r in rows)
            claims.append(
                {
                    "claim": claim.id,
                    "window": label,
                    "statement": claim.statement,
                    "verdict": combine(verdicts, claim.combine),
                    "combine": claim.combine,
                    "tests": f"{len(verdicts)} tests: {counts}"
                    + (f"; {unmet} premise(s) not met" if unmet else ""),
                }
            )
    return pd.DataFrame(tests), pd.DataFrame(claims)


def _months(results: Results, claim: Claim, treatment: Side, window: tuple[int, int]) -> str:
    """The months a row compares, e.g. "12-35", or "36-47 vs 12-23" when the sides differ."""
    t, b = (side_months(results, s, window) for s in (treatment, claim.baseline))
    text = [describe_window(m) for m in (t, b)]
    return text[0] if t == b else f"{text[0]} vs {text[1]}"


def _compare(
    results: Results,
    claim: Claim,
    treatment: Side,
    test: Test,
    point: str,
    window: tuple[int, int],
) -> tuple[pd.Series, pd.Series, pd.Series]:
    t = side_values(results, treatment, test, point, window)
    b = side_values(results, claim.baseline, test, point, window)
    return t, b, paired(t, b)


def _row(
    claim: Claim,
    label: str,
    months: str,
    treatment: Side,
    t: pd.Series,
    b: pd.Series,
    effects: pd.Series,
) -> dict:
    effect = t_interval(effects)
    return {
        "claim": claim.id,
        "window": label,
        "months": months,
        "treatment": treatment.describe(),
        "baseline": claim.baseline.describe(),
        "n": effect.n,
        "treatment_mean": t_interval(t).mean,
        "baseline_mean": t_interval(b).mean,
        "effect": effect.mean,
        "low": effect.low,
        "high": effect.high,
    }


def _premise_row(
    results: Results,
    claim: Claim,
    premise: Premise,
    treatment: Side,
    point: str,
    label: str,
    window: tuple[int, int],
) -> dict:
    test = Test(premise.metric, "not_higher", premise.margin)
    t, b, effects = _compare(results, claim, treatment, test, point, window)
    row = _row(claim, label, _months(results, claim, treatment, window), treatment, t, b, effects)
    finding = classify(row["effect"], row["low"], row["high"], premise.margin)
    x = effects.to_numpy(dtype=float)
    within = float((np.abs(x) <= premise.margin).mean()) if x.size else math.nan
    reason = _reason(finding, row["effect"], row["low"], row["high"], premise.margin)
    note = f" ({premise.note})" if premise.note else ""
    return row | {
        "role": PREMISE,
        "metric": premise.metric,
        "predicts": "equal",
        "margin": premise.margin,
        "share_beyond_margin": within,  # for a premise: the share within the margin
        "finding": finding,
        "verdict": MET if finding == NEGLIGIBLE else NOT_MET,
        "reason": f"premise{note} met: {reason}"
        if finding == NEGLIGIBLE
        else f"premise{note} not met: {reason}",
    }


def _test_rows(
    results: Results, claim: Claim, point: str, label: str, window: tuple[int, int]
) -> list[dict]:
    rows = []
    for treatment in claim.treatments:
        months = _months(results, claim, treatment, window)
        premises = [
            _premise_row(results, claim, p, treatment, point, label, window) for p in claim.premises
        ]
        unmet = [p["metric"] for p in premises if p["verdict"] == NOT_MET]
        rows += premises
        for test in claim.tests:
            t, b, effects = _compare(results, claim, treatment, test, point, window)
            row = _row(claim, label, months, treatment, t, b, effects)
            result, finding, reason = verdict(
                row["effect"], row["low"], row["high"], test.predicts, test.margin
            )
            if unmet:  # the claim says nothing about unequal sides: no verdict either way
                result = INCONCLUSIVE
                reason = f"premise not met ({', '.join(unmet)} not equal); {reason}"
            rows.append(
                row
                | {
                    "role": TEST,
                    "metric": test.describe(),
                    "predicts": test.predicts,
                    "margin": test.margin,
                    "share_beyond_margin": share_beyond_margin(effects, test.predicts, test.margin),
                    "finding": finding,
                    "verdict": result,
                    "reason": reason,
                }
            )
    if point:
        for row in rows:
            row["point"] = point
    return [_ordered(r) for r in rows]


COLUMNS = [
    "claim",
    "window",
    "months",
    "role",
    "treatment",
    "baseline",
    "metric",
    "predicts",
    "margin",
    "n",
    "treatment_mean",
    "baseline_mean",
    "effect",
    "low",
    "high",
    "share_beyond_margin",
    "finding",
    "verdict",
    "reason",
    "point",
]


def _ordered(row: dict) -> dict:
    """The row's keys in the order of ``COLUMNS`` (the order of verdicts.csv)."""
    return {k: row[k] for k in COLUMNS if k in row}
