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
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.experiment.claims import Claim, Experiment, Side, Test, resolve_window
from analysis.results.load import POINT, AnalysisError, Results
from analysis.results.stats import paired, t_interval
from analysis.results.units import fmt

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
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


def side_values(results: Results, side: Side, test: Test, point: str = "") -> pd.Series:
    """One side's values for a test, per replicate.

    The metric over the side's window, minus the ``minus`` scenario's, divided by the ``per``
    metric / ``per_unit`` if the test has one.

    Args:
        results: The batch, derived metrics included.
        side: The side.
        test: The metric and its ``per`` divisor.
        point: The sweep point's label ("" without a sweep).

    Returns:
        Values indexed by replicate; replicates whose ``per`` value is not above 0 are
        dropped.

    Raises:
        AnalysisError: The window does not fit the runs, or a scenario is not in the results.
    """
    steps = results.months[-1] + 1
    try:
        first, last = resolve_window(side.window, steps)
    except ValueError as e:
        raise AnalysisError(f"{side.describe()}: {e}") from None

    def of(metric: str, scenario: str) -> pd.Series:
        values = results.per_replicate(metric, first, last)
        try:
            return values.xs((scenario, point), level=("scenario", POINT))
        except KeyError:
            raise AnalysisError(f"scenario {scenario!r} is not in the results") from None

    value = of(test.metric, side.scenario)
    if side.minus is not None:
        value = paired(value, of(test.metric, side.minus))
    if test.per is not None:
        per = of(test.per, side.scenario) / test.per_unit
        value = (value / per.where(per > 0)).dropna()
    return value


def evaluate(results: Results, experiment: Experiment) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judge every claim of an experiment on a batch's results.

    ``results`` must already hold the derived metrics.

    Args:
        results: The batch.
        experiment: The claims.

    Returns:
        (tests, claims): one row per claim x treatment x metric (x sweep point), and one row
        per claim with the combined verdict.

    Raises:
        AnalysisError: A scenario the experiment needs is not in the results.
    """
    missing = [s for s in experiment.scenarios if s not in results.scenarios]
    if missing:
        raise AnalysisError(f"scenario {missing[0]!r} is not in the results")
    tests: list[dict] = []
    claims: list[dict] = []
    for claim in experiment.claims:
        rows = [r for point in results.points for r in _test_rows(results, claim, point)]
        tests += rows
        verdicts = [r["verdict"] for r in rows]
        counts = ", ".join(
            f"{verdicts.count(v)} {v}"
            for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)
            if verdicts.count(v)
        )
        claims.append(
            {
                "claim": claim.id,
                "statement": claim.statement,
                "verdict": combine(verdicts, claim.combine),
                "combine": claim.combine,
                "tests": f"{len(verdicts)} tests: {counts}",
            }
        )
    return pd.DataFrame(tests), pd.DataFrame(claims)


def _test_rows(results: Results, claim: Claim, point: str) -> list[dict]:
    rows = []
    for treatment in claim.treatments:
        for test in claim.tests:
            t = side_values(results, treatment, test, point)
            b = side_values(results, claim.baseline, test, point)
            effect = t_interval(paired(t, b))
            result, finding, reason = verdict(
                effect.mean, effect.low, effect.high, test.predicts, test.margin
            )
            row = {
                "claim": claim.id,
                "treatment": treatment.describe(),
                "baseline": claim.baseline.describe(),
                "metric": test.describe(),
                "predicts": test.predicts,
                "margin": test.margin,
                "n": effect.n,
                "treatment_mean": t_interval(t).mean,
                "baseline_mean": t_interval(b).mean,
                "effect": effect.mean,
                "low": effect.low,
                "high": effect.high,
                "finding": finding,
                "verdict": result,
                "reason": reason,
            }
            if point:
                row["point"] = point
            rows.append(row)
    return rows
