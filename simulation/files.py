"""Writing results safely: every file appears whole or not at all.

An output location is also checked before any work is done (``check_writable_dir``), so a long
run cannot fail at its end for want of a place to write.

A file is written under a temporary name beside its destination, flushed to disk, then renamed
over it (a rename within a directory is atomic on POSIX), so a reader never sees half a file,
even after a crash or ``kill -9``; on any failure, a full disk included, the temporary file is
removed. Temporary names start with a dot and end in ``.tmp``, so a batch directory can sweep
up what a killed writer left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulation.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from simulation.config import Config


def temporary_name(path: Path) -> Path:
    """The name a file is written under before it is renamed to ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it goes.

    Args:
        path: The file to (re)place.

    Yields:
        The temporary path the caller writes to (closed before the block ends).
    """
    tmp = temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data``, as hex: the checksum a batch records for each shard."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's contents, read in chunks (a combined table may be large)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_bytes(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(text: str, path: Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(text.encode("utf-8"), path)


def write_json(data: Any, path: Path) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically.

    Non-finite floats are written as ``null``: JSON has no NaN or Infinity, and other tools
    reject files that contain them.
    """
    write_text(json.dumps(_finite(data), indent=2, default=str, allow_nan=False) + "\n", path)


def write_table(table: pa.Table, path: Path) -> None:
    """Write an Arrow table to ``path`` as Parquet, atomically."""
    import pyarrow.parquet as pq  # noqa: PLC0415  (commands that write no table skip pyarrow)

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, recursively."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def check_writable_dir(out: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output directory that cannot be created or written.

    The check is a real attempt: missing directories are created, a probe file is written and
    removed, and the directories it created are removed again, so nothing is left behind.

    Args:
        out: The directory results will go to (it may not exist yet).
        option: How the user named it, for the message.

    Raises:
        UsageError: ``out`` is a file, or it cannot be created or written to.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out}: exists and is not a directory")
    created: list[Path] = []
    try:
        missing, parent = [], out.absolute()
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        if not parent.is_dir():
            raise UsageError(f"{option} {out}: {parent} is not a directory")
        for directory in reversed(missing):
            directory.mkdir()
            created.append(directory)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{option} {out}: cannot write there ({e.strerror or e})") from None
    finally:
        for directory in reversed(created):
            with contextlib.suppress(OSError):
                directory.rmdir()


def write_run(
    out: Path,
    df: pd.DataFrame,
    config: Config,
    meta: dict[str, Any],
    agents: pa.Table | None = None,
) -> None:
    """One run's results: DIR/metrics.parquet and DIR/run.json (its provenance), each atomic.

    Args:
        out: The directory (created if missing).
        df: The metrics table of :func:`simulation.run`.
        config: The resolved config the run used.
        meta: What else identifies the run (scenario, seed, seconds, ...).
        agents: The run's agent records, written to DIR/agents.parquet; None removes an
            agents.parquet an earlier run left there, which would not match this one.
    """
    import pyarrow as pa  # noqa: PLC0415

    from simulation.config import to_dict  # noqa: PLC0415
    from simulation.layout import AGENTS_FILE, METRICS_FILE, RUN_FILE, annotate  # noqa: PLC0415
    from simulation.provenance import environment  # noqa: PLC0415

    sim = config.simulation
    record = {**meta, "steps": int(len(df)), "researchers": sim.researchers}
    record |= {"config": to_dict(config), **environment()}
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    about = {k: record[k] for k in ("scenario", "seed", "code_revision") if k in record}
    out.mkdir(parents=True, exist_ok=True)
    if agents is not None:
        write_table(agents, out / AGENTS_FILE)
    else:
        (out / AGENTS_FILE).unlink(missing_ok=True)
    write_table(table.cast(annotate(table.schema, [], about)), out / METRICS_FILE)
    write_json(record, out / RUN_FILE)
