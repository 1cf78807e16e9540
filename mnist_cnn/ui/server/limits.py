"""Limits so one visitor cannot spoil a shared server for the others (the numbers: config.LIMITS).

One ASGI middleware (LimitsMiddleware, first in app.py's st.App) sees every request and websocket
before Streamlit does and refuses, at once and in one line, what is over a limit:

- the first-second canvas's predictions (config.PREDICT_ROUTE): a few answered at once
  server-wide (503 beyond), per browser and per address (429); the model runs in a worker thread
  (shell.predict), never on the server's event loop, and a body slower than
  config.PREDICT_BODY_TIMEOUT_S gives its place up (408);
- Streamlit sessions, each a websocket at /_stcore/stream: new ones a minute and open ones at
  once, per browser and per address (429). A tab asking for the page while its browser is over
  the limit gets a short page saying so instead of an app that cannot connect;
- uploads (the Draw tab's picture, PUT /_stcore/upload_file/...): a few at once server-wide, per
  browser and per address, and a few a minute per browser and per address (429/503). Each is at
  most server.maxUploadSize.

Who a visitor is: its browser's id cookie (ui/browser_id.py) and its address, both counted. The
cookie tells apart the browsers of a class behind one school router (one address); the address
bounds a client that invents a new cookie for every request. So the per-address limits are sized
for a class (config.LIMITS). The address is Streamlit's server's (uvicorn's) `scope["client"]`,
which takes X-Forwarded-For only from a proxy it trusts (FORWARDED_ALLOW_IPS, by default the
loopback addresses: nginx on the same machine), and then its last address not trusted, the one
nginx itself saw; a visitor's own X-Forwarded-For is never believed.

The hook is Streamlit's public st.App(middleware=...), which wraps its websocket route too; the
two paths it watches are Streamlit's own, read from Streamlit and checked at start-up
(streamlit_paths), so a Streamlit that moves them is logged, not silently unlimited.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mnist_cnn import config
from mnist_cnn.ui import browser_id

log = logging.getLogger(__name__)

STREAM_PATH, UPLOAD_PATH = "_stcore/stream", "_stcore/upload_file"  # where Streamlit 1.67 serves them
TOO_MANY_PREDICTIONS = "Too many predictions at once from this browser; wait for the last answer."
SERVER_BUSY = "The server is busy answering others; try again in a moment."
TOO_SLOW = "The picture arrived too slowly; send it again."
TOO_MANY_SESSIONS = ("Too many MNIST Draw pages opened from this browser in the last minute; close some tabs "
                     "and reload in a minute.")
TOO_MANY_FROM_ADDRESS = ("Too many MNIST Draw pages opened from this network in the last minute; try again in "
                         "a minute.")
TOO_MANY_UPLOADS = "Too many uploads from this browser; wait a moment and try again."
TOO_MANY_PREDICTIONS_FROM_ADDRESS = "Too many predictions at once from this network; try again in a moment."
TOO_MANY_UPLOADS_FROM_ADDRESS = "Too many uploads from this network; wait a minute and try again."
SWEEP_EVERY = 1_000  # calls between dropping the visitors no longer counted


def streamlit_paths() -> tuple[str, str]:
    """The websocket's and the uploads' paths as this Streamlit serves them (without base path)."""
    try:
        from streamlit.web.server.starlette.starlette_routes import BASE_ROUTE_UPLOAD_FILE
        from streamlit.web.server.starlette.starlette_websocket import _ROUTE_WEBSOCKET_STREAM
    except ImportError:
        log.warning("this Streamlit does not say where its websocket is; limiting %s and %s", STREAM_PATH, UPLOAD_PATH)
        return STREAM_PATH, UPLOAD_PATH
    found = (_ROUTE_WEBSOCKET_STREAM.strip("/"), BASE_ROUTE_UPLOAD_FILE.strip("/"))
    if found != (STREAM_PATH, UPLOAD_PATH):
        log.warning("Streamlit now serves its websocket and uploads at %s; the limits follow it", found)
    return found


class Window:
    """How many times each key was seen in the last config.LIMIT_WINDOW_S seconds."""

    def __init__(self) -> None:
        self._seen: dict[str, collections.deque[float]] = {}
        self._calls = 0

    def count(self, key: str, now: float) -> int:
        times = self._seen.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - config.LIMIT_WINDOW_S:
            times.popleft()
        return len(times)

    def add(self, key: str, now: float) -> None:
        self._seen.setdefault(key, collections.deque()).append(now)
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._seen = {k: t for k, t in self._seen.items() if self.count(k, now)}


class Counter:
    """How many of something each key holds right now (requests in flight, open websockets)."""

    def __init__(self) -> None:
        self._held: collections.Counter[str] = collections.Counter()

    def __getitem__(self, key: str) -> int:
        return self._held[key]

    @contextmanager
    def holding(self, *keys: str) -> Iterator[None]:
        for key in keys:
            self._held[key] += 1
        try:
            yield
        finally:
            for key in keys:
                self._held[key] -= 1
                if not self._held[key]:
                    del self._held[key]


def visitor(scope: dict) -> tuple[str | None, str]:
    """(the browser's id if it sent a valid one, its address), each as a counter key."""
    bid = browser_id.cookies(scope).get(config.BROWSER_COOKIE)
    client = scope.get("client")
    address = f"address:{client[0] if client else 'unknown'}"
    return (f"browser:{bid}" if browser_id.is_valid(bid) else None), address


async def send_json(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), (b"retry-after", b"5")]})
    await send({"type": "http.response.body", "body": body})


async def send_page(send: Any, message: str) -> None:
    """A browser's tab over its limit: a page that says so, in the app's words."""
    from html import escape

    body = (f"<!doctype html><meta charset=utf-8><title>{escape(config.PAGE_TITLE)}</title>"
            f"<h1>{escape(config.APP_TITLE)}</h1><p>{escape(message)}</p>").encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"retry-after", b"60")]})
    await send({"type": "http.response.body", "body": body})


async def refuse_websocket(scope: dict, send: Any, message: str) -> None:
    """Turn a websocket away before it opens: a 429 with the reason where the server can send
    one (uvicorn can), else a close that carries it."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = message.encode()
        await send({"type": "websocket.http.response.start", "status": 429,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1013, "reason": message[:120]})


def with_body_timeout(receive: Any, seconds: float) -> Any:
    """`receive`, but a body that does not arrive within `seconds` of the first call ends it."""
    deadline = time.monotonic() + seconds

    async def receive_in_time() -> dict:
        return await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))

    return receive_in_time


class LimitsMiddleware:
    """The limits, in front of Streamlit and the app's routes (see the module's docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stream, self.upload = streamlit_paths()
        self.sessions_opened, self.uploads_done = Window(), Window()
        self.open_sessions, self.predicting, self.uploading = Counter(), Counter(), Counter()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "websocket" and path.rstrip("/").endswith(self.stream):
            return await self.session(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method") == "POST" and path.endswith(config.PREDICT_ROUTE):
            return await self.prediction(scope, receive, send)
        if scope.get("method") in ("PUT", "POST") and f"/{self.upload}/" in path:
            return await self.upload_file(scope, receive, send)
        if browser_id.asks_for_a_page(scope):
            why_not = self.why_no_session(*visitor(scope), time.monotonic())
            if why_not:
                return await send_page(send, why_not)
        return await self.app(scope, receive, send)

    @staticmethod
    def over(key: str, now: float, window: Window, per_minute: str, held: Counter, at_once: str) -> bool:
        """Whether `key` is at its limit of `per_minute` new ones or of `at_once` held now."""
        return window.count(key, now) >= config.limit(per_minute) or held[key] >= config.limit(at_once)

    @staticmethod
    def counted(window: Window, browser: str | None, address: str, now: float) -> list[str]:
        """The visitor's keys, each with one more in `window`."""
        keys = [k for k in (browser, address) if k]
        for key in keys:
            window.add(key, now)
        return keys

    def why_no_session(self, browser: str | None, address: str, now: float) -> str | None:
        """Why this visitor may not open another Streamlit session now, or None."""
        opened, held = self.sessions_opened, self.open_sessions
        if browser and self.over(browser, now, opened, "SESSIONS_PER_BROWSER_PER_MINUTE", held,
                                 "OPEN_SESSIONS_PER_BROWSER"):
            return TOO_MANY_SESSIONS
        if self.over(address, now, opened, "SESSIONS_PER_ADDRESS_PER_MINUTE", held, "OPEN_SESSIONS_PER_ADDRESS"):
            return TOO_MANY_FROM_ADDRESS
        return None

    async def session(self, scope: dict, receive: Any, send: Any) -> None:
        browser, address = visitor(scope)
        now = time.monotonic()
        why_not = self.why_no_session(browser, address, now)
        if why_not:
            log.info("refused a session from %s %s: %s", browser or "", address, why_not)
            return await refuse_websocket(scope, send, why_not)
        with self.open_sessions.holding(*self.counted(self.sessions_opened, browser, address, now)):
            await self.app(scope, receive, send)

    async def prediction(self, scope: dict, receive: Any, send: Any) -> None:
        browser, address = visitor(scope)
        if browser and self.predicting[browser] >= config.limit("PREDICT_IN_FLIGHT_PER_BROWSER"):
            return await send_json(send, 429, TOO_MANY_PREDICTIONS)
        if self.predicting[address] >= config.limit("PREDICT_IN_FLIGHT_PER_ADDRESS"):
            return await send_json(send, 429, TOO_MANY_PREDICTIONS_FROM_ADDRESS)
        if self.predicting["all"] >= config.limit("PREDICT_IN_FLIGHT"):
            return await send_json(send, 503, SERVER_BUSY)
        with self.predicting.holding(*(k for k in (browser, address) if k), "all"):
            try:
                await self.app(scope, with_body_timeout(receive, config.PREDICT_BODY_TIMEOUT_S), send)
            except TimeoutError:  # no answer was begun: shell.predict answers only once it has the body
                await send_json(send, 408, TOO_SLOW)

    def why_no_upload(self, browser: str | None, address: str, now: float) -> str | None:
        """Why this visitor may not upload now (the browser's limits, then its address's), or None."""
        done, held = self.uploads_done, self.uploading
        if browser and self.over(browser, now, done, "UPLOADS_PER_BROWSER_PER_MINUTE", held,
                                 "UPLOADS_IN_FLIGHT_PER_BROWSER"):
            return TOO_MANY_UPLOADS
        if self.over(address, now, done, "UPLOADS_PER_ADDRESS_PER_MINUTE", held, "UPLOADS_IN_FLIGHT_PER_ADDRESS"):
            return TOO_MANY_UPLOADS_FROM_ADDRESS
        return None

    async def upload_file(self, scope: dict, receive: Any, send: Any) -> None:
        browser, address = visitor(scope)
        now = time.monotonic()
        why_not = self.why_no_upload(browser, address, now)
        if why_not:
            return await send_json(send, 429, why_not)
        if self.uploading["all"] >= config.limit("UPLOADS_IN_FLIGHT"):
            return await send_json(send, 503, SERVER_BUSY)
        with self.uploading.holding(*self.counted(self.uploads_done, browser, address, now), "all"):
            await self.app(scope, receive, send)
