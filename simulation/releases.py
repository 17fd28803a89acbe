"""Model releases: records, not agents, kept as columns so the population step can index them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

OPEN, RESTRICTED, CLOSED = 0, 1, 2
LICENCE_CODES = {"open": OPEN, "restricted": RESTRICTED, "closed": CLOSED}


@dataclass
class ReleaseRegistry:
    """Every release so far, one entry per column; ``revoked`` and usage change over time."""

    lab: list[int] = field(default_factory=list)
    month: list[int] = field(default_factory=list)
    family: list[int] = field(default_factory=list)
    params_b: list[float] = field(default_factory=list)
    capability: list[float] = field(default_factory=list)
    language_fit: list[float] = field(default_factory=list)
    licence: list[int] = field(default_factory=list)
    weights: list[bool] = field(default_factory=list)
    irrevocable: list[bool] = field(default_factory=list)
    revoked: list[bool] = field(default_factory=list)
    _arrays: dict[str, np.ndarray] | None = None
    _families: int = 0

    def add_family(
        self,
        lab: int,
        month: int,
        sizes_b: list[float],
        capabilities: list[float],
        language_fit: float,
        licence: int,
        weights: bool,
        irrevocable: bool,
    ) -> list[int]:
        """Record one training run's releases (a flagship and its smaller variants).

        Args:
            lab: Index of the releasing lab.
            month: Release month (negative for the models labs start with).
            sizes_b: Size of each release, billions of parameters.
            capabilities: Capability of each release, in the same order.
            language_fit: Fit for under-served languages, shared by the family.
            licence: Licence code, shared by the family.
            weights: Whether the weights are released.
            irrevocable: Whether the licences cannot be revoked (open ones never can).

        Returns:
            The new release ids, in the order of ``sizes_b``.
        """
        ids = []
        for size, cap in zip(sizes_b, capabilities, strict=True):
            ids.append(len(self.lab))
            self.lab.append(lab)
            self.month.append(month)
            self.family.append(self._families)
            self.params_b.append(size)
            self.capability.append(cap)
            self.language_fit.append(language_fit)
            self.licence.append(licence)
            self.weights.append(weights)
            self.irrevocable.append(irrevocable or licence == OPEN)
            self.revoked.append(False)
        self._families += 1
        self._arrays = None
        return ids

    def revoke(self, ids: list[int]) -> list[int]:
        """Revoke the revocable releases among ``ids``; return those actually revoked."""
        done = [i for i in ids if not self.irrevocable[i] and not self.revoked[i]]
        for i in done:
            self.revoked[i] = True
        if done:
            self._arrays = None
        return done

    def __len__(self) -> int:
        """Number of releases so far; release ids run from 0 to ``len - 1``."""
        return len(self.lab)

    def arrays(self) -> dict[str, np.ndarray]:
        """Column arrays, rebuilt only after a release or revocation."""
        if self._arrays is None:
            self._arrays = {
                "lab": np.asarray(self.lab, dtype=np.int64),
                "month": np.asarray(self.month, dtype=np.int64),
                "family": np.asarray(self.family, dtype=np.int64),
                "params_b": np.asarray(self.params_b, dtype=float),
                "capability": np.asarray(self.capability, dtype=float),
                "language_fit": np.asarray(self.language_fit, dtype=float),
                "licence": np.asarray(self.licence, dtype=np.int64),
                "weights": np.asarray(self.weights, dtype=bool),
                "revoked": np.asarray(self.revoked, dtype=bool),
            }
        return self._arrays

    def usable(self) -> np.ndarray:
        """Whether each release is still licensed (not revoked).

        Unlike the licence terms researchers check, this does not require weights: an
        API-only release stays usable through its lab's API.
        """
        a = self.arrays()
        return ~a["revoked"]

    def candidates(self) -> np.ndarray:
        """Releases a researcher considers, as sorted ids.

        Per lab, its latest usable weights family and its latest API-only release. Older
        families of a lab are dominated by its newer ones.
        """
        a = self.arrays()
        ok = ~a["revoked"]
        keep = np.zeros(len(self), dtype=bool)
        for weights in (True, False):
            sel = np.flatnonzero(ok & (a["weights"] == weights))
            if sel.size == 0:
                continue
            labs, fams = a["lab"][sel], a["family"][sel]
            latest = np.full(labs.max() + 1, -1)
            np.maximum.at(latest, labs, fams)
            keep[sel[fams == latest[labs]]] = True
        return np.flatnonzero(keep)


def open_lag_months(a: dict[str, np.ndarray], month: int, trend_per_year: float) -> float:
    """How many months ago the frontier first reached today's best open-weight capability.

    Epoch AI's open-weight lag, read from release dates: the best usable open-weight release's
    capability X; the earliest release (any licence) with capability at least X; the lag is
    ``month`` minus its release month. Before the earliest release on record the frontier is
    dated back along ``trend_per_year`` (capability per year), so models released before
    month 0 count at their real dates and the lag is not capped at the run's age.

    Args:
        a: The release arrays (``ReleaseRegistry.arrays``).
        month: The current month.
        trend_per_year: The frontier's capability growth per year before the records start.

    Returns:
        The lag in months (NaN when there is no open-weight release).
    """
    open_ok = a["weights"] & ~a["revoked"]
    if not open_ok.any():
        return math.nan
    best = a["capability"][open_ok].max()
    first = int(a["month"][a["capability"] >= best].min())
    earliest = int(a["month"].min())
    if first == earliest and trend_per_year > 0:  # reached before the records: date it back
        start = a["capability"][a["month"] == earliest].max()
        first = earliest - 12 * max(0.0, start - best) / trend_per_year
    return float(month - first)
