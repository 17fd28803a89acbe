"""analysis/: comparison statistics against hand-computed answers, figures, the HTML report,
the Python batch API, and bad input on the command line (one line, exit 2, no traceback).

Almost everything runs on a small synthetic results table built here, whose means, t-intervals
and paired differences are known; one test runs a tiny real batch end to end.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import BASE, DELTA, MONTHS, REPO, T3, synthetic

import analysis
from analysis.results.compare import compare, compare_markdown, windows
from analysis.results.derived import add_derived, parse
from analysis.results.load import AnalysisError, from_frame, load_batch
from analysis.results.plots import (
    plot_access_grid,
    plot_curves,
    save,
    scenario_colours,
    write_figures,
)
from analysis.results.stats import t_interval
from analysis.results.window import FINAL_MONTHS, final_window
from cli import main

ROOT = REPO


def write_batch(directory: Path, frame: pd.DataFrame | None = None) -> Path:
    """A batch directory holding a synthetic results.parquet and a minimal batch.json."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = synthetic() if frame is None else frame
    frame.to_parquet(directory / "results.parquet", index=False)
    meta = {
        "command": "python run.py batch market public_option (synthetic)",
        "scenarios": {"market": "market", "public_option": "public_option"},
        "replicates": int(frame["replicate"].nunique()),
        "sweep": {},
        "configs": [
            {"scenario": s, "sweep": {}, "config": {"description": f"config of {s}"}}
            for s in ("market", "public_option")
        ],
    }
    (directory / "batch.json").write_text(json.dumps(meta))
    return directory


@pytest.fixture
def batch_dir(tmp_path: Path) -> Path:
    return write_batch(tmp_path / "batch")


def row(table: pd.DataFrame, scenario: str, metric: str, window: str) -> pd.Series:
    hit = table[(table.scenario == scenario) & (table.metric == metric) & (table.window == window)]
    assert len(hit) == 1
    return hit.iloc[0]


# -- statistics ---------------------------------------------------------------------------------


def test_t_interval_matches_the_textbook_formula():
    x = [1.0, 2.0, 4.0, 7.0]
    iv = t_interval(x)
    half = T3 * np.std(x, ddof=1) / 2
    assert iv.n == 4 and iv.mean == pytest.approx(3.5)
    assert (iv.low, iv.high) == pytest.approx((3.5 - half, 3.5 + half))
    assert math.isnan(t_interval([5.0]).low) and t_interval([5.0]).mean == 5.0
    assert t_interval([]).n == 0 and math.isnan(t_interval([float("nan")]).mean)


def test_compare_means_intervals_and_paired_differences_match_hand_computation():
    table = compare(from_frame(synthetic()), metrics=["access.finetune.global_south"])
    assert table.attrs["baseline"] == "market"  # the default when present
    # Final 12 months = 2..13: the month trend adds mean(2..13) * 0.01 = 0.075.
    m = row(table, "market", "access.finetune.global_south", "final")
    half = T3 * BASE.std(ddof=1) / 2
    assert m["months"] == "months 2-13" and m["n"] == 4
    assert m["mean"] == pytest.approx(0.325)
    assert (m["ci_low"], m["ci_high"]) == pytest.approx((0.325 - half, 0.325 + half))
    assert math.isnan(m["diff"])  # the baseline has no difference with itself

    p = row(table, "public_option", "access.finetune.global_south", "final")
    paired_half = T3 * DELTA.std(ddof=1) / 2
    assert p["diff"] == pytest.approx(DELTA.mean())
    assert (p["diff_low"], p["diff_high"]) == pytest.approx(
        (DELTA.mean() - paired_half, DELTA.mean() + paired_half)
    )
    assert p["n_pairs"] == 4
    # Pairing removes the replicate spread both scenarios share: far narrower than unpaired.
    assert paired_half < half / 5

    last = row(table, "public_option", "access.finetune.global_south", "month")
    assert last["months"] == "month 13"
    assert last["mean"] == pytest.approx(BASE.mean() + 0.13 + DELTA.mean())


def test_compare_chosen_month_default_metrics_and_dataframe_input():
    table = analysis.compare(synthetic(), month=5)  # a DataFrame works too
    assert set(table.months) == {"month 5", "months 2-13"}
    metrics = list(dict.fromkeys(table.metric))
    assert metrics[:6] == [
        f"access.{t}.{g}"
        for t in ("run", "finetune", "deploy")
        for g in ("well_funded", "global_south")
    ]
    assert {"capture.private", "capability.best_open", "public.spend"} <= set(metrics)
    five = row(table, "market", "access.finetune.global_south", "month")
    assert five["mean"] == pytest.approx(BASE.mean() + 0.05)
    assert list(table.scenario.unique()) == ["market", "public_option"]


def test_compare_other_baseline_and_first_scenario_default():
    table = compare(from_frame(synthetic()), baseline="public_option", metrics=["public.spend"])
    m = row(table, "market", "public.spend", "final")
    assert m["diff"] == pytest.approx(-2e7) and m["diff_low"] == pytest.approx(-2e7)
    no_market = synthetic().query("scenario == 'public_option'")
    assert compare(no_market, metrics=["public.spend"]).attrs["baseline"] == "public_option"


def test_differences_are_paired_within_sweep_points_and_drop_unpaired_replicates():
    a, b = synthetic(), synthetic()
    a["public.budget_usd_per_month"], b["public.budget_usd_per_month"] = 0.0, 1e7
    b["access.finetune.global_south"] += np.where(b.scenario == "public_option", 0.5, 0.0)
    frame = pd.concat([a, b], ignore_index=True)
    cols = [c for c in frame.columns if c != "public.budget_usd_per_month"]
    frame = frame[[*cols[:3], "public.budget_usd_per_month", *cols[3:]]]
    frame = frame[~((frame.scenario == "public_option") & (frame.replicate == 3))]  # a failed run
    res = from_frame(frame)
    assert res.sweep_keys == ("public.budget_usd_per_month",)
    table = compare(res, metrics=["access.finetune.global_south"])
    final = table[(table.window == "final") & (table.scenario == "public_option")]
    by_point = final.set_index("public.budget_usd_per_month")
    assert by_point.loc[0.0, "diff"] == pytest.approx(DELTA[:3].mean())
    assert by_point.loc[1e7, "diff"] == pytest.approx(DELTA[:3].mean() + 0.5)
    assert set(final.n_pairs) == {3}
    text = compare_markdown(table)
    assert "public.budget_usd_per_month=1e+07" in text


def test_one_replicate_gives_undefined_intervals_not_a_crash():
    table = compare(from_frame(synthetic(replicates=1)), metrics=["access.run.well_funded"])
    assert table["ci_low"].isna().all() and table["diff_low"].isna().all()
    assert table["mean"].notna().all()
    text = compare_markdown(table)
    assert "n/a" in text and "undefined" in text


def test_short_runs_use_every_month_for_the_final_window():
    res = from_frame(synthetic(months=5))
    assert [(w.kind, w.first, w.last) for w in windows(res, None)] == [
        ("month", 4, 4),
        ("final", 0, 4),
    ]


@pytest.mark.parametrize("months", [5, 14, 30])
def test_compare_sensitivity_and_discover_average_the_same_final_months(months):
    """compare's final window is the rows ``final_window`` keeps (sensitivity, discover)."""
    frame = synthetic(months=months)
    final = windows(from_frame(frame), None)[1]
    kept = sorted(final_window(frame)["step"].unique())
    assert kept == list(range(final.first, final.last + 1))
    assert len(kept) == min(months, FINAL_MONTHS)


def test_unknown_metric_scenario_or_month_is_a_one_line_analysis_error():
    res = from_frame(synthetic())
    with pytest.raises(AnalysisError, match=r"did you mean 'access.run.global_south'"):
        compare(res, metrics=["access.run.globl_south"])
    with pytest.raises(AnalysisError, match="baseline 'markt'.*did you mean 'market'"):
        compare(res, baseline="markt")
    with pytest.raises(AnalysisError, match=r"month 99 is not in the results \(months 0..13\)"):
        compare(res, month=99)


def test_derived_metrics_are_linear_combinations_with_absent_columns_as_zero():
    assert parse("a.b - 0.5 * c.d + e") == [(1.0, "a.b"), (-0.5, "c.d"), (1.0, "e")]
    frame = synthetic()
    frame.loc[frame.scenario == "market", "downloads.public"] = np.nan  # kind market lacks
    res = add_derived(from_frame(frame), {"open": "downloads.nonprofit + downloads.public"})
    got = res.frame.groupby("scenario")["open"].first()
    assert got["market"] == pytest.approx(0.3) and got["public_option"] == pytest.approx(0.8)
    with pytest.raises(AnalysisError, match="cannot read"):
        add_derived(res, {"x": "downloads.public downloads.nonprofit"})


# -- batches on disk ----------------------------------------------------------------------------


def test_load_batch_reads_table_and_provenance(batch_dir: Path):
    res = load_batch(batch_dir)
    assert res.scenarios == ["market", "public_option"]
    assert res.groups == ["well_funded", "global_south"]
    assert res.lab_kinds == ["frontier_closed", "nonprofit", "public"]
    assert res.replicates == 4 and res.months == list(range(MONTHS))
    assert res.meta["configs"][0]["scenario"] == "market"


def test_load_batch_explains_a_missing_or_unfinished_batch(tmp_path: Path):
    with pytest.raises(AnalysisError, match="no such directory"):
        load_batch(tmp_path / "nope")
    with pytest.raises(AnalysisError, match="not a batch directory"):
        load_batch(tmp_path)
    (tmp_path / "plan.json").write_text("{}")
    with pytest.raises(AnalysisError, match="has not finished"):
        load_batch(tmp_path)
    (tmp_path / "results.parquet").write_text("not parquet")
    with pytest.raises(AnalysisError, match="cannot read"):
        load_batch(tmp_path)


# -- figures ------------------------------------------------------------------------------------


def test_every_figure_is_written_non_empty_and_deterministic(tmp_path: Path):
    res = from_frame(synthetic())
    paths = write_figures(res, tmp_path / "a", formats=("png",))
    names = sorted(p.stem for p in paths)
    assert names == ["access", "access_gap", "capture", "curves", "downloads"]
    assert all(p.stat().st_size > 5000 for p in paths)
    again = write_figures(res, tmp_path / "b", metrics=None, formats=("png",))
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    assert len({p.read_bytes() for p in paths}) == len(paths)  # all different figures


def test_access_by_language_is_drawn_when_the_results_have_languages(tmp_path: Path):
    """Language columns get a figure of their own and never a group's panel."""
    frame = synthetic()
    for t in ("run", "finetune", "deploy"):
        for i, lang in enumerate(("high_resource", "low_resource")):
            frame[f"access.{t}.language.{lang}"] = frame[f"access.{t}.well_funded"] * (1 - i / 2)
    res = from_frame(frame)
    assert res.languages == ["high_resource", "low_resource"]
    assert "language.high_resource" not in res.groups
    names = sorted(p.stem for p in write_figures(res, tmp_path, formats=("png",)))
    assert "access_language" in names and "access" in names
    with pytest.raises(AnalysisError, match="expected 'group' or 'language'"):
        plot_access_grid(res, by="lab")


def test_different_metrics_give_different_curves(tmp_path: Path):
    res = from_frame(synthetic())
    a = save(plot_curves(res, ["market.gpu_price"]), tmp_path / "a", ("png", "svg"))
    b = save(plot_curves(res, ["stranded.deployments"]), tmp_path / "b", ("png", "svg"))
    for pa, pb in zip(a, b, strict=True):
        assert pa.stat().st_size > 1000 and pa.read_bytes() != pb.read_bytes()
    assert b"<svg" in a[1].read_bytes()


def test_plot_metric_draws_into_given_axes_with_fixed_scenario_colours():
    import matplotlib.pyplot as plt

    res = from_frame(synthetic())
    fig, ax = plt.subplots()
    try:
        assert analysis.plot_metric(res, "access.finetune.global_south", ax=ax) is ax
        lines = {ln.get_label(): ln.get_color() for ln in ax.get_lines()}
        colours = scenario_colours(["public_option", "market"])
        assert set(lines) == {"market", "public_option"}
        assert lines["market"] == colours["market"] != colours["public_option"]
        assert ax.get_xlabel() == "month" and "0-1" in ax.get_ylabel()
    finally:
        plt.close(fig)
    # The same scenario keeps its colour whatever else is in the batch.
    assert scenario_colours(["market", "zzz", "public_option"])["market"] == colours["market"]
    assert len(plt.get_fignums()) == 0 or all(n != fig.number for n in plt.get_fignums())


def test_plot_command_writes_png_and_svg(batch_dir: Path, capsys):
    assert main(["plot", str(batch_dir), "--metrics", "market.gpu_price", "public.spend"]) == 0
    figures = batch_dir / "figures"
    assert {p.suffix for p in figures.iterdir()} == {".png", ".svg"}
    assert len(list(figures.glob("*.png"))) == 5
    assert "wrote 10 figures" in capsys.readouterr().out


# -- report -------------------------------------------------------------------------------------


def test_report_embeds_every_figure_tables_and_configs(batch_dir: Path, capsys):
    assert main(["report", str(batch_dir)]) == 0
    html = (batch_dir / "report.html").read_text()
    pngs = list((batch_dir / "figures").glob("*.png"))
    assert len(pngs) == 5
    assert len(re.findall(r"<img ", html)) == len(pngs)
    assert html.count("data:image/png;base64,") == len(pngs)
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "access.finetune.global_south" in html and "Δ vs market" in html
    assert "config of public_option" in html and "synthetic" in html
    assert str(batch_dir / "report.html") in capsys.readouterr().out


def test_compare_command_prints_and_saves_csv_and_markdown(batch_dir: Path, capsys):
    code = main(["compare", str(batch_dir), "--month", "3", "--metrics", "public.spend"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| public_option | 2e+07 [2e+07, 2e+07] | +2e+07 [+2e+07, +2e+07]" in out
    csv = pd.read_csv(batch_dir / "compare.csv")
    assert set(csv.metric) == {"public.spend"} and set(csv.months) == {"month 3", "months 2-13"}
    assert (batch_dir / "compare.md").read_text() in out


# -- bad input ----------------------------------------------------------------------------------

BAD = {
    "no_results": (["compare", "{empty}"], "no results.parquet"),
    "no_dir": (["plot", "{empty}/nope"], "no such directory"),
    "unknown_metric": (["compare", "{batch}", "--metrics", "access.run.nobody"], "'access.run"),
    "unknown_baseline": (["compare", "{batch}", "--baseline", "markt"], "did you mean 'market'"),
    "bad_month": (["compare", "{batch}", "--month", "40"], "month 40"),
    "negative_month": (["compare", "{batch}", "--month", "-1"], "--month"),
    "plot_metric": (["plot", "{batch}", "--metrics", "nope"], "metric 'nope'"),
    "report_baseline": (["report", "{batch}", "--baseline", "nope"], "baseline 'nope'"),
    "report_no_results": (["report", "{empty}"], "no results.parquet"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_exit_2(case: str, tmp_path: Path, capsys):
    argv, expected = BAD[case]
    batch = write_batch(tmp_path / "batch")
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(batch=batch, empty=empty) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err and "Traceback" not in err
    assert not (batch / "report.html").exists() and not (batch / "figures").exists()


def test_bad_input_in_a_subprocess_is_one_line_without_traceback(tmp_path: Path):
    batch = write_batch(tmp_path / "batch")
    for argv, expected in (
        (["compare", str(tmp_path)], "not a batch directory"),
        (["plot", str(batch), "--metrics", "capture.privat"], "did you mean 'capture.private'"),
    ):
        proc = subprocess.run(  # noqa: S603
            [sys.executable, "run.py", *argv], cwd=ROOT, capture_output=True, text=True
        )
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""


# -- a tiny real batch through the Python API ---------------------------------------------------


def test_run_batch_api_then_compare_and_plot(tmp_path: Path):
    res = analysis.run_batch(
        ["market", "public_option"],
        tmp_path / "tiny",
        replicates=2,
        steps=6,
        researchers=200,
        workers=2,
    )
    assert res.scenarios == ["market", "public_option"] and res.replicates == 2
    assert res.meta["replicates"] == 2 and len(res.meta["configs"]) == 2
    table = analysis.compare(res, metrics=["access.run.global_south", "public.spend"])
    spend = row(table, "public_option", "public.spend", "final")
    assert spend["diff"] > 0 and spend["n_pairs"] == 2
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    analysis.plot_metric(res, "access.run.global_south", ax=ax)
    assert {ln.get_label() for ln in ax.get_lines()} == {"market", "public_option"}
    plt.close(fig)
