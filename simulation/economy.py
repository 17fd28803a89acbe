"""The economy's spending on AI models, and how it pays the labs (docs/ODD.md 7.1).

Labs have no income path of their own: the economy spends more on AI as the frontier gets
more capable, spreads that spending over the labs by the capability of their best models,
and each lab earns the part its licence lets it charge for.
"""

from __future__ import annotations

import math

import numpy as np

from simulation.config import Economy, LabKind
from simulation.releases import CLOSED, RESTRICTED


def ai_spend(economy: Economy, frontier: float, frontier_at_start: float) -> float:
    """USD a month the economy pays for AI models at this frontier capability.

    Spending grows by ``capability_elasticity`` decades per decade of frontier capability
    gained since month 0 (demand follows usefulness), up to ``max_ai_spend_usd_per_month``.
    """
    gained = frontier - frontier_at_start if math.isfinite(frontier_at_start) else 0.0
    spend = economy.ai_spend_usd_per_month * 10 ** (economy.capability_elasticity * gained)
    cap = economy.max_ai_spend_usd_per_month
    return spend if cap is None else min(spend, cap)


def spending_shares(capability: np.ndarray, weights: np.ndarray, economy: Economy) -> np.ndarray:
    """Share of the economy's spending that goes to each lab's models.

    A multinomial logit on each lab's best capability: weight exp(``quality_sensitivity`` x
    (capability - best) + ``open_weights_appeal`` if the lab releases weights); a lab with no
    model (capability -inf) gets nothing. The leader's share hardly depends on openness (its
    users have no equal substitute); a laggard's does.

    Args:
        capability: Per lab, the capability of its best model.
        weights: Per lab, whether it releases weights.
        economy: The ``[economy]`` parameters.

    Returns:
        Per lab, its share (summing to 1 when any lab has a model).
    """
    has = np.isfinite(capability)
    if not has.any():
        return np.zeros(capability.size)
    best = capability[has].max()
    gap = np.where(has, capability, best) - best
    utility = economy.quality_sensitivity * gap + economy.open_weights_appeal * weights
    weight = np.where(has, np.exp(utility - utility[has].max()), 0.0)
    return weight / weight.sum()


def earned_share(licence: int, spec: LabKind) -> float:
    """Of the spending on a lab's models, the share the lab earns under ``licence``.

    A closed model is sold only through its lab; a restricted-open one earns licence fees and
    its lab's own products (the kind's ``restricted_revenue_share``: a firm whose products
    use its own models earns more of it than one that only sells models); a fully open one
    earns its lab nothing directly (others host it).
    """
    if licence == CLOSED:
        return 1.0
    if licence == RESTRICTED:
        return spec.restricted_revenue_share
    return 0.0


def params_from_compute(gpu_hours: float, flop_per_gpu_hour: float, tokens: float) -> float:
    """Size in billions of parameters of a model trained on ``gpu_hours``.

    Training takes about 6 x parameters x tokens FLOP (Kaplan et al. 2020); with ``tokens``
    training tokens per parameter (compute-optimal: ~20, Hoffmann et al. 2022), parameters
    grow with the square root of compute.
    """
    return math.sqrt(gpu_hours * flop_per_gpu_hour / (6.0 * tokens)) / 1e9
