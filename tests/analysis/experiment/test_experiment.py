"""Experiments: verdict logic on synthetic effects, claims evaluated on a synthetic table with
known answers, validation of experiment files (one-line errors, exit 2), the shipped
counter-arguments file, and one tiny experiment run end to end."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import BASE, DELTA, REPO, T3, synthetic

from analysis.experiment.claims import load_experiment, resolve_window
from analysis.experiment.verdicts import (
    HIGHER,
    INCONCLUSIVE,
    LOWER,
    NEGLIGIBLE,
    NOT_SUPPORTED,
    SUPPORTED,
    UNCLEAR,
    UNDEFINED,
    classify,
    combine,
    evaluate,
    verdict,
)
from analysis.results.derived import add_derived
from analysis.results.load import AnalysisError, from_frame
from cli import main

ROOT = REPO
S, N, U = SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE  # U: undecided
NAN = float("nan")

# effect estimate, CI low, CI high, margin -> finding, and the verdict for each prediction
EFFECTS = {
    "clearly_positive": ((0.10, 0.05, 0.15, 0.02), HIGHER, {"higher": S, "lower": N,
                         "not_higher": N, "not_lower": S}),
    "clearly_negative": ((-0.10, -0.15, -0.05, 0.02), LOWER, {"higher": N, "lower": S,
                         "not_higher": S, "not_lower": N}),
    "straddling_zero": ((0.01, -0.05, 0.07, 0.02), UNCLEAR, {"higher": U, "lower": U,
                        "not_higher": U, "not_lower": U}),
    "within_margin": ((0.001, -0.005, 0.008, 0.02), NEGLIGIBLE, {"higher": U, "lower": U,
                      "not_higher": S, "not_lower": S}),
    "positive_but_small": ((0.01, 0.005, 0.03, 0.02), UNCLEAR, {"higher": U, "lower": U,
                           "not_higher": U, "not_lower": U}),
    "no_margin_positive": ((0.001, 0.0005, 0.0015, 0.0), HIGHER, {"higher": S, "lower": N,
                           "not_higher": N, "not_lower": S}),
    "one_replicate": ((0.10, NAN, NAN, 0.02), UNDEFINED, {"higher": U, "lower": U,
                      "not_higher": U, "not_lower": U}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(EFFECTS))
def test_verdicts_follow_from_the_interval_and_the_margin(case: str):
    (est, low, high, margin), finding, expected = EFFECTS[case]
    assert classify(est, low, high, margin) == finding
    for predicts, wanted in expected.items():
        got, got_finding, reason = verdict(est, low, high, predicts, margin)
        assert (got, got_finding) == (wanted, finding), predicts
        assert reason and "\n" not in reason
    if finding == UNCLEAR and low <= 0 <= high:
        assert "straddles 0" in verdict(est, low, high, "higher", margin)[2]


def test_combining_test_verdicts_into_a_claim():
    assert combine([S, S]) == S
    assert combine([S, U]) == U
    assert combine([S, N, U]) == N
    assert combine([S, N], "any") == S
    assert combine([N, N], "any") == N
    assert combine([N, U], "any") == U
    with pytest.raises(ValueError):
        verdict(0.1, 0.0, 0.2, "up")


# -- claims on a synthetic table -----------------------------------------------------------------

EXPERIMENT = """
description = "test experiment"

[derived]
"gap.finetune" = "access.finetune.well_funded - access.finetune.global_south"

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
id = "flat"
statement = "Public money changes nothing"
treatment = ["public_option", "outsourced_provision"]
baseline = "market"
[[claims.metrics]]
metric = "access.finetune.global_south"
predicts = "not_higher"
margin = 0.02
[[claims.metrics]]
metric = "gap.finetune"
predicts = "not_lower"
margin = 0.02

[[claims]]
id = "per_dollar"
statement = "The public option buys less access per dollar"
treatment = { scenario = "public_option", minus = "market" }
baseline = { scenario = "outsourced_provision", minus = "market" }
[[claims.metrics]]
metric = "access.finetune.global_south"
per = "public.spend"
per_unit = 1e6
predicts = "lower"
margin = 0.001

[[claims]]
id = "trend"
statement = "The frontier grows"
treatment = "market"
baseline = { scenario = "market", window = [0, 3] }
[[claims.metrics]]
metric = "capability.frontier"
predicts = "higher"
margin = 0.1
"""


def three_scenarios() -> pd.DataFrame:
    """synthetic() plus outsourced_provision: half the public option's gain, same spend."""
    frame = synthetic()
    op = frame[frame.scenario == "public_option"].copy()
    op["scenario"] = "outsourced_provision"
    op["access.finetune.global_south"] -= 0.5 * DELTA[op["replicate"].to_numpy()]
    return pd.concat([frame, op], ignore_index=True)


@pytest.fixture
def experiment_file(tmp_path: Path):
    def write(text: str = EXPERIMENT, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_claims_are_evaluated_with_known_effects(experiment_file):
    exp = load_experiment(experiment_file())
    assert exp.scenarios == ["public_option", "market", "outsourced_provision"]
    results = add_derived(from_frame(three_scenarios()), exp.derived)
    tests, claims = evaluate(results, exp)
    verdicts = dict(zip(claims.claim, claims.verdict, strict=True))
    assert verdicts == {"raises": S, "flat": N, "per_dollar": N, "trend": S}

    raises = tests[tests.claim == "raises"].iloc[0]
    half = T3 * DELTA.std(ddof=1) / 2
    assert raises["effect"] == pytest.approx(DELTA.mean())
    assert (raises["low"], raises["high"]) == pytest.approx(
        (DELTA.mean() - half, DELTA.mean() + half)
    )
    assert raises["n"] == 4 and raises["finding"] == HIGHER

    flat = tests[tests.claim == "flat"]
    assert len(flat) == 4  # two treatments x two metrics
    gap = flat[(flat.metric == "gap.finetune") & (flat.treatment == "public_option")].iloc[0]
    assert gap["effect"] == pytest.approx(0.01 - DELTA.mean())  # well_funded also +0.01

    # Per million USD: (PO - market) / 20 vs (OP - market) / 20 = DELTA/20 - DELTA/40.
    per = tests[tests.claim == "per_dollar"].iloc[0]
    assert per["effect"] == pytest.approx(DELTA.mean() / 40)
    assert per["treatment_mean"] == pytest.approx(DELTA.mean() / 20)
    assert per["finding"] == HIGHER and per["verdict"] == N

    trend = tests[tests.claim == "trend"].iloc[0]  # months 2..13 vs 0..3 of 8 + 0.1 m
    assert trend["effect"] == pytest.approx(0.6) and trend["baseline"].endswith("0-3")


def test_one_replicate_makes_every_verdict_inconclusive(experiment_file):
    exp = load_experiment(experiment_file())
    frame = three_scenarios()
    results = add_derived(from_frame(frame[frame.replicate == 0]), exp.derived)
    tests, claims = evaluate(results, exp)
    assert set(tests.verdict) == {U} and set(tests.finding) == {UNDEFINED}
    assert tests["low"].isna().all()


def test_windows_count_from_the_end_and_must_fit_the_run():
    assert resolve_window((-12, -1), 120) == (108, 119)
    assert resolve_window((24, -1), 120) == (24, 119)
    assert resolve_window((-12, -1), 6) == (0, 5)  # the default: every month of a short run
    with pytest.raises(ValueError, match=r"outside the run's months 0..5"):
        resolve_window((12, 23), 6)


# -- validation of experiment files ---------------------------------------------------------------

BAD = {
    "syntax": ("[[claims]\n", "TOML syntax"),
    "no_claims": ('description = "x"\n', "missing key 'claims'"),
    "unknown_top_key": (EXPERIMENT + "\nclams = 1\n", "unknown key 'clams'"),
    "unknown_claim_key": (
        EXPERIMENT.replace('id = "raises"', 'id = "raises"\nbaseline_ = "x"'),
        "unknown key 'baseline_'",
    ),
    "missing_statement": (
        EXPERIMENT.replace('statement = "The frontier grows"\n', ""),
        "missing key 'statement'",
    ),
    "bad_predicts": (
        EXPERIMENT.replace('predicts = "higher"\nmargin = 0.02', 'predicts = "hihger"', 1),
        "did you mean 'higher'",
    ),
    "negative_margin": (EXPERIMENT.replace("margin = 0.02", "margin = -1", 1), "margin"),
    "infinite_margin": (
        EXPERIMENT.replace("margin = 0.02", "margin = inf", 1),
        "expected a finite number",
    ),
    "unknown_scenario": (
        EXPERIMENT.replace('treatment = "public_option"', 'treatment = "public_optoin"'),
        "unknown scenario 'public_optoin' (did you mean 'public_option'?)",
    ),
    "unknown_metric": (
        EXPERIMENT.replace('metric = "capability.frontier"', 'metric = "capability.fronteir"'),
        "did you mean 'capability.frontier'",
    ),
    "duplicate_id": (EXPERIMENT.replace('id = "flat"', 'id = "raises"'), "used twice"),
    "bad_window": (EXPERIMENT.replace("window = [0, 3]", "window = [3, 0]"), "first <= last"),
    "bad_combine": (
        EXPERIMENT.replace('id = "trend"', 'id = "trend"\ncombine = "most"'),
        "combine",
    ),
    "bad_derived": (
        EXPERIMENT.replace(
            '"gap.finetune" = "access.finetune.well_funded - access.finetune.global_south"',
            '"gap.finetune" = "access.finetune.well_funded access.finetune.global_south"',
        ),
        "derived.gap.finetune",
    ),
    "derived_unknown_metric": (
        EXPERIMENT.replace("access.finetune.well_funded -", "access.finetune.wellfunded -"),
        "not produced by any scenario",
    ),
    "window_label_own": (
        EXPERIMENT + "\n[windows]\nown = [0, 11]\n",
        "windows.own: a label is letters, digits",
    ),
    "empty_windows": (EXPERIMENT + "\n[windows]\n", "windows: expected a table"),
    "premise_without_margin": (
        EXPERIMENT.replace(
            'id = "raises"', 'id = "raises"\npremises = [{ metric = "public.spend" }]'
        ),
        "missing key 'margin'",
    ),
    "premise_zero_margin": (
        EXPERIMENT.replace(
            'id = "raises"', 'id = "raises"\npremises = [{ metric = "public.spend", margin = 0 }]'
        ),
        "expected a number > 0",
    ),
    "premise_unknown_metric": (
        EXPERIMENT.replace(
            'id = "raises"', 'id = "raises"\npremises = [{ metric = "public.spent", margin = 1 }]'
        ),
        "did you mean 'public.spend'",
    ),
    "scenario_file_missing": (
        EXPERIMENT + '\n[scenarios]\nmine = "mine.toml"\n',
        "not found beside the experiment",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_experiment_files_are_one_line_errors_with_exit_2(
    case: str, experiment_file, tmp_path: Path, capsys
):
    text, expected = BAD[case]
    path = experiment_file(text)
    with pytest.raises(AnalysisError) as info:
        load_experiment(path)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert str(path) in str(info.value)
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err
    assert not out.exists()  # nothing ran, nothing written


def test_unknown_experiment_name_and_windows_too_long_for_steps(tmp_path: Path, capsys):
    assert main(["experiment", "counterargument"]) == 2
    assert "did you mean 'counterarguments'" in capsys.readouterr().err
    out = tmp_path / "short"
    assert main(["experiment", "counterarguments", "--steps", "12", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "open_source_wins" in err and "outside the run's months 0..11" in err
    assert err.count("\n") == 1 and not out.exists()


# -- the shipped counter-arguments ----------------------------------------------------------------


def test_counterarguments_file_defines_the_five_claims_and_the_positive_one():
    exp = load_experiment("counterarguments")
    assert [c.id for c in exp.claims] == [
        "market_works",
        "open_source_wins",
        "hosting_suffices",
        "regulation_better",
        "public_inefficient",
        "public_option_best",
    ]
    assert {"market", "public_option", "market_shocks", "public_option_shocks"} <= set(
        exp.scenarios
    )
    assert all(c.statement and c.rationale for c in exp.claims)
    assert exp.source("public_option_shocks").endswith("public_option_shocks.toml")
    assert exp.windows == {"early": (12, 35), "late": (-12, -1)}
    own = {c.id for c in exp.claims if c.own_window}
    assert own == {"open_source_wins", "hosting_suffices", "public_inefficient"}
    inefficient = next(c for c in exp.claims if c.id == "public_inefficient")
    assert {side.window for side in inefficient.sides} == {(0, -1)}  # the whole run


def test_every_statement_says_how_many_tests_must_hold():
    # "all" refutes a claim on one test going the wrong way: the statement must say so
    for claim in load_experiment("counterarguments").claims:
        n = len(claim.treatments) * len(claim.tests)
        said = f"all {n} tests" if n > 2 else "both tests"
        assert claim.combine == "all" and said in claim.statement.lower(), claim.id
        assert "refutes it" in claim.statement, claim.id


def test_public_option_shocks_has_exactly_the_market_shocks_events():
    def events(path: Path) -> list:
        return tomllib.loads(path.read_text())["events"]

    shocks = ROOT / "scenarios" / "experiments" / "public_option_shocks.toml"
    assert events(shocks) == events(ROOT / "scenarios" / "market_shocks.toml")


# -- a tiny experiment, end to end ----------------------------------------------------------------

TINY = """
description = "tiny"
[[claims]]
id = "public_spends"
statement = "The public option spends public money"
treatment = "public_option"
baseline = "market"
[[claims.metrics]]
metric = "public.budget"
predicts = "higher"
margin = 1000
[[claims.metrics]]
metric = "access.run.global_south"
predicts = "not_lower"
margin = 0.02
"""


def test_tiny_experiment_runs_through_the_batch_and_writes_its_report(
    experiment_file, tmp_path: Path, capsys
):
    path = experiment_file(TINY, "tiny.toml")
    out = tmp_path / "tiny"
    argv = ["experiment", str(path), "--replicates", "2", "--steps", "6"]
    argv += ["--researchers", "200", "--workers", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "| claim | window | verdict | tests |" in text and "public_spends" in text
    assert "**Note: the early window (months 12-35) does not fit in runs of 6 months" in text
    tests = pd.read_csv(out / "verdicts.csv")
    assert {"window", "months", "share_beyond_margin"} <= set(tests.columns)
    assert set(tests.window) == {"late"} and set(tests.months) == {"0-5"}  # all 6 months
    spend = tests[tests.metric == "public.budget"].iloc[0]
    assert spend["effect"] == pytest.approx(2e7) and spend["verdict"] == S
    assert spend["share_beyond_margin"] == 1.0 and "| 2/2 (100%) |" in text
    assert set(tests.verdict) <= {S, N, U}
    html = (out / "tiny.html").read_text()
    assert len(re.findall(r"<img ", html)) == 1 and "public_spends" in html
    assert "replicates beyond margin" in html and "2/2 (100%)" in html
    assert (out / "verdicts.md").read_text() in text
    first = (out / "verdicts.csv").read_bytes()
    assert main(argv) == 0  # rerun: the batch is complete, the analysis is the same
    assert (out / "verdicts.csv").read_bytes() == first
    assert not math.isnan(spend["low"]) and np.isfinite(BASE).all()
