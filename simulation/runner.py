"""Run one scenario: the simplest Python API, ``simulation.run(config, seed)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulation.config import MAX_STEPS, Config, ConfigError
from simulation.errors import check_whole

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

    Raises:
        ConfigError: ``config`` is not a loaded Config.
        UsageError: ``seed``, ``steps`` or ``researchers`` is not a whole number in range.
    """
    if not isinstance(config, Config):
        raise ConfigError(
            f"config must be a simulation.Config, got {type(config).__name__}; load one with "
            "simulation.load_scenario(name)"
        )
    check_whole("seed", seed, 0)
    if steps is not None:
        check_whole("steps", steps, 1, MAX_STEPS)
    from simulation.model import EcosystemModel  # noqa: PLC0415  (Mesa and numba load on use)

    model = EcosystemModel(config, rng=seed, researchers=researchers)
    for _ in range(steps if steps is not None else config.simulation.steps):
        model.step()
    return model.datacollector.frame()
