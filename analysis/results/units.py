"""Units and number formats of the dotted metric names, for tables and axes."""

from __future__ import annotations

import math

from simulation.metrics import metric_info

DERIVED = {"gap.": "difference in share, -1 to 1"}  # the analysis's own derived metrics


def unit(metric: str) -> str:
    """The unit of a metric, or "" if unknown (e.g. a user-defined derived metric).

    The model's own metrics take theirs from :func:`simulation.metrics.metric_info`.
    """
    info = metric_info(metric)
    if info is not None:
        return info[0]
    for prefix, text in DERIVED.items():
        if metric.startswith(prefix):
            return text
    return ""


def label(metric: str) -> str:
    """``metric (unit)`` for axis labels and table headings."""
    u = unit(metric)
    return f"{metric} ({u})" if u else metric


def fmt(x: float, signed: bool = False) -> str:
    """A number for a table; "n/a" for NaN.

    3 decimals for shares and the like, 3 significant digits for large or tiny values (USD,
    counts).

    Args:
        x: The number.
        signed: Show a plus sign on positive numbers (for differences).
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    sign = "+" if signed else ""
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:{sign}.3g}"
    return f"{x:{sign}.3f}"


def bounds(metric: str) -> tuple[float | None, float | None]:
    """The range a metric cannot leave: shares 0-1; money and counts >= 0.

    A confidence band drawn around its mean is clipped to it, so the band shows only values
    the metric can take.
    """
    u = unit(metric)
    if u.endswith("0-1"):
        return 0.0, 1.0
    if u.startswith(("USD", "deployments", "downloads")):
        return 0.0, None
    return None, None
