"""``--fails 'METRIC<VALUE'``: when the policy's outcome counts as a failure."""

from __future__ import annotations

import contextlib
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simulation.errors import UsageError

COMPARISONS: dict[str, Callable] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_PATTERN = re.compile(r"^\s*([^<>=\s]+)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    """A failure condition on one metric's final-12-month mean.

    Attributes:
        metric: The metric.
        comparison: ``<``, ``<=``, ``>`` or ``>=``.
        value: The threshold.
    """

    metric: str
    comparison: str
    value: float

    def __str__(self) -> str:
        """As the user writes it: ``METRIC<VALUE``."""
        return f"{self.metric}{self.comparison}{self.value:g}"

    def fails(self, outcomes: np.ndarray) -> np.ndarray:
        """Which outcomes fail (an undefined outcome, NaN, does not)."""
        return COMPARISONS[self.comparison](np.asarray(outcomes, dtype=float), self.value)


def parse_threshold(text: str | Threshold) -> Threshold:
    """``METRIC<VALUE`` (or ``<=``, ``>``, ``>=``) as a :class:`Threshold`.

    Raises:
        UsageError: Not of that form, or VALUE not a finite number.
    """
    if isinstance(text, Threshold):
        return text
    match = _PATTERN.match(text)
    value = math.nan
    if match:
        with contextlib.suppress(ValueError):
            value = float(match[3])
    if not match or not math.isfinite(value):
        raise UsageError(f"--fails {text!r}: expected METRIC<VALUE (or <=, >, >=) with a "
                         "finite number, e.g. 'access.finetune.global_south<0.2'")  # fmt: skip
    return Threshold(match[1], match[2], value)
