"""Sensitivity analysis: known indices of toy models through the command's own code path, a tiny
real run, and bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import REPO

from analysis.fitting.sensitivity import Param, ranked_table, sensitivity, write_outputs
from cli import main

PI = float(np.pi)


def ishigami(x: np.ndarray) -> np.ndarray:
    a, b = 7.0, 0.1
    y = np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])
    return y[:, None]


def test_sobol_recovers_ishigami_indices():
    params = [Param(f"x{i}", -PI, PI) for i in (1, 2, 3)]
    indices, x, y = sensitivity("sobol", params, ["y"], ishigami, samples=2048, seed=1)
    frame = indices["y"]
    assert frame["S1"].to_numpy() == pytest.approx([0.314, 0.442, 0.0], abs=0.04)
    assert frame["ST"].to_numpy() == pytest.approx([0.558, 0.442, 0.244], abs=0.05)
    assert (frame["S1_conf"] > 0).all()
    assert x.shape == (2048 * 5, 3) and y.shape == (2048 * 5, 1)


def test_morris_ranks_a_linear_model():
    params = [Param("big", 0, 1), Param("small", 0, 1), Param("inert", 0, 1)]

    def linear(x: np.ndarray) -> np.ndarray:
        return np.column_stack([10 * x[:, 0] + x[:, 1], x[:, 1]])

    indices, _, _ = sensitivity("morris", params, ["a", "b"], linear, samples=20, seed=2)
    assert indices["a"]["mu_star"].to_numpy() == pytest.approx([10.0, 1.0, 0.0], abs=1e-9)
    assert indices["a"]["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert indices["b"]["mu_star"].to_numpy() == pytest.approx([0.0, 1.0, 0.0], abs=1e-9)
    table = ranked_table(indices, "morris")
    lines = [line.split() for line in table.splitlines()]
    assert [row[1] for row in lines[2:5]] == ["big", "small", "inert"]


def test_sensitivity_is_deterministic_and_writes_files(tmp_path):
    params = [Param(f"x{i}", -PI, PI) for i in (1, 2, 3)]
    first = sensitivity("morris", params, ["y"], ishigami, samples=8, seed=5)
    second = sensitivity("morris", params, ["y"], ishigami, samples=8, seed=5)
    pd.testing.assert_frame_equal(first[0]["y"], second[0]["y"])
    write_outputs(first[0], "morris", params, first[1], first[2], tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"y.csv", "y.png", "samples.csv"}


def test_tiny_model_run(tmp_path, capsys):
    out = tmp_path / "s"
    code = main([
        "sensitivity", "market", "--method", "morris", "--samples", "2",
        "--param", "adoption.popularity_weight=0.1:1.0",
        "--param", "labs.nonprofit.count=1:4",
        "--output", "access.finetune.global_south", "--output", "downloads.nonprofit",
        "--researchers", "150", "--steps", "24", "--workers", "2", "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "access.finetune.global_south" in text and "mu_star" in text
    frame = pd.read_csv(out / "downloads.nonprofit.csv")
    assert list(frame["parameter"]) == ["adoption.popularity_weight", "labs.nonprofit.count"]
    assert (out / "access.finetune.global_south.png").exists()
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 2 * 3
    assert set(samples["labs.nonprofit.count"]) <= {1, 2, 3, 4}  # whole-number key rounded


BASE = ["sensitivity", "market", "--method", "morris", "--output", "market.gpu_price"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*BASE, "--param", "adoption.popularity_wieght=0.1:1"], "popularity_wieght"),
        ([*BASE, "--param", "adoption.popularity_weight=1:0.1"], "LOW must be below HIGH"),
        ([*BASE, "--param", "adoption.popularity_weight=1:1"], "LOW must be below HIGH"),
        ([*BASE, "--param", "adoption.popularity_weight=a:b"], "KEY=LOW:HIGH"),
        ([*BASE, "--param", "public.mode=0:1"], "not a numeric"),
        ([*BASE, "--param", "simulation.steps=3:6"], "set it with --steps"),  # no traceback
        ([*BASE, "--param", "adoption.popularity_weight=0:1", "--output", "nope"], "nope"),
        (["sensitivity", "market", "--method", "fast", "--param", "adoption.popularity_weight=0:1",
          "--output", "market.gpu_price"], "invalid choice"),
        ([*BASE, "--method", "sobol", "--samples", "10", "--param",
          "adoption.popularity_weight=0:1"], "power of two"),
        (["sensitivity", "nowhere", "--method", "morris", "--param",
          "adoption.popularity_weight=0:1", "--output", "market.gpu_price"], "unknown scenario"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_input_in_a_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "run.py", *BASE, "--param", "adoption.nope=0:1", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""
