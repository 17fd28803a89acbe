"""Targets and validation: statistics, pass/fail and the command, on synthetic values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.fitting.targets import (
    TARGETS_FILE,
    Target,
    TargetSet,
    growth_per_year,
    load_targets,
    open_lag_months,
)
from analysis.fitting.validate import format_table, validate
from analysis.results.stats import t_interval
from cli import main
from simulation.config import ConfigError


def mean_target(low=None, high=None) -> Target:
    return Target("share", "mean", ("x",), low, high, "test")


@pytest.mark.parametrize(
    ("low", "high", "value", "ok"),
    [
        (0.1, 0.2, 0.15, True),
        (0.1, 0.2, 0.1, True),  # bounds are inclusive
        (0.1, 0.2, 0.25, False),
        (0.1, 0.2, 0.05, False),
        (0.7, None, 0.99, True),
        (0.7, None, 0.69, False),
        (None, 0.15, 0.05, True),
        (None, 0.15, 0.16, False),
        (0.1, 0.2, math.nan, False),
    ],
)
def test_pass_fail(low, high, value, ok):
    assert mean_target(low, high).passes(value) is ok


def test_distance_is_zero_inside_and_grows_outside():
    t = Target("r", "ratio", ("a", "b"), 3.0, 30.0, "test")
    assert t.distance(math.log(10)) == 0
    assert t.distance(math.log(60)) == pytest.approx(math.log(2) / math.log(10))
    assert t.distance(math.log(3.1), margin=0.1) > 0  # inside the range, outside the margin
    one_sided = mean_target(high=0.15)
    assert one_sided.distance(0.30) == pytest.approx(1.0)  # normalised by the bound


def test_targets_use_the_t_interval_of_the_analysis():
    iv = t_interval([1.0, 2.0, 3.0])
    assert (iv.mean, iv.n) == (2.0, 3)
    assert iv.high - iv.mean == pytest.approx(4.302653 * 1 / math.sqrt(3), rel=1e-5)
    assert math.isnan(t_interval([5.0]).low)


def test_growth_and_lag_statistics():
    step = np.arange(48)
    assert math.exp(growth_per_year(step, 2.4 ** (step / 12), (0, 36))) == pytest.approx(2.4)
    frontier = 10 + 0.1 * step
    lag = open_lag_months(step, frontier, frontier - 0.5)
    assert lag[10:].tolist() == pytest.approx([5.0] * 38)
    stepwise = np.repeat([10.0, 11.0, 12.0], 12)  # a frontier that jumps every 12 months
    assert open_lag_months(np.arange(36), stepwise, np.full(36, 10.5))[-1] == 23


def test_ratio_floors_zero_counts():
    t = Target("r", "ratio", ("a", "b"), 3.0, None, "test", floor=1.0)
    run = pd.DataFrame({"step": range(24), "a": 0.0, "b": 0.0})
    assert t.to_shown(t.per_run(run)) == 1.0  # 0/0 -> 1: a FAIL, not a crash
    run["a"] = 50.0
    assert t.to_shown(t.per_run(run)) == pytest.approx(50.0)


def synthetic_results(shares: list[float]) -> pd.DataFrame:
    frames = []
    for r, share in enumerate(shares):
        steps = np.arange(24)
        frames.append(pd.DataFrame({"replicate": r, "step": steps, "x": share,
                                    "p": 3.0 * 0.8 ** (steps / 12)}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_validate_table_on_synthetic_results():
    targets = TargetSet(
        TARGETS_FILE,
        "market",
        (
            mean_target(high=0.15),
            Target("price", "growth", ("p",), -0.4, -0.1, "test", report="change", window=(0, 24)),
        ),
    )
    rows = validate(synthetic_results([0.10, 0.12, 0.14]), targets)
    assert [r.passed for r in rows] == [True, True]
    assert rows[0].estimate.value == pytest.approx(0.12)
    assert rows[1].estimate.value == pytest.approx(-0.2)
    rows = validate(synthetic_results([0.10, 0.30, 0.20]), targets)
    assert [r.passed for r in rows] == [False, True]
    text = format_table(rows)
    assert "FAIL" in text and "1 of 2 targets pass" in text
    assert format_table(rows, markdown=True).startswith("| target |")


def test_targets_file_is_complete():
    targets = load_targets()
    names = {t.name for t in targets.targets}
    assert len(names) >= 8
    by = {t.name: t for t in targets.targets}
    ratio = by["downloads_commercial_over_nonprofit"]
    assert ratio.metrics == (
        "downloads.top_release.commercial_open",
        "downloads.top_release.nonprofit",
    )
    assert (ratio.low, ratio.high) == (3.0, 30.0)
    assert all(t.source for t in targets.targets)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="nope"\nlow=1\nsource="s"\n', "no metric"),
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="market.gpu_price"\nlow=2\nhigh=1\n'
         'source="s"\n', "'low' must be below"),
        ('[[target]]\nname="a"\nstatistic="median"\nmetric="x"\nlow=1\nsource="s"\n', "statistic"),
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="market.gpu_price"\nlow=nan\n'
         'source="s"\n', "expected a finite number"),
        ('[calibration]\nmargin=nan\n[[target]]\nname="a"\nstatistic="mean"\n'
         'metric="market.gpu_price"\nlow=1\nsource="s"\n', "calibration.margin"),
        ('[calibration]\nmargin="wide"\n[[target]]\nname="a"\nstatistic="mean"\n'
         'metric="market.gpu_price"\nlow=1\nsource="s"\n', "calibration.margin"),
        (b'description = "caf\xe9"\n', "not UTF-8"),
    ],
)  # fmt: skip
def test_bad_targets_file(tmp_path, text, message):
    path = tmp_path / "t.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message):
        load_targets(path)


def test_validate_command_bad_targets_is_one_line(tmp_path, capsys):
    path = tmp_path / "t.toml"
    path.write_text('[[target]]\nname="a"\nstatistic="mean"\nmetric="nope"\nlow=1\nsource="s"\n')
    assert main(["validate", "--targets", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_validate_command_tiny_run(tmp_path, capsys):
    out = tmp_path / "v"
    argv = ["validate", "--replicates", "2", "--researchers", "200", "--steps", "36"]
    code = main([*argv, "--workers", "1", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    table = pd.read_csv(out / "validation.csv")
    assert code == (0 if table["pass"].all() else 1)
    assert len(table) == len(load_targets().targets)
    assert "PASS" in text or "FAIL" in text
    manifest = (out / "batch" / "manifest.jsonl").read_text()
    assert manifest.count("\n") == 2
    assert main([*argv, "--workers", "1", "--out", str(out), "--quiet"]) == code  # resumes
    assert (out / "batch" / "manifest.jsonl").read_text() == manifest  # nothing was rerun
    pd.testing.assert_frame_equal(pd.read_csv(out / "validation.csv"), table)
