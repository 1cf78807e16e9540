"""A class on one server: `python -m mnist_cnn bench --area class --sessions 30`.

It starts its own `streamlit run app.py` on a free loopback port with an empty MNIST_DRAW_HOME,
opens N simulated visitors (bench/live_session.py: Streamlit's own protocol, each with its own
browser cookie and the sidebar's run monitor polling as in a browser), arriving staggered. Each
draws a digit stroke by stroke, a stroke every few seconds, for a bounded time; the first starts a
retrain partway through with the sidebar's Retrain button and the real default recipe (improved
CNN, 60,000 images, its default epochs: what a teacher's click trains), which trains in its worker
while the others draw. It records each stroke's time to its Prediction and the server's resident
memory (RSS of the `streamlit` process, not of the training worker): the baseline after one
warm-up visit that loaded the page and answered strokes, the peak while the class draws, and again
after everyone left and Streamlit's disconnected-session TTL has passed. The run is cancelled if
it has not ended when the drawing stops. It stops by itself, in about
`arrive_s + draw_s + leave_wait_s` plus start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bench import browser, percentile
from bench.live_session import LiveSession, Unanswered, http_get, stroke_drawings
from mnist_cnn.config import TRAINING_ROUTE

SESSION_TTL_S = 120  # Streamlit's server.disconnectedSessionTTL (default; .streamlit/config.toml keeps it)
MB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    sessions: int = 30
    arrive_s: float = 20.0  # visitors arrive evenly over this long
    draw_s: float = 180.0  # each draws for this long after arriving (the default retrain takes ~2.5 min)
    pause_s: tuple[float, float] = (2.0, 5.0)  # between one stroke's answer and the next stroke
    retrain_after_s: float | None = 20.0  # the first visitor clicks Retrain this long after arriving
    leave_wait_s: float = SESSION_TTL_S + 30  # after the last one leaves, before "after"
    server_args: tuple[str, ...] = ()  # extra `streamlit run` options (tests: a short TTL)
    env: dict[str, str] = field(default_factory=dict)  # extra server environment


FULL = Plan()
QUICK = Plan(sessions=3, arrive_s=1.0, draw_s=6.0, pause_s=(0.5, 1.0), retrain_after_s=None,
             leave_wait_s=8.0, server_args=("--server.disconnectedSessionTTL", "2"))


@dataclass
class Visitor:
    """What one simulated visitor saw."""
    latencies: list[float] = field(default_factory=list)  # seconds, answered strokes
    sent_at: list[float] = field(default_factory=list)  # perf_counter when each answered stroke was sent
    unanswered: int = 0
    recognised: int = 0  # finished digits read as the digit drawn
    digits: int = 0
    failure: str = ""  # why the visitor could not open the page, if so
    page_reruns: int = 0  # asked for by the run monitor (a run started or ended), as in a browser


@dataclass
class ClassResult:
    plan: Plan
    visitors: list[Visitor]
    rss_baseline: float  # bytes
    rss_peak: float
    rss_after: float
    retrain: str  # how the teacher's run went, one line
    seconds: float
    training: list[tuple[float, float]] = field(default_factory=list)  # (from, to) perf_counter: a run trained
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, RSS bytes)

    @property
    def latencies(self) -> list[float]:
        return [s for v in self.visitors for s in v.latencies]

    def latencies_while_training(self) -> list[float]:
        return [s for v in self.visitors for s, at in zip(v.latencies, v.sent_at)
                if any(start <= at <= end for start, end in self.training)]

    @property
    def strokes(self) -> int:
        return sum(len(v.latencies) + v.unanswered for v in self.visitors)

    @property
    def growth_mb(self) -> float:
        return (self.rss_peak - self.rss_baseline) / MB

    @property
    def after_pct(self) -> float:
        return (self.rss_after / self.rss_baseline - 1) * 100


def rss_bytes(pid: int) -> float:
    """A process's resident memory: psutil where installed, else Linux's /proc/<pid>/status."""
    try:
        import psutil
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) * 1024
        raise OSError(f"no VmRSS for process {pid}") from None
    return float(psutil.Process(pid).memory_info().rss)


async def watch_runs(url: str, spans: list[tuple[float, float]], every_s: float = 1.0) -> None:
    """Record when a training run trains, from the server's training route: (from, to) spans."""

    while True:
        with contextlib.suppress(OSError, ValueError):
            running = json.loads(await http_get(url + TRAINING_ROUTE))["running"]
            now = time.perf_counter()
            if running and spans and spans[-1][1] >= now - 2 * every_s:
                spans[-1] = (spans[-1][0], now)
            elif running:
                spans.append((now, now))
        await asyncio.sleep(every_s)


async def sample_rss(pid: int, samples: list[tuple[float, float]], started: float, every_s: float = 0.5) -> None:
    while True:
        with contextlib.suppress(OSError):
            samples.append((time.perf_counter() - started, rss_bytes(pid)))
        await asyncio.sleep(every_s)


async def visit(url: str, plan: Plan, index: int, teacher: list[str]) -> Visitor:
    """One visitor: arrive at their time, draw until their time is up (the first also clicks
    Retrain partway, and Cancel at the end if the run still trains), then leave."""
    me = Visitor()
    rng = np.random.default_rng(1000 + index)
    await asyncio.sleep(plan.arrive_s * index / max(1, plan.sessions - 1) if plan.sessions > 1 else 0)
    try:
        session = await LiveSession.open(url)
    except (Unanswered, OSError) as exc:
        me.failure = f"{type(exc).__name__}: {exc}"
        return me
    strokes, retrain_at = stroke_drawings(rng), None
    if index == 0 and plan.retrain_after_s is not None:
        retrain_at = time.perf_counter() + plan.retrain_after_s
    until = time.perf_counter() + plan.draw_s
    try:
        drawing = next(strokes)
        while time.perf_counter() < until:
            if retrain_at is not None and time.perf_counter() >= retrain_at:
                teacher.append(await click_retrain(session))
                retrain_at = None
            sent = time.perf_counter()
            try:
                answer = await session.draw(drawing)
            except Unanswered:
                me.unanswered += 1
                answer = None
            else:
                me.latencies.append(answer.seconds)
                me.sent_at.append(sent)
            following = next(strokes)
            if len(following.raw["objects"]) == 1:  # a new digit begins: this one is finished
                me.digits += 1
                me.recognised += answer is not None and answer.prediction == str(drawing.digit)
            drawing = following
            await asyncio.sleep(rng.uniform(*plan.pause_s))
        if index == 0 and teacher:
            teacher.append(await cancel_if_running(session))
    finally:
        await session.close()
    me.page_reruns = session.monitor_reruns
    return me


async def click_retrain(session: LiveSession) -> str:
    try:
        await session.click("Retrain")
    except (LookupError, Unanswered) as exc:
        return f"not started: {exc}"
    return "started"


async def cancel_if_running(session: LiveSession) -> str:
    """End of the drawing: the run's state from its route; Cancel it if it still trains."""

    state = json.loads(await http_get(session.url + TRAINING_ROUTE, session.cookie_header))
    if not state["running"]:
        return f"ended while they drew: {state['validation'] or state['training']}".rstrip(": ")
    done = f"{state['fraction']:.0%} trained when the drawing stopped ({state['detail']})"
    with contextlib.suppress(LookupError, Unanswered):
        await session.click("Cancel")
        return done + ", then cancelled"
    return done


async def run_class(plan: Plan) -> ClassResult:
    """Start a server, warm it up with one visit, let the class draw, wait for it to forget them."""
    with tempfile.TemporaryDirectory() as home:
        log = Path(home, "server.log")
        command = lambda port: [*browser.streamlit_command(port), *plan.server_args]  # noqa: E731
        env = {"MNIST_DRAW_HOME": home, **plan.env}
        with browser.running_server(env=env, log_path=log, command=command) as (url, proc):
            return await _measure(url, proc.pid, plan)


async def _measure(url: str, pid: int, plan: Plan) -> ClassResult:
    started = time.perf_counter()
    warm = await LiveSession.open(url, watch_training=False)
    for drawing, _ in zip(stroke_drawings(np.random.default_rng(0)), range(5)):
        await warm.draw(drawing)
    await warm.close()
    await asyncio.sleep(1.0)
    baseline = rss_bytes(pid)
    samples: list[tuple[float, float]] = []
    training: list[tuple[float, float]] = []
    watchers = [asyncio.create_task(sample_rss(pid, samples, started)), asyncio.create_task(watch_runs(url, training))]
    teacher: list[str] = []
    visitors = await asyncio.gather(*(visit(url, plan, i, teacher) for i in range(plan.sessions)))
    left = len(samples)
    await asyncio.sleep(plan.leave_wait_s)
    for task in watchers:
        task.cancel()
    after = statistics.median(rss for _, rss in samples[-6:])  # the last 3 s
    peak = max((rss for _, rss in samples[:left]), default=baseline)
    retrain = "; ".join(teacher) if teacher else "no retrain in this run"
    return ClassResult(plan, list(visitors), baseline, peak, after, retrain, time.perf_counter() - started, training,
                       samples)


def measure(sessions: int | None = None, quick: bool = False) -> ClassResult:
    plan = QUICK if quick else FULL
    if sessions:
        plan = replace(plan, sessions=sessions)
    return asyncio.run(run_class(plan))


def numbers_line(r: ClassResult) -> str:
    """The run in one line (the bench's last): latency, answers, memory."""
    lat = r.latencies
    return (f"class: {r.plan.sessions} sessions, median {statistics.median(lat) * 1e3:.0f} ms, "
            f"p99 {percentile(lat, 99) * 1e3:.0f} ms, answered {len(lat)}/{r.strokes}, "
            f"server memory +{r.growth_mb:.0f} MB ({r.growth_mb / r.plan.sessions:.1f} MB/session, "
            f"{r.after_pct:+.0f}% after they left)") if lat else \
        f"class: {r.plan.sessions} sessions, median - ms, p99 - ms, answered 0/{r.strokes}, server memory +0 MB"


def table(r: ClassResult) -> list[str]:
    lat = [s * 1e3 for s in r.latencies]
    failed = [v.failure for v in r.visitors if v.failure]
    n = r.plan.sessions
    ms = (lambda q: f"{percentile(lat, q):.0f} ms") if lat else (lambda q: "-")
    busy = [s * 1e3 for s in r.latencies_while_training()]
    trained_s = sum(end - start for start, end in r.training)
    return ["| stroke → Prediction (server's part) | measured | goal |", "| --- | --- | --- |",
            f"| median | {ms(50)} | ≤ 400 ms |",
            f"| p90 | {ms(90)} | |",
            f"| p99 | {ms(99)} | ≤ 1,500 ms |",
            f"| max | {max(lat):.0f} ms | |" if lat else "| max | - | |",
            f"| median, p99 while the run trained ({len(busy)} strokes, {trained_s:.0f} s) | "
            + (f"{statistics.median(busy):.0f} ms, {percentile(busy, 99):.0f} ms |" if busy else "- |")
            + " ≤ 400 ms, ≤ 1,500 ms |",
            f"| strokes answered | {len(lat)}/{r.strokes} | all |",
            f"| finished digits read as the digit drawn | {sum(v.recognised for v in r.visitors)}/"
            f"{sum(v.digits for v in r.visitors)} | |",
            f"| visitors who could not open the page | {len(failed)}{': ' + failed[0] if failed else ''} | 0 |",
            f"| the teacher's retrain | {r.retrain} | |",
            f"| page reruns the run monitor asked for (a run started or ended) | "
            f"{sum(v.page_reruns for v in r.visitors)} | |",
            "",
            "| server memory (RSS of `streamlit run`) | MB | goal |", "| --- | --- | --- |",
            f"| baseline, after one warm-up visit | {r.rss_baseline / MB:.0f} | |",
            f"| peak while {n} draw | {r.rss_peak / MB:.0f} (+{r.growth_mb:.0f}, {r.growth_mb / n:.1f} per session) "
            "| ≤ 30 per session |",
            f"| {r.plan.leave_wait_s:.0f} s after they left | {r.rss_after / MB:.0f} ({r.after_pct:+.1f}%) "
            "| within 10% |"]


def section(quick: bool, sessions: int | None = None) -> tuple[str, str, list[str], str]:
    """The bench area: (title, intro, table rows, the numbers line)."""
    load_before = os.getloadavg()[0]
    r = measure(sessions, quick)
    p = r.plan
    intro = (f"{dt.date.today().isoformat()}, {os.cpu_count()} cores, load average {load_before:.1f} before and "
             f"{os.getloadavg()[0]:.1f} after (this benchmark's server, worker and client included). "
             "`python -m mnist_cnn bench --area class "
             f"--sessions {p.sessions}`: {p.sessions} simulated visitors (Streamlit's own websocket protocol, "
             f"bench/live_session.py) arrive over {p.arrive_s:.0f} s and each draws for {p.draw_s:.0f} s, a stroke "
             f"every {p.pause_s[0]:g}-{p.pause_s[1]:g} s after the last answer; "
             + (f"the first clicks Retrain (the default recipe) after {p.retrain_after_s:.0f} s. "
                if p.retrain_after_s is not None else "nobody retrains. ")
             + f"Latency is the server's part of a stroke (sent → Prediction received); a browser adds the "
             f"canvas' ~200 ms send delay. {r.seconds:.0f} s in all.")
    return "A class on one server", intro, table(r), numbers_line(r)
