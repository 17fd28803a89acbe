"""How claims are judged: windows (early, late, a claim's own), the share of replicates beyond
the margin, premises (equal realised spend), access per dollar as a ratio of sums over the whole
run, and the paper's positive claim, each on a synthetic batch with known answers."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DELTA

from analysis.experiment.claims import load_experiment
from analysis.experiment.run import check_windows
from analysis.experiment.summary import ExperimentResult, verdicts_markdown
from analysis.experiment.verdicts import (
    INCONCLUSIVE,
    MET,
    NOT_MET,
    NOT_SUPPORTED,
    SUPPORTED,
    UNCLEAR,
    evaluate,
    share_beyond_margin,
    verdict,
)
from analysis.results.load import AnalysisError, Results, from_frame
from analysis.results.stats import t_interval

Value = Callable[[int, int], float]  # (replicate, month) -> value


def batch(scenarios: dict[str, dict[str, Value]], replicates: int = 4, months: int = 48) -> Results:
    """A batch whose every metric is a known function of replicate and month, per scenario."""
    rows = [
        {"scenario": s, "replicate": r, "seed": 1000 + r, "step": m}
        | {metric: f(r, m) for metric, f in metrics.items()}
        for s, metrics in scenarios.items()
        for r in range(replicates)
        for m in range(months)
    ]
    return from_frame(pd.DataFrame(rows))


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- the share of replicates beyond the margin ---------------------------------------------------

# Effects on both sides of the margin 0.02, two of them exactly on it (which count for no side).
SAMPLE = [-0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.05, math.nan]
SHARES = {"higher": 2 / 8, "lower": 1 / 8, "not_higher": 5 / 8, "not_lower": 6 / 8}


@pytest.mark.parametrize("predicts", sorted(SHARES))
def test_share_beyond_the_margin_in_the_predicted_direction(predicts: str):
    assert share_beyond_margin(np.array(SAMPLE), predicts, 0.02) == pytest.approx(SHARES[predicts])
    assert math.isnan(share_beyond_margin([], predicts, 0.02))


def test_bimodal_replicates_straddle_zero_but_the_share_is_clear():
    # 8 of 10 replicates gain 0.10; in 2 the outcome collapses (-0.60): the mean is negative
    # and the interval straddles 0, so the verdict is inconclusive; the share says 8 of 10.
    effects = np.array([0.10] * 8 + [-0.60] * 2)
    ci = t_interval(effects)
    assert ci.low < 0 < ci.high and ci.mean == pytest.approx(-0.04)
    result, finding, reason = verdict(ci.mean, ci.low, ci.high, "higher", 0.02)
    assert (result, finding) == (INCONCLUSIVE, UNCLEAR) and "straddles 0" in reason
    assert share_beyond_margin(effects, "higher", 0.02) == pytest.approx(0.8)
    assert share_beyond_margin(effects, "not_lower", 0.02) == pytest.approx(0.8)
    assert share_beyond_margin(effects, "lower", 0.02) == pytest.approx(0.2)


# -- windows ---------------------------------------------------------------------------------------

TWO_CLAIMS = """
description = "windows"

[[claims]]
id = "raises"
statement = "The public option raises Global South fine-tuning"
treatment = "public_option"
baseline = "market"
[[claims.metrics]]
metric = "access.finetune.global_south"
predicts = "higher"
margin = 0.02

[[claims]]
id = "trend"
statement = "Global South fine-tuning grows"
treatment = "market"
baseline = { scenario = "market", window = [0, 3] }
[[claims.metrics]]
metric = "access.finetune.global_south"
predicts = "higher"
margin = 0.02
"""
BIMODAL = np.array([0.10] * 8 + [-0.60] * 2)  # public option minus market, per replicate


def growing(months: int = 48, replicates: int = 4, delta: np.ndarray = DELTA) -> Results:
    """Market access 0.1 + 0.01 m; the public option's gain is delta[r] + 0.002 m."""
    market = {"access.finetune.global_south": lambda r, m: 0.1 + 0.01 * m}
    public = {"access.finetune.global_south": lambda r, m: 0.1 + 0.012 * m + delta[r]}
    return batch({"market": market, "public_option": public}, replicates, months)


def test_each_claim_is_judged_early_and_late_and_one_with_its_own_window_once(tmp_path: Path):
    exp = load_experiment(write(tmp_path, TWO_CLAIMS))
    assert exp.windows == {"early": (12, 35), "late": (-12, -1)}
    tests, claims = evaluate(growing(), exp)
    assert list(zip(claims.claim, claims.window, strict=True)) == [
        ("raises", "early"),
        ("raises", "late"),
        ("trend", "own"),
    ]
    raises = tests[tests.claim == "raises"].set_index("window")
    assert list(raises.months) == ["12-35", "36-47"]
    # the gain grows 0.002 a month: its mean month is 23.5 early and 41.5 late
    assert raises.loc["early", "effect"] == pytest.approx(DELTA.mean() + 0.002 * 23.5)
    assert raises.loc["late", "effect"] == pytest.approx(DELTA.mean() + 0.002 * 41.5)
    trend = tests[tests.claim == "trend"]
    assert len(trend) == 1 and trend.iloc[0]["window"] == "own"
    assert trend.iloc[0]["months"] == "36-47 vs 0-3"  # the unwindowed side: the final 12 months
    assert trend.iloc[0]["effect"] == pytest.approx(0.01 * (41.5 - 1.5))
    assert set(tests.share_beyond_margin) == {1.0}


def test_the_share_is_reported_beside_an_interval_that_straddles_zero(tmp_path: Path):
    exp = load_experiment(write(tmp_path, TWO_CLAIMS))
    results = growing(replicates=10, delta=BIMODAL - 0.002 * 41.5)  # late effect = BIMODAL
    tests, _ = evaluate(results, exp)
    late = tests[(tests.claim == "raises") & (tests.window == "late")].iloc[0]
    assert late["effect"] == pytest.approx(BIMODAL.mean())
    assert late["low"] < 0 < late["high"] and late["verdict"] == INCONCLUSIVE
    assert late["share_beyond_margin"] == pytest.approx(0.8)


def test_a_run_too_short_for_the_early_window_is_judged_late_with_a_note(tmp_path: Path):
    exp = load_experiment(write(tmp_path, TWO_CLAIMS))
    results = growing(months=14)
    tests, claims = evaluate(results, exp)
    assert set(claims.window) == {"late", "own"} and set(tests.window) == {"late", "own"}
    assert tests[tests.claim == "raises"].iloc[0]["months"] == "2-13"
    notes = check_windows(exp, 14)
    assert len(notes) == 1 and "early window (months 12-35) does not fit" in notes[0]
    text = verdicts_markdown(ExperimentResult(exp, results, tests, claims))
    assert "**Note: the early window (months 12-35) does not fit in runs of 14 months" in text
    assert check_windows(exp, 36) == []


def test_no_window_that_fits_is_an_error_before_anything_runs(tmp_path: Path):
    exp = load_experiment(write(tmp_path, TWO_CLAIMS + "\n[windows]\nearly = [12, 35]\n"))
    assert exp.windows == {"early": (12, 35)}
    with pytest.raises(AnalysisError, match=r"no window of the experiment \(early \[12, 35\]\)"):
        check_windows(exp, 14)
    with pytest.raises(AnalysisError, match="no window of the experiment"):
        evaluate(growing(months=14), exp)  # the Python API says so too
    with pytest.raises(AnalysisError, match="claim 'trend'"):
        check_windows(exp, 3)  # the claim's own window [0, 3] does not fit either


# -- access per dollar: a ratio of sums over the whole run -----------------------------------------

PER_DOLLAR = """
description = "per dollar"
[[claims]]
id = "per_dollar"
statement = "The public option buys less access per dollar over the whole run"
treatment = { scenario = "public_option", minus = "market", window = [0, -1] }
baseline = { scenario = "outsourced_provision", minus = "market", window = [0, -1] }
[[claims.metrics]]
metric = "access.finetune.global_south"
per = "public.spend"
per_unit = 1e6
predicts = "lower"
margin = 0.001
"""


def test_access_per_dollar_is_summed_access_over_summed_spend_over_the_whole_run(tmp_path: Path):
    # The public option spends 40M a month in its first year (building a lab) and 10M after,
    # while its gain over the market grows; outsourcing spends 20M a month throughout.
    months = 48

    def gain(r: int, m: int) -> float:
        return math.nan if (r, m) == (0, 5) else 0.001 * m + DELTA[r]  # one month undefined

    def spend(r: int, m: int) -> float:
        return 4e7 if m < 12 else 1e7

    results = batch(
        {
            "market": {
                "access.finetune.global_south": lambda r, m: 0.1,
                "public.spend": lambda r, m: 0.0,
            },
            "public_option": {
                "access.finetune.global_south": lambda r, m: 0.1 + gain(r, m),
                "public.spend": spend,
            },
            "outsourced_provision": {
                "access.finetune.global_south": lambda r, m: 0.1 + DELTA[r],
                "public.spend": lambda r, m: 2e7,
            },
        },
        months=months,
    )
    exp = load_experiment(write(tmp_path, PER_DOLLAR))
    tests, claims = evaluate(results, exp)
    row = tests.iloc[0]
    assert list(claims.window) == ["own"] and row["months"] == "0-47"

    expected = []
    for r in range(4):
        defined = [m for m in range(months) if not math.isnan(gain(r, m))]
        access = sum(gain(r, m) for m in defined)  # summed over every month it is defined
        dollars = sum(spend(r, m) for m in defined) / 1e6  # over the same months
        expected.append(access / dollars)
    assert row["treatment_mean"] == pytest.approx(np.mean(expected))
    assert row["baseline_mean"] == pytest.approx(np.mean(DELTA / 20))
    # not the mean of monthly ratios, nor the final year's access over the final year's spend
    ratios = [[gain(r, m) / (spend(r, m) / 1e6) for m in range(months)] for r in range(4)]
    monthly = np.mean([np.nanmean(per_month) for per_month in ratios])
    final_year = np.mean([np.mean([gain(r, m) for m in range(36, 48)]) / 10 for r in range(4)])
    assert not np.isclose(row["treatment_mean"], monthly)
    assert not np.isclose(row["treatment_mean"], final_year)


# -- premises and the paper's positive claim ------------------------------------------------------

OTHERS = ("networked_collaboration", "outsourced_provision", "state_backed_integration")


def modes(
    spend: dict[str, float] | None = None, ahead: str | None = None, months: int = 48
) -> Results:
    """The public option and the three other modes: each other mode 0.05 behind in access and
    0.1 ahead in private capture (replicate noise 0.005 r); ``ahead`` is instead 0.05 ahead in
    deployment access; ``spend`` overrides a mode's monthly spend (default 20M for all)."""
    spend = spend or {}
    scenarios = {
        "public_option": {
            "access.finetune.global_south": lambda r, m: 0.3,
            "access.deploy.global_south": lambda r, m: 0.2,
            "capture.private": lambda r, m: 0.5,
            "public.spend": lambda r, m: 2e7,
        }
    }
    for mode in OTHERS:
        deploy = 0.05 if mode == ahead else -0.05
        spent = spend.get(mode, 2e7)
        scenarios[mode] = {
            "access.finetune.global_south": lambda r, m: 0.25 + 0.005 * r,
            "access.deploy.global_south": lambda r, m, d=deploy: 0.2 + d + 0.005 * r,
            "capture.private": lambda r, m: 0.6 + 0.005 * r,
            "public.spend": lambda r, m, s=spent: s,
        }
    return batch(scenarios, months=months)


@pytest.fixture(scope="module")
def best():
    """The shipped experiment reduced to its positive claim."""
    exp = load_experiment("counterarguments")
    claim = next(c for c in exp.claims if c.id == "public_option_best")
    return dataclasses.replace(exp, claims=(claim,), derived={})


def test_the_positive_claim_reads_as_the_paper_states_it(best):
    claim = best.claims[0]
    assert "at equal realised spend" in claim.statement and "9 tests" in claim.statement
    assert [t.scenario for t in claim.treatments] == list(OTHERS)
    assert claim.baseline.scenario == "public_option" and not claim.own_window
    assert [(t.metric, t.predicts, t.margin) for t in claim.tests] == [
        ("access.finetune.global_south", "lower", 0.02),
        ("access.deploy.global_south", "lower", 0.02),
        ("capture.private", "higher", 0.02),
    ]
    assert [(p.metric, p.margin) for p in claim.premises] == [("public.spend", 1e6)]


def test_the_positive_claim_is_judged_in_both_windows(best):
    tests, claims = evaluate(modes(), best)
    assert list(claims.window) == ["early", "late"] and set(claims.verdict) == {SUPPORTED}
    assert claims.iloc[0]["tests"] == "9 tests: 9 supported"
    premises = tests[tests.role == "premise"]
    assert len(premises) == 6 and set(premises.verdict) == {MET}  # 3 modes x 2 windows
    assert set(premises.metric) == {"public.spend"} and set(premises.share_beyond_margin) == {1.0}
    judged = tests[tests.role == "test"]
    assert len(judged) == 18 and set(judged.share_beyond_margin) == {1.0}


def test_a_mode_ahead_of_the_public_option_refutes_the_positive_claim(best):
    _, claims = evaluate(modes(ahead="state_backed_integration"), best)
    assert set(claims.verdict) == {NOT_SUPPORTED}


def test_a_mode_spending_less_is_not_judged_against_the_public_option(best):
    # outsourcing spends 10M of its 20M: it falls short, but "at equal realised spend" the claim
    # says nothing about it, so its tests are inconclusive and so is the claim
    tests, claims = evaluate(modes(spend={"outsourced_provision": 1e7}), best)
    assert set(claims.verdict) == {INCONCLUSIVE}
    assert claims.iloc[0]["tests"] == "9 tests: 6 supported, 3 inconclusive; 1 premise(s) not met"
    mine = tests[tests.treatment == "outsourced_provision"]
    premise = mine[mine.role == "premise"].iloc[0]
    assert premise["verdict"] == NOT_MET and premise["effect"] == pytest.approx(-1e7)
    judged = mine[mine.role == "test"]
    assert set(judged.verdict) == {INCONCLUSIVE}  # though each effect is as the claim predicts
    assert set(judged.finding) == {"clearly lower", "clearly higher"}
    assert all(r.startswith("premise not met (public.spend not equal)") for r in judged.reason)
    # ... while a mode clearly ahead still refutes it whatever the others spend
    _, claims = evaluate(modes({"outsourced_provision": 1e7}, "networked_collaboration"), best)
    assert set(claims.verdict) == {NOT_SUPPORTED}
