"""A visitor without a browser: one Streamlit session driven over Streamlit 1.67's own protocol.

A browser talks to `streamlit run app.py` over one websocket (`/_stcore/stream`): it sends
`BackMsg`s (a rerun with the widgets' values) and receives `ForwardMsg`s (the page's elements as
deltas, then "script finished"). `LiveSession` does the same with the protobuf classes Streamlit
ships (`streamlit.proto`), so dozens of visitors fit where dozens of Chromiums would not. It only
ever connects to 127.0.0.1.

    session = await LiveSession.open(url)                  # the page, as a browser opens it
    answer = await session.draw(drawing)                   # a canvas stroke -> Answer(seconds, "7")
    await session.click("Retrain")                         # a button, by its label
    await session.close()                                  # the visitor leaves
    await http_get(url + "/api/training", session.cookie_header)  # a route, as the page's fetch()

What a stroke is: the canvas (streamlit-drawable-canvas 0.13, a Components v2 element) sends its
whole state, `{"drawing": {"raw": <Fabric.js JSON>, "data": <PNG data URL>}}`, as the JSON value
of its widget, and since the canvas lives in an `st.fragment` (ui/draw.py's digit_panel), the
rerun names that fragment: only the fragment runs, and its Prediction metric is the answer.
`stroke_drawings` makes such drawings, one stroke at a time, of hand-drawn-looking digits.

Measured here is the server's part of a stroke: from sending the stroke to receiving its
Prediction. A browser adds the canvas' own send delay (about 200 ms after the pen lifts) and
drawing the answer on screen.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import websockets
from websockets.exceptions import ConnectionClosed

from mnist_cnn.config import BROWSER_COOKIE, CANVAS_INK, CANVAS_PAPER, CANVAS_SIZE, DEFAULT_STROKE_WIDTH
from mnist_cnn.ui import browser_id

CANVAS_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"
RUN_MONITOR_COMPONENT = "mnist_draw.run_monitor"
PREDICTION_LABEL = "Prediction"
ANSWER_TIMEOUT_S = 15.0  # a stroke with no Prediction by then is unanswered
RUN_TIMEOUT_S = 60.0  # a whole page run (the first one, a button's) may load more
STREAM_PATH = "/_stcore/stream"
LOOPBACK = "127.0.0.1"


class Unanswered(Exception):
    """The server did not answer in time (or closed the connection)."""


@dataclass(frozen=True)
class Drawing:
    """What the canvas holds after a stroke: the digit meant, the canvas' PNG (a data URL) and
    its Fabric.js JSON, as the canvas component sends them."""
    digit: int
    data_url: str
    raw: dict


@dataclass(frozen=True)
class Answer:
    """A stroke's answer: seconds from sending it to its Prediction arriving, and the value shown."""
    seconds: float
    prediction: str


def new_browser_id() -> str:
    """A browser cookie value (config.BROWSER_COOKIE) as the server makes them: each simulated
    person has their own, so per-browser limits apply to each (ui/browser_id.py)."""
    return browser_id.new_id()


class LiveSession:
    """One visitor's page: its websocket, the elements the server sent, the widgets' values."""

    @classmethod
    async def open(cls, url: str, query: str = "", browser_id: str | None = None,
                   fetch_html: bool = True, watch_training: bool = True) -> LiveSession:
        """Open the page at `url` (http://127.0.0.1:port) as a browser does: navigate to it with
        the browser's cookie (`fetch_html`), connect the websocket, run the page with its query
        string, and wait for the run to finish. `watch_training`: also do what the sidebar's run
        monitor does in a browser (ui/run_monitor.js): poll the training route every 2-3 s and
        rerun the page when a run starts or ends."""
        session = cls(url, query, browser_id or new_browser_id())
        if fetch_html:
            await asyncio.to_thread(session._fetch_page)
        session._ws = await _connect(session._ws_url(), session.cookie_header)
        await session._run(widgets=[], fragment_id="", timeout=RUN_TIMEOUT_S)
        if watch_training:
            session._watcher = asyncio.create_task(session._watch_training())
        return session

    async def draw(self, drawing: Drawing, timeout: float = ANSWER_TIMEOUT_S) -> Answer:
        """Send one canvas stroke (the whole drawing so far) and wait for its Prediction.
        Raises Unanswered when none arrives within `timeout` seconds."""
        canvas = self.find("bidi_component", component=CANVAS_COMPONENT)
        value = {"drawing": {"raw": drawing.raw, "data": drawing.data_url}}
        state = self._widget(canvas.id, json_value=json.dumps(value))
        started = time.perf_counter()
        prediction, arrived = await self._run([state], canvas.fragment_id, timeout)
        if arrived is None:
            raise Unanswered("the run ended without a Prediction")
        return Answer(arrived - started, prediction)

    async def click(self, label: str, timeout: float = RUN_TIMEOUT_S) -> None:
        """Press the button labelled `label` and wait for the page (or its fragment) to finish."""
        button = self.find("button", label=label)
        await self._run([self._widget(button.id, trigger_value=True, keep=False)], button.fragment_id, timeout)

    def find(self, kind: str, label: str | None = None, component: str | None = None) -> Element:
        """The element of `kind` (the Element proto's field: "button", "metric", "bidi_component",
        ...) on the page now, with this label or component name; LookupError if there is none."""
        for element in self.elements.values():
            proto = element.proto
            if element.kind == kind and (label is None or getattr(proto, "label", None) == label) \
                    and (component is None or getattr(proto, "component_name", None) == component):
                return element
        raise LookupError(f"no {kind} {label or component or ''} on the page".replace("  ", " "))

    def texts(self) -> list[str]:
        """Every text on the page now (markdown, alerts, captions, headings, metric values), in page order."""
        return [e.text for _, e in sorted(self.elements.items()) if e.text]

    @property
    def prediction(self) -> str | None:
        """The Prediction metric's value now (None when the page shows none)."""
        try:
            return self.find("metric", label=PREDICTION_LABEL).text
        except LookupError:
            return None

    async def close(self) -> None:
        """Leave: close the websocket, as closing the tab does."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # ---- the protocol -------------------------------------------------------------------------

    def __init__(self, url: str, query: str, browser_id: str) -> None:
        parts = urlsplit(url)
        if parts.hostname != LOOPBACK:
            raise ValueError(f"LiveSession only connects to {LOOPBACK}, not {parts.hostname}")
        self.url, self.query, self.browser_id = url.rstrip("/"), query.lstrip("?"), browser_id
        self.elements: dict[tuple[int, ...], Element] = {}
        self._widgets: dict[str, object] = {}  # id -> WidgetState proto, sent with every rerun
        self._page_hash = ""
        self._runs = 0
        self._late: str | None = None  # the fragment ("": the page) of a run that timed out unfinished
        self._lock = asyncio.Lock()  # one run at a time on the websocket (a stroke, a click, the monitor's rerun)
        self._watcher: asyncio.Task | None = None
        self.monitor_reruns = 0  # page reruns the run monitor asked for
        self._ws = None

    @property
    def cookie_header(self) -> str:
        return f"{BROWSER_COOKIE}={self.browser_id}"

    def _ws_url(self) -> str:
        return "ws" + self.url[len("http"):] + STREAM_PATH

    def _fetch_page(self) -> None:
        page = self.url + "/" + (f"?{self.query}" if self.query else "")
        request = urllib.request.Request(page, headers={"Accept": "text/html", "Cookie": self.cookie_header})
        with urllib.request.urlopen(request, timeout=RUN_TIMEOUT_S) as response:
            response.read()

    def _widget(self, widget_id: str, keep: bool = True, **value):
        """A WidgetState for this widget; kept (and sent again with later reruns) unless a trigger."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=widget_id, **value)
        if keep:
            self._widgets[widget_id] = state
        return state

    async def _run(self, widgets: list, fragment_id: str, timeout: float) -> tuple[str, float | None]:
        """Ask for a rerun (of `fragment_id`'s fragment, or the page) with every kept widget value
        and these, and read the server's messages until the run finishes. Returns the Prediction
        the run sent and when it arrived (perf_counter; None if it sent none)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string, rerun.page_script_hash, rerun.fragment_id = self.query, self._page_hash, fragment_id
        rerun.context_info.url = self.url + "/" + (f"?{self.query}" if self.query else "")
        rerun.widget_states.widgets.extend({**self._widgets, **{w.id: w for w in widgets}}.values())
        async with self._lock:
            return await self._run_locked(message, fragment_id, timeout)

    async def _run_locked(self, message, fragment_id: str, timeout: float) -> tuple[str, float | None]:
        try:
            if self._late is not None:  # the last run's answer is still on its way: read it first
                await asyncio.wait_for(self._read_run(self._late), timeout)
                self._late = None
            self._runs += 1
            await self._ws.send(message.SerializeToString())
            self._late = fragment_id
            answer = await asyncio.wait_for(self._read_run(fragment_id), timeout)
            self._late = None
            return answer
        except (TimeoutError, OSError, ConnectionClosed) as exc:
            raise Unanswered(f"no answer within {timeout:.0f} s ({type(exc).__name__})") from None

    async def _watch_training(self) -> None:
        """ui/run_monitor.js's poll, for this page: fetch the run's state every poll_running_ms
        (poll_idle_ms while none runs); when its key is not the one the page was drawn for, ask
        once for a page rerun through the component's "changed" trigger."""
        from streamlit.components.v2.bidi_component.main import _make_trigger_id  # the trigger widget's id

        asked = None
        while True:
            try:
                monitor = self.find("bidi_component", component=RUN_MONITOR_COMPONENT)
            except LookupError:  # not on the page (now): nothing polls
                await asyncio.sleep(1.0)
                continue
            data = json.loads(monitor.proto.json)
            await asyncio.sleep((data["poll_running_ms"] if data["initial"]["running"] else data["poll_idle_ms"]) / 1e3)
            try:
                state = json.loads(await http_get(self.url + data["url"], self.cookie_header))
            except (OSError, ValueError):
                continue  # the browser retries at the next tick too
            key = json.dumps(state["key"])
            if key != json.dumps(data["initial"]["key"]) and key != asked:
                asked = key
                trigger = json.dumps([{"event": "changed", "value": state["key"]}])
                with contextlib.suppress(Unanswered):
                    await self._run([self._widget(_make_trigger_id(monitor.id, "events"), keep=False,
                                                  json_trigger_value=trigger)], "", RUN_TIMEOUT_S)
                self.monitor_reruns += 1

    async def _read_run(self, fragment_id: str) -> tuple[str, float | None]:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        prediction, arrived = "", None
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self._ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self._page_hash = msg.new_session.page_script_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") in ("new_element", "add_block"):
                element = self._take(msg)
                if element.kind == "metric" and element.label == PREDICTION_LABEL and arrived is None:
                    prediction, arrived = element.text, time.perf_counter()
            elif kind == "script_finished" and msg.script_finished != msg.FINISHED_EARLY_FOR_RERUN:
                self._forget_stale(fragment_id)
                return prediction, arrived

    def _take(self, msg) -> Element:
        delta = msg.delta
        if delta.WhichOneof("type") == "add_block":
            element = Element("block", delta.add_block, delta.fragment_id, self._runs)
        else:
            kind = delta.new_element.WhichOneof("type")
            element = Element(kind, getattr(delta.new_element, kind), delta.fragment_id, self._runs)
        self.elements[tuple(msg.metadata.delta_path)] = element
        return element

    def _forget_stale(self, fragment_id: str) -> None:
        """What the browser removes when a run ends: elements the run did not send again (within
        its fragment, for a fragment's run)."""
        self.elements = {path: e for path, e in self.elements.items()
                         if e.run == self._runs or (fragment_id and e.fragment_id != fragment_id)}


TEXT_KINDS = ("markdown", "alert", "heading", "metric", "text")


@dataclass
class Element:
    """One element on the page: its kind (the Element proto's field name, or "block"), its proto,
    the fragment it belongs to ("" for none) and the run that last sent it."""
    kind: str
    proto: object = field(repr=False)
    fragment_id: str
    run: int

    @property
    def id(self) -> str:
        return getattr(self.proto, "id", "")

    @property
    def label(self) -> str:
        return getattr(self.proto, "label", "")

    @property
    def text(self) -> str:
        return getattr(self.proto, "body", "") if self.kind in TEXT_KINDS else ""


async def http_get(url: str, cookie: str = "") -> bytes:
    """GET `url` (http://127.0.0.1:port/path) as fetch() in the page does, with the browser's
    cookie header (a LiveSession's `cookie_header`); the body. OSError for anything but 200."""
    parts = urlsplit(url)
    if parts.hostname != LOOPBACK:
        raise ValueError(f"only {LOOPBACK}, not {parts.hostname}")
    reader, writer = await asyncio.open_connection(LOOPBACK, parts.port)
    cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
    try:
        writer.write(f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n{cookie_line}"
                     "Accept: application/json\r\nConnection: close\r\n\r\n".encode())
        response = await asyncio.wait_for(reader.read(), RUN_TIMEOUT_S)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise OSError(head.split(b"\r\n", 1)[0].decode("latin-1"))
    return body


async def _connect(ws_url: str, cookie: str):
    return await websockets.connect(ws_url, subprotocols=["streamlit"], additional_headers={"Cookie": cookie},
                                    max_size=None, open_timeout=RUN_TIMEOUT_S)


# ---- drawings -------------------------------------------------------------------------------------


def stroke_drawings(rng: np.random.Generator) -> Iterator[Drawing]:
    """Endless strokes as a person draws digits on the app's canvas: a random digit in one of
    the ways people write it (data/strokes.py), slanted, sized and placed at random, sent after
    each of its strokes; then the canvas is cleared for the next digit. No two are alike, so no
    cache makes the server's work trivial."""
    from mnist_cnn.data.strokes import DIGITS, draw_polylines, place_glyphs

    size = (CANVAS_SIZE, CANVAS_SIZE)
    while True:
        digit = int(rng.integers(10))
        glyph = DIGITS[digit][int(rng.integers(len(DIGITS[digit])))]
        paths = place_glyphs([glyph], size, rng, height=float(rng.uniform(0.35, 0.8)))
        pen = float(rng.uniform(0.7, 1.3) * DEFAULT_STROKE_WIDTH)
        for drawn in range(1, len(paths) + 1):
            ink = draw_polylines(paths[:drawn], size, pen, 1.0, smooth=True)
            yield Drawing(digit, canvas_png(ink), fabric_json(paths[:drawn], pen))


def canvas_png(ink: np.ndarray) -> str:
    """The canvas' PNG data URL for uint8 ink (H, W): ink colour on the paper colour, opaque, as
    the canvas' toDataURL gives it."""
    from PIL import Image

    paper, pen = (np.array(_rgb(c), np.float32) for c in (CANVAS_PAPER, CANVAS_INK))
    alpha = ink[..., None].astype(np.float32) / 255
    rgb = (paper * (1 - alpha) + pen * alpha).round().astype(np.uint8)
    rgba = np.dstack([rgb, np.full(ink.shape, 255, np.uint8)])
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def fabric_json(paths: list[np.ndarray], pen: float) -> dict:
    """The canvas' Fabric.js JSON for these pen paths (what `json_data` holds in the app)."""
    def commands(path: np.ndarray) -> list:
        return [["M" if i == 0 else "L", round(float(x), 1), round(float(y), 1)] for i, (x, y) in enumerate(path)]

    objects = [{"type": "Path", "stroke": CANVAS_INK, "strokeWidth": round(pen), "fill": None,
                "strokeLineCap": "round", "strokeLineJoin": "round", "path": commands(p)} for p in paths]
    return {"version": "6.7.1", "objects": objects, "background": CANVAS_PAPER}


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)
