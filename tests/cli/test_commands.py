"""The command line: bad input is one line on stderr and exit code 2, never a traceback and
never a result; good input writes metrics.parquet and run.json with provenance."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from helpers import REPO, SIX

import simulation
from cli import main
from simulation.config import validate

BAD_FILES = {
    "toml_syntax": (
        'extends = "base"\n[public\nbudget_usd_per_month = 1\n',
        ["TOML syntax", "line 2"],
    ),
    "unknown_key": (
        'extends = "base"\n[public]\nbudget_usd_per_mnth = 1\n',
        ["public.budget_usd_per_mnth", "did you mean 'budget_usd_per_month'"],
    ),
    "wrong_type": (
        'extends = "base"\n[groups.global_south]\nbudget_median_usd = "a lot"\n',
        ["groups.global_south.budget_median_usd", "valid number"],
    ),
    "negative_budget": (
        'extends = "base"\n[public]\nbudget_usd_per_month = -1e6\n',
        ["public.budget_usd_per_month", "greater than or equal to 0"],
    ),
    "group_shares": (
        'extends = "base"\n[groups.global_south]\nshare = 0.6\n',
        ["groups.*.share", "sum to 1"],
    ),
    "stage_split": (
        'extends = "base"\n[public.stage_split]\npretraining = 0.9\n',
        ["public.stage_split", "sum to 1"],
    ),
}

BAD_ARGS = {
    "unknown_scenario": (["run", "nosuch"], ["'nosuch'", "known:", "market"]),
    "misspelt_scenario": (["run", "publc_option"], ["did you mean 'public_option'"]),
    "steps_zero": (["run", "market", "--steps", "0"], ["--steps", ">= 1"]),
    "steps_text": (["run", "market", "--steps", "ten"], ["--steps", "'ten'"]),
    "researchers_zero": (["run", "market", "--researchers", "0"], ["--researchers", ">= 1"]),
    "seed_negative": (["run", "market", "--seed", "-1"], ["--seed"]),
    "set_unknown_key": (
        ["run", "market", "--set", "public.budgt=1"],
        ["--set", "public.budgt", "'budgt'"],
    ),
    "set_unknown_table_entry": (
        ["run", "market", "--set", "labs.acadmic.count=2"],
        ["--set", "labs.acadmic.count", "did you mean 'academic'"],
    ),
    "set_ill_typed": (
        ["run", "market", "--set", "public.budget_usd_per_month=lots"],
        ["--set", "public.budget_usd_per_month", "valid number"],
    ),
    "set_ill_typed_int": (
        ["run", "market", "--set", "simulation.steps=2.5"],
        ["--set", "simulation.steps", "integer"],
    ),
    "set_out_of_range": (
        ["run", "market", "--set", "market.target_utilisation=2"],
        ["--set", "market.target_utilisation", "less than or equal to 1"],
    ),
    "set_without_equals": (
        ["run", "market", "--set", "public.budget_usd_per_month"],
        ["--set", "'public.budget_usd_per_month'", "KEY=VALUE"],
    ),
    "set_empty_key": (["run", "market", "--set", "=3"], ["--set", "KEY=VALUE"]),
    "set_infinite": (
        ["run", "market", "--set", "market.gpu_price_usd_per_hour=inf"],
        ["market.gpu_price_usd_per_hour", "finite number"],
    ),
    "set_overflowing": (
        ["run", "market", "--set", "public.budget_usd_per_month=1e400"],
        ["public.budget_usd_per_month", "finite number"],
    ),
    "set_nan": (
        ["run", "market", "--set", "groups.global_south.budget_median_usd=nan"],
        ["groups.global_south.budget_median_usd", "finite number"],
    ),
    "too_many_researchers": (
        ["run", "market", "--researchers", "1000000000000"],
        ["--researchers", "1..1,000,000"],
    ),
    "too_many_hosters": (
        ["run", "market", "--set", "hosters.specialty.count=1000000000000"],
        ["hosters.specialty.count", "less than or equal to 100"],
    ),
    "too_many_steps": (["run", "market", "--steps", "100000"], ["--steps", "1..1,200"]),
    "event_field_unused": (
        ["run", "market", "--set", 'events=[{month=1, type="price_shock", lab_kind="academic"}]'],
        ["events[0].lab_kind", "a price_shock event does not use it"],
    ),
    "steps_contradict_set": (
        ["run", "market", "--steps", "5", "--set", "simulation.steps=7"],
        ["--steps 5 conflicts with --set simulation.steps"],
    ),
    "batch_researchers_contradict_set": (
        ["batch", "market", "--researchers", "5", "--set", "simulation.researchers=7"],
        ["--researchers 5 conflicts with --set simulation.researchers"],
    ),
    "batch_scheduler_malformed": (
        ["batch", "market", "--scheduler", "http://host:8786"],
        ["--scheduler", "tcp://HOST:PORT or tls://HOST:PORT"],
    ),
    "record_agents_zero": (["run", "market", "--record-agents", "0"], ["--record-agents", ">= 1"]),
    "record_agents_text": (
        ["run", "market", "--record-agents", "all"],
        ["--record-agents", "'all'"],
    ),
    "too_many_records": (
        ["run", "market", "--record-agents", "2000000"],
        ["--record-agents", "1..1,000,000"],
    ),
    "unknown_command": (["frobnicate"], ["frobnicate"]),
    "unknown_option": (["run", "market", "--step", "3", "--bogus"], ["--bogus"]),
}


def assert_usage_error(rc, captured, out_dir, *expected):
    assert rc == 2
    err = captured.err
    assert "Traceback" not in err and "Traceback" not in captured.out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error:"), err
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert not out_dir.exists()
    assert "running" not in captured.out  # nothing started


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_file(case, scenario_file, tmp_path, capsys):
    text, expected = BAD_FILES[case]
    path = scenario_file(text, f"{case}.toml")
    out = tmp_path / "out"
    rc = main(["run", str(path), "--steps", "2", "--researchers", "50", "--out", str(out)])
    assert_usage_error(rc, capsys.readouterr(), out, str(path), *expected)


def test_missing_scenario_file(tmp_path, capsys):
    path = tmp_path / "absent.toml"
    out = tmp_path / "out"
    rc = main(["run", str(path), "--out", str(out)])
    assert_usage_error(rc, capsys.readouterr(), out, str(path), "not found")


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_arguments(case, tmp_path, capsys):
    argv, expected = BAD_ARGS[case]
    out = tmp_path / "out"
    rc = main([*argv, "--out", str(out)])
    assert_usage_error(rc, capsys.readouterr(), out, *expected)


def test_a_scenario_file_that_is_not_utf8_is_one_line(scenario_file, tmp_path, capsys):
    path = scenario_file("x", "latin1.toml")
    path.write_bytes('extends = "base"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    out = tmp_path / "out"
    rc = main(["run", str(path), "--out", str(out)])
    assert_usage_error(rc, capsys.readouterr(), out, str(path), "not UTF-8")


def test_an_impossible_out_is_refused_before_the_run(tmp_path, capsys):
    out = tmp_path / "file" / "out"
    (tmp_path / "file").write_text("a file, not a directory")
    rc = main(["run", "market", "--out", str(out)])  # the default 120 months never start
    assert_usage_error(rc, capsys.readouterr(), out, "--out", "is not a directory")
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: simulation.run(c, steps=-1), "steps: expected a whole number 1..1,200"),
        (lambda c: simulation.run(c, steps=0), "steps: expected a whole number"),
        (lambda c: simulation.run(c, researchers=0), "researchers: expected a whole number"),
        (lambda c: simulation.run(c, seed=-3), "seed: expected a whole number >= 0"),
        (lambda c: simulation.run(c, seed=1.5), "seed: expected a whole number"),
        (lambda c: simulation.run({"labs": {}}), "config must be a simulation.Config"),
    ],
)
def test_the_python_api_raises_the_packages_own_errors(call, message):
    config = simulation.load_scenario("market")
    with pytest.raises(ValueError, match=message) as err:  # UsageError/ConfigError are ValueErrors
        call(config)
    assert isinstance(err.value, simulation.UsageError)


def test_out_that_is_a_file(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("not a directory")
    rc = main(["run", "market", "--steps", "1", "--researchers", "50", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2
    assert captured.err.startswith("error:") and "--out" in captured.err
    assert len(captured.err.splitlines()) == 1
    assert out.read_text() == "not a directory"


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "nosuch"], "nosuch"),
        (["run", "market", "--steps", "0"], "--steps"),
        (["run", "market", "--set", "public.budgt=1"], "budgt"),
    ],
)
def test_bad_input_through_a_real_process(argv, expected, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "run.py", *argv, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
    assert proc.stdout == ""
    assert not out.exists()


def test_bad_file_through_a_real_process(scenario_file, tmp_path):
    path = scenario_file('extends = "base"\n[public]\nbudget_usd_per_mnth = 1\n')
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "run.py", "run", str(path), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr
    assert "did you mean 'budget_usd_per_month'" in proc.stderr
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Happy paths


def test_run_writes_metrics_and_provenance(tmp_path, capsys):
    out = tmp_path / "results" / "market"
    argv = ["run", "market", "--steps", "3", "--researchers", "200", "--seed", "4"]
    rc = main([*argv, "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.err == ""
    assert sorted(p.name for p in out.iterdir()) == ["metrics.parquet", "run.json"]

    df = pd.read_parquet(out / "metrics.parquet")
    config = simulation.load_scenario("market")
    assert len(df) == 3 and df["step"].tolist() == [0, 1, 2]
    assert df.columns[0] == "step"
    groups, kinds = list(config.groups), list(config.labs)
    for g in groups:
        for t in ("run", "finetune", "deploy"):
            assert f"access.{t}.{g}" in df.columns
    assert {f"capture.{k}" for k in kinds} <= set(df.columns)
    assert {"market.gpu_price", "public.spend", "stranded.deployments"} <= set(df.columns)

    meta = json.loads((out / "run.json").read_text())
    assert {"config", "seed", "package_version", "code_revision"} <= set(meta)
    assert meta["seed"] == 4
    assert meta["package_version"] == simulation.__version__
    assert meta["code_revision"]
    assert meta["config"]["simulation"]["steps"] == 3
    assert meta["config"]["simulation"]["researchers"] == 200

    # The provenance reproduces the result exactly, through the Python API.
    again = simulation.run(validate(meta["config"]), seed=meta["seed"])
    pd.testing.assert_frame_equal(df, again, check_exact=True)


def test_run_applies_set_overrides(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", "networked_collaboration", "--steps", "2", "--researchers", "150"]
    argv += ["--set", "public.budget_usd_per_month=5e6", "--set", "public.data_commons=false"]
    assert main([*argv, "--out", str(out)]) == 0
    capsys.readouterr()
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["public"]["budget_usd_per_month"] == 5e6
    assert meta["config"]["public"]["data_to"] == "funded_labs"  # the old key sets the new one
    df = pd.read_parquet(out / "metrics.parquet")
    assert (df["public.budget"] == 5e6).all() and (df["public.spend"] > 0).all()


def test_run_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "market", "--steps", "1", "--researchers", "50"]) == 0
    captured = capsys.readouterr()
    assert "access.run" in captured.out
    assert list(tmp_path.iterdir()) == []


def test_agent_records_need_an_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "market", "--steps", "2", "--researchers", "50", "--record-agents", "10"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == ""
    assert captured.err == "error: --record-agents: give --out DIR to write agents.parquet to\n"
    assert list(tmp_path.iterdir()) == []


def test_run_records_agents_beside_the_metrics(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["run", "market", "--steps", "12", "--researchers", "2000", "--record-agents", "100"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "agents.parquet" in capsys.readouterr().out
    files = list(out.glob("agents*.parquet"))
    assert [f.name for f in files] == ["agents.parquet"]
    agents = pd.read_parquet(files[0])
    assert len(agents) >= 100 * 12
    researchers = agents[agents.agent_type == "researcher"]
    assert researchers.groupby("step").agent_id.nunique().eq(100).all()
    assert agents[agents.agent_type == "lab"].step.nunique() == 12
    assert json.loads((out / "run.json").read_text())["record_agents"] == 100
    # the metrics are those of a run without records; a rerun without them leaves none behind
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert main([*argv[:-2], "--out", str(out)]) == 0
    capsys.readouterr()
    pd.testing.assert_frame_equal(metrics, pd.read_parquet(out / "metrics.parquet"))
    assert sorted(p.name for p in out.iterdir()) == ["metrics.parquet", "run.json"]


def test_list_shows_every_scenario_with_its_description(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert sorted(names) == sorted(simulation.scenario_names())
    assert set(SIX) <= set(names)
    for line in lines:
        name = line.split()[0]
        assert simulation.load_scenario(name).description in line


def test_run_through_a_real_process(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "run.py", "run", "regulation_only", "--steps", "2"]
        + ["--researchers", "100", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "metrics.parquet").is_file() and (out / "run.json").is_file()
    assert len(pd.read_parquet(out / "metrics.parquet")) == 2
