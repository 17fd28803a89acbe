"""Where runs execute: local worker processes, or a Dask cluster (local or remote).

The batch is coded against ``concurrent.futures.Executor`` only; this module just builds one.
Another backend (MPI, a job queue) plugs in by returning a :class:`Pool` around its executor.
Dask is imported only when asked for.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import os
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from simulation.batch import worker
from simulation.errors import UsageError

CONNECT_TIMEOUT_S = 5.0
MAX_WORKERS = 512  # local processes: more would only thrash the machine
# A Dask scheduler's address: tcp:// (plain) or tls:// (encrypted, with --security), host, port.
ADDRESS = re.compile(
    r"(?P<scheme>tcp|tls)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<port>\d+)"
)
SECURITY_KEYS = ("ca_file", "cert", "key")
DASK_HINT = "install the [distributed] extra: pip install 'open-model-ecosystem[distributed]'"


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class Pool:
    """An executor plus what the batch needs to know about it."""

    executor: Executor
    capacity: int  # runs kept in flight: enough to keep every worker busy, few enough to cancel
    description: str
    workers_write_shards: bool  # False on a remote cluster: shards come back as bytes
    _factory: Callable[[], Executor] | None = field(default=None, repr=False)
    _health: Callable[[], str | None] | None = field(default=None, repr=False)

    def lost(self) -> str | None:
        """Why the executor can run nothing more (its Dask scheduler went away), or None."""
        return self._health() if self._health is not None else None

    def restart(self) -> None:
        """Replace a broken process pool (a worker process died) with a fresh one."""
        if self._factory is None:
            raise RuntimeError("this executor cannot be restarted")
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._factory()


def check_scheduler(address: str | None, security: Path | None = None) -> None:
    """Refuse at once a scheduler address the batch could not use.

    Allowed: ``local``, ``tcp://HOST:PORT``, or ``tls://HOST:PORT`` with TLS settings (and TLS
    settings only with a ``tls://`` address).

    Raises:
        UsageError: naming the option and what it expects.
    """
    if address is None or address == "local":
        if security is not None:
            raise UsageError("--security: TLS settings need a --scheduler tls://HOST:PORT")
        return
    match = ADDRESS.fullmatch(address) if isinstance(address, str) else None
    if match is None or not 0 < int(match["port"]) < 65536:
        raise UsageError(
            f"--scheduler {address!r}: expected 'local', tcp://HOST:PORT or tls://HOST:PORT"
        )
    if match["scheme"] == "tls" and security is None:
        raise UsageError(
            f"--scheduler {address}: a tls:// scheduler needs --security FILE naming the "
            "certificates (docs/batch.md)"
        )
    if match["scheme"] == "tcp" and security is not None:
        raise UsageError(f"--security: TLS settings need a tls:// scheduler, not {address}")


def load_security(path: Path):
    """Dask TLS settings from a TOML file naming PEM files (relative to the file's folder).

    The file holds ``ca_file`` (the authority that signed the scheduler's certificate),
    ``cert`` (this client's certificate) and ``key`` (its private key, if not in ``cert``).

    Returns:
        A ``distributed.Security`` that requires encryption.

    Raises:
        UsageError: the file or a PEM file it names is missing, or a key is unknown.
    """
    from simulation.config import read_toml  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--security {path}: no such file")
    raw = read_toml(path)
    unknown = sorted(set(raw) - set(SECURITY_KEYS))
    if unknown or "ca_file" not in raw or "cert" not in raw:
        raise UsageError(
            f"--security {path}: expected ca_file, cert and (optionally) key, got {sorted(raw)}"
        )
    files = {}
    for key, name in raw.items():
        file = (path.parent / str(name)).resolve()
        if not file.is_file():
            raise UsageError(f"--security {path}: {key} = {name!r}: no such file")
        files[key] = str(file)
    distributed = _import_distributed()
    return distributed.Security(
        tls_ca_file=files["ca_file"],
        tls_client_cert=files["cert"],
        tls_client_key=files.get("key"),
        require_encryption=True,
    )


@contextmanager
def open_pool(workers: int, scheduler: str | None, security: Path | None = None) -> Iterator[Pool]:
    """The executor for ``--workers``/``--scheduler``, as a :class:`Pool`.

    Connection problems are UsageErrors, raised before the batch writes anything.

    Args:
        workers: Local worker processes, or the workers of a local Dask cluster (a remote
            cluster has its own).
        scheduler: None for local processes, ``"local"`` for a local Dask cluster, or the
            address of a running Dask scheduler (``tcp://`` or ``tls://``).
        security: For a ``tls://`` scheduler, the TOML file naming the TLS certificates.

    Yields:
        The pool; its executor is shut down when the block ends.

    Raises:
        UsageError: Dask is missing, the scheduler cannot be reached, or its workers cannot
            run this version of the project.
    """
    if scheduler is None:
        with _processes(workers) as pool:
            yield pool
    elif scheduler == "local":
        with _dask_local(workers) as pool:
            yield pool
    else:
        check_scheduler(scheduler, security)
        with _dask_remote(scheduler, security) as pool:
            yield pool


def _mp_context() -> multiprocessing.context.BaseContext:
    """Forkserver on Linux (forking a parent with threads can deadlock), spawn elsewhere."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Load the model and compile its kernels once in the fork server, so that each worker
    # forked from it starts warm (and workers never compile the same kernels at once).
    context.set_forkserver_preload(["simulation.batch.worker", "simulation.batch.warmup"])
    return context


def prestart_for(argv: list[str]) -> None:
    """Start the fork server at once when the command will run local worker processes.

    Called by run.py before anything else is imported, so the fork server loads the model (a
    second or so, mostly Mesa's import) while the command line is parsed and the plan built.
    A command that fails validation has then started it for nothing; it exits with the command.
    """
    commands = {"batch", "experiment", "validate", "calibrate", "sensitivity"}
    if argv and argv[0] in commands and not any(a.startswith("--scheduler") for a in argv):
        prestart(None)


def prestart(scheduler: str | None) -> None:
    """Start the fork server now, so that workers start warm sooner.

    It loads the model while this process is still importing and planning, instead of after,
    when the workers are first needed.
    """
    if scheduler is None and sys.platform.startswith("linux"):
        _mp_context()
        multiprocessing.forkserver.ensure_running()


def _forget_unreadable_main() -> None:
    """Let workers start when the main script is not a file (``python - < script``).

    A new worker re-runs the parent's main script from its ``__file__``; a script read from
    stdin has ``__file__ = '<stdin>'``, which no worker can open, so every worker would die.
    The runs need nothing from the main script (tasks are the package's own), so such a
    ``__file__`` is dropped, as it is absent in a notebook or with ``python -c``.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is not None and not os.path.exists(path):
        del main.__file__


@contextmanager
def _processes(workers: int) -> Iterator[Pool]:
    _forget_unreadable_main()

    def factory() -> Executor:
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_mp_context(),
            initializer=worker.init_process,
            initargs=(os.getpid(),),
        )

    noun = "process" if workers == 1 else "processes"
    pool = Pool(factory(), 2 * workers, f"{workers} local worker {noun}", True, factory)
    try:
        yield pool
    finally:
        pool.executor.shutdown(wait=True, cancel_futures=True)


def _import_distributed():
    try:
        import distributed  # noqa: PLC0415
    except ImportError:
        raise UsageError(f"--scheduler needs Dask distributed; {DASK_HINT}") from None
    _quiet_dask()
    return distributed


def _quiet_dask() -> None:
    """Silence Dask's log chatter (tracebacks of lost connections are not for users).

    Dask's own config gives some loggers (``distributed.client``) a level of their own, so
    every existing logger of those families is set, not just the parents.
    """
    families = ("distributed", "tornado", "asyncio")
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] in families]
    for name in (*families, *names):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def _dask_local(workers: int) -> Iterator[Pool]:
    distributed = _import_distributed()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            noun = "worker" if workers == 1 else "workers"
            yield Pool(
                _executor(client),
                2 * workers,
                f"a local Dask cluster, {workers} {noun}",
                True,
                _health=_watch(client, "the local Dask cluster"),
            )
        finally:
            client.close()
    finally:
        cluster.close()


@contextmanager
def _dask_remote(address: str, security: Path | None) -> Iterator[Pool]:
    distributed = _import_distributed()
    tls = load_security(security) if security is not None else None
    try:
        client = distributed.Client(
            address, timeout=CONNECT_TIMEOUT_S, set_as_default=False, security=tls
        )
    except Exception as e:  # OSError, TimeoutError, ValueError for a malformed address, ...
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise UsageError(
            f"--scheduler {address}: cannot connect within {CONNECT_TIMEOUT_S:g} s ({reason})"
        ) from None
    try:
        _check_workers(client, address)
        threads = sum(client.nthreads().values())
        capacity = max(2 * threads, 64)  # the cluster may grow; queued tasks cost little
        yield Pool(
            _executor(client),
            capacity,
            f"Dask cluster {address} ({threads} threads)",
            False,
            _health=_watch(client, f"the Dask scheduler at {address}"),
        )
    finally:
        client.close()


def _watch(client, what: str) -> Callable[[], str | None]:
    """A health check for a Dask client: a reason once its scheduler connection is gone."""

    def lost() -> str | None:
        return None if client.status == "running" else f"{what} went away ({client.status})"

    return lost


def _check_workers(client, address: str) -> None:
    """Every worker must run this project, in this version, or results would differ silently."""
    try:
        versions = client.run(worker.installed_version)
    except Exception as e:
        raise UsageError(
            f"--scheduler {address}: its workers cannot run the simulation ({worker.one_line(e)});"
            " install this project on every worker"
        ) from None
    mine = worker.installed_version()
    wrong = sorted(addr for addr, v in versions.items() if v != mine)
    if wrong:
        raise UsageError(
            f"--scheduler {address}: {len(wrong)} worker(s) run another version of the project "
            f"than {mine} (e.g. {wrong[0]}: {versions[wrong[0]]}); install the same version"
        )


def _executor(client) -> Executor:
    # pure=False: never merge two tasks Dask would hash alike; every run is its own task.
    return client.get_executor(pure=False)
