"""Human-readable units of the dotted metric names (ODD section 4.11), for tables and axes."""

from __future__ import annotations

import math

SHARE = "share, 0-1"
CAPABILITY = "log10 effective GPU-hours"

_BY_NAME = {
    "capability.frontier": CAPABILITY,
    "capability.best_open": CAPABILITY,
    "downloads.top_decile_share": SHARE,
    "frontier.training_cost_usd": "USD",
    "market.gpu_price": "USD per GPU-hour",
    "market.hosting_hhi": "Herfindahl index, 0-1",
    "stranded.deployments": "deployments (real researchers)",
    "public.spend": "USD per month",
    "public.utilisation": SHARE,
}
_BY_PREFIX = {
    "access.": "share of the group, 0-1",
    "capability.reached.": CAPABILITY,
    "capability.": CAPABILITY,
    "capture.": "share of community value, 0-1",
    "downloads.top_release.": "downloads per month (real researchers)",
    "downloads.": "share of downloads, 0-1",
    "gap.": "difference in share, -1 to 1",
}


def unit(metric: str) -> str:
    """The unit of a metric, or "" if unknown (e.g. a user-defined derived metric)."""
    if metric in _BY_NAME:
        return _BY_NAME[metric]
    for prefix, text in _BY_PREFIX.items():
        if metric.startswith(prefix):
            return text
    return ""


def label(metric: str) -> str:
    """``metric (unit)`` for axis labels and table headings."""
    u = unit(metric)
    return f"{metric} ({u})" if u else metric


def fmt(x: float, signed: bool = False) -> str:
    """A number for a table: 3 decimals for shares and the like, 3 significant digits for
    large or tiny values (USD, counts); "n/a" for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    sign = "+" if signed else ""
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:{sign}.3g}"
    return f"{x:{sign}.3f}"


def bounds(metric: str) -> tuple[float | None, float | None]:
    """The range a metric cannot leave (shares 0-1; money and counts >= 0), so a confidence
    band drawn around its mean can be clipped to values the metric can take."""
    u = unit(metric)
    if u.endswith("0-1"):
        return 0.0, 1.0
    if u.startswith(("USD", "deployments", "downloads")):
        return 0.0, None
    return None, None
