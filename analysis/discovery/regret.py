"""Each scenario's outcome in each sampled future, the best scenario there, and the regrets.

A run's outcome is a metric's mean over its final months (all of them if the run is shorter;
months where the metric is undefined are skipped), then averaged over replicates. In each
future the best scenario has the highest outcome (the lowest when minimising); a scenario's
regret is how far it falls short of the best: best - outcome (outcome - best when minimising),
so regret is never negative and the best scenario's is 0. Ties are all "best" (regret 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.results.window import FINAL_MONTHS, final_window

TIE = 1e-12  # regrets this small count as 0: the scenario ties for best


def outcome_column(scenario: str) -> str:
    """The regret table's column of a scenario's outcome."""
    return f"outcome.{scenario}"


def regret_column(scenario: str) -> str:
    """The regret table's column of a scenario's regret."""
    return f"regret.{scenario}"


def final_means(results: pd.DataFrame, metric: str, months: int = FINAL_MONTHS) -> pd.DataFrame:
    """One row per design point, one column per scenario: the metric's final-months mean.

    Args:
        results: The combined long table (``scenario``, ``point``, ``replicate``, ``step`` and
            the metric), every run the same length.
        metric: The metric to summarise.
        months: How many final months to average (fewer if the runs are shorter).
    """
    final = final_window(results, months)
    per_run = final.groupby(["scenario", "point", "replicate"])[metric].mean()
    per_point = per_run.groupby(["point", "scenario"]).mean().unstack("scenario")
    per_point.columns.name = None
    return per_point.sort_index()


def regret_table(
    design: pd.DataFrame, outcomes: pd.DataFrame, scenarios: Sequence[str], minimise: bool = False
) -> pd.DataFrame:
    """Per future: its parameters, each scenario's outcome, the best scenario, the regrets.

    Args:
        design: One row per future (sample), one column per parameter.
        outcomes: Each scenario's outcome, one row per future in the same order.
        scenarios: The scenarios, in the order their columns should appear (ties for best go
            to the first).
        minimise: Lower outcomes are better.

    Returns:
        ``sample``, the parameters, ``outcome.<scenario>``..., ``best`` ("" where every
        outcome is undefined) and ``regret.<scenario>``...
    """
    values = outcomes[list(scenarios)].to_numpy(float)
    signed = -values if minimise else values
    top = np.nanmax(np.where(np.isnan(signed), -np.inf, signed), axis=1)
    regrets = top[:, None] - signed
    defined = np.isfinite(top)
    regrets[~defined] = np.nan
    regrets[np.abs(regrets) <= TIE] = 0.0
    best_index = np.argmax(np.where(np.isnan(signed), -np.inf, signed), axis=1)
    table = design.reset_index(drop=True).copy()
    table.insert(0, "sample", np.arange(len(table)))
    for j, s in enumerate(scenarios):
        table[outcome_column(s)] = values[:, j]
    table["best"] = np.where(defined, np.asarray(scenarios, dtype=object)[best_index], "")
    for j, s in enumerate(scenarios):
        table[regret_column(s)] = regrets[:, j]
    return table


def regret_summary(table: pd.DataFrame, scenarios: Sequence[str]) -> pd.DataFrame:
    """Per scenario: how often it is (tied for) best, its mean outcome, mean and max regret.

    Sorted by max regret, then mean regret: the first row is the minimax-regret choice.
    """
    rows = []
    for s in scenarios:
        regret = table[regret_column(s)]
        rows.append({
            "scenario": s,
            "best_in": int((regret == 0).sum()),
            "best_share": float((regret == 0).mean()),
            "mean_outcome": float(table[outcome_column(s)].mean()),
            "mean_regret": float(regret.mean()),
            "max_regret": float(regret.max()),
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.sort_values(["max_regret", "mean_regret"], kind="stable").reset_index(drop=True)
