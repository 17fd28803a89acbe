"""Model releases: records, not agents, kept as columns so the population step can index them."""

from __future__ import annotations

import math

import numpy as np

OPEN, RESTRICTED, CLOSED = 0, 1, 2
LICENCE_CODES = {"open": OPEN, "restricted": RESTRICTED, "closed": CLOSED}

# Column name -> dtype. ``language_fit`` is a second dimension: one fit per language.
_COLUMNS = {
    "lab": np.int64,
    "month": np.int64,
    "family": np.int64,
    "params_b": float,
    "capability": float,
    "licence": np.int64,
    "weights": bool,
    "irrevocable": bool,
    "revoked": bool,
    "base": np.int64,  # the release a derivative was fine-tuned from (-1: a lab's own)
    "maker_language": np.int64,  # a derivative's maker's language (-1: a lab's own)
    "built_on": np.int64,  # the release a lab's family continued or adapted (-1: from scratch)
}


class ReleaseRegistry:
    """Every release so far, one entry per column; ``revoked`` and usage change over time.

    Columns are numpy buffers grown by doubling, so that thousands of community derivatives
    cost a copy now and then rather than a list conversion every month.

    Attributes:
        languages: How many languages each release has a fit for.
    """

    def __init__(self, languages: int = 1) -> None:
        """An empty registry whose releases carry a fit for each of ``languages`` languages."""
        self.languages = languages
        self._n = 0
        self._families = 0
        self._cols = {k: np.zeros(16, dtype=t) for k, t in _COLUMNS.items()}
        self._fit = np.ones((16, languages))
        self._arrays: dict[str, np.ndarray] | None = None

    def __getattr__(self, name: str) -> np.ndarray:
        """A column's live values (``releases.licence[i]``); read-only use."""
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            return cols[name][: self._n]
        raise AttributeError(name)

    def _append(self, rows: int, fit: np.ndarray, **values) -> np.ndarray:
        """Add ``rows`` releases with these column values; return their ids."""
        need = self._n + rows
        if need > self._fit.shape[0]:
            size = max(need, 2 * self._fit.shape[0])
            for k, col in self._cols.items():
                grown = np.zeros(size, dtype=col.dtype)
                grown[: self._n] = col[: self._n]
                self._cols[k] = grown
            grown_fit = np.ones((size, self.languages))
            grown_fit[: self._n] = self._fit[: self._n]
            self._fit = grown_fit
        ids = np.arange(self._n, need)
        for k, col in self._cols.items():
            col[ids] = values[k]
        self._fit[ids] = fit
        self._n = need
        self._arrays = None
        return ids

    def add_family(
        self,
        lab: int,
        month: int,
        sizes_b: list[float],
        capabilities: list[float],
        language_fit: float | np.ndarray,
        licence: int,
        weights: bool,
        irrevocable: bool,
        built_on: int = -1,
    ) -> list[int]:
        """Record one training run's releases (a flagship and its smaller variants).

        Args:
            lab: Index of the releasing lab.
            month: Release month (negative for the models labs start with).
            sizes_b: Size of each release, billions of parameters.
            capabilities: Capability of each release, in the same order.
            language_fit: Fit for each language (or one fit for all), shared by the family.
            licence: Licence code, shared by the family.
            weights: Whether the weights are released.
            irrevocable: Whether the licences cannot be revoked (open ones never can).
            built_on: The release the run continued or adapted (-1: from scratch); a
                revocable family is revoked with it.

        Returns:
            The new release ids, in the order of ``sizes_b``.
        """
        if len(capabilities) != len(sizes_b):
            raise ValueError("one capability per size")
        ids = self._append(
            len(sizes_b),
            np.broadcast_to(np.asarray(language_fit, dtype=float), (self.languages,)),
            lab=lab,
            month=month,
            family=self._families,
            params_b=np.asarray(sizes_b, dtype=float),
            capability=np.asarray(capabilities, dtype=float),
            licence=licence,
            weights=weights,
            irrevocable=irrevocable or licence == OPEN,
            revoked=False,
            base=-1,
            maker_language=-1,
            built_on=built_on,
        )
        self._families += 1
        return ids.tolist()

    def add_derivatives(
        self,
        bases: np.ndarray,
        month: int,
        language: np.ndarray,
        fit: np.ndarray,
        capability: np.ndarray,
    ) -> np.ndarray:
        """Record community derivatives: fine-tunes published as releases of their own.

        Each keeps its base's lab (whose ecosystem it belongs to), size and licence terms, and
        is revoked with it; each is its own family.

        Args:
            bases: The release each was fine-tuned from.
            month: The month published.
            language: Its maker's language, per derivative.
            fit: (derivatives, languages) its fit per language.
            capability: Its capability, per derivative.

        Returns:
            The new release ids.
        """
        bases = np.asarray(bases, dtype=np.int64)
        if bases.size and (bases.min() < 0 or bases.max() >= self._n):
            # chains are walked in id order (revocation, listings): a base precedes its derivative
            raise ValueError(f"derivative bases must be existing releases 0..{self._n - 1}")
        c = self._cols
        ids = self._append(
            bases.size,
            fit,
            lab=c["lab"][bases],
            month=month,
            family=self._families + np.arange(bases.size),
            params_b=c["params_b"][bases],
            capability=np.asarray(capability, dtype=float),
            licence=c["licence"][bases],
            weights=True,
            irrevocable=c["irrevocable"][bases],
            revoked=c["revoked"][bases],
            base=bases,
            maker_language=np.asarray(language, dtype=np.int64),
            built_on=-1,
        )
        self._families += bases.size
        return ids

    def revoke(self, ids: list[int]) -> list[int]:
        """Revoke the revocable releases among ``ids`` and what depends on them.

        Their derivatives follow, and the derivatives of those down the chain, and so do the
        revocable families labs continued or adapted from them (with theirs).

        Returns:
            The ids of ``ids`` actually revoked (the others follow silently).
        """
        c = self._cols
        done = [i for i in ids if not c["irrevocable"][i] and not c["revoked"][i]]
        if done:
            c["revoked"][done] = True
            base = c["base"][: self._n]
            revocable = ~c["irrevocable"][: self._n]
            parents = np.asarray(done)
            while parents.size:  # down the chain: derivatives, their derivatives, ...
                follows = np.isin(base, parents) & revocable & ~c["revoked"][: self._n]
                c["revoked"][: self._n][follows] = True
                parents = np.flatnonzero(follows)
            self._arrays = None
            built = np.isin(c["built_on"][: self._n], done)
            if built.any():  # a lab's family on a revoked base loses its licence with it
                self.revoke(np.flatnonzero(built).tolist())
        return done

    def __len__(self) -> int:
        """Number of releases so far; release ids run from 0 to ``len - 1``."""
        return self._n

    def arrays(self) -> dict[str, np.ndarray]:
        """Column arrays (copies), rebuilt only after a release or revocation."""
        if self._arrays is None:
            n = self._n
            self._arrays = {k: col[:n].copy() for k, col in self._cols.items()}
            self._arrays["language_fit"] = self._fit[:n].copy()
            self._arrays["derivative"] = self._arrays["base"] >= 0
        return self._arrays

    def usable(self) -> np.ndarray:
        """Whether each release is still licensed (not revoked).

        Unlike the licence terms researchers check, this does not require weights: an
        API-only release stays usable through its lab's API.
        """
        a = self.arrays()
        return ~a["revoked"]

    def candidates(self) -> np.ndarray:
        """Releases every researcher considers, as sorted ids.

        Per lab, its latest usable weights family and its latest API-only release. Older
        families of a lab are mostly dominated by its newer ones; they and the community's
        derivatives are found by search (``Researchers._search``), not considered by all.
        """
        a = self.arrays()
        ok = ~a["revoked"] & ~a["derivative"]
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
    own = ~a["derivative"]  # labs' releases: the report dates base models, not fine-tunes
    open_ok = a["weights"] & ~a["revoked"] & own
    if not open_ok.any():
        return math.nan
    best = a["capability"][open_ok].max()
    first = int(a["month"][own & (a["capability"] >= best)].min())
    earliest = int(a["month"].min())
    if first == earliest and trend_per_year > 0:  # reached before the records: date it back
        start = a["capability"][a["month"] == earliest].max()
        first = earliest - 12 * max(0.0, start - best) / trend_per_year
    return float(month - first)
