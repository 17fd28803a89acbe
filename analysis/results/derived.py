"""Derived metrics: linear combinations of metric columns.

For example an access gap between groups (``access.finetune.well_funded -
access.finetune.global_south``) or the download share of the fully open lab kinds
(``downloads.nonprofit + downloads.academic + downloads.public``).

Only sums of ``[coefficient *] metric`` terms are allowed: enough for gaps, totals and averages,
small enough to validate completely before a batch runs. A metric a scenario does not have at
all (every value missing, e.g. a lab kind that scenario lacks) counts as 0 for that scenario;
a value missing in some months (an empty denominator) stays missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

from analysis.results.load import AnalysisError, Results, suggest

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
_TERM = re.compile(
    r"\s*(?P<sign>[+-])?\s*(?:(?P<coef>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"\s*\*\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*"
)

Terms = list[tuple[float, str]]


def parse(expression: str) -> Terms:
    """``"a.b - 0.5 * c.d"`` -> ``[(1.0, "a.b"), (-0.5, "c.d")]``; ValueError if ill-formed."""
    terms: Terms = []
    pos = 0
    text = expression.strip()
    if not text:
        raise ValueError("empty expression")
    while pos < len(text):
        m = _TERM.match(text, pos)
        if m is None or m.end() == pos or (terms and not m.group("sign")):
            raise ValueError(
                f"cannot read {text[pos:]!r}; expected terms like 'metric' or '0.5 * metric' "
                "joined by + or -"
            )
        coef = float(m.group("coef")) if m.group("coef") else 1.0
        if m.group("sign") == "-":
            coef = -coef
        terms.append((coef, m.group("name")))
        pos = m.end()
    return terms


def metrics_used(expression: str) -> list[str]:
    """The metric names an expression reads, in order; ValueError if it is ill-formed."""
    return [name for _, name in parse(expression)]


def evaluate(results: Results, terms: Terms) -> pd.Series:
    """A parsed expression's value on every row of the results.

    A metric a scenario lacks entirely counts as 0 there, so the derived metric exists for
    every scenario; a value missing only in some months stays missing.

    Args:
        results: The batch.
        terms: The parsed expression (``parse``).

    Raises:
        AnalysisError: A metric is not a column of the results.
    """
    df = results.frame
    total = pd.Series(0.0, index=df.index)
    for coef, name in terms:
        if name not in df.columns:
            raise AnalysisError(f"metric {name!r} is not in the results{suggest(name, df.columns)}")
        values = df[name].astype(float)
        absent = values.isna().groupby(df["scenario"]).transform("all")
        total = total + coef * values.mask(absent, 0.0)
    return total


def add_derived(results: Results, definitions: Mapping[str, str]) -> Results:
    """Results with one extra column per ``name = expression``."""
    for name, expression in definitions.items():  # in order: a later one may use an earlier one
        if name in results.metrics:
            raise AnalysisError(f"derived metric {name!r}: a metric of that name already exists")
        try:
            terms = parse(expression)
        except ValueError as e:
            raise AnalysisError(f"derived metric {name!r}: {e}") from None
        results = results.with_columns({name: evaluate(results, terms)})
    return results


def check_names(names: Iterable[str]) -> None:
    """Check that each name is a dotted metric name, so later expressions can refer to it.

    Raises:
        ValueError: For the first name that is not.
    """
    for name in names:
        if not NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a dotted metric name")
