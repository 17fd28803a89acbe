"""Run one scenario: the simplest Python API, ``simulation.run(config, seed)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulation.config import Config

if TYPE_CHECKING:
    import pandas as pd


def run(
    config: Config,
    seed: int = 0,
    steps: int | None = None,
    researchers: int | None = None,
) -> pd.DataFrame:
    """Simulate ``steps`` months and return the metrics table.

    The model is stepped by hand, so ``steps`` may exceed ``config.simulation.steps`` (the
    months after which the model's ``running`` turns False and ``run_model()`` stops).

    Args:
        config: The scenario configuration.
        seed: Seed for all randomness.
        steps: Months to simulate; None runs the config's ``simulation.steps``.
        researchers: Simulated researchers; None keeps ``config.simulation.researchers``.

    Returns:
        One row per month: a ``step`` column (from 0), then one column per metric.
    """
    from simulation.model import EcosystemModel  # noqa: PLC0415  (Mesa and numba load on use)

    model = EcosystemModel(config, rng=seed, researchers=researchers)
    for _ in range(steps if steps is not None else config.simulation.steps):
        model.step()
    return model.datacollector.frame()
