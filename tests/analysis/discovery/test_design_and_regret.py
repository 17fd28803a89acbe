"""The sampled futures (seeded Latin hypercube), the --fails threshold, and regret: known
answers on small tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.discovery.regret import final_means, regret_summary, regret_table
from analysis.discovery.sample import latin_hypercube
from analysis.discovery.threshold import parse_threshold
from analysis.fitting.sensitivity import Param
from simulation.errors import UsageError

PARAMS = [Param("a.x", 1.5, 4.0), Param("b.n", 1, 9, integer=True)]


def test_latin_hypercube_is_seeded_stratified_and_rounds_whole_numbers():
    first = latin_hypercube(PARAMS, 10, seed=3)
    assert first.equals(latin_hypercube(PARAMS, 10, seed=3))
    assert not first.equals(latin_hypercube(PARAMS, 10, seed=4))
    strata = np.floor((first["a.x"] - 1.5) / 2.5 * 10).astype(int)
    assert sorted(strata) == list(range(10))  # one future per tenth of the range
    assert first["b.n"].dtype.kind == "i" and first["b.n"].between(1, 9).all()


def test_fewer_than_two_samples_is_refused():
    with pytest.raises(UsageError, match="at least 2"):
        latin_hypercube(PARAMS, 1, seed=0)


@pytest.mark.parametrize(
    ("text", "metric", "comparison", "value"),
    [("access.finetune.global_south<0.2", "access.finetune.global_south", "<", 0.2),
     ("market.gpu_price >= 2", "market.gpu_price", ">=", 2.0)],
)  # fmt: skip
def test_threshold_parses_and_tests(text, metric, comparison, value):
    t = parse_threshold(text)
    assert (t.metric, t.comparison, t.value) == (metric, comparison, value)
    below, above = value - 1, value + 1
    assert list(t.fails(np.array([below, above, np.nan]))) == (
        [True, False, False] if "<" in comparison else [False, True, False]
    )


@pytest.mark.parametrize("text", ["access.finetune.global_south", "x<", "<1", "x<abc", "x<inf",
                                  "x=1", "x<1<2"])  # fmt: skip
def test_malformed_threshold_is_refused(text):
    with pytest.raises(UsageError, match="METRIC<VALUE"):
        parse_threshold(text)


def test_regret_best_and_ties():
    design = pd.DataFrame({"u": [0.1, 0.2, 0.3, 0.4]})
    outcomes = pd.DataFrame({"market": [0.5, 0.2, 0.3, np.nan], "public": [0.4, 0.6, 0.3, np.nan]})
    table = regret_table(design, outcomes, ["market", "public"])
    assert list(table["best"]) == ["market", "public", "market", ""]  # a tie goes to the first
    assert table["regret.market"].tolist()[:3] == pytest.approx([0.0, 0.4, 0.0])
    assert table["regret.public"].tolist()[:3] == pytest.approx([0.1, 0.0, 0.0])
    assert table[["regret.market", "regret.public"]].iloc[3].isna().all()
    assert list(table.columns) == ["sample", "u", "outcome.market", "outcome.public", "best",
                                   "regret.market", "regret.public"]  # fmt: skip

    low = regret_table(design, outcomes, ["market", "public"], minimise=True)
    assert list(low["best"])[:2] == ["public", "market"]
    assert low["regret.market"].tolist()[:2] == pytest.approx([0.1, 0.0])

    summary = regret_summary(table, ["market", "public"])
    assert summary["scenario"].tolist() == ["public", "market"]  # lower max regret first
    assert summary.set_index("scenario").at["public", "best_in"] == 2
    assert summary.set_index("scenario").at["market", "max_regret"] == pytest.approx(0.4)


def test_final_means_average_the_last_months_then_the_replicates():
    rows = []
    for scenario, level in (("market", 0.0), ("public", 10.0)):
        for point in (0, 1):
            for replicate in (0, 1):
                for step in range(20):
                    value = level + point + replicate + (100 if step < 8 else 0)
                    rows.append((scenario, point, replicate, step, value))
    results = pd.DataFrame(rows, columns=["scenario", "point", "replicate", "step", "m"])
    means = final_means(results, "m", months=12)  # months 8..19: the 100s are excluded
    assert means.loc[0, "market"] == pytest.approx(0.5)
    assert means.loc[1, "public"] == pytest.approx(11.5)
    assert final_means(results, "m", months=50).loc[0, "market"] > 30  # shorter runs: all months


def test_undefined_months_are_skipped_and_an_undefined_outcome_has_no_regret():
    rows = []
    for scenario in ("market", "public"):
        for step in range(14):
            value = np.nan if step % 2 else (1.0 if scenario == "market" else 3.0)
            rows.append((scenario, 0, 0, step, value, np.nan if scenario == "public" else 2.0))
    results = pd.DataFrame(rows, columns=["scenario", "point", "replicate", "step", "m", "u"])
    means = final_means(results, "m")
    assert means.loc[0, "market"] == 1.0 and means.loc[0, "public"] == 3.0  # NaN months skipped
    undefined = final_means(results, "u")
    assert np.isnan(undefined.loc[0, "public"])
    table = regret_table(pd.DataFrame({"x": [0.5]}), undefined, ["market", "public"])
    assert table.at[0, "best"] == "market" and table.at[0, "regret.market"] == 0
    assert np.isnan(table.at[0, "regret.public"])  # not best, not a regret: unknown
    summary = regret_summary(table, ["market", "public"]).set_index("scenario")
    assert summary.at["public", "best_in"] == 0
