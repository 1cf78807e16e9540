"""More than one server, with the real parts: two `streamlit run app.py` replicas sharing one
MNIST_DRAW_HOME (models, the current choice) and one PostgreSQL database (the drawings, the run's
lock), nginx in front of them with the repository's configuration (deploy/nginx.conf.template), and
two browsers that nginx keeps each on its own replica. Drawings saved through both land in the one
database; a model retrained through one is shown by the other within run_monitor.MODEL_PICKUP_S,
with no click, and the other cannot start a second run meanwhile.

Everything is started here, on 127.0.0.1 only: PostgreSQL (tests/postgres.py, conftest's
postgres_server) and nginx (tests/nginx.py) from Debian's packages.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from contextlib import ExitStack

import live_http
import nginx
import numpy as np
import pytest
from PIL import Image
from test_e2e_drawings import digit_choice
from test_e2e_model_pickup import model_in_use
from waiting import wait_for

from bench import browser
from mnist_cnn.config import (
    BROWSER_COOKIE,
    CANVAS_SIZE,
    DATABASE_URL_ENV,
    MAX_PREDICT_PNG_BYTES,
    PREDICT_ROUTE,
    TRAIN_LIMIT_ENV,
    TRAINING_ROUTE,
)
from mnist_cnn.drawings.store import DrawingStore
from mnist_cnn.network import store
from mnist_cnn.ui import browser_id
from mnist_cnn.ui.run_monitor import MODEL_PICKUP_S

expect = browser.expect

pytestmark = [pytest.mark.slow, pytest.mark.replicas, pytest.mark.browser, pytest.mark.mnist]
TRAIN_IMAGES = 1_200  # a few seconds of training: a real, weak model
RUN_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    """The folder every replica shares (on several machines: a shared volume)."""
    return tmp_path_factory.mktemp("shared_home")


@pytest.fixture(scope="module")
def shared_database(postgres_server) -> str:
    """The database every replica shares: a fresh one on the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(scope="module")
def replica_env(shared_home, shared_database) -> dict[str, str]:
    return {"MNIST_DRAW_HOME": str(shared_home), DATABASE_URL_ENV: shared_database,
            TRAIN_LIMIT_ENV: str(TRAIN_IMAGES)}


@pytest.fixture(scope="module")
def servers(replica_env, tmp_path_factory) -> dict[str, subprocess.Popen]:
    """Two app servers, {address (host:port): process}; their logs are kept beside the temporary home."""
    logs = tmp_path_factory.mktemp("replica_logs")
    with ExitStack() as stack:
        started = [stack.enter_context(browser.running_server(env=replica_env, log_path=logs / f"replica{i}.log"))
                   for i in (1, 2)]
        yield {url.removeprefix("http://"): proc for url, proc in started}


@pytest.fixture(scope="module")
def replicas(servers) -> list[str]:
    return list(servers)


@pytest.fixture(scope="module")
def balancer(replicas, tmp_path_factory) -> str:
    with nginx.running_nginx(replicas, tmp_path_factory.mktemp("nginx")) as url:
        yield url


def served_by(url: str, browser_id_: str | None) -> str:
    """The replica nginx sends a browser with this id cookie (None: no cookie yet) to."""
    headers = {"Cookie": f"{BROWSER_COOKIE}={browser_id_}"} if browser_id_ else {}
    return live_http.request(url, "/_stcore/health", headers=headers).getheader(nginx.UPSTREAM_HEADER)


def an_id_for_each(url: str, replicas: list[str]) -> dict[str, str]:
    """{replica: a browser id nginx sends to it}: the hash decides, a few random ids find both."""
    found: dict[str, str] = {}
    for _ in range(100):
        bid = browser_id.new_id()
        found.setdefault(served_by(url, bid), bid)
        if len(found) == len(replicas):
            return found
    raise AssertionError(f"100 browser ids all went to {list(found)}")


def children(proc: subprocess.Popen) -> list[str]:
    """The command lines of a server's child processes (its training worker, while one runs)."""
    pids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    return [subprocess.run(["ps", "-o", "args=", "-p", pid], capture_output=True, text=True).stdout
            for pid in pids.split()]


def trains(proc: subprocess.Popen) -> bool:
    return any("mnist_cnn.training.worker" in c for c in children(proc))


def test_a_browser_stays_on_one_replica(balancer, replicas):
    ids = an_id_for_each(balancer, replicas)
    assert sorted(ids) == sorted(replicas)
    for replica, bid in ids.items():
        assert {served_by(balancer, bid) for _ in range(5)} == {replica}
    first = live_http.request(balancer, "/", headers={"Accept": "text/html"})  # a first visit, no cookie
    assert first.status == 200 and first.getheader(nginx.UPSTREAM_HEADER) in replicas
    assert f"{BROWSER_COOKIE}=" in first.getheader("Set-Cookie")


def test_the_apps_routes_answer_through_nginx(balancer):
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[40:240, 130:150, :3] = 255  # a "1"
    picture = io.BytesIO()
    Image.fromarray(canvas).save(picture, "PNG")
    answer = live_http.request(balancer, PREDICT_ROUTE, "POST", {"Content-Type": "image/png"}, picture.getvalue())
    assert answer.status == 200 and json.loads(answer.data)["value"] == "1"
    # nginx lets a body up to the app's own cap through (it buffers it first, sparing the replicas slow
    # senders): the app refuses what is over it, in its own words
    over = live_http.request(balancer, PREDICT_ROUTE, "POST", {"Content-Type": "image/png"},
                             b"\0" * (MAX_PREDICT_PNG_BYTES + 1))
    assert over.status == 413 and "error" in json.loads(over.data)
    state = live_http.request(balancer, TRAINING_ROUTE)
    assert state.getheader("Cache-Control") == "no-store" and json.loads(state.data)["running"] is False


def open_as(chromium, url: str, bid: str):
    """A browser (its own context) carrying the id cookie `bid`, on the app through nginx; returns
    its page, canvas and the set of replicas that answered its HTTP requests."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": BROWSER_COOKIE, "value": bid, "url": url}])
    page = context.new_page()
    answered: set[str] = set()
    page.on("response", lambda r: answered.add(r.headers.get(nginx.UPSTREAM_HEADER.lower())) if r.url.startswith(url)
            else None)
    return page, browser.open_app(page, url), answered


def save_a_seven(page, canvas) -> None:
    browser.draw(page, canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
    expect(digit_choice(page, 1)).to_have_attribute("aria-checked", "true", timeout=browser.UI_TIMEOUT_MS)
    digit_choice(page, 7).click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as a 7.")).to_be_visible(timeout=browser.UI_TIMEOUT_MS)


def test_drawings_from_both_replicas_and_a_model_retrained_through_one_reaches_the_other(
        balancer, servers, replicas, shared_home, shared_database, monkeypatch):
    monkeypatch.setenv("MNIST_DRAW_HOME", str(shared_home))  # this process reads what the replicas share
    monkeypatch.setenv(DATABASE_URL_ENV, shared_database)
    ids = an_id_for_each(balancer, replicas)
    trainer_replica, other_replica = replicas
    with browser.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=browser.chromium_path(), headless=True,
                                     args=browser.CHROMIUM_ARGS)
        try:
            trainer, trainer_canvas, trainer_served = open_as(chromium, balancer, ids[trainer_replica])
            other, other_canvas, other_served = open_as(chromium, balancer, ids[other_replica])

            # A drawing saved through each replica: one database, each with its browser's id.
            save_a_seven(trainer, trainer_canvas)
            save_a_seven(other, other_canvas)
            assert sorted(d.session for d in DrawingStore().list()) == sorted(ids.values())
            assert not list(shared_home.glob("drawings.sqlite3*")), "the drawings went to SQLite"

            # Retrain through the first: the worker is that replica's; the other shows the run and
            # offers no second one (the run's lock is in the database).
            sidebar = trainer.get_by_test_id("stSidebar")
            sidebar.get_by_role("button", name="Retrain", exact=True).click()
            expect(sidebar.get_by_role("button", name="Cancel", exact=True)).to_be_visible(
                timeout=browser.UI_TIMEOUT_MS)
            assert trains(servers[trainer_replica]) and not trains(servers[other_replica])
            other_retrain = other.get_by_test_id("stSidebar").get_by_role("button", name="Retrain", exact=True)
            expect(other_retrain).to_be_disabled(timeout=browser.UI_TIMEOUT_MS)
            expect(sidebar.get_by_text(re.compile(r"^Trained improved: test accuracy"))).to_be_visible(
                timeout=RUN_TIMEOUT_MS)
            use_it = sidebar.get_by_role("button", name="Use it anyway")  # weaker than the shipped model
            if use_it.count():
                use_it.click()
            new_model = wait_for(lambda: store.current_model_path() != store.shipped_model_path()
                                 and store.current_model_path(), timeout=30, what="the new model made current")
            chosen = time.monotonic()

            # The other replica's page shows it unasked, and its next stroke is read by it.
            expect(model_in_use(other, new_model.name)).to_be_visible(timeout=MODEL_PICKUP_S * 1000)
            picked_up = time.monotonic() - chosen
            print(f"the other replica's page showed the new model {picked_up:.1f} s after it was made current")
            assert picked_up <= MODEL_PICKUP_S
            browser.draw(other, other_canvas, browser.vertical_stroke(0.5, 0.15, 0.85))
            expect(browser.prediction_value(other)).to_have_text(re.compile(r"^\d"), timeout=browser.UI_TIMEOUT_MS)
            expect(model_in_use(other, new_model.name)).to_be_visible()

            # Each browser's every request went to its own replica.
            assert trainer_served == {trainer_replica} and other_served == {other_replica}
        finally:
            chromium.close()
