"""The batch Python API: plans from values, run_batch's summary, one provenance record for every
batch folder, and self-describing results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.fitting.validate import run_validation
from cli import main
from simulation.batch import Execution, RunSettings, build_plan, design_plan, run_batch
from simulation.errors import UsageError

TINY = RunSettings(replicates=2, seed=4, steps=6, researchers=200)


@pytest.fixture
def no_argparse(monkeypatch):
    """The Python API must not go through the command line's parser."""

    def refuse(*args, **kwargs):
        raise AssertionError("the batch API went through argparse")

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", refuse)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", refuse)


def test_run_batch_runs_and_resumes_without_the_command_line(tmp_path: Path, no_argparse):
    plan = build_plan(["market", "public_option"], TINY, {"public.reserved_share": [0.0, 0.5]})
    summary = run_batch(plan, tmp_path / "api", Execution(workers=1))
    assert summary.ok and summary.runs == 8 and summary.succeeded == 8 and summary.rows == 48
    assert summary.results == tmp_path / "api" / "results.parquet"
    assert len(pd.read_parquet(summary.results)) == 48
    again = run_batch(plan, tmp_path / "api", Execution(workers=1))  # resumes: nothing to do
    assert again.resumed == 8 and again.ok
    # the plan knows the command line that runs it
    assert plan.command(tmp_path / "cli") == (
        "python run.py batch market public_option --replicates 2 --seed 4 --steps 6 "
        f"--researchers 200 --sweep public.reserved_share=0.0,0.5 --out {tmp_path / 'cli'}"
    )


def test_the_command_line_and_the_api_write_the_same_results(tmp_path: Path):
    plan = build_plan(["market"], TINY, {"public.reserved_share": [0.0, 0.5]})
    run_batch(plan, tmp_path / "api", Execution(workers=1))
    argv = ["batch", "market", "--replicates", "2", "--seed", "4", "--steps", "6"]
    argv += ["--researchers", "200", "--sweep", "public.reserved_share=0,0.5", "--quiet"]
    assert main([*argv, "--workers", "1", "--out", str(tmp_path / "cli")]) == 0
    a = pd.read_parquet(tmp_path / "api" / "results.parquet")
    b = pd.read_parquet(tmp_path / "cli" / "results.parquet")
    pd.testing.assert_frame_equal(a, b)
    fa = json.loads((tmp_path / "api" / "batch.json").read_text())["fingerprint"]
    fb = json.loads((tmp_path / "cli" / "batch.json").read_text())["fingerprint"]
    assert fa == fb


def test_every_batch_folder_carries_the_same_provenance(tmp_path: Path):
    plan = build_plan(["market"], TINY)
    run_batch(plan, tmp_path / "batch", Execution(workers=1))
    run_validation(settings=TINY, out=tmp_path / "v", execution=Execution(workers=1), say=print)
    a = json.loads((tmp_path / "batch" / "batch.json").read_text())
    v = json.loads((tmp_path / "v" / "batch" / "batch.json").read_text())
    assert set(a) == set(v)
    for meta in (a, v):
        assert meta["machine"]["cpu_count"] >= 1 and meta["versions"]["mesa"]
        assert meta["package_version"] and meta["code_revision"]
        assert meta["failed"] == 0 and meta["missing"] == []


def test_results_are_self_describing(tmp_path: Path):
    sweep = {"market.price_factor_bounds": [[0.7, 3.0], [0.5, 2.0]]}
    plan = build_plan(["market", "public_option"], TINY, sweep)
    summary = run_batch(plan, tmp_path / "b", Execution(workers=1))
    schema = pq.read_schema(summary.results)
    for field in schema:
        meta = field.metadata or {}
        assert {b"role", b"unit", b"description"} <= set(meta), field.name
    roles = {f.name: f.metadata[b"role"].decode() for f in schema}
    assert roles["scenario"] == roles["replicate"] == roles["seed"] == roles["step"] == "id"
    assert roles["market.price_factor_bounds"] == "input"
    assert roles["access.run.global_south"] == "metric"
    unit = schema.field("market.gpu_price").metadata[b"unit"].decode()
    assert unit == "USD per GPU-hour"
    table_meta = {k.decode(): json.loads(v) for k, v in schema.metadata.items()}
    assert table_meta["fingerprint"] == plan.fingerprint
    assert table_meta["sweep_keys"] == ["market.price_factor_bounds"]
    assert table_meta["code_revision"]
    # a list-valued sweep column is stored hashable: pandas can group by it
    df = pd.read_parquet(summary.results)
    sizes = df.groupby("market.price_factor_bounds").size()
    assert sorted(sizes.index) == ["[0.5,2.0]", "[0.7,3.0]"] and (sizes == 2 * 2 * 6).all()


def test_a_metric_that_does_not_apply_is_nan(tmp_path: Path):
    plan = build_plan(["market", "public_option"], TINY)
    df = pd.read_parquet(run_batch(plan, tmp_path / "b", Execution(workers=1)).results)
    market, public = df[df.scenario == "market"], df[df.scenario == "public_option"]
    assert market["public.utilisation"].isna().all()  # no institution: nothing to use
    assert market["public.spend"].eq(0).all()  # spending nothing is a value, not missing
    assert public["public.utilisation"].between(0, 1).all()


def test_design_plans_run_one_point_per_row(tmp_path: Path):
    points = [{"public.budget_usd_per_month": v} for v in (0.0, 1e7, 2e7)]
    plan = design_plan("public_option", points, TINY)
    assert [p.sweep for p in plan.points] == points and len(plan.runs) == 6
    assert plan.command(tmp_path) is None
    summary = run_batch(plan, tmp_path / "d", Execution(workers=1), command="test design")
    assert summary.ok
    assert json.loads((tmp_path / "d" / "batch.json").read_text())["command"] == "test design"
    with pytest.raises(UsageError, match="same keys"):
        design_plan("market", [{"public.overhead": 0.1}, {"public.capture_risk": 0.1}], TINY)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicates": 0}, "replicates: expected a whole number 1..100,000"),
        ({"seed": -1}, "seed: expected a whole number >= 0"),
        ({"steps": 2.5}, "steps: expected a whole number 1..1,200"),
        ({"researchers": True}, "researchers: expected a whole number 1..1,000,000"),
        ({"overrides": ["x"]}, "overrides: expected a mapping"),
    ],
)
def test_bad_settings_raise_the_packages_own_error(kwargs, message):
    with pytest.raises(UsageError, match=message):
        RunSettings(**kwargs)


def test_steps_and_an_override_of_the_same_key_must_agree():
    with pytest.raises(UsageError, match="--steps 6 conflicts with --set simulation.steps"):
        build_plan(["market"], RunSettings(steps=6, overrides={"simulation.steps": 12}))
    plan = build_plan(["market"], RunSettings(steps=6, overrides={"simulation.steps": 6}))
    assert plan.points[0].config["simulation"]["steps"] == 6


def test_sweep_values_are_checked_as_values():
    with pytest.raises(UsageError, match="expected a list of values"):
        build_plan(["market"], TINY, {"public.overhead": "0.1"})
    with pytest.raises(UsageError, match="given twice"):
        build_plan(["market"], TINY, {"public.overhead": [0.1, 0.1]})
    with pytest.raises(UsageError, match="clashes with a result column"):
        build_plan(["market"], TINY, {"step": [1, 2]})
    assert np.isclose(
        build_plan(["market"], TINY, {"public.overhead": [0.1]}).points[0].sweep["public.overhead"],
        0.1,
    )
