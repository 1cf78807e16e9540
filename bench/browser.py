"""Driving the real app in a real browser: start `streamlit run app.py`, open it in Debian's
Chromium through Playwright, draw with the mouse and read the prediction. Used by the
end-to-end test and by the benchmark's latency measurement."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mnist_cnn.config import REPO_ROOT

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
HEALTH_PATH = "/_stcore/health"
START_TIMEOUT_S = 120
UI_TIMEOUT_MS = 30_000


def expect(*args, **kwargs):
    """Playwright's expect, imported when first called: a test module imports without Playwright,
    so that its tests are skipped one by one, and counted (tests/conftest.py)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def sync_playwright():
    """Playwright's sync_playwright(), imported when first called (as expect)."""
    from playwright.sync_api import sync_playwright as start

    return start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = START_TIMEOUT_S, proc: subprocess.Popen | None = None) -> float:
    """Poll Streamlit's health endpoint until it answers "ok"; returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the app did not answer at {url} within {timeout:.0f}s")


@contextmanager
def running_app(env: dict[str, str] | None = None, log_path: Path | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port; yields its URL and stops it afterwards."""
    with running_server(env, log_path) as (url, _):
        yield url


def streamlit_command(port: int) -> list[str]:
    """`streamlit run app.py` on `port`, on the loopback address only."""
    return [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]


@contextmanager
def running_server(env: dict[str, str] | None = None, log_path: Path | None = None,
                   command: Callable[[int], list[str]] = streamlit_command
                   ) -> Iterator[tuple[str, subprocess.Popen]]:
    """As running_app, also yielding the server process (to look at it from outside). `command`
    gives the server's command line for a port (a test may start it its own way)."""
    port = free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(command(port), cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            log.close()


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Chromium is not installed: apt-get install -y chromium")
    return path


@contextmanager
def browser_page(playwright, width: int = 1400, height: int = 1000):
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page(viewport={"width": width, "height": height})
        yield page
    finally:
        browser.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@contextmanager
def phone_page(playwright):
    """A phone-sized page (390x844, touch) in Chromium."""
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser.new_context(**PHONE).new_page()
    finally:
        browser.close()


def touch_draw(page, canvas, points: list[tuple[float, float]]) -> None:
    """Draw one stroke with a finger (real touch events through the DevTools protocol)."""
    box = canvas.bounding_box()
    xy = [{"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]} for fx, fy in points]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [xy[0]]})
    for point in xy[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def open_app(page, url: str):
    """Load the app and wait until Streamlit's drawing canvas is ready (the first-second page,
    ui/server/shell.py, has handed over to it); returns the canvas locator."""
    from mnist_cnn.ui.server.shell import SHELL_ID

    page.goto(url)
    page.locator(f"#{SHELL_ID}").wait_for(state="detached", timeout=UI_TIMEOUT_MS * 2)
    canvas = page.locator("canvas").last
    canvas.wait_for(state="visible", timeout=UI_TIMEOUT_MS * 2)
    prediction_value(page).wait_for(timeout=UI_TIMEOUT_MS * 2)
    return canvas


def prediction_value(page):
    return page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")


def draw(page, canvas, points: list[tuple[float, float]]) -> None:
    """Draw one stroke through points given as fractions (0-1) of the canvas' width and height."""
    box = canvas.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()


def vertical_stroke(cx: float, top: float, bottom: float, n: int = 12) -> list[tuple[float, float]]:
    """A "1": one vertical stroke."""
    return [(cx, top + (bottom - top) * i / (n - 1)) for i in range(n)]


def loop(cx: float, cy: float, rx: float, ry: float, n: int = 36) -> list[tuple[float, float]]:
    """A "0": a closed loop, drawn from the top, anticlockwise, slightly overshooting."""
    return [(cx + rx * math.sin(-2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n)) for i in range(n + 3)]


def toolbar_button(page, label: str):
    return page.get_by_role("button", name=label, exact=True)
