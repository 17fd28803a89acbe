"""``run.py explore``: bad input is one line and exit 2, before any server starts."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from helpers import REPO

import cli.explore
from cli import main


@pytest.fixture
def no_server(monkeypatch):
    """Fail the test if the command gets as far as starting the solara server."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a server was started: {args}")

    monkeypatch.setattr(cli.explore.subprocess, "Popen", refuse)


def assert_one_line(rc, captured, *expected):
    assert rc == 2
    assert "Traceback" not in captured.err and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), captured.err
    for part in expected:
        assert part in lines[0], (part, lines[0])


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["markt"], ["unknown scenario 'markt'", "did you mean 'market'"]),
        (["--port", "0"], ["--port", "1..65535", "'0'"]),
        (["--port", "70000"], ["--port", "1..65535"]),
        (["--port", "http"], ["--port", "'http'"]),
        (["--host", "no such host"], ["--host 'no such host'", "not a host name or address"]),
        (["--host", "192.0.2.1"], ["--host '192.0.2.1'", "not an address of this machine"]),
        (["--researchers", "0"], ["--researchers"]),
        (["--researchers", "2000000"], ["--researchers", "1..1,000,000"]),
        (["--steps", "5000"], ["--steps", "1..1,200"]),
        (["--seed", "-1"], ["--seed"]),
    ],
)
def test_explore_refuses_bad_input_in_one_line(argv, expected, capsys, no_server):
    rc = main(["explore", *argv])
    assert_one_line(rc, capsys.readouterr(), *expected)


def test_explore_refuses_a_port_in_use(capsys, no_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc = main(["explore", "--port", str(port)])
    assert_one_line(rc, capsys.readouterr(), f"--port {port}: already in use on 127.0.0.1")


def test_explore_without_the_viz_extra_says_how_to_install_it(monkeypatch, capsys, no_server):
    real = cli.explore.importlib.util.find_spec
    monkeypatch.setattr(
        cli.explore.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "solara" else real(name, *a),
    )
    rc = main(["explore"])
    captured = capsys.readouterr()
    assert_one_line(rc, captured)
    assert captured.err == "error: run.py explore needs the viz extra: pip install -e '.[viz]'\n"


def test_explore_bad_input_through_a_real_process():
    proc = subprocess.run(
        [sys.executable, "run.py", "explore", "nosuch", "--port", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: unknown scenario 'nosuch'")
    assert len(proc.stderr.splitlines()) == 1


def test_explore_help_names_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["explore", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--seed", "--researchers", "--steps", "127.0.0.1", "8765"):
        assert option in out
