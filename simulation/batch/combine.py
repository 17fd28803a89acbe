"""Combine run shards into one long table, a few shards at a time.

Memory stays bounded by one write buffer however many runs the batch has. Rows come in plan
order (scenario, sweep point, replicate; then step), not completion order, so the combined file
is the same whatever the executor, the worker count or how often the batch was resumed.
Scenarios may differ in their metric columns (group and lab-kind names come from the scenario):
the table has the union, with nulls where a scenario has no such metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulation.batch.store import inspect_shard
from simulation.files import atomic_path
from simulation.layout import ID_COLUMNS, STEP, annotate

BUFFER_ROWS = 65_536  # rows per row group in the combined file


@dataclass(frozen=True)
class Shard:
    """A finished run's file and what it must be: its recorded checksum and identity.

    Attributes:
        run_id: The run.
        path: Its Parquet file.
        digest: The SHA-256 its manifest record holds.
        key: What its rows must carry: scenario, replicate, seed, then its sweep values.
    """

    run_id: str
    path: Path
    digest: str | None
    key: tuple[Any, ...]


class DamagedShards(Exception):
    """Shards that failed their checks while being combined; nothing was written."""

    def __init__(self, problems: dict[str, str]) -> None:
        """Keep run id -> what is wrong with its shard."""
        super().__init__(f"{len(problems)} damaged shard(s): {', '.join(problems)}")
        self.problems = problems


def combine(
    shards: Sequence[Shard], sweep_keys: Sequence[str], out: Path, about: Mapping[str, Any]
) -> int:
    """Write ``out`` (atomically) from ``shards`` in the given order; return the row count.

    Each shard is checked as it is read (its SHA-256 against its record, its rows against its
    run), so a shard damaged or swapped since the batch verified it is never combined.

    Args:
        shards: The runs' shards, in plan order.
        sweep_keys: The sweep input columns.
        out: The combined file.
        about: Batch facts for the schema metadata (fingerprint, code revision).

    Raises:
        DamagedShards: some shards failed their checks; ``out`` is left as it was.
    """
    problems: dict[str, str] = {}
    schemas = []
    for shard in _one_per_point(shards):  # the replicates of a point have the same columns
        try:
            schemas.append(pq.read_schema(shard.path))
        except (OSError, pa.ArrowException) as e:
            problems[shard.run_id] = f"its shard is unreadable ({' '.join(str(e).split())[:120]})"
    if problems:
        raise DamagedShards(problems)
    schema = annotate(_schema(schemas, sweep_keys), sweep_keys, about)
    rows = 0
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        buffer: list[pa.Table] = []
        buffered = 0
        for shard in shards:
            table = _checked(shard, [*ID_COLUMNS, *sweep_keys], problems)
            if table is None:
                continue
            buffer.append(_conform(table, schema))
            buffered += table.num_rows
            if buffered >= BUFFER_ROWS:
                writer.write_table(pa.concat_tables(buffer))
                rows, buffer, buffered = rows + buffered, [], 0
        if buffer:
            writer.write_table(pa.concat_tables(buffer))
            rows += buffered
        if problems:  # inside the block: the temporary file is removed, ``out`` untouched
            raise DamagedShards(problems)
    return rows


def _one_per_point(shards: Sequence[Shard]) -> list[Shard]:
    """The first shard of each scenario x sweep point (run ids are ``SCENARIO.pPOINT.rREP``)."""
    first: dict[str, Shard] = {}
    for shard in shards:
        first.setdefault(shard.run_id.rpartition(".")[0], shard)
    return list(first.values())


def _checked(shard: Shard, columns: list[str], problems: dict[str, str]) -> pa.Table | None:
    """The shard's table, if its bytes and rows are what its record says.

    Otherwise None, with the reason added to ``problems``.
    """
    try:
        data = shard.path.read_bytes()
    except OSError as e:
        problems[shard.run_id] = f"its shard cannot be read ({e.strerror or e})"
        return None
    problem, table = inspect_shard(data, shard.digest, shard.key, columns)
    if problem is not None:
        problems[shard.run_id] = problem
    return table


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
