"""``run.py batch``: same results on any executor, resume after SIGKILL, isolated failures,
refusal of a mismatched directory, common random numbers, reproducible single runs, bad input.

Runs are tiny (6 months, 200 researchers) so the file stays fast; process pools and the local
Dask cluster still start for real.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO

from cli import main
from cli.options import parse_sweep, split_values
from simulation import load_scenario, run
from simulation.batch import executors
from simulation.batch.plan import RunSettings, build_plan, replicate_seeds
from simulation.batch.store import Manifest, read_manifest
from simulation.batch.worker import FAIL_RUN_IDS_ENV
from simulation.errors import UsageError

ROOT = REPO
TINY = ["--steps", "6", "--researchers", "200"]
SWEEP = ["--sweep", "adoption.review_probability=0.1,0.3"]
KEYS = ["scenario", "adoption.review_probability", "replicate", "step"]


def batch(out: Path, *args: str) -> int:
    return main(["batch", *args, "--out", str(out)])


def batch_process(out: Path, *args: str, env: dict[str, str] | None = None, **kw):
    argv = [sys.executable, "run.py", "batch", *args, "--out", str(out)]
    return subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, text=True, **kw)  # noqa: S603


def results(out: Path, keys: list[str] = KEYS) -> pd.DataFrame:
    df = pd.read_parquet(out / "results.parquet")
    return df.sort_values([k for k in keys if k in df]).reset_index(drop=True)


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


# -- plan -------------------------------------------------------------------------------------


def test_sweep_values_split_at_top_level_commas_only():
    assert split_values('1,2.5, "a,b" ,[1, 2],{x = 1, y = 2}') == [
        "1",
        "2.5",
        '"a,b"',
        "[1, 2]",
        "{x = 1, y = 2}",
    ]
    groups = 'public.eligible_groups=["global_south"],["well_funded","global_south"]'
    sweep = parse_sweep([groups])
    assert sweep == {"public.eligible_groups": [["global_south"], ["well_funded", "global_south"]]}


def test_several_sweeps_form_a_full_factorial_with_validated_values():
    plan = build_plan(
        ["market", "public_option"],
        RunSettings(replicates=2),
        {"adoption.review_probability": [0.1, 0.2], "public.budget_usd_per_month": [0, 1e7, 2e7]},
    )
    assert len(plan.points) == 2 * 2 * 3 and len(plan.runs) == 2 * 2 * 3 * 2
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)
    budgets = {p.sweep["public.budget_usd_per_month"] for p in plan.points}
    assert budgets == {0.0, 1e7, 2e7} and all(isinstance(b, float) for b in budgets)


def test_fingerprint_is_the_plan_not_how_it_runs():
    sweep = parse_sweep(SWEEP[1:])
    a = build_plan(["market"], RunSettings(replicates=2), sweep)
    assert a.fingerprint == build_plan(["market"], RunSettings(replicates=2), sweep).fingerprint
    assert a.fingerprint != build_plan(["market"], RunSettings(replicates=3), sweep).fingerprint
    assert a.fingerprint != build_plan(["market"], RunSettings(replicates=2, seed=1)).fingerprint


def test_replicate_seeds_come_from_one_seed_sequence():
    children = np.random.SeedSequence(7).spawn(3)
    expected = [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]
    assert replicate_seeds(7, 3) == expected
    assert replicate_seeds(7, 5)[:3] == expected  # more replicates extend, never reshuffle


def test_manifest_drops_a_last_line_cut_short(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"run_id": "a", "status": "ok"}\n{"run_id": "b", "sta')
    assert set(read_manifest(path)) == {"a"}
    m = Manifest(path)  # reopening repairs the tail so the next record has its own line
    m.append({"run_id": "c", "status": "failed"})
    m.close()
    assert set(read_manifest(path)) == {"a", "c"}
    assert path.read_text().count("\n") == 2


# -- executors --------------------------------------------------------------------------------


def test_same_results_with_one_two_workers_and_dask_clusters(tmp_path, capsys):
    args = ["market", "public_option", "--replicates", "2", *SWEEP, *TINY]
    assert batch(tmp_path / "w1", *args, "--workers", "1") == 0
    out = capsys.readouterr().out
    assert "8/8 runs done" in out and "results.parquet" in out  # plain lines: not a terminal
    assert batch(tmp_path / "w2", *args, "--workers", "2") == 0
    assert batch(tmp_path / "dask", *args, "--scheduler", "local", "--workers", "2") == 0
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=50
    ) as cluster:  # as a remote cluster: shards come back to this process to be written
        assert batch(tmp_path / "tcp", *args, "--scheduler", cluster.scheduler_address) == 0

    one = results(tmp_path / "w1")
    assert len(one) == 2 * 2 * 2 * 6
    assert list(one.columns[:5]) == ["scenario", "replicate", "seed", *KEYS[1:2], "step"]
    pd.testing.assert_frame_equal(one, results(tmp_path / "w2"))
    pd.testing.assert_frame_equal(one, results(tmp_path / "dask"))
    pd.testing.assert_frame_equal(one, results(tmp_path / "tcp"))

    meta = json.loads((tmp_path / "w1" / "batch.json").read_text())
    assert meta["missing"] == [] and meta["succeeded"] == 8
    assert len(meta["configs"]) == 4 and {"hostname", "cpu_count"} <= set(meta["machine"])
    assert meta["code_revision"] and meta["package_version"]


def test_common_random_numbers_and_distinct_replicates(tmp_path):
    out = tmp_path / "crn"
    args = ["market", "public_option", "--replicates", "3", *SWEEP, *TINY, "--quiet"]
    assert batch(out, *args) == 0
    df = results(out)
    seeds = df.groupby("replicate")["seed"].unique()
    assert all(len(s) == 1 for s in seeds)  # one seed per replicate, across scenarios and points
    assert [int(s[0]) for s in seeds] == replicate_seeds(0, 3)
    assert len({int(s[0]) for s in seeds}) == 3
    by_run = {(r["scenario"], r["replicate"]): r["seed"] for r in manifest(out)}
    assert by_run[("market", 2)] == by_run[("public_option", 2)] == replicate_seeds(0, 3)[2]


def test_one_run_of_a_batch_is_reproduced_alone(tmp_path):
    out = tmp_path / "b"
    set_ = ["--set", "adoption.popularity_weight=0.7"]
    assert batch(out, "public_option", "--replicates", "2", *SWEEP, *set_, *TINY, "--quiet") == 0
    rec = next(r for r in manifest(out) if r["run_id"] == "public_option.p1.r1")
    argv = shlex.split(rec["command"])
    assert argv[:3] == ["python", "run.py", "run"]
    assert main([*argv[2:], "--out", str(tmp_path / "one")]) == 0

    df = results(out)
    mine = df[(df["adoption.review_probability"] == 0.3) & (df["replicate"] == 1)]
    mine = mine.drop(columns=["scenario", "replicate", "seed", "adoption.review_probability"])
    mine = mine.reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, pd.read_parquet(tmp_path / "one" / "metrics.parquet"))

    overrides = {
        "adoption.popularity_weight": 0.7,
        "adoption.review_probability": 0.3,
        "simulation.steps": 6,
        "simulation.researchers": 200,
    }
    direct = run(load_scenario("public_option", overrides), seed=rec["seed"])
    pd.testing.assert_frame_equal(mine, direct)


# -- resume, failures, refusal ----------------------------------------------------------------


def test_a_failing_run_is_recorded_and_the_rest_goes_on(tmp_path):
    out = tmp_path / "f"
    args = ["market", "public_option", "--replicates", "2", *TINY]
    # Test-only hook: the worker raises for the run ids in this variable (see worker.py).
    env = {FAIL_RUN_IDS_ENV: "market.p0.r1"}
    proc = batch_process(out, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert "1 of 4 runs failed" in stderr
    assert "market.p0.r1: RuntimeError: injected failure" in stderr
    assert "Traceback" not in stderr + stdout
    df = results(out)
    assert set(zip(df["scenario"], df["replicate"], strict=True)) == {
        ("market", 0),
        ("public_option", 0),
        ("public_option", 1),
    }
    meta = json.loads((out / "batch.json").read_text())
    assert meta["missing"] == ["market.p0.r1"] and meta["failed"] == 1
    (failed,) = [r for r in manifest(out) if r["status"] == "failed"]
    assert failed["run_id"] == "market.p0.r1" and failed["error"].startswith("RuntimeError:")

    assert batch(out, *args, "--quiet") == 0  # a rerun computes only the failed run
    assert len(manifest(out)) == 5
    assert len(results(out)) == 4 * 6


def test_a_different_batch_is_refused_and_force_starts_anew(tmp_path, capsys):
    out = tmp_path / "b"
    assert batch(out, "market", "--replicates", "2", *TINY, "--quiet") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()

    assert batch(out, "market", "--replicates", "2", "--seed", "1", *TINY) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert "different batch" in err and "--force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before

    # Workers and verbosity do not make a different batch: this resumes (nothing left to do).
    assert batch(out, "market", "--replicates", "2", *TINY, "--workers", "1", "--quiet") == 0
    assert capsys.readouterr().out == ""

    assert batch(out, "market", "--replicates", "2", "--seed", "1", *TINY, "--force") == 0
    assert json.loads((out / "plan.json").read_text())["seed"] == 1
    assert sorted(results(out)["seed"].unique()) == sorted(replicate_seeds(1, 2))
    assert len(manifest(out)) == 2

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert batch(other, "market", "--replicates", "2", *TINY) == 2
    assert "not a batch" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


# -- bad input --------------------------------------------------------------------------------

BAD = {
    "unknown scenario": ["nosuch"],
    "empty sweep": ["market", "--sweep", "public.budget_usd_per_month="],
    "sweep without =": ["market", "--sweep", "public.budget_usd_per_month"],
    "unknown sweep key": ["market", "--sweep", "nokey=1,2"],
    "sweep value out of range": ["market", "--sweep", "adoption.review_probability=0.5,2"],
    "sweep value of the wrong type": ["market", "--sweep", "adoption.cost_weight=1,many"],
    "sweep also set": [
        "market",
        "--sweep",
        "adoption.cost_weight=1,2",
        "--set",
        "adoption.cost_weight=0",
    ],
    "unknown --set key": ["market", "--set", "nokey=1"],
    "ill-formed --set": ["market", "--set", "adoption.cost_weight"],
    "bad replicates": ["market", "--replicates", "0"],
    "bad agent records": ["market", "--record-agents", "0"],
    "unreachable scheduler": ["market", "--scheduler", "tcp://127.0.0.1:1"],
}


@pytest.mark.parametrize("argv", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "out"
    assert batch(out, *argv, *TINY) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error:") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()


def test_an_output_directory_that_cannot_be_made_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert batch(blocker / "out", "market", *TINY) == 2
    assert "not a directory" in capsys.readouterr().err
    assert blocker.read_text() == ""


def test_missing_dask_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(UsageError, match=r"\[distributed\] extra"), executors.open_pool(1, "local"):
        pass
