"""Warming the server up before it answers its first visitor, and the routes it serves beside the page.

`streamlit run app.py` finds app.py's `st.App` and runs `lifespan` before the server takes
requests, so its health check answers only once the first page needs nothing slow: the page's
modules (and the pandas and pyarrow that Streamlit imports when the canvas first sends its
arguments), the current model, and one NumPy prediction are already loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from mnist_cnn.config import PREDICT_ROUTE, TRAINING_ROUTE
from mnist_cnn.network import store
from mnist_cnn.ui.browser_id import BrowserIdMiddleware
from mnist_cnn.ui.server import memory, shell
from mnist_cnn.ui.server.limits import LimitsMiddleware
from mnist_cnn.ui.urls import route_url

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Load what a first visit to the Draw tab needs; returns the seconds it took."""
    started = time.perf_counter()
    import numpy as np
    import pandas  # noqa: F401 - Streamlit imports it on the canvas's first call (~1 s cold)
    import pyarrow  # noqa: F401
    import streamlit.emojis  # noqa: F401 - the page icon is checked against Streamlit's emoji table

    from mnist_cnn.reading.notdigit import gate_or_none
    from mnist_cnn.ui import common, draw, explain, filters, mistakes, my_drawings, sidebar  # noqa: F401

    clf = common.current_classifier()
    blank = np.zeros((1, 28, 28), np.float32)
    clf.predict_proba(blank)
    gate = gate_or_none()  # None: a missing or broken gate file, logged; drawings are read without it
    if gate is not None:
        gate.is_digit(blank[0])
    common.settle_memory()
    return time.perf_counter() - started


def training_state(request: Any) -> Any:
    """GET config.TRAINING_ROUTE: the server's run as run_monitor draws it, for its polling, with
    the current choice of model (a page reruns when it changes, even if another replica made it). A
    plain function, so Starlette runs it in a worker thread: it may wait for the run's lock."""
    from mnist_cnn.ui import common, run_monitor  # pages: loaded by warm_up, not when app.py imports the server

    state = run_monitor.payload(common.training_jobs().snapshot(), store.current_choice_stamp())
    return JSONResponse(state, headers={"Cache-Control": "no-store"})


def routes() -> list:
    """What st.App serves beside the page, each at its route and under the base path (the page's
    modules are imported only on a request): the run's state (config.TRAINING_ROUTE) and the
    first-second canvas's predictions (config.PREDICT_ROUTE, ui/server/shell.py)."""
    def both(route: str) -> list[str]:
        return list(dict.fromkeys([route, route_url(route)]))

    return ([Route(path, training_state, methods=["GET"]) for path in both(TRAINING_ROUTE)]
            + [Route(path, shell.predict, methods=["POST"]) for path in both(PREDICT_ROUTE)])


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """st.App's start-up hook: warm up, then serve, and meanwhile free what visitors who left
    held (ui/server/memory.py). A failed warm-up only costs the first visitor the time it would
    have saved."""
    memory.limit_malloc_arenas()  # before the warm-up's and the sessions' threads allocate
    try:
        seconds = await asyncio.to_thread(warm_up)
        log.info("warmed up in %.1f s", seconds)
    except Exception:  # noqa: BLE001 - never keep the server from starting
        log.exception("warm-up failed; the first visit will load what it needs itself")
    keeper = asyncio.create_task(memory.housekeeping())
    try:
        yield
    finally:
        keeper.cancel()


def middleware() -> list:
    """For app.py's st.App: first, the limits that keep one visitor from spoiling the server for
    others (ui/server/limits.py); then each browser's anonymous id (ui/browser_id.py) and the
    first-second page in Streamlit's HTML."""
    return [Middleware(LimitsMiddleware), Middleware(BrowserIdMiddleware), Middleware(shell.ShellMiddleware)]
