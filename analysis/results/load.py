"""A batch's results as one object: the long table, its provenance, and what it contains.

Everything downstream (compare, plots, report, experiments) asks this object which scenarios,
sweep points, replicates, months, groups and lab kinds exist, so group and lab-kind names come
from the columns, never from code. User mistakes (no results, an unknown metric or scenario)
raise :class:`AnalysisError`, which the command line prints as one line with exit status 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.errors import UsageError, did_you_mean
from simulation.layout import ID_COLUMNS, PLAN, PROVENANCE, RESULTS
from simulation.metrics import TASKS

POINT = "_point"  # hashable label of the sweep point ("" without a sweep), added on load
__all__ = ["POINT", "TASKS", "AnalysisError", "Results", "from_frame", "load_batch", "suggest"]


class AnalysisError(UsageError):
    """A problem with what the user asked the analysis for; one line, exit status 2."""


@dataclass(frozen=True)
class Results:
    """A batch's long table plus its provenance.

    One row per scenario x sweep point x replicate x month; the provenance comes from
    batch.json (empty for a table built by hand).

    Attributes:
        frame: The long table, with a sweep point label column (``POINT``) added.
        meta: batch.json: command, code revision, scenario configs, ...
        path: The batch directory, if the table was loaded from one.
        sweep_keys: The sweep input columns, in order.
    """

    frame: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sweep_keys: tuple[str, ...] = ()

    @property
    def scenarios(self) -> list[str]:
        """In plan order (order of first appearance)."""
        return list(dict.fromkeys(self.frame["scenario"]))

    @property
    def points(self) -> list[str]:
        """Sweep point labels in plan order; ``[""]`` without a sweep."""
        return list(dict.fromkeys(self.frame[POINT]))

    @property
    def metrics(self) -> list[str]:
        """The metric columns, in table order: all but identifiers, sweep keys and step."""
        skip = {*ID_COLUMNS, *self.sweep_keys, "step", POINT}
        return [c for c in self.frame.columns if c not in skip]

    @property
    def months(self) -> list[int]:
        """The months in the table, sorted."""
        return sorted(int(m) for m in self.frame["step"].unique())

    @property
    def replicates(self) -> int:
        """How many distinct replicate indices the table holds."""
        return int(self.frame["replicate"].nunique())

    def _config_names(self, table: str) -> list[str] | None:
        """Names in a config table over the batch's scenarios (first seen first), if recorded."""
        configs = self.meta.get("configs") or []
        tables = [c.get("config", {}).get(table) for c in configs if isinstance(c, dict)]
        if not tables or any(not isinstance(t, dict) for t in tables):
            return None
        return list(dict.fromkeys(name for t in tables for name in t))

    @property
    def groups(self) -> list[str]:
        """Researcher groups: the scenarios' configs, else the ``access.run.<group>`` columns.

        Columns such as ``access.run.language.<language>`` are not groups.
        """
        named = self._config_names("groups")
        columns = [m.split(".", 2)[2] for m in self.metrics if m.startswith("access.run.")]
        columns = [c for c in columns if "." not in c]
        return [g for g in named if g in columns] if named is not None else columns

    @property
    def languages(self) -> list[str]:
        """Languages: the scenarios' configs, else the ``access.run.language.<name>`` columns."""
        prefix = "access.run.language."
        columns = [m[len(prefix) :] for m in self.metrics if m.startswith(prefix)]
        named = self._config_names("languages")
        return [x for x in named if x in columns] if named is not None else columns

    @property
    def lab_kinds(self) -> list[str]:
        """Lab kinds, from the ``capture.<kind>`` columns (``capture.private`` excluded)."""
        return [
            m.split(".", 1)[1]
            for m in self.metrics
            if m.startswith("capture.") and m.count(".") == 1 and m != "capture.private"
        ]

    def check_metrics(self, names: Iterable[str]) -> list[str]:
        """``names`` if all are columns; else an AnalysisError naming the first unknown one."""
        names = list(names)
        known = self.metrics
        for name in names:
            if name not in known:
                raise AnalysisError(f"metric {name!r} is not in the results{suggest(name, known)}")
        return names

    def check_scenario(self, name: str, what: str = "scenario") -> str:
        """``name`` if the batch has that scenario; else an AnalysisError listing those it has.

        Args:
            name: The scenario asked for.
            what: What the user called it (e.g. ``"baseline"``), for the message.
        """
        if name not in self.scenarios:
            raise AnalysisError(
                f"{what} {name!r} is not in the results{suggest(name, self.scenarios)}; "
                f"the batch has: {', '.join(self.scenarios)}"
            )
        return name

    def sweep_values(self, point: str) -> dict[str, Any]:
        """The sweep key values of a point label."""
        if not self.sweep_keys:
            return {}
        row = self.frame.loc[self.frame[POINT] == point].iloc[0]
        return {k: row[k] for k in self.sweep_keys}

    def per_replicate(self, metric: str, first: int, last: int) -> pd.Series:
        """The metric averaged over months ``first..last``, one value per replicate.

        Months are inclusive and NaN months are skipped; there is one value per (scenario,
        point, replicate): the unit that is paired across scenarios.

        Args:
            metric: The metric column.
            first: First month.
            last: Last month.
        """
        df = self.frame
        rows = df[(df["step"] >= first) & (df["step"] <= last)]
        return rows.groupby(["scenario", POINT, "replicate"], sort=False)[metric].mean()

    def with_columns(self, columns: dict[str, pd.Series]) -> Results:
        """A copy with extra metric columns (e.g. derived metrics)."""
        return Results(self.frame.assign(**columns), self.meta, self.path, self.sweep_keys)


def suggest(name: str, known: Iterable[str]) -> str:
    """A "did you mean" hint for an unknown metric or scenario name."""
    return did_you_mean(name, known)


def from_frame(
    frame: pd.DataFrame,
    meta: dict[str, Any] | None = None,
    path: Path | None = None,
    sweep_keys: Iterable[str] | None = None,
) -> Results:
    """Wrap a long table (e.g. built by hand in a test) as :class:`Results`.

    Sweep keys default to the columns between the identifying columns and ``step``.

    Args:
        frame: One row per scenario x (sweep point) x replicate x month.
        meta: Provenance, as in batch.json.
        path: The batch directory it came from, if any.
        sweep_keys: The sweep input columns (default: inferred as above).

    Raises:
        AnalysisError: The table lacks scenario, replicate or step, or has no rows.
    """
    missing = [c for c in ("scenario", "replicate", "step") if c not in frame.columns]
    if missing:
        raise AnalysisError(f"the results table has no column {missing[0]!r}")
    if frame.empty:
        raise AnalysisError("the results table has no rows")
    if sweep_keys is None:
        before = list(frame.columns[: list(frame.columns).index("step")])
        sweep_keys = [c for c in before if c not in ID_COLUMNS and c != POINT]
    keys = tuple(sweep_keys)
    frame = frame.copy()
    frame[POINT] = _point_labels(frame, keys)
    return Results(frame.reset_index(drop=True), dict(meta or {}), path, keys)


def load_batch(directory: str | Path) -> Results:
    """Read DIR/results.parquet and DIR/batch.json, written by ``run.py batch``."""
    root = Path(directory)
    if not root.exists():
        raise AnalysisError(f"{root}: no such directory")
    if not root.is_dir():
        raise AnalysisError(f"{root}: not a directory")
    table = root / RESULTS
    if not table.is_file():
        if (root / PLAN).is_file():
            raise AnalysisError(
                f"{root} has no {RESULTS}: the batch has not finished (rerun its command to resume)"
            )
        raise AnalysisError(
            f"{root} has no {RESULTS}: not a batch directory (make one with "
            f"`python run.py batch SCENARIO... --out {root}`)"
        )
    try:
        frame = pd.read_parquet(table)
    except Exception as e:  # a truncated or foreign file: say so in one line
        raise AnalysisError(f"{table}: cannot read ({' '.join(str(e).split())})") from None
    meta = _read_meta(root / PROVENANCE)
    keys = sweep_keys(table, meta)
    if keys is not None and any(k not in frame.columns for k in keys):
        keys = None
    return from_frame(frame, meta, root, keys)


def sweep_keys(table: Path, meta: dict[str, Any]) -> list[str] | None:
    """The sweep input columns: from the table's own schema metadata, else batch.json's plan."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        stored = (pq.read_schema(table).metadata or {}).get(b"sweep_keys")
        if stored is not None:
            return list(json.loads(stored))
    except (OSError, ValueError):
        pass
    sweep = meta.get("sweep")
    return list(sweep) if isinstance(sweep, dict) else None


def _read_meta(path: Path) -> dict[str, Any]:
    """batch.json, or {} if it is missing or unreadable (the table alone is still usable)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _point_labels(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """``key=value, key=value`` per row; values may be lists (unhashable), hence strings."""
    if not keys:
        return pd.Series("", index=frame.index, dtype=object)
    parts = [frame[k].map(lambda v, k=k: f"{k}={format_value(v)}") for k in keys]
    label = parts[0]
    for p in parts[1:]:
        label = label + ", " + p
    return label


def format_value(value: Any) -> str:
    """A sweep value as a label shows it: ``1e+07`` for floats, JSON for lists and tables."""
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
