"""A class on one server, through the real client (bench/live_session.py: Streamlit's own
websocket protocol) against a real `streamlit run app.py`: every visitor's strokes are answered,
the class benchmark prints its numbers line, and a visitor who leaves stops costing memory once
Streamlit's reconnect time is up. No timing assertions: the waits are "ended, not hung" bounds."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import browser
from bench.classload import rss_bytes
from bench.live_session import Drawing, LiveSession, stroke_drawings
from mnist_cnn.config import HOUSEKEEPING_S
from mnist_cnn.reading.verdicts import NO_PREDICTION

ROOT = Path(__file__).resolve().parent.parent
TTL_S = 2  # the server's reconnect time for a closed tab (Streamlit's default is 120 s)
FREED_WITHIN_S = TTL_S + 3 * HOUSEKEEPING_S  # a bound for "ended, not hung", not a timing claim
MB = 1024 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose closed tabs' sessions may be dropped after TTL_S; yields (url, pid)."""
    home = tmp_path_factory.mktemp("home")
    command = lambda port: [*browser.streamlit_command(port), "--server.disconnectedSessionTTL", str(TTL_S)]  # noqa: E731
    with browser.running_server(env={"MNIST_DRAW_HOME": str(home)}, log_path=home / "server.log",
                                command=command) as (url, proc):
        yield url, proc.pid


def test_each_visitor_gets_a_prediction_for_every_stroke(server):
    url, _ = server

    async def visitor(seed: int) -> list[tuple[Drawing, str, str]]:
        session = await LiveSession.open(url)
        seen = []
        try:
            for drawing, _ in zip(stroke_drawings(np.random.default_rng(seed)), range(5)):
                answer = await session.draw(drawing)
                seen.append((drawing, answer.prediction, session.prediction))
        finally:
            await session.close()
        return seen

    async def class_of_three():
        return await asyncio.gather(*(visitor(seed) for seed in range(3)))

    for seen in asyncio.run(class_of_three()):
        assert len(seen) == 5
        for _, answered, shown in seen:
            assert answered == shown  # the page now shows the answer the stroke got
            assert answered not in ("", NO_PREDICTION)  # every stroke is read: a digit, or "not a digit"
        finished = [(d, a) for (d, a, _), (nxt, _, _) in zip(seen, seen[1:]) if len(nxt.raw["objects"]) == 1]
        assert finished and all(answer == str(d.digit) for d, answer in finished), finished


def test_the_class_benchmark_ends_with_its_numbers_line():
    done = subprocess.run([sys.executable, "-m", "mnist_cnn", "bench", "--quick", "--area", "class",
                           "--sessions", "2"], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.rstrip("\n").splitlines()[-1]
    line = re.fullmatch(r"class: 2 sessions, median \d+ ms, p99 \d+ ms, answered (\d+)/(\d+), "
                        r"server memory \+\d+ MB \(\d+\.\d MB/session, [+-]\d+% after they left\)", last)
    assert line, last
    assert int(line[1]) == int(line[2]) > 0  # every stroke answered


def big_drawing() -> Drawing:
    """A drawing that is large to hold (a 900x900 noise PNG, ~4 MB as a data URL): a session
    keeps what its canvas sent, so whether the server still holds the session shows in its memory."""
    noise = np.random.default_rng(0).integers(0, 256, (900, 900, 4), dtype=np.uint8)
    noise[..., 3] = 255
    out = io.BytesIO()
    Image.fromarray(noise, "RGBA").save(out, "PNG")
    return Drawing(8, "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii"), {"objects": []})


def test_visitors_who_leave_give_their_memory_back(server):
    url, pid = server
    drawing = big_drawing()

    async def come_draw_and_leave(visitors: int) -> float:
        sessions = [await LiveSession.open(url, watch_training=False) for _ in range(visitors)]
        for session in sessions:
            await session.draw(drawing, timeout=60)
        held = rss_bytes(pid)
        for session in sessions:
            await session.close()
        return held

    asyncio.run(come_draw_and_leave(1))  # the first big drawing's one-off costs (imports, buffers)
    before = rss_bytes(pid)  # (that session's drawing too: freed with the others', it can only help them)
    held = asyncio.run(come_draw_and_leave(4))
    assert held - before > 20 * MB  # the four sessions hold their drawings

    deadline, now = time.monotonic() + FREED_WITHIN_S + 30, rss_bytes(pid)
    while now - before > 0.3 * (held - before) and time.monotonic() < deadline:
        time.sleep(1)
        now = rss_bytes(pid)
    assert now - before <= 0.3 * (held - before), (
        f"{(now - before) / MB:.0f} MB of the {(held - before) / MB:.0f} MB the sessions held is still held "
        f"{FREED_WITHIN_S + 30:.0f} s after they left")
