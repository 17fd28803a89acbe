"""A run's final months: the one window every summary of a run's outcome averages over.

``compare`` reports it beside a single month; ``sensitivity`` and ``discover`` summarise each
run by a metric's mean over it. One definition, so the three commands agree on "a run's
outcome". Light to import: the command line shows the default without loading pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FINAL_MONTHS = 12  # the final year: the outcome a run ends with, monthly noise averaged out


def final_window(metrics: pd.DataFrame, months: int = FINAL_MONTHS) -> pd.DataFrame:
    """The rows of a run's (or a batch's equal-length runs') final ``months`` months.

    All of them when the run is shorter than ``months``.
    """
    return metrics[metrics["step"] > metrics["step"].max() - months]
