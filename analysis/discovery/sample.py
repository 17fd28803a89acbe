"""The uncertainties: checked against every scenario, then sampled by a seeded Latin hypercube.

An uncertainty is a numeric config key and its range (sensitivity analysis's :class:`Param`),
so the same checks apply: the key exists, holds a number and accepts both ends, here in every
scenario compared. The design is scipy's ``qmc.LatinHypercube`` seeded from ``--seed`` (EMA
Workbench's own sampler is unseeded unless given an ``rng``), so a rerun draws the same futures
and resumes its batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from analysis.fitting.sensitivity import Param, check_inputs
from simulation.config import load_scenario, scenario_path
from simulation.errors import UsageError, did_you_mean
from simulation.metrics import scenario_metric_names

MIN_SAMPLES = 2


def as_params(params: Sequence[Param] | Mapping[str, tuple[float, float]]) -> list[Param]:
    """Parameters given as :class:`Param` objects or as ``{dotted_key: (low, high)}``."""
    if isinstance(params, Mapping):
        return [Param(k, float(low), float(high)) for k, (low, high) in params.items()]
    return list(params)


def check_uncertainties(
    scenarios: Sequence[str],
    params: Sequence[Param] | Mapping[str, tuple[float, float]],
    fixed: dict[str, Any],
) -> tuple[Param, ...]:
    """The parameters, checked in every scenario, with whole-number keys marked ``integer``.

    Args:
        scenarios: The scenarios every parameter must apply to.
        params: The parameters, as Params or ``{dotted_key: (low, high)}``.
        fixed: Overrides every run gets.

    Raises:
        UsageError: No parameter, a key twice, LOW >= HIGH, or a key or value a scenario's
            config refuses (the config's own message, naming ``--param``, the key and, with
            several scenarios, the scenario).
    """
    params = as_params(params)
    if not params:
        raise UsageError(
            "--param: give at least one uncertainty, e.g. market.gpu_price_usd_per_hour=1.5:4"
        )
    checked: list[Param] = list(params)
    for scenario in scenarios:
        try:
            checked = check_inputs(scenario, params, (), fixed)
        except UsageError as e:
            if len(scenarios) < 2:
                raise
            raise UsageError(f"{e} (in scenario {scenario_path(scenario).stem})") from None
    return tuple(checked)


def check_metric(option: str, metric: str, scenarios: Sequence[str], fixed: dict[str, Any]) -> str:
    """``metric`` if every scenario reports it; else a UsageError with a did-you-mean hint.

    Args:
        option: How the user named it (``--outcome``, ``--fails``), for the message.
        metric: The metric's name.
        scenarios: The scenarios that must report it.
        fixed: Overrides every run gets (they may add groups or labs, and so metrics).
    """
    for scenario in scenarios:
        known = scenario_metric_names(load_scenario(scenario, fixed))
        if metric not in known:
            where = f" in scenario {scenario}" if len(scenarios) > 1 else ""
            raise UsageError(f"{option} {metric}: not a metric of the model{where}"
                             f"{did_you_mean(metric, known)}")  # fmt: skip
    return metric


def latin_hypercube(params: Sequence[Param], samples: int, seed: int) -> pd.DataFrame:
    """``samples`` futures, one row each, one column per parameter (whole-number keys rounded).

    Args:
        params: The uncertainties and their ranges.
        samples: Rows to draw (at least 2).
        seed: Seeds the hypercube: the same seed draws the same design.
    """
    if samples < MIN_SAMPLES:
        raise UsageError(f"--samples {samples}: need at least {MIN_SAMPLES} to compare futures")
    unit = qmc.LatinHypercube(d=len(params), rng=np.random.default_rng(seed)).random(samples)
    x = qmc.scale(unit, [p.low for p in params], [p.high for p in params])
    design = pd.DataFrame(x, columns=[p.key for p in params])
    for p in params:
        if p.integer:
            design[p.key] = np.round(design[p.key]).astype(int)
    return design


def design_points(design: pd.DataFrame) -> list[dict[str, Any]]:
    """The design's rows as config overrides (plain ints and floats), one per future."""
    return [
        {k: (int(v) if isinstance(v, int | np.integer) else float(v)) for k, v in row.items()}
        for row in design.to_dict("records")
    ]
