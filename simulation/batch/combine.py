"""Combine run shards into one long table, a few shards at a time.

Memory stays bounded by one write buffer however many runs the batch has. Rows come in plan
order (scenario, sweep point, replicate; then step), not completion order, so the combined file
is the same whatever the executor, the worker count or how often the batch was resumed.
Scenarios may differ in their metric columns (group and lab-kind names come from the scenario):
the table has the union, with nulls where a scenario has no such metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulation.files import atomic_path
from simulation.layout import ID_COLUMNS, STEP, annotate

BUFFER_ROWS = 65_536  # rows per row group in the combined file


def combine(
    shards: Sequence[Path], sweep_keys: Sequence[str], out: Path, about: Mapping[str, Any]
) -> int:
    """Write ``out`` (atomically) from ``shards`` in the given order; return the row count.

    Args:
        shards: The runs' Parquet files, in plan order.
        sweep_keys: The sweep input columns.
        out: The combined file.
        about: Batch facts for the schema metadata (fingerprint, code revision).
    """
    schema = annotate(_schema([pq.read_schema(p) for p in shards], sweep_keys), sweep_keys, about)
    rows = 0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        buffer: list[pa.Table] = []
        buffered = 0
        for path in shards:
            table = _conform(pq.read_table(path), schema)
            buffer.append(table)
            buffered += table.num_rows
            if buffered >= BUFFER_ROWS:
                writer.write_table(pa.concat_tables(buffer))
                rows, buffer, buffered = rows + buffered, [], 0
        if buffer:
            writer.write_table(pa.concat_tables(buffer))
            rows += buffered
    return rows


def _schema(schemas: list[pa.Schema], sweep_keys: Sequence[str]) -> pa.Schema:
    """The combined table's schema: every shard's columns, their types unified.

    Identifying columns first (scenario, replicate, seed, sweep keys, step), then the metrics in
    order of first appearance.
    """
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    front = [*ID_COLUMNS, *sweep_keys, STEP]
    names = front + [n for s in schemas for n in s.names if n not in front]
    order = list(dict.fromkeys(names))
    return pa.schema([unified.field(n) for n in order])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema.equals(schema):  # the usual case: every scenario has the same metrics
        return pa.Table.from_arrays(table.columns, schema=schema)
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
