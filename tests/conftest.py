"""Shared fixtures. Plain helpers live in tests/helpers.py (importable as ``helpers``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simulation.config import SCENARIO_DIR


@pytest.fixture
def scenario_file(tmp_path):
    """Write a scenario TOML beside a copy of base.toml (so ``extends = "base"`` resolves)."""
    shutil.copy(SCENARIO_DIR / "base.toml", tmp_path / "base.toml")

    def write(text: str, name: str = "custom.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
