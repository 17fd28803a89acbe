"""Targets and validation: statistics, pass/fail and the command, on synthetic values."""

from __future__ import annotations

import json
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
)
from analysis.fitting.validate import format_table, table_frame, validate
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


def test_growth_statistic():
    step = np.arange(48)
    assert math.exp(growth_per_year(step, 2.4 ** (step / 12), (0, 36))) == pytest.approx(2.4)


def test_ratio_floors_zero_counts():
    t = Target("r", "ratio", ("a", "b"), 3.0, None, "test", floor=1.0)
    run = pd.DataFrame({"step": range(24), "a": 0.0, "b": 0.0})
    assert t.to_shown(t.per_run(run)) == 1.0  # 0/0 -> 1: a FAIL, not a crash
    run["a"] = 50.0
    assert t.to_shown(t.per_run(run)) == pytest.approx(50.0)


def synthetic_results(shares: list[float], scenario: str = "market") -> pd.DataFrame:
    frames = []
    for r, share in enumerate(shares):
        steps = np.arange(24)
        frames.append(pd.DataFrame({"scenario": scenario, "replicate": r, "step": steps,
                                    "x": share, "p": 3.0 * 0.8 ** (steps / 12)}))  # fmt: skip
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
    assert format_table(rows, markdown=True).startswith("| target | scenario |")


def two_scenario_targets() -> TargetSet:
    """The same metric as two facts: one about the market baseline, one about another scenario."""
    return TargetSet(
        TARGETS_FILE,
        "market",
        (
            Target("market_share", "mean", ("x",), None, 0.5, "test"),
            Target("op_share", "mean", ("x",), 0.5, None, "test", scenario="outsourced_provision"),
        ),
    )


def test_a_target_naming_another_scenario_is_scored_on_its_runs():
    results = pd.concat(
        [synthetic_results([0.10, 0.12, 0.14]),
         synthetic_results([0.80, 0.90, 1.00], scenario="outsourced_provision")],
        ignore_index=True,
    )  # fmt: skip
    targets = two_scenario_targets()
    assert targets.scenarios() == ["market", "outsourced_provision"]
    rows = validate(results, targets)
    assert [r.scenario for r in rows] == ["market", "outsourced_provision"]
    assert rows[0].estimate.value == pytest.approx(0.12)  # market rows only
    assert rows[1].estimate.value == pytest.approx(0.90)  # outsourced_provision rows only
    assert [r.passed for r in rows] == [True, True]
    assert (rows[0].estimate.n, rows[1].estimate.n) == (3, 3)
    # the output says which scenario each target used
    frame = table_frame(rows)
    assert frame.set_index("target")["scenario"].to_dict() == {
        "market_share": "market",
        "op_share": "outsourced_provision",
    }
    lines = format_table(rows).splitlines()
    assert lines[0].split()[:2] == ["target", "scenario"]
    assert lines[3].split()[:2] == ["op_share", "outsourced_provision"]
    md = format_table(rows, markdown=True).splitlines()
    assert md[3].startswith("| op_share | outsourced_provision |")


def test_a_scenario_missing_from_the_results_is_an_error_not_another_scenarios_score():
    market_only = synthetic_results([0.80, 0.90, 1.00])
    with pytest.raises(ValueError, match="no runs of scenario 'outsourced_provision'.*op_share"):
        validate(market_only, two_scenario_targets())


def test_the_window_sets_the_months_a_mean_reads():
    run = pd.DataFrame({"scenario": "market", "replicate": 0, "step": np.arange(36),
                        "x": np.arange(36.0)})  # fmt: skip
    final = Target("final", "mean", ("x",), 0.0, None, "test")
    early = Target("early", "mean", ("x",), 0.0, None, "test", window=(24, 27))
    assert final.per_run(run) == pytest.approx(np.mean(np.arange(24, 36)))  # the final 12
    assert early.per_run(run) == pytest.approx(25.0)  # months 24, 25, 26: end exclusive
    assert early.months_read(120) == (24, 27) and final.months_read(120) == (108, 120)
    ratio = Target("r", "ratio", ("x", "y"), 1.0, None, "test", window=(24, 27))
    assert ratio.to_shown(ratio.per_run(run.assign(y=5.0))) == pytest.approx(5.0)
    # through validate: the window is what the table reports
    targets = TargetSet(TARGETS_FILE, "market", (early,))
    assert validate(run, targets)[0].estimate.value == pytest.approx(25.0)


def targets_text(*entries: str, settings: str = 'scenario = "market"\nwindow = [0, 36]\n') -> str:
    return "[settings]\n" + settings + "".join(f"\n[[target]]\n{e}" for e in entries)


MEAN = 'statistic = "mean"\nmetric = "market.gpu_price"\nlow = 1\nsource = "s"\n'


def test_targets_file_windows_and_scenarios(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        targets_text(
            f'name = "own"\nwindow = [24, 27]\n{MEAN}',
            f'name = "final"\n{MEAN}',
            'name = "g"\nstatistic = "growth"\nmetric = "market.gpu_price"\nlow = 0.1\n'
            'source = "s"\n',
            f'name = "op"\nscenario = "outsourced_provision"\n{MEAN}',
        )
    )
    targets = load_targets(path)
    by = {t.name: t for t in targets.targets}
    assert by["own"].window == (24, 27)
    assert by["final"].window is None  # [settings] window is for growth targets only
    assert by["final"].months_read(120) == (108, 120)
    assert by["g"].window == (0, 36)
    assert [targets.scenario_of(t) for t in targets.targets] == [
        "market", "market", "market", "outsourced_provision"
    ]  # fmt: skip
    assert targets.scenarios() == ["market", "outsourced_provision"]
    warnings = targets.outside_runs({"market": 26, "outsourced_provision": 120})
    assert len(warnings) == 2 and "'own'" in warnings[0] and "'g'" in warnings[1]
    assert targets.outside_runs({"market": 36, "outsourced_provision": 36}) == []


def test_only_the_scenarios_targets_need_are_run(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(targets_text(f'name = "op"\nscenario = "outsourced_provision"\n{MEAN}'))
    assert load_targets(path).scenarios() == ["outsourced_provision"]


def test_an_unknown_scenario_in_a_target_is_one_line_naming_file_and_key(tmp_path, capsys):
    path = tmp_path / "t.toml"
    path.write_text(targets_text(f'name = "op"\nscenario = "outsourced_provison"\n{MEAN}'))
    with pytest.raises(ConfigError) as err:
        load_targets(path, check_metrics=False)  # checked even without loading scenarios
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: target 'op': key 'scenario': unknown scenario")
    assert "did you mean 'outsourced_provision'" in message
    assert main(["validate", "--targets", str(path), "--out", str(tmp_path / "o")]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and str(path) in stderr and "'scenario'" in stderr
    assert not (tmp_path / "o").exists()


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
    assert targets.scenarios() == ["market"]  # stage 1: the market baseline only


def test_friction_targets_fit_the_uptake_of_public_compute():
    """Stage 2: administrative friction against IndiaAI's uptake, in its own file."""
    targets = load_targets(TARGETS_FILE.parent / "friction.toml")
    (uptake,) = targets.targets
    assert uptake.name == "public_compute_uptake"
    assert (uptake.statistic, uptake.metrics) == ("mean", ("public.compute_uptake",))
    assert targets.scenario_of(uptake) == "outsourced_provision"
    assert uptake.window == (24, 27)  # early 2026: months 24-26, month 0 = early 2024
    assert (uptake.low, uptake.high) == (0.25, 0.55)
    assert "15,100" in uptake.source and "40,000" in uptake.source
    keys = [k for p in targets.calibration["parameter"] for k in p["keys"]]
    assert keys == ["public.approval_months"]


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
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="market.gpu_price"\nlow=1\n'
         'months=12\nwindow=[24, 27]\nsource="s"\n', "'months' .* or 'window', not both"),
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="market.gpu_price"\nlow=1\n'
         'window=[27, 24]\nsource="s"\n', "key 'window'"),
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="market.gpu_price"\nlow=1\n'
         'scenario=3\nsource="s"\n', "key 'scenario': expected a scenario name"),
        ('[settings]\nscenario="nowhere"\n[[target]]\nname="a"\nstatistic="mean"\n'
         'metric="market.gpu_price"\nlow=1\nsource="s"\n', "settings.scenario: unknown scenario"),
        ('[[target]]\nname="a"\nstatistic="mean"\nmetric="downloads.top_release.nope"\nlow=1\n'
         'scenario="outsourced_provision"\nsource="s"\n', "in scenario 'outsourced_provision'"),
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
    # the market's targets plus the uptake target of stage 2, which names its own scenario
    friction = (TARGETS_FILE.parent / "friction.toml").read_text()
    both = tmp_path / "both.toml"
    uptake = friction[friction.index("[[target]]") : friction.index("[calibration]")]
    both.write_text(TARGETS_FILE.read_text() + "\n" + uptake)
    out = tmp_path / "v"
    argv = ["validate", "--replicates", "2", "--researchers", "200", "--steps", "36"]
    argv += ["--targets", str(both)]
    code = main([*argv, "--workers", "1", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    table = pd.read_csv(out / "validation.csv")
    assert code == (0 if table["pass"].all() else 1)
    targets = load_targets(both)
    assert len(table) == len(targets.targets)
    assert table["scenario"].to_list() == [targets.scenario_of(t) for t in targets.targets]
    assert "outsourced_provision" in set(table["scenario"])
    uptake = table.set_index("target").loc["public_compute_uptake"]
    assert 0 <= uptake["value"] <= 1  # a share of the compute money, from outsourced_provision
    assert "PASS" in text or "FAIL" in text
    manifest = (out / "batch" / "manifest.jsonl").read_text()
    assert manifest.count("\n") == 2 * len(targets.scenarios())  # every scenario, one batch
    seeds = {}
    for line in manifest.splitlines():
        record = json.loads(line)
        seeds.setdefault(record["replicate"], set()).add(record["seed"])
    assert all(len(s) == 1 for s in seeds.values())  # common random numbers across scenarios
    assert main([*argv, "--workers", "1", "--out", str(out), "--quiet"]) == code  # resumes
    assert (out / "batch" / "manifest.jsonl").read_text() == manifest  # nothing was rerun
    pd.testing.assert_frame_equal(pd.read_csv(out / "validation.csv"), table)
