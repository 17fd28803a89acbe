"""The metrics a run reports: one row per month, one column per dotted metric name.

Columns are named from the scenario's groups and lab kinds, so they split cleanly on dots:
``access.run.global_south``, ``capture.frontier_closed``, ``market.gpu_price``. The names live
here, light to import; :mod:`simulation.collector` measures them.
"""

from __future__ import annotations

TASKS = ("run", "finetune", "deploy")
# The headline metrics beyond access: the run summary prints them, plots draw them by default.
KEY_METRICS = (
    "capability.frontier",
    "capability.best_open",
    "capture.private",
    "market.gpu_price",
    "market.hosting_hhi",
    "stranded.deployments",
    "public.spend",
    "public.utilisation",
)


def metric_names(groups: list[str], lab_kinds: list[str]) -> list[str]:
    """The metric columns of a scenario, in the order runs report them.

    Args:
        groups: The scenario's researcher group names.
        lab_kinds: The scenario's lab kind names.

    Returns:
        The dotted metric names.
    """
    names = [f"access.{t}.{g}" for t in TASKS for g in groups]
    names += ["capability.frontier", "capability.best_open"]
    names += [f"capability.reached.{g}" for g in groups]
    names += [f"capture.{k}" for k in lab_kinds] + ["capture.private"]
    names += [f"downloads.{k}" for k in lab_kinds]
    names += [f"downloads.top_release.{k}" for k in lab_kinds]
    names += ["downloads.top_decile_share", "frontier.training_cost_usd"]
    names += [
        "market.gpu_price",
        "market.hosting_hhi",
        "stranded.deployments",
        "public.spend",
        "public.utilisation",
    ]
    return names
