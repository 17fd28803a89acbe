"""Confidence intervals across replicates, and paired differences between scenarios.

Replicates are independent draws, so the mean of a metric across them has a Student-t
interval. Scenarios of one batch share seeds per replicate (common random numbers), so a
difference between two scenarios is computed replicate by replicate and its interval comes from
the spread of those paired differences, which is much narrower than comparing two means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean and two-sided t-interval of a sample; ``low``/``high`` are NaN below 2 values."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN below 2 values)."""
        return (self.high - self.low) / 2


def t_interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """Mean with a ``level`` t-interval (df = n - 1); NaN values are dropped."""
    x = np.asarray(list(values), dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(t_quantile(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired(treatment: pd.Series, baseline: pd.Series) -> pd.Series:
    """``treatment - baseline`` replicate by replicate (both indexed by replicate).

    Replicates missing on either side (a failed run) are dropped, never compared unpaired.
    """
    both = pd.concat({"t": treatment, "b": baseline}, axis=1).dropna()
    return both["t"] - both["b"]


def t_quantile(q: float, df: float | np.ndarray) -> float | np.ndarray:
    """Student-t quantile ``q`` at ``df`` degrees of freedom.

    scipy is imported on first use: it takes most of a second, which a command that only
    validates its input should not pay.
    """
    from scipy import stats  # noqa: PLC0415

    return stats.t.ppf(q, df)
