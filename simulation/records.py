"""Agent records on request: a fixed sample of researchers and every lab, month by month.

The metrics say how groups fare; the records say what individuals did, to check a mechanism or
follow one researcher through the shocks. They are off by default and then cost nothing. The
sample is drawn once, from a stream of its own derived from the model's seed (no draw of the
model moves, so the metrics are the same with or without records), and is the same researchers
every month; a larger sample contains every smaller one of the same seed.

The table is long: one row per (month, agent), ``agent_type`` "researcher" or "lab"; a column
that does not apply to an agent's type is null. ``COLUMNS`` describes every column; each
month's values are kept as arrays and joined into one Arrow table at the end.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from simulation.config import MAX_RESEARCHERS
from simulation.errors import check_whole
from simulation.kernels import CREDIT, LOCAL, MARKET, NONE, PUBLIC
from simulation.releases import LICENCE_CODES
from simulation.researchers import TASKS, Venues

if TYPE_CHECKING:
    import pyarrow as pa

    from simulation.model import EcosystemModel

FORMAT = 1  # version of the agents table layout
MAX_RECORDED = MAX_RESEARCHERS  # the largest population; more than a population: everyone
RECORDS_KEY = 0x7EC0  # spawn key of the sample's stream, beside the model's own children
AGENT_TYPES = ("researcher", "lab")
API = 5  # a venue that is a lab's API (a hoster kind the kernels do not tell apart)
VENUES = {
    LOCAL: "own_hardware",
    PUBLIC: "public_hoster",
    CREDIT: "credit",
    MARKET: "market",
    NONE: "none",
    API: "api",
}
VENUE_NAMES = [VENUES[code] for code in range(len(VENUES))]  # by code
WHERE = ", ".join(VENUE_NAMES)
LICENCES = list(LICENCE_CODES)  # by code

# name -> (unit, description); the order of the table's columns
COLUMNS: dict[str, tuple[str, str]] = {
    "step": ("month", "month of the run, from 0"),
    "agent_type": ("", "researcher or lab"),
    "agent_id": ("", "researcher: position in the population; lab: position in the model's labs"),
    "group": ("", "researcher's group"),
    "language": ("", "researcher's language"),
    "budget_usd": ("USD/month", "researcher's monthly budget"),
    "release": ("", "release chosen (-1: none)"),
    "release_lab": ("", "lab of the release chosen (-1: none)"),
    "release_lab_kind": ("", "kind of that lab (null: none)"),
    **{f"venue_{t}": ("", f"where the researcher did {t} this month ({WHERE})") for t in TASKS},
    "ran": ("", "ran a model this month"),
    "finetuned": ("", "uses a fine-tune of the model run (made this month or kept)"),
    "deployed": ("", "has a deployment running this month"),
    "capable": ("", "ran a model capable for them this month (access.run)"),
    "capability_used": ("log10 effective GPU-hours", "capability of the model run, for them"),
    "spent_usd": ("USD/month", "paid out of the researcher's own budget this month"),
    "credit_usd": ("USD/month", "public credit the researcher used this month"),
    "lab_kind": ("", "lab's kind"),
    "income_usd": ("USD/month", "lab's income this month (as income.<lab_kind>)"),
    "capability": ("log10 effective GPU-hours", "capability of the lab's best model (NaN: none)"),
    "licence": ("", "licence of the lab's latest release: open, restricted, closed (null: none)"),
    "strategy": ("", "lab's strategy"),
    "absorbed": ("value units", "community value the lab embedded so far (as absorbed.<kind>)"),
}


def _languages(model: EcosystemModel) -> np.ndarray:
    """Each researcher's language, by name: the one place that knows how the model keeps it."""
    return np.asarray(model.language_names)[model.researchers.language]


def sample_researchers(model: EcosystemModel, n: int) -> np.ndarray:
    """The researchers recorded: ``n`` of them (all if fewer), in population order.

    The first ``n`` of a permutation drawn from a stream derived from the model's seed sequence
    (a spawn key of its own; nothing of the model's is drawn or spawned), so the sample depends
    only on the seed and ``n`` and grows by adding researchers.
    """
    seq = model.rng.bit_generator.seed_seq
    stream = np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, RECORDS_KEY))
    order = np.random.default_rng(stream).permutation(model.researchers.n)
    return np.sort(order[:n])


class AgentRecorder:
    """Records the sampled researchers and every lab after each month of one model.

    Make it before the first month (it asks the researchers to keep their venues), call
    ``record()`` after each ``model.step()``, and ``table()`` at the end.

    Attributes:
        model (EcosystemModel): The model recorded.
        sample (np.ndarray): The researchers recorded, by position in the population.
    """

    def __init__(self, model: EcosystemModel, n: int) -> None:
        """Draw the sample and switch on the researchers' venue log.

        Args:
            model: A model that has not stepped yet.
            n: Researchers to record; more than the population records everyone.

        Raises:
            UsageError: ``n`` is not a whole number in 1..MAX_RECORDED.
        """
        check_whole("record_agents", n, 1, MAX_RECORDED)
        self.model = model
        self.sample = sample_researchers(model, n)
        res = model.researchers
        res.venues = Venues.empty(res.n)
        self._languages, self._language = np.unique(
            _languages(model)[self.sample], return_inverse=True
        )
        self._researchers: list[dict[str, np.ndarray]] = []
        self._labs: list[dict[str, Any]] = []

    def record(self) -> None:
        """Keep the month the model has just simulated."""
        m, res, s = self.model, self.model.researchers, self.sample
        o, v, step = m.outcome, res.venues, m.month - 1  # the month just simulated
        choice = res.choice[s]
        lab = np.full(s.size, -1, dtype=np.int64)
        chose = choice >= 0  # none before the first release
        lab[chose] = m.releases.arrays()["lab"][choice[chose]]
        kinds = np.array([m.lab_kinds.index(x.kind) for x in m.labs], dtype=np.int64)
        venue = np.where(res._through_api(v.hoster[:, s]), API, v.kind[:, s])
        row = {
            "step": np.full(s.size, step, dtype=np.int64),
            "agent_id": s.astype(np.int64),
            "budget_usd": res.budget[s],
            "release": choice.astype(np.int64),
            "release_lab": lab,
            "release_lab_kind": np.where(lab >= 0, kinds[np.maximum(lab, 0)], -1),
            **{f"venue_{t}": venue[k] for k, t in enumerate(TASKS)},
            "ran": o.ran[s],
            "finetuned": o.finetuned[s],
            "deployed": o.deployed[s],
            "capable": o.capable[s],
            "capability_used": o.capability_used[s],
            "spent_usd": v.spent[s],
            "credit_usd": v.credit[s],
        }
        self._researchers.append(row)
        licence = m.releases.licence
        self._labs.append(
            {
                "step": np.full(len(m.labs), step, dtype=np.int64),
                "agent_id": np.array([x.index for x in m.labs], dtype=np.int64),
                "lab_kind": kinds,
                "income_usd": np.array([x.income for x in m.labs], dtype=float),
                "capability": np.array([_finite(x.best_capability) for x in m.labs]),
                "licence": np.array(
                    [licence[x.release_ids[-1]] if x.release_ids else -1 for x in m.labs],
                    dtype=np.int64,
                ),
                "strategy": [getattr(x, "strategy", "scratch") for x in m.labs],
                "absorbed": np.array([x.absorbed + x.api_data_value for x in m.labs]),
            }
        )

    def table(self, about: dict[str, Any] | None = None) -> pa.Table:
        """Every month recorded, researchers then labs within a month, as one Arrow table.

        Args:
            about: Facts to store in the table's metadata (scenario, seed, ...), as JSON.
        """
        import pyarrow as pa  # noqa: PLC0415  (only when records are written)

        res, kinds, months = self.model.researchers, self.model.lab_kinds, len(self._labs)
        n_r, n_l = self.sample.size, len(self.model.labs)
        strategies = sorted({s for month in self._labs for s in month["strategy"]})
        codes = [np.searchsorted(strategies, m["strategy"]) for m in self._labs]
        parts = {  # per column, the researchers' and the labs' values month by month
            name: (_months(self._researchers, name), _months(self._labs, name)) for name in COLUMNS
        }
        parts |= {
            "agent_type": (
                [np.zeros(n_r, dtype=np.int64)] * months,
                [np.ones(n_l, dtype=np.int64)] * months,
            ),
            "group": ([res.group[self.sample]] * months, None),
            "language": ([self._language] * months, None),
            "strategy": (None, codes),
        }
        names = {
            "agent_type": AGENT_TYPES,
            "group": res.group_names,
            "language": self._languages,
            "release_lab_kind": kinds,
            **{f"venue_{t}": VENUE_NAMES for t in TASKS},
            "lab_kind": kinds,
            "licence": LICENCES,
            "strategy": strategies,
        }
        columns = {}
        for name, (of_researchers, of_labs) in parts.items():
            values, missing = _interleave(of_researchers, of_labs, months, n_r, n_l)
            if name in names:
                columns[name] = _coded(np.where(missing, -1, values), list(names[name]))
            else:
                columns[name] = pa.array(values, mask=missing if missing.any() else None)
        table = pa.table({name: columns[name] for name in COLUMNS})
        return table.cast(_schema(table.schema, about or {}))


def _finite(x: float) -> float:
    """``x``, or NaN for a lab with no model yet (-inf)."""
    return x if math.isfinite(x) else np.nan


def _months(records: list[dict[str, Any]], name: str) -> list[np.ndarray] | None:
    """A column's values month by month, or None if these records do not have it."""
    return [m[name] for m in records] if records and name in records[0] else None


def _interleave(
    researchers: list[np.ndarray] | None,
    labs: list[np.ndarray] | None,
    months: int,
    n_r: int,
    n_l: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One column, month by month: the month's researchers, then its labs.

    Args:
        researchers: The researchers' values, one array a month (None: not their column).
        labs: The labs' values, one array a month (None: not their column).
        months: Months recorded.
        n_r: Researchers recorded a month.
        n_l: Labs a month.

    Returns:
        The values, and where they are missing (the rows of the type the column is not for).
    """
    some = researchers or labs
    out = np.zeros((months, n_r + n_l), dtype=np.asarray(some[0]).dtype if some else float)
    missing = np.zeros(out.shape, dtype=bool)
    for part, rows in ((researchers, slice(0, n_r)), (labs, slice(n_r, n_r + n_l))):
        if part is None:
            missing[:, rows] = True
        for m, values in enumerate(part or []):
            out[m, rows] = values
    return out.ravel(), missing.ravel()


def _coded(codes: np.ndarray, names: list[str] | tuple[str, ...]) -> pa.DictionaryArray:
    """Names stored once, as a dictionary column; a negative code is null."""
    import pyarrow as pa  # noqa: PLC0415

    index = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(index, pa.array(list(names), pa.string()))


def _schema(schema: pa.Schema, about: dict[str, Any]) -> pa.Schema:
    """``schema`` with each column's unit and description, and the table's facts."""
    import pyarrow as pa  # noqa: PLC0415

    fields = [
        f.with_metadata({"unit": COLUMNS[f.name][0], "description": COLUMNS[f.name][1]})
        for f in schema
    ]
    meta = {"format": str(FORMAT), **{k: json.dumps(v) for k, v in about.items()}}
    return pa.schema(fields, metadata=meta)
