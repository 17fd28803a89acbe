"""What runs in a worker process: one simulation run, its shard written, a small outcome returned.

Workers import the simulation package themselves and receive picklable :class:`Task` values
(the validated config as a plain dict, the seed, where to write), so any
``concurrent.futures.Executor`` whose workers have the project installed can run them: local
processes, a Dask cluster, or others. The parent only ever sees :class:`RunOutcome` metadata,
unless the workers cannot reach the output directory (a remote cluster), in which case the
shard travels back as Parquet bytes and the parent writes it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulation.files import sha256, write_bytes
from simulation.layout import annotate, sweep_cell

if TYPE_CHECKING:
    import pyarrow as pa

# TEST-ONLY fault injection. A comma-separated list of run ids in this environment variable makes
# those runs raise in the worker, so tests can check that one failing run is recorded and does not
# sink the batch. It is read only here, in the worker process (set it before the batch command
# starts, since worker processes inherit the environment); it is not a user option.
FAIL_RUN_IDS_ENV = "OME_BATCH_FAIL_RUN_IDS"


@dataclass(frozen=True)
class Task:
    """One run as a worker receives it: everything the run needs, all picklable.

    The config travels validated, as plain data, so a worker needs the project installed but
    not the scenario files.

    Attributes:
        run_id: The run's id in the plan, the manifest and the shard's name.
        scenario: Scenario label (the scenario file's stem).
        replicate: Replicate index, from 0.
        seed: The run's seed.
        sweep: The sweep point's values by dotted key (empty without a sweep).
        config: The run's validated config, as ``simulation.config.to_dict`` gives it.
        shard_path: Where the worker writes the shard.
        record_agents: Researchers to record (``simulation.records``); None: no records.
        agents_path: Where the worker writes the records (None with ``shard_path`` None).
    """

    run_id: str
    scenario: str
    replicate: int
    seed: int
    sweep: dict[str, Any]
    config: dict[str, Any]
    shard_path: str | None  # the worker writes here; None: return the Parquet bytes instead
    record_agents: int | None = None
    agents_path: str | None = None


@dataclass(frozen=True)
class RunOutcome:
    """What a worker sends back: a few facts about the run, not its metrics.

    Attributes:
        run_id: The run.
        ok: Whether the run finished and its shard was written (or returned).
        seconds: How long it ran, up to its end or its failure.
        error: What went wrong, on one line (``one_line``); None if it succeeded.
        host: ``hostname:pid`` of the worker process (empty if the executor itself failed).
        shard: The shard as Parquet bytes, when the worker could not write it itself.
        digest: SHA-256 of the shard's bytes, recorded in the manifest so that a resume or
            the combining step can tell a damaged or swapped shard from the one written.
        storage_errno: The errno if writing the shard failed (a full disk stops the batch
            instead of failing every run that follows).
        agents: The agent records as Parquet bytes, when the worker could not write them.
        agents_digest: SHA-256 of the agent records' bytes (None without records).
    """

    run_id: str
    ok: bool
    seconds: float  # simulation time only: what the batch machinery's overhead is measured against
    error: str | None = None
    host: str = ""
    shard: bytes | None = None
    digest: str | None = None
    storage_errno: int | None = None  # the shard could not be written: the disk, not the run
    agents: bytes | None = None
    agents_digest: str | None = None


def execute(task: Task) -> RunOutcome:
    """Run one task; never raises for a failing run, so the batch goes on."""
    host = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    try:
        from simulation.config import validate  # noqa: PLC0415  (keeps the module light to pickle)
        from simulation.runner import simulate  # noqa: PLC0415

        if task.run_id in os.environ.get(FAIL_RUN_IDS_ENV, "").split(","):
            raise RuntimeError(f"injected failure ({FAIL_RUN_IDS_ENV})")
        config = validate(task.config, source=task.run_id)
        sim = config.simulation
        result = simulate(config, task.seed, sim.steps, sim.researchers, task.record_agents)
        seconds = time.perf_counter() - start
        data = to_parquet_bytes(shard_table(task, result.metrics))
        digest = sha256(data)
        agents = (
            None if result.agents is None else to_parquet_bytes(agents_table(task, result.agents))
        )
        files = {"digest": digest, "agents_digest": sha256(agents) if agents else None}
        if task.shard_path is None:
            back = {"shard": data, "agents": agents, **files}
            return RunOutcome(task.run_id, True, seconds, host=host, **back)
        try:  # the records first: a run is done once its shard and manifest line are there
            if agents is not None:
                write_bytes(agents, Path(task.agents_path))
            write_bytes(data, Path(task.shard_path))
        except OSError as e:
            error = one_line(e)
            return RunOutcome(task.run_id, False, seconds, error, host, storage_errno=e.errno)
        return RunOutcome(task.run_id, True, seconds, host=host, **files)
    except Exception as e:
        return RunOutcome(task.run_id, False, time.perf_counter() - start, one_line(e), host)


def installed_version() -> str:
    """This process's version of the project: a cluster's workers must match the client."""
    from simulation.provenance import version  # noqa: PLC0415

    return version()


def shard_table(task: Task, df) -> pa.Table:
    """The run's metrics as a shard, with the columns that identify it in front.

    Scenario, replicate, seed, one column per sweep key, then step and the metrics; every column
    described (:func:`simulation.layout.annotate`).

    Args:
        task: The run.
        df: Its metrics, one row per month (:func:`simulation.run`).
    """
    import pyarrow as pa  # noqa: PLC0415  (workers only; the parent's parser stays light)

    metrics = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    ids = run_columns(task, len(df))
    schema = annotate(pa.schema([*ids.schema, *metrics.schema]), list(task.sweep))
    return pa.Table.from_arrays([*ids.columns, *metrics.columns], schema=schema)


def agents_table(task: Task, agents: pa.Table) -> pa.Table:
    """The run's agent records, with the columns that identify the run in front (as a shard's).

    So the records of every run of a batch can be read as one table (``agents/`` as a dataset).
    """
    import pyarrow as pa  # noqa: PLC0415

    ids = run_columns(task, agents.num_rows)
    schema = pa.schema([*annotate(ids.schema, list(task.sweep)), *agents.schema])
    about = {**(agents.schema.metadata or {}), b"run_id": json.dumps(task.run_id).encode()}
    columns = [*ids.columns, *agents.columns]
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(about))


def run_columns(task: Task, n: int) -> pa.Table:
    """``n`` rows of what identifies the run: scenario, replicate, seed, one column per sweep key.

    A sweep value that is a list or table is stored as JSON text (its field says so).
    """
    import pyarrow as pa  # noqa: PLC0415

    columns: dict[str, pa.Array] = {
        "scenario": pa.array([task.scenario] * n, pa.string()),
        "replicate": pa.array([task.replicate] * n, pa.int64()),
        "seed": pa.array([task.seed] * n, pa.uint64()),
    }
    encodings = {}
    for key, value in task.sweep.items():
        cell, encodings[key] = sweep_cell(value)
        columns[key] = pa.array([cell] * n)
    table = pa.table(columns)
    schema = pa.schema(
        f.with_metadata({"encoding": encodings[f.name]}) if encodings.get(f.name) else f
        for f in table.schema
    )
    return pa.Table.from_arrays(table.columns, schema=schema)


def to_parquet_bytes(table: pa.Table) -> bytes:
    """The table as the bytes of a Parquet file (for a shard that travels back to the parent)."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def one_line(e: BaseException) -> str:
    """``Type: message (at file:line)``, on one line."""
    message = " ".join(str(e).split())
    text = f"{type(e).__name__}: {message}" if message else type(e).__name__
    frames = traceback.extract_tb(e.__traceback__)
    if frames:
        text += f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
    return text


def init_process(main_pid: int) -> None:
    """Initializer for local worker processes.

    Ctrl-C is the parent's to handle (it cancels what has not started). And a worker outlives a
    parent killed by SIGKILL, blocked forever on its task queue (under forkserver it even keeps
    the fork server alive), so it watches the batch process and exits once that is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while _alive(main_pid):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="batch-orphan-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs: on Linux a killed process not yet reaped (a zombie) is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            pass
        return True
