"""``run.py explore``: serve the explorer page (Mesa SolaraViz) until Ctrl-C.

The page is :mod:`cli.explorer.app`, run by the solara server in a child process. Everything
the page needs is served from this machine: solara-assets holds the front end, and the server
is told to fetch nothing (no CDN, no version check, no telemetry).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from cli.explorer.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RESEARCHERS,
    DEFAULT_SCENARIO,
    DEFAULT_STEPS,
    Settings,
)
from cli.options import check_bounds, non_negative_int, positive_int
from simulation.config import scenario_names
from simulation.errors import FailedRuns, UsageError, did_you_mean

ROOT = Path(__file__).resolve().parent.parent  # holds the cli package
NEEDS = ("solara", "solara_assets", "ipyvuetify", "altair")  # mesa.visualization imports altair
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
# The server's environment: fetch nothing from outside this machine.
OFFLINE = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",  # no usage statistics sent
    "SOLARA_ASSETS_PROXY": "true",  # the browser asks this server for the front end...
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",  # ...and a file not in solara-assets is a 404
    "SOLARA_THEME_SHOW_BANNER": "false",
    "PYTHONWARNINGS": "ignore:Cookies with samesite=none:UserWarning",  # plain http is meant
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``explore`` to run.py's parser."""
    p = sub.add_parser(
        "explore", help="a page in the browser: play a scenario month by month against the market"
    )
    p.set_defaults(func=cmd_explore)
    p.add_argument(
        "scenario",
        nargs="?",
        default=DEFAULT_SCENARIO,
        help=f"the scenario selected at start, a name in scenarios/ (default: {DEFAULT_SCENARIO})",
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)",
    )
    p.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                   help=f"port to listen on (default: {DEFAULT_PORT})")  # fmt: skip
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the scenario's run and the market's (default: 0)")  # fmt: skip
    p.add_argument(
        "--researchers",
        type=positive_int,
        default=DEFAULT_RESEARCHERS,
        help=f"population of each run (default: {DEFAULT_RESEARCHERS:,})",
    )
    p.add_argument("--steps", type=positive_int, default=DEFAULT_STEPS,
                   help=f"months the page offers (default: {DEFAULT_STEPS})")  # fmt: skip


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1..65535."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}")
    return value


def check_viz_installed() -> None:
    """The viz extra's packages are importable, else one line saying how to install them."""
    if any(importlib.util.find_spec(name) is None for name in NEEDS):
        raise UsageError("run.py explore needs the viz extra: pip install -e '.[viz]'")


def check_address(host: str, port: int) -> None:
    """Refuse, before starting anything, a host that is no address here or a port in use."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UsageError(f"--host {host!r}: not a host name or address") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except PermissionError:
            raise UsageError(f"--port {port}: not allowed to listen on it here") from None
        except OSError as e:
            if e.errno == 98 or "in use" in str(e):  # EADDRINUSE
                raise UsageError(f"--port {port}: already in use on {host}") from None
            raise UsageError(f"--host {host!r}: not an address of this machine") from None


def check_scenario(name: str) -> None:
    """The start scenario is one the page's select offers."""
    if name not in scenario_names():
        raise UsageError(
            f"unknown scenario {name!r}{did_you_mean(name, scenario_names())}; "
            f"known: {', '.join(scenario_names())}"
        )


def cmd_explore(args: argparse.Namespace) -> int:
    """Check the options, start the solara server, say where it is, and serve until Ctrl-C."""
    check_bounds(args)
    check_scenario(args.scenario)
    check_address(args.host, args.port)
    check_viz_installed()
    settings = Settings(args.scenario, args.seed, args.researchers, args.steps)
    env = {**os.environ, **OFFLINE, **settings.to_env()}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    command = [
        sys.executable, "-m", "solara", "run", "cli.explorer.app",
        "--host", args.host, "--port", str(args.port),
        "--production", "--no-open", "--no-check-version", "--log-level", "warning",
    ]  # fmt: skip
    start = time.perf_counter()
    # its own session: Ctrl-C reaches this process only, which then stops the server in order
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_listening(server, args.host, args.port)
        url = f"http://{_url_host(args.host)}:{args.port}/"
        print(f"explorer at {url} (ready in {time.perf_counter() - start:.1f} s; Ctrl-C stops it)",
              flush=True)  # fmt: skip
        code = server.wait()
    except BaseException:
        stop(server)
        raise
    raise FailedRuns(f"the explorer's server stopped (exit code {code})")


def wait_until_listening(server: subprocess.Popen, host: str, port: int) -> None:
    """Return once the server accepts connections; FailedRuns if it dies or never does."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise FailedRuns(f"the explorer's server did not start (exit code {server.returncode})")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise FailedRuns(f"the explorer's server did not listen within {START_TIMEOUT_S:.0f} s")


def stop(server: subprocess.Popen) -> None:
    """Stop the server (SIGTERM: uvicorn shuts down quietly), then harder if it lingers."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _url_host(host: str) -> str:
    """The host as it goes in a URL: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host else host
