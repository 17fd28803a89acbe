"""Helpers shared by the tests: small models built from the real scenario files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import simulation

REPO = Path(__file__).resolve().parent.parent
GOVERNANCE = (
    "outsourced_provision",
    "networked_collaboration",
    "state_backed_integration",
    "public_option",
)
SIX = (*GOVERNANCE, "market", "regulation_only")


def make_model(
    scenario: str = "market",
    overrides: dict[str, Any] | None = None,
    *,
    n: int = 400,
    seed: int = 0,
) -> simulation.EcosystemModel:
    """A model of ``scenario`` with dotted-key ``overrides``, ``n`` researchers and ``seed``."""
    config = simulation.load_scenario(scenario, overrides)
    return simulation.EcosystemModel(config, rng=seed, researchers=n)


def advance(model: simulation.EcosystemModel, months: int) -> simulation.EcosystemModel:
    for _ in range(months):
        model.step()
    return model


def lab_kind_of_release(model: simulation.EcosystemModel) -> np.ndarray:
    """The lab kind (name) of every release so far."""
    kinds = np.array([lab.kind for lab in model.labs])
    return kinds[model.releases.arrays()["lab"]]
