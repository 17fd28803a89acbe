"""Agent records in a batch: one file per run beside its shard, written atomically, verified on
resume like the shards, part of the plan, and the same whoever writes them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

import analysis
from cli import main
from simulation.batch import Execution, RunSettings, build_plan, run_batch
from simulation.batch.executors import Pool

ARGS = ["market", "public_option", "--replicates", "2", "--steps", "6", "--researchers", "200"]
RECORD = ["--record-agents", "30"]


def batch(out: Path, *extra: str) -> int:
    return main(["batch", *ARGS, "--workers", "2", "--quiet", *extra, "--out", str(out)])


def agent_files(out: Path) -> list[Path]:
    return sorted(out.rglob("agents*.parquet"))


def run_id(path: Path) -> str:
    return path.name.removeprefix("agents.").removesuffix(".parquet")


def test_a_batch_writes_one_agents_file_per_run_and_the_same_metrics(tmp_path):
    assert batch(tmp_path / "plain") == 0
    assert batch(tmp_path / "b", *RECORD) == 0
    out = tmp_path / "b"
    files = agent_files(out)
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(files) == len(manifest) == 4 and not agent_files(tmp_path / "plain")
    for record in manifest:
        agents = pd.read_parquet(out / "agents" / f"agents.{record['run_id']}.parquet")
        assert (agents.scenario == record["scenario"]).all()
        assert (agents.replicate == record["replicate"]).all()
        assert (agents.seed == record["seed"]).all()
        assert agents[agents.agent_type == "researcher"].groupby("step").size().eq(30).all()
        assert agents[agents.agent_type == "lab"].step.nunique() == 6
    everything = pd.read_parquet(out / "agents")  # every run as one table
    assert set(everything.scenario) == {"market", "public_option"}
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet"),
        pd.read_parquet(tmp_path / "plain" / "results.parquet"),
    )
    a = json.loads((out / "batch.json").read_text())
    b = json.loads((tmp_path / "plain" / "batch.json").read_text())
    assert set(a) == set(b) and (a["record_agents"], b["record_agents"]) == (30, None)
    assert "--record-agents 30" in a["command"]


def test_resume_verifies_the_records_and_refuses_another_count(tmp_path, capsys):
    out = tmp_path / "b"
    assert batch(out, *RECORD) == 0
    written = {p.name: p.read_bytes() for p in agent_files(out)}
    capsys.readouterr()

    assert batch(out, *RECORD) == 0  # the same batch: nothing to do
    assert {p.name: p.read_bytes() for p in agent_files(out)} == written

    for other in (["--record-agents", "40"], []):  # records are part of the plan
        assert batch(out, *other) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "different batch" in err and "--force" in err

    files = agent_files(out)
    files[0].unlink()
    files[1].write_bytes(files[1].read_bytes()[:100])
    assert batch(out, *RECORD) == 0
    err = capsys.readouterr().err
    assert f"recomputing {run_id(files[0])}: its agent records are missing" in err
    assert f"recomputing {run_id(files[1])}: its agent records changed" in err
    assert {p.name: p.read_bytes() for p in agent_files(out)} == written
    assert not list(out.rglob("*.tmp"))

    assert batch(out, "--force") == 0  # a batch without records leaves none behind
    assert not agent_files(out) and not (out / "agents").exists()


def test_records_from_a_remote_cluster_travel_back_and_are_written_here(tmp_path):
    settings = RunSettings(replicates=2, seed=3, steps=4, researchers=150, record_agents=20)
    plan = build_plan(["market"], settings)
    run_batch(plan, tmp_path / "local", Execution(workers=1))
    with ThreadPoolExecutor(2) as executor:  # workers that cannot reach the batch directory
        remote = Pool(executor, 4, "threads standing in for a remote cluster", False)
        assert run_batch(plan, tmp_path / "remote", pool=remote).ok
    for local, remote in zip(
        agent_files(tmp_path / "local"), agent_files(tmp_path / "remote"), strict=True
    ):
        assert local.name == remote.name
        assert pq.read_table(local).equals(pq.read_table(remote))


def test_the_python_api_records_agents_too(tmp_path):
    small = {"replicates": 2, "steps": 3, "researchers": 100, "workers": 1}
    res = analysis.run_batch(["market"], tmp_path / "api", record_agents=10, **small)
    assert len(res.frame) == 2 * 3
    assert [p.name for p in agent_files(tmp_path / "api")] == [
        "agents.market.p0.r0.parquet",
        "agents.market.p0.r1.parquet",
    ]
