"""Fault injection: real batches are killed, damaged, starved of disk and of their scheduler;
after a rerun, the result must equal that of an uninterrupted batch, and every fault must be
reported in one line, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
from helpers import REPO

ARGS = ["market", "public_option", "--replicates", "3", "--seed", "5"]
ARGS += ["--steps", "6", "--researchers", "300"]
LONG = ["market", "public_option", "--replicates", "8", "--seed", "5"]
LONG += ["--steps", "24", "--researchers", "4000"]  # runs long enough to interrupt
DASK = Path(sys.executable).parent / "dask"


def batch(out: Path, args: list[str], *extra: str, **kw) -> subprocess.CompletedProcess:
    """``run.py batch ARGS --out OUT`` in a subprocess, as a user runs it."""
    argv = [sys.executable, "run.py", "batch", *args, "--out", str(out), "--quiet", *extra]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, **kw)


def start_batch(out: Path, args: list[str], *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "run.py", "batch", *args, "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The command's last line on stderr, after checking there is no traceback."""
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def shards(out: Path) -> list[Path]:
    return sorted((out / "runs").glob("*.parquet"))


def wait_for_shards(out: Path, proc, n: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(shards(out)) < n:
        assert proc.poll() is None, "the batch ended before the fault could be injected"
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.01)


def same_as(out: Path, reference: Path) -> None:
    """The combined results equal the uninterrupted batch's, row for row."""
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "results.parquet"), pd.read_parquet(reference / "results.parquet")
    )
    assert not list(out.rglob("*.tmp")), "a temporary file was left behind"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "b"
    assert batch(out, ARGS).returncode == 0
    return out


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("long_reference") / "b"
    assert batch(out, LONG).returncode == 0
    return out


# -- damaged batch folders --------------------------------------------------------------------


def flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


DAMAGE = {
    "bit flipped": (lambda runs: flip_a_bit(runs[0]), "checksum mismatch"),
    "truncated": (lambda runs: truncate(runs[1]), "checksum mismatch"),
    "emptied": (lambda runs: runs[1].write_bytes(b""), "checksum mismatch"),
    "swapped": (lambda runs: shutil.copy(runs[3], runs[2]), "checksum mismatch"),
    "deleted": (lambda runs: runs[4].unlink(), "its shard is missing"),
}


@pytest.mark.parametrize("fault", DAMAGE)
def test_a_damaged_shard_is_recomputed_and_the_result_is_the_uninterrupted_one(
    tmp_path, reference, fault
):
    out = tmp_path / "b"
    shutil.copytree(reference, out)
    damage, reason = DAMAGE[fault]
    runs = shards(out)
    damage(runs)
    (out / "results.parquet").unlink()
    proc = batch(out, ARGS)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("recomputing")]
    assert len(lines) == 1 and reason in lines[0], proc.stderr
    same_as(out, reference)


def test_a_shard_swapped_together_with_its_record_is_caught_by_its_rows(tmp_path, reference):
    out = tmp_path / "b"
    shutil.copytree(reference, out)
    runs = shards(out)
    shutil.copy(runs[3], runs[2])  # and make the record of runs[2] claim runs[3]'s checksum
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    digest = {r["run_id"]: r["sha256"] for r in records}
    for r in records:
        if r["run_id"] == runs[2].stem:
            r["sha256"] = digest[runs[3].stem]
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    proc = batch(out, ARGS)
    assert proc.returncode == 0
    assert f"recomputing {runs[2].stem}: its shard holds another run" in proc.stderr
    same_as(out, reference)


def test_a_damaged_results_file_is_combined_again(tmp_path, reference):
    out = tmp_path / "b"
    shutil.copytree(reference, out)
    flip_a_bit(out / "results.parquet")
    proc = batch(out, ARGS)
    assert proc.returncode == 0 and "recomputing" not in proc.stderr
    same_as(out, reference)


MANIFEST_DAMAGE = {
    "garbage appended": lambda m: m.write_bytes(m.read_bytes() + b"\x00\xffnot json\n{]\n"),
    "cut mid-line": lambda m: m.write_bytes(m.read_bytes()[: m.stat().st_size * 2 // 3]),
    "a record altered": lambda m: m.write_text(
        m.read_text().replace('"replicate": 1', '"replicate": 2', 1)
    ),
    "emptied": lambda m: m.write_bytes(b""),
    "odd json": lambda m: m.write_text(m.read_text() + '{"run_id": ["x"]}\n[1, 2]\n"text"\n'),
}


@pytest.mark.parametrize("fault", MANIFEST_DAMAGE)
def test_a_damaged_manifest_costs_only_the_runs_it_no_longer_vouches_for(
    tmp_path, reference, fault
):
    out = tmp_path / "b"
    shutil.copytree(reference, out)
    MANIFEST_DAMAGE[fault](out / "manifest.jsonl")
    (out / "results.parquet").unlink()
    proc = batch(out, ARGS)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    same_as(out, reference)


def test_a_lost_plan_is_rebuilt_from_the_command(tmp_path, reference):
    out = tmp_path / "b"
    shutil.copytree(reference, out)
    (out / "plan.json").unlink()
    (out / "results.parquet").unlink()
    proc = batch(out, ARGS)
    assert proc.returncode == 0, proc.stderr
    assert "plan.json was missing; rebuilt from this command" in proc.stderr
    assert "recomputing" not in proc.stderr  # every shard verified: nothing recomputed
    same_as(out, reference)
    other = batch(out, [*ARGS[:-2], "--researchers", "301"])  # another batch is still refused
    assert other.returncode == 2 and "holds a different batch" in one_line_error(other)


# -- killed processes -------------------------------------------------------------------------


def test_sigkill_of_the_batch_then_a_rerun_gives_the_uninterrupted_result(tmp_path, long_reference):
    out = tmp_path / "b"
    proc = start_batch(out, LONG, "--workers", "1")
    try:
        wait_for_shards(out, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (out / "results.parquet").exists()
    done = {r["run_id"] for r in manifest(out) if r["status"] == "ok"}
    with open(out / "manifest.jsonl", "a") as f:  # as if killed in the middle of a line
        f.write('{"run_id": "market.p0.r3", "sta')
    rerun = batch(out, LONG, "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    same_as(out, long_reference)
    records = manifest(out)
    for run_id in done:  # what was recorded done was not computed again
        assert sum(r["run_id"] == run_id for r in records) == 1


def test_sigkill_of_one_worker_loses_only_its_runs(tmp_path, long_reference):
    out = tmp_path / "b"
    proc = start_batch(out, LONG, "--workers", "2")
    try:
        wait_for_shards(out, proc)
        workers = [
            p
            for child in psutil.Process(proc.pid).children()
            if "forkserver" in " ".join(child.cmdline())
            for p in child.children()
        ]
        assert workers, "no worker process found"
        workers[0].kill()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert "Traceback" not in stderr
    if proc.returncode == 1:  # the runs in flight on the killed worker are reported
        assert "a worker process died" in stderr
    else:  # the worker was killed between two runs
        assert proc.returncode == 0
    rerun = batch(out, LONG)
    assert rerun.returncode == 0, rerun.stderr
    same_as(out, long_reference)


def test_sigterm_stops_the_batch_with_one_line_and_keeps_finished_runs(tmp_path, long_reference):
    out = tmp_path / "b"
    proc = start_batch(out, LONG, "--workers", "1")
    try:
        wait_for_shards(out, proc)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143
    assert stderr.strip().splitlines()[-1].startswith("terminated; finished runs are kept")
    assert "Traceback" not in stderr
    recorded = {r["run_id"] for r in manifest(out) if r["status"] == "ok"}
    assert recorded and recorded == {p.stem for p in shards(out)}  # no work left unrecorded
    assert batch(out, LONG).returncode == 0
    same_as(out, long_reference)


# -- a full disk ------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``; skips the test where mounting is not allowed."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): "
                    f"{mounted.stderr.decode().strip()[:100]}")  # fmt: skip
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_full_disk_stops_the_batch_cleanly_and_a_rerun_with_room_finishes_it(tmp_path, reference):
    with small_disk(tmp_path / "disk", "80k") as disk:
        out = disk / "b"
        proc = batch(out, ARGS, "--workers", "1")
        assert proc.returncode == 1, proc.stderr
        line = one_line_error(proc)
        assert line.startswith("error: cannot write to") and "No space left" in line, line
        assert not list(out.rglob("*.tmp")), "a temporary file was left behind"
        assert not (out / "results.parquet").exists()
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        rerun = batch(out, ARGS)
        assert rerun.returncode == 0, rerun.stderr
        same_as(out, reference)


# -- a Dask scheduler that dies, and one behind TLS --------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(*tls: str, protocol: str = "tcp") -> Iterator[tuple[str, subprocess.Popen]]:
    """A Dask scheduler and two single-threaded workers on localhost, as separate processes."""
    pytest.importorskip("distributed")
    port = free_port()
    address = f"{protocol}://127.0.0.1:{port}"
    common = ["--no-dashboard", *tls]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--protocol", protocol,
         *common], **quiet,
    )  # fmt: skip
    workers = subprocess.Popen(
        [DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", *common], **quiet
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # the scheduler listens, then the workers register (give them time)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.2)
        time.sleep(4)
        yield address, scheduler
    finally:
        for p in (workers, scheduler):
            p.kill()
            p.wait(timeout=30)


def test_a_scheduler_that_dies_mid_batch_is_one_line_and_the_batch_resumes(
    tmp_path, long_reference
):
    out = tmp_path / "b"
    with dask_cluster() as (address, scheduler):
        proc = start_batch(out, LONG, "--scheduler", address)
        try:
            wait_for_shards(out, proc)
            scheduler.kill()
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stdout + stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the Dask scheduler at {address} went away"), last
    assert "rerun the same command to resume" in last
    assert "lost: the Dask scheduler" in stderr  # the runs in flight say what happened
    rerun = batch(out, LONG)  # the same batch, finished on local processes
    assert rerun.returncode == 0, rerun.stderr
    same_as(out, long_reference)


def test_a_tls_scheduler_runs_the_batch_with_the_named_certificates(tmp_path, reference):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
         cert, "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    security = tmp_path / "tls.toml"
    security.write_text('ca_file = "cert.pem"\ncert = "cert.pem"\nkey = "key.pem"\n')
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    with dask_cluster(*tls, protocol="tls") as (address, _):
        proc = batch(tmp_path / "b", ARGS, "--scheduler", address, "--security", str(security))
        assert proc.returncode == 0, proc.stderr
        plain = batch(tmp_path / "c", ARGS, "--scheduler", address.replace("tls://", "tcp://"))
    same_as(tmp_path / "b", reference)
    assert plain.returncode == 2 and "cannot connect" in one_line_error(plain)
    missing = batch(tmp_path / "d", ARGS, "--scheduler", address)
    assert missing.returncode == 2 and "needs --security FILE" in one_line_error(missing)


@pytest.mark.parametrize("address", ["garbage", "http://host:1", "tcp://host", "tcp://h:99999"])
def test_a_malformed_scheduler_address_is_refused_at_once(tmp_path, address):
    start = time.monotonic()
    proc = batch(tmp_path / "b", ARGS, "--scheduler", address)
    assert proc.returncode == 2 and time.monotonic() - start < 5
    assert "expected 'local', tcp://HOST:PORT or tls://HOST:PORT" in one_line_error(proc)
    assert not (tmp_path / "b").exists()
