"""What result files hold and how their tables are laid out: the one owner of the format.

Layout of a batch directory::

    plan.json        the batch's plan and fingerprint, written once when the batch starts
    manifest.jsonl   one JSON line per finished run attempt (ok or failed), fsynced per line
    runs/ID.parquet  one shard per successful run, written atomically
    agents/agents.ID.parquet   with agent records: each run's records, written atomically
    results.parquet  all successful runs in one long table, written at the end
    batch.json       provenance, written at the end

A results table (a shard or the combined file) has the identifying columns first (scenario,
replicate, seed), then one column per sweep key, then ``step`` (the month), then the metrics.
Every column carries field metadata: ``role`` (``id``, ``input`` or ``metric``), ``unit`` and
``description``; a sweep value that is a list or table is stored as JSON text (``encoding =
json``), so the column stays hashable. The schema carries the layout ``format``, the
``sweep_keys`` and, in results.parquet, the batch ``fingerprint`` and ``code_revision``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from simulation.metrics import metric_info

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT = 2  # version of the results table layout (2: self-describing, list sweeps as JSON)
METRICS_FILE, RUN_FILE = "metrics.parquet", "run.json"  # one run (run.py run --out DIR)
AGENTS_FILE = "agents.parquet"  # one run's agent records (simulation.records), on request
PLAN, MANIFEST, RUNS, AGENTS = "plan.json", "manifest.jsonl", "runs", "agents"
RESULTS, PROVENANCE = "results.parquet", "batch.json"
BATCH_FILES = (PLAN, MANIFEST, RUNS, AGENTS, RESULTS, PROVENANCE)

ID_COLUMNS = ("scenario", "replicate", "seed")
STEP = "step"

# Column roles, in the field metadata of every results table.
ID, INPUT, METRIC = "id", "input", "metric"
_IDS = {
    "scenario": ("", "scenario label (the scenario file's stem)"),
    "replicate": ("", "replicate index, from 0; the same seed in every scenario and point"),
    "seed": ("", "the run's seed (repeat it alone with run.py run --seed)"),
    STEP: ("month", "month of the run, from 0"),
}
JSON = "json"  # encoding of a sweep value that is a list or table, stored as its JSON text


def sweep_cell(value: Any) -> tuple[Any, str | None]:
    """A sweep value as a results column stores it, and the encoding used.

    Lists and tables become JSON text (hashable, so a table groups by it); anything else is
    stored as it is.

    Returns:
        The value to store and its encoding (``"json"``, or None when stored as it is).
    """
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":")), JSON
    return value, None


def annotate(
    schema: pa.Schema, sweep_keys: Sequence[str], about: Mapping[str, Any] | None = None
) -> pa.Schema:
    """``schema`` made self-describing, so a results file explains its own columns.

    Every field gets a role, a unit and a description; the schema gets ``about`` (fingerprint,
    code revision, ...) and the sweep keys.

    Args:
        schema: A results table's schema (a shard, the combined file, or one run's metrics).
        sweep_keys: The columns that are sweep inputs.
        about: Table-level facts, stored as JSON text under their names.

    Returns:
        The same columns with metadata; existing field metadata (an encoding) is kept.
    """
    import pyarrow as pa  # noqa: PLC0415

    fields = []
    for field in schema:
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        if field.name in _IDS:
            unit, description = _IDS[field.name]
            meta |= {"role": ID, "unit": unit, "description": description}
        elif field.name in sweep_keys:
            meta |= {"role": INPUT, "unit": "", "description": f"config key {field.name}, swept"}
        else:
            unit, description = metric_info(field.name) or ("", "")
            meta |= {"role": METRIC, "unit": unit, "description": description}
        fields.append(field.with_metadata(meta))
    table_meta = {"format": str(FORMAT), "sweep_keys": json.dumps(list(sweep_keys))}
    table_meta |= {k: json.dumps(v) for k, v in (about or {}).items()}
    return pa.schema(fields, metadata=table_meta)
