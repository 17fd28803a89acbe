"""The simulation as an EMA Workbench model, for anything EMA can do with one.

:func:`ema_model` returns an ``ema_workbench.ReplicatorModel``: the uncertainties and levers
are dotted config keys, checked against every scenario up front; the scenario itself is a
categorical lever named ``governance`` (EMA reserves ``scenario``, ``policy`` and ``model``);
replication r of every experiment runs with the batch engine's replicate seed r
(:func:`simulation.batch.plan.replicate_seeds`), so experiments are paired across scenarios and
levers (common random numbers) and agree with ``run.py batch`` for the same root seed. Outcomes
are summaries of a run's metrics table, such as :func:`final_mean`, averaged over replications.

EMA names must be Python identifiers, so a dotted key is named with ``__`` for each dot
(``market.gpu_price_usd_per_hour`` -> ``market__gpu_price_usd_per_hour``); the parameter's
``variable_name`` keeps the dotted key, so the model function receives config keys. Example::

    from ema_workbench import perform_experiments
    from analysis.discovery.adapter import ema_model

    model = ema_model(
        ["market", "public_option"],
        {"market.gpu_price_usd_per_hour": (1.5, 4.0)},
        outcomes=["access.finetune.global_south"],
        replications=2, steps=36, researchers=500, seed=0,
    )
    experiments, outcomes = perform_experiments(
        model, scenarios=8, policies=2, uncertainty_sampling_kwargs={"rng": 0}
    )
    # outcomes["access__finetune__global_south"]: one value per experiment
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.discovery.ema import ema
from analysis.discovery.sample import check_metric, check_uncertainties
from analysis.fitting.sensitivity import Param
from analysis.results.window import FINAL_MONTHS, final_window
from simulation.batch.plan import RunSettings, replicate_seeds
from simulation.config import load_scenario, scenario_path
from simulation.errors import UsageError

SCENARIO_LEVER = "governance"
RESERVED = frozenset({"scenario", "policy", "model", "seed", SCENARIO_LEVER})
MODEL_NAME = "ecosystem"


def ema_name(name: str) -> str:
    """An EMA-safe identifier for a dotted key or metric: each dot becomes ``__``."""
    ident = re.sub(r"\W", "_", name.replace(".", "__"))
    return ident if ident.isidentifier() else f"_{ident}"


@dataclass(frozen=True)
class FinalMean:
    """A run's outcome: a metric's mean over its final ``months`` (all if the run is shorter).

    Attributes:
        metric: The metric (a column of the run's metrics table).
        months: How many final months to average.
    """

    metric: str
    months: int = FINAL_MONTHS

    @property
    def name(self) -> str:
        """The outcome's name: the metric, with the window when it is not the default 12."""
        return self.metric if self.months == FINAL_MONTHS else f"{self.metric}.last{self.months}"

    def __call__(self, metrics: pd.DataFrame) -> float:
        """The metric's mean over the final months of ``metrics`` (NaN months skipped)."""
        return float(final_window(metrics, self.months)[self.metric].mean())


def final_mean(metric: str, months: int = FINAL_MONTHS) -> FinalMean:
    """An outcome: the mean of ``metric`` over a run's final ``months`` months."""
    if months < 1:
        raise UsageError(f"final_mean({metric!r}, months={months}): months must be >= 1")
    return FinalMean(metric, months)


def replicate_mean(values: Sequence[float]) -> float:
    """An outcome over replications: their mean."""
    return float(np.mean(values))


@dataclass(frozen=True)
class SimulationFunction:
    """The function EMA calls: one run of one scenario at one set of config values.

    A plain picklable object (no closure), so EMA's multiprocessing evaluator can ship it.

    Attributes:
        sources: Scenario label -> its name or path.
        fixed: Overrides of every run (steps, researchers, ``--set``-style overrides).
        outcomes: EMA outcome name -> the summary of the run's metrics table.
    """

    sources: Mapping[str, str]
    fixed: Mapping[str, Any]
    outcomes: Mapping[str, FinalMean]

    def __call__(self, **experiment: Any) -> dict[str, float]:
        """Run ``experiment[governance]`` with the other keys as config overrides."""
        from simulation.runner import simulate  # noqa: PLC0415  (Mesa and numba on use)

        scenario = experiment.pop(SCENARIO_LEVER)
        seed = experiment.pop("seed")
        values = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in experiment.items()}
        config = load_scenario(self.sources[scenario], {**self.fixed, **values})
        sim = config.simulation
        metrics = simulate(config, int(seed), sim.steps, sim.researchers).metrics
        return {name: summary(metrics) for name, summary in self.outcomes.items()}


def ema_model(
    scenarios: Sequence[str | Path],
    uncertainties: Mapping[str, tuple[float, float]],
    levers: Mapping[str, tuple[float, float]] | None = None,
    outcomes: Sequence[str | FinalMean] = (),
    *,
    replications: int = 1,
    steps: int | None = None,
    researchers: int | None = None,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    name: str = MODEL_NAME,
) -> Any:
    """The simulation as an ``ema_workbench.ReplicatorModel``.

    Args:
        scenarios: The scenarios (names or paths): the categories of the ``governance`` lever.
        uncertainties: Dotted config key -> (low, high): a ``RealParameter`` (an
            ``IntegerParameter`` for a whole-number key).
        levers: Dotted config key -> (low, high): further levers beside ``governance``.
        outcomes: Metrics (each its :func:`final_mean`) or :class:`FinalMean` summaries; each
            is a ``ScalarOutcome``, the mean over replications.
        replications: Runs per experiment, with the batch engine's replicate seeds.
        steps: Months per run (None: the config's).
        researchers: Population size (None: the config's).
        seed: Root of the replicate seeds.
        overrides: Dotted config keys set in every run.
        name: The EMA model's name (an identifier).

    Raises:
        UsageError: A key a scenario's config refuses (the config's own message), a range with
            low >= high, a key given twice or clashing with an EMA name, an unknown metric, no
            outcome, or EMA Workbench not installed.
    """
    wb = ema()
    settings = RunSettings(replications, seed, steps, researchers, dict(overrides or {}))
    fixed = settings.fixed()
    sources = {scenario_path(s).stem: str(s) for s in scenarios}
    if len(sources) != len(scenarios) or not sources:
        raise UsageError("ema_model: give one or more scenarios, each once")
    unc, lev = (
        _checked(list(sources.values()), given, fixed) for given in (uncertainties, levers or {})
    )
    summaries = [o if isinstance(o, FinalMean) else final_mean(o) for o in outcomes]
    if not summaries:
        raise UsageError("ema_model: give an outcome, e.g. 'access.finetune.global_south'")
    for s in summaries:
        check_metric("outcome", s.metric, list(sources.values()), fixed)
    names = [ema_name(p.key) for p in (*unc, *lev)] + [ema_name(s.name) for s in summaries]
    for n in names:
        if n in RESERVED or names.count(n) > 1:
            raise UsageError(f"ema_model: the EMA name {n!r} is reserved or given twice")

    function = SimulationFunction(sources, fixed, {ema_name(s.name): s for s in summaries})
    model = wb.ReplicatorModel(name, function=function)
    model.uncertainties = [_parameter(wb, p) for p in unc]
    model.levers = [
        wb.CategoricalParameter(SCENARIO_LEVER, list(sources)),
        *(_parameter(wb, p) for p in lev),
    ]
    model.outcomes = [
        wb.ScalarOutcome(ema_name(s.name), function=replicate_mean) for s in summaries
    ]
    model.replications = [{"seed": s} for s in replicate_seeds(seed, replications)]
    return model


def _checked(
    sources: Sequence[str], given: Mapping[str, tuple[float, float]], fixed: dict[str, Any]
) -> tuple[Param, ...]:
    """Dotted keys and ranges as parameters, checked in every scenario."""
    return check_uncertainties(sources, given, fixed) if given else ()


def _parameter(wb: Any, p: Param) -> Any:
    """An EMA parameter named for EMA, its variable the dotted config key."""
    kind = wb.IntegerParameter if p.integer else wb.RealParameter
    low, high = (round(p.low), round(p.high)) if p.integer else (p.low, p.high)
    return kind(ema_name(p.key), low, high, variable_name=p.key)
