"""Layers point one way: the import-linter contracts in pyproject.toml hold, and they catch a
planted upward import or a cycle between packages (so the check itself can fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

PACKAGES = ("cli", "analysis", "simulation")
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the packages under ``root`` with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "pyproject.toml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_project_keeps_its_layers():
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The three packages and pyproject.toml, copied so an import can be planted."""
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, line: str) -> None:
    """Add an import line after the module's ``from __future__`` line."""
    text = path.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + line + "\n", 1))


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("simulation/metrics.py", "import cli  # noqa", "command line -> analysis -> simulation"),
        (
            "simulation/batch/plan.py",
            "from analysis.results.load import Results  # noqa",
            "command line -> analysis -> simulation",
        ),
        (
            "simulation/model.py",
            "from simulation.batch import engine  # noqa",
            "simulation: batch engine -> run -> model -> its parts",
        ),
        (
            "analysis/results/compare.py",
            "from analysis.fitting import validate  # noqa",
            "analysis: discovery -> experiment | fitting -> results",
        ),
        (
            "analysis/fitting/targets.py",
            "from analysis.experiment import claims  # noqa",
            "analysis: discovery -> experiment | fitting -> results",
        ),
        (
            "analysis/fitting/points.py",
            "from analysis.discovery import regret  # noqa",
            "analysis: discovery -> experiment | fitting -> results",
        ),
        ("analysis/results/load.py", "import argparse  # noqa", "argument parsing only"),
        ("simulation/model.py", "import solara  # noqa", "the explorer's web stack only"),
    ],
)
def test_a_planted_upward_import_or_cycle_breaks_a_contract(copy, module, line, broken):
    plant(copy / module, line)
    proc = lint_imports(copy)
    assert proc.returncode != 0
    assert "0 broken" not in proc.stdout
    report = proc.stdout.split("Broken contracts", 1)[1]
    assert broken in report
