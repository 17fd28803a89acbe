"""Run one scenario and describe where the numbers came from."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from simulation.config import Config, to_dict

if TYPE_CHECKING:
    import pandas as pd


def run(
    config: Config,
    seed: int = 0,
    steps: int | None = None,
    researchers: int | None = None,
) -> pd.DataFrame:
    """Simulate ``steps`` months (default: the config's) and return the metrics table."""
    from simulation.model import EcosystemModel  # noqa: PLC0415  (Mesa and numba load on use)

    model = EcosystemModel(config, rng=seed, researchers=researchers)
    for _ in range(steps if steps is not None else config.simulation.steps):
        model.step()
    return model.metrics.frame()


def provenance(config: Config, seed: int, steps: int, researchers: int) -> dict:
    """Everything needed to reproduce a result: resolved config, seed, versions, code revision."""
    return {
        "seed": seed,
        "steps": steps,
        "researchers": researchers,
        "config": to_dict(config),
        "package_version": _version(),
        "code_revision": code_revision(),
        "python": platform.python_version(),
        "mesa": metadata.version("mesa"),
        "numpy": metadata.version("numpy"),
    }


def _version() -> str:
    try:
        return metadata.version("open-model-ecosystem")
    except metadata.PackageNotFoundError:
        return "unknown"


def code_revision() -> str:
    """The git commit of the code, with ``-dirty`` when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev}-dirty" if dirty else rev
