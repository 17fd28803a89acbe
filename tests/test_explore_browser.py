"""The explorer in a real browser: ``run.py explore`` serves it, headless Chromium plays it.

Starts the real command on a free port, opens the page, checks the sliders, steps a few months
and checks that the plots change, that nothing was asked of any host but this one, then stops
the server with Ctrl-C. Skipped, with the reason, only when Chromium, playwright or solara is
missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from helpers import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOCAL = {"127.0.0.1", "localhost", "::1"}
LEVER_LABELS = ("public budget", "price share", "GPU price", "Global South budget")
STEPS = 3

if importlib.util.find_spec("playwright") is None:
    pytest.skip("the browser test needs playwright (the dev extra)", allow_module_level=True)
if importlib.util.find_spec("solara") is None:
    pytest.skip("run.py explore needs solara (the viz extra)", allow_module_level=True)
if CHROMIUM is None:
    pytest.skip("no chromium on PATH: apt-get install chromium", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line the command prints, or fail with what it said on stderr."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout) or proc.poll() is not None:
        proc.kill()
        pytest.fail(f"run.py explore did not start: {proc.stderr.read()}")
    return proc.stdout.readline()


@pytest.fixture
def explorer():
    """``run.py explore`` on a free port: its URL; stopped with Ctrl-C after the test."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "run.py", "explore", "--port", str(port), "--researchers", "1000"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = read_line(proc, timeout=90)
        url = f"http://127.0.0.1:{port}/"
        assert line.startswith(f"explorer at {url}"), line
        print(f"server ready in {time.perf_counter() - start:.1f} s")
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # as Ctrl-C in the terminal
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err == "interrupted\n", err  # one line, no traceback from the server


def figure_images(page) -> list[bytes]:
    """The pixels of each matplotlib figure on the page."""
    images = page.locator("img[src^='blob:'], img[src^='data:image/png']")
    return [images.nth(i).screenshot() for i in range(images.count())]


def test_explore_in_a_real_browser(explorer, tmp_path):
    started = time.perf_counter()
    requests: list[str] = []
    failures: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: requests.append(r.url))
        page.on(
            "response",
            lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.goto(explorer)
        page.get_by_role("button", name="Step").wait_for(timeout=60_000)
        page.get_by_text("Time: 0.0").wait_for(timeout=30_000)
        page.wait_for_function("document.querySelectorAll(\"img[src^='blob:']\").length >= 4")
        first_page = time.perf_counter() - started

        text = page.inner_text("body")
        for label in LEVER_LABELS:
            assert label in text, label
        assert page.locator(".v-slider").count() >= len(LEVER_LABELS)
        assert "What the plots measure" in text and "market, same seed" not in text  # in PNGs
        before = figure_images(page)
        assert len(before) == 4

        step_times = []
        for month in range(1, STEPS + 1):
            t = time.perf_counter()
            page.get_by_role("button", name="Step").click()
            page.get_by_text(f"Time: {month}.0").wait_for(timeout=30_000)
            step_times.append(time.perf_counter() - t)
        assert f"month {STEPS} of 120" in page.inner_text("body")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = figure_images(page)
            if len(after) == 4 and all(a != b for a, b in zip(after, before, strict=True)):
                break
            page.wait_for_timeout(250)
        assert len(after) == 4
        assert all(a != b for a, b in zip(after, before, strict=True)), "a plot did not change"

        page.screenshot(path=tmp_path / "explorer.png", full_page=True)

        # another scenario and a slider at its end, then Reset: the new run has them
        page.locator(".v-select").first.click()
        page.get_by_role("option", name="market", exact=True).click()
        page.locator(".v-input", has_text="GPU price").get_by_role("slider").focus()
        page.keyboard.press("End")
        page.get_by_role("button", name="Reset").click()
        page.get_by_text("Time: 0.0").wait_for(timeout=30_000)
        page.get_by_text("market against market, month 0").wait_for(timeout=30_000)
        text = page.inner_text("body")
        assert "GPU price (USD/hour): 8 (scenario and market)" in text
        assert "public budget (M USD/month): 20 (not applied: no public institution)" in text
        browser.close()

    print(f"first page in {first_page:.1f} s; steps {[round(s, 2) for s in step_times]} s")
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
    hosts = {
        urlparse(u).hostname
        for u in requests
        if urlparse(u).scheme in ("http", "https", "ws", "wss")
    }
    assert hosts <= LOCAL, f"requests left this machine: {sorted(hosts - LOCAL)}"
    assert not [
        u
        for u in requests
        if re.match(r"(https?|wss?)://", u) and urlparse(u).hostname not in LOCAL
    ]
    assert not failures, failures  # every asset served from here (solara-assets), none missing
