"""run.py discover: a tiny real discovery writes the regret table, the PRIM boxes and the page,
and bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from helpers import REPO

import analysis.discovery.ema as discovery_ema
from cli import main

PARAMS = ["--param", "market.gpu_price_usd_per_hour=1.5:4",
          "--param", "groups.global_south.budget_median_usd=10:200"]  # fmt: skip
OUTCOME = "access.finetune.global_south"
BASE = ["discover", "market", "public_option", *PARAMS, "--outcome", OUTCOME]


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    out = tmp_path_factory.mktemp("discover") / "d"
    argv = [*BASE, "--samples", "8", "--fails", f"{OUTCOME}<0.6", "--researchers", "200",
            "--steps", "15", "--workers", "2", "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.run([sys.executable, "run.py", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    return proc, out


def test_discover_writes_regret_boxes_and_page(discovered):
    proc, out = discovered
    assert proc.returncode == 0, proc.stderr
    assert "policy_best: public_option is best" in proc.stdout
    assert "policy_fails: public_option fails" in proc.stdout
    regret = pd.read_csv(out / "regret.csv")
    assert len(regret) == 8
    assert {"market.gpu_price_usd_per_hour", "outcome.market", "outcome.public_option", "best",
            "regret.market", "regret.public_option", f"fails.{OUTCOME}"} <= set(regret)  # fmt: skip
    assert (regret[["regret.market", "regret.public_option"]] >= 0).all().all()
    assert (regret[["regret.market", "regret.public_option"]].min(axis=1) == 0).all()
    assert regret["market.gpu_price_usd_per_hour"].between(1.5, 4).all()
    boxes = pd.read_csv(out / "boxes.csv")
    assert {"coverage", "density", "mass", "qp_low", "qp_high", "low", "high"} <= set(boxes)
    assert set(boxes["question"]) == {"policy_best", "policy_fails"}
    page = (out / "discover.html").read_text()
    assert "data:image/png;base64," in page and "Regret per scenario" in page
    assert "http://" not in page and "https://" not in page  # opens offline
    assert (out / "trajectory.csv").exists() and (out / "batch" / "results.parquet").exists()


def test_the_same_command_resumes_and_gives_the_same_tables(discovered, capsys):
    _, out = discovered
    before = (out / "regret.csv").read_text()
    argv = [*BASE, "--samples", "8", "--fails", f"{OUTCOME}<0.6", "--researchers", "200",
            "--steps", "15", "--workers", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "regret.csv").read_text() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*BASE[:3], "--param", "market.gpu_prce_usd_per_hour=1:2", "--outcome", OUTCOME],
         "gpu_prce_usd_per_hour"),
        ([*BASE[:3], "--param", "market.gpu_price_usd_per_hour=4:1.5", "--outcome", OUTCOME],
         "LOW must be below HIGH"),
        ([*BASE[:3], "--param", "market.gpu_price_usd_per_hour=a:b", "--outcome", OUTCOME],
         "KEY=LOW:HIGH"),
        ([*BASE[:3], "--param", "simulation.steps=3:6", "--outcome", OUTCOME],
         "--param simulation.steps: every run must have the same length"),
        (["discover", "market", "global_south_public_option", "--param",
          "institutions.gs_government.price_share=0:1", "--outcome", OUTCOME],
         "(in scenario market)"),  # a key only one scenario has: say which lacks it
        ([*BASE[:-1], "access.finetune.global_sooth"], "did you mean"),
        ([*BASE, "--fails", "access.finetune.global_south"], "METRIC<VALUE"),
        ([*BASE, "--fails", "access.nope<0.2"], "--fails access.nope"),
        ([*BASE, "--policy", "regulation_only"], "not among the scenarios"),
        (["discover", "public_option", *PARAMS, "--outcome", OUTCOME], "at least 2"),
        ([*BASE, "--samples", "1"], "--samples 1"),
        (["discover", "market", "market", *PARAMS, "--outcome", OUTCOME], "given twice"),
        (["discover", "market", "nowhere", *PARAMS, "--outcome", OUTCOME], "unknown scenario"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_missing_ema_workbench_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(discovery_ema, "installed", lambda: False)
    assert main([*BASE, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[discover]'" in err and not (tmp_path / "o").exists()
