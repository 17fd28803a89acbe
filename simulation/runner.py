"""Run one scenario: the simplest Python API, ``simulation.run(config, seed)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulation.config import MAX_RESEARCHERS, MAX_STEPS, Config, ConfigError
from simulation.errors import check_whole

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class RunResult:
    """What one run gives: its metrics, and its agent records when they were asked for.

    Attributes:
        metrics: One row per month (:func:`run`'s table).
        agents: The agent records (``simulation.records``), or None; ``.to_pandas()`` for a
            DataFrame.
    """

    metrics: pd.DataFrame
    agents: pa.Table | None = None


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
    return simulate(config, seed, steps, researchers).metrics


def simulate(
    config: Config,
    seed: int = 0,
    steps: int | None = None,
    researchers: int | None = None,
    record_agents: int | None = None,
) -> RunResult:
    """:func:`run`, and with ``record_agents`` the agent records too (same metrics either way).

    Args:
        config: The scenario configuration.
        seed: Seed for all randomness.
        steps: Months to simulate; None runs the config's ``simulation.steps``.
        researchers: Simulated researchers; None keeps ``config.simulation.researchers``.
        record_agents: Researchers to record each month, with every lab (more than the
            population: everyone); None records nothing.

    Returns:
        The metrics table and, if asked for, the agent records.

    Raises:
        ConfigError: ``config`` is not a loaded Config.
        UsageError: ``seed``, ``steps``, ``researchers`` or ``record_agents`` is not a whole
            number in range.
    """
    if not isinstance(config, Config):
        raise ConfigError(
            f"config must be a simulation.Config, got {type(config).__name__}; load one with "
            "simulation.load_scenario(name)"
        )
    check_whole("seed", seed, 0)
    if steps is not None:
        check_whole("steps", steps, 1, MAX_STEPS)
    if record_agents is not None:  # more than the population records everyone
        check_whole("record_agents", record_agents, 1, MAX_RESEARCHERS)
    from simulation.model import EcosystemModel  # noqa: PLC0415  (Mesa and numba load on use)
    from simulation.records import AgentRecorder  # noqa: PLC0415

    model = EcosystemModel(config, rng=seed, researchers=researchers)
    recorder = AgentRecorder(model, record_agents) if record_agents is not None else None
    for _ in range(steps if steps is not None else config.simulation.steps):
        model.step()
        if recorder is not None:
            recorder.record()
    metrics = model.datacollector.frame()
    return RunResult(metrics, recorder.table({"seed": seed}) if recorder is not None else None)
