"""One visitor cannot spoil a shared server for the others (ui/server/limits.py), against a real
`streamlit run app.py` with the shipped limits (config.LIMITS): a flood of predictions, broken
pictures, a browser opening session after session, uploads held open. Each is refused at once in
one line, another browser is still answered, and the server is healthy afterwards.

Requests held open (a body announced and not sent) keep a place taken for as long as a test needs.
Sessions a browser piles up are plain websockets (Streamlit makes the session when one connects);
the other browser that must still get in is a whole visitor (bench/live_session.py): it opens the
page, draws a stroke and reads its prediction.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import zlib
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import live_http
import numpy as np
import pytest
from PIL import Image
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bench.live_session import LiveSession, stroke_drawings
from mnist_cnn.config import BROWSER_COOKIE, PREDICT_ROUTE, limit
from mnist_cnn.ui.server import limits

pytestmark = pytest.mark.slow

A, B, C = "a0a0a0a0a0a0", "b1b1b1b1b1b1", "c2c2c2c2c2c2"


def cookie(bid: str) -> dict[str, str]:
    return {"Cookie": f"{BROWSER_COOKIE}={bid}"}


def canvas_png(ink: bool = True) -> bytes:
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    if ink:
        canvas[40:240, 130:150, :3] = 255  # a "1"
    buf = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def predict(url: str, bid: str | None, body: bytes, source: str | None = None):
    headers = {"Content-Type": "image/png", **(cookie(bid) if bid else {})}
    return live_http.request(url, PREDICT_ROUTE, "POST", headers, body, source=source)


@contextmanager
def held_open(url: str, path: str, bid: str, method: str = "POST", source: str = "127.0.0.1"):
    """A request that announces a body and sends only its first bytes, until the block ends;
    yields a function that reads the server's answer (status, body). `source`: the loopback
    address it comes from (all of 127.0.0.0/8 is this machine), to stand for another network."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30, source_address=(source, 0))
    head = (f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: image/png\r\n"
            f"Content-Length: 10000\r\nCookie: {BROWSER_COOKIE}={bid}\r\n\r\n").encode()
    sock.sendall(head + b"\x89PNG")

    def answer() -> tuple[int, bytes]:
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    try:
        yield answer
    finally:
        sock.close()


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def session(url: str, bid: str | None):
    """A Streamlit session, as a browser's websocket opens one (a context manager)."""
    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    headers = {"Origin": url, **(cookie(bid) if bid else {})}
    return connect(ws_url, subprotocols=["streamlit"], additional_headers=headers, open_timeout=30)


def refused(url: str, bid: str | None) -> str | None:
    """Why a new session for this browser is refused (the server's one line), or None: it opened."""
    try:
        with session(url, bid):
            return None
    except InvalidStatus as exc:
        assert exc.response.status_code == 429
        return exc.response.body.decode()


def draws_and_is_answered(url: str, bid: str) -> bool:
    """A whole visit: the page, one stroke, its prediction."""
    async def visit() -> bool:
        visitor = await LiveSession.open(url, browser_id=bid, watch_training=False)
        try:
            answer = await visitor.draw(next(stroke_drawings(np.random.default_rng(0))))
            return bool(answer.prediction)
        finally:
            await visitor.close()

    return asyncio.run(visit())


def one_line_error(response) -> str:
    assert b"\n" not in response.data.strip()
    return json.loads(response.data)["error"]


def healthy(url: str) -> bool:
    return live_http.request(url, "/_stcore/health").status == 200 and predict(url, C, canvas_png()).status == 200


def test_a_browser_flooding_predictions_is_told_to_wait_while_another_is_answered(app_url):
    per_browser = limit("PREDICT_IN_FLIGHT_PER_BROWSER")
    with ExitStack() as stack:
        for _ in range(per_browser):
            stack.enter_context(held_open(app_url, PREDICT_ROUTE, A))
        flood = [predict(app_url, A, canvas_png()) for _ in range(10)]
        assert {r.status for r in flood} == {429}
        assert one_line_error(flood[0]) == limits.TOO_MANY_PREDICTIONS
        other = predict(app_url, B, canvas_png())
        assert other.status == 200 and json.loads(other.data)["value"] == "1"


def test_the_server_wide_cap_turns_the_next_browser_away_and_slow_bodies_give_their_place_up(app_url):
    everyone = limit("PREDICT_IN_FLIGHT")
    browsers = [f"{i:012x}" for i in range(everyone)]
    with ExitStack() as stack:  # each from a network of its own, so no address limit comes first
        held = [stack.enter_context(held_open(app_url, PREDICT_ROUTE, bid, source=f"127.0.0.{i + 2}"))
                for i, bid in enumerate(browsers)]
        busy = predict(app_url, B, canvas_png())
        assert busy.status == 503 and one_line_error(busy) == limits.SERVER_BUSY
        status, body = held[0]()  # the body never comes: after PREDICT_BODY_TIMEOUT_S the place is free
        assert status == 408 and json.loads(body)["error"] == limits.TOO_SLOW
    assert predict(app_url, B, canvas_png()).status == 200


def test_a_client_making_up_a_cookie_for_each_request_is_held_by_its_address(app_url):
    """Made-up browser ids get around the per-browser limits, not the address's: one client
    never holds every place, and another network is still answered."""
    per_address = limit("PREDICT_IN_FLIGHT_PER_ADDRESS")
    assert per_address < limit("PREDICT_IN_FLIGHT")
    with ExitStack() as stack:
        for i in range(per_address):
            stack.enter_context(held_open(app_url, PREDICT_ROUTE, f"{0xfeed00 + i:012x}"))
        over = predict(app_url, f"{0xfeedff:012x}", canvas_png())
        assert over.status == 429 and one_line_error(over) == limits.TOO_MANY_PREDICTIONS_FROM_ADDRESS
        elsewhere = predict(app_url, B, canvas_png(), source="127.0.0.9")  # a place is left for another network
        assert elsewhere.status == 200 and json.loads(elsewhere.data)["value"] == "1"


@pytest.mark.parametrize("body, status", [
    (b"not a picture at all", 400),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 500, 400),  # a PNG's signature, then garbage
    (b"", 400),
])
def test_garbage_gets_one_line(app_url, body, status):
    response = predict(app_url, A, body)
    assert response.status == status and one_line_error(response)


def png_chunk(kind_and_data: bytes) -> bytes:
    return (len(kind_and_data) - 4).to_bytes(4, "big") + kind_and_data + zlib.crc32(kind_and_data).to_bytes(4, "big")


def test_a_huge_picture_is_refused_from_its_header(app_url):
    side = 20_000  # 400 megapixels that compress to a few kilobytes
    raw = zlib.compress(b"\0" * ((side // 8 + 1) * side), 9)
    header = b"IHDR" + side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    png = b"\x89PNG\r\n\x1a\n" + png_chunk(header) + png_chunk(b"IDAT" + raw) + png_chunk(b"IEND")
    response = predict(app_url, A, png)
    assert response.status == 400 and "at most" in one_line_error(response)
    huge = live_http.declare_only(app_url, PREDICT_ROUTE, 50_000_000)
    assert huge.status == 413 and one_line_error(huge)


def test_a_browser_opening_session_after_session_is_refused_while_another_gets_in(app_url):
    open_at_once, per_minute = limit("OPEN_SESSIONS_PER_BROWSER"), limit("SESSIONS_PER_BROWSER_PER_MINUTE")
    with ExitStack() as stack:
        for _ in range(open_at_once):
            stack.enter_context(session(app_url, A))
        assert refused(app_url, A) == limits.TOO_MANY_SESSIONS
        assert draws_and_is_answered(app_url, B)
    opened = open_at_once
    while opened < per_minute:  # closed ones still count for a minute
        assert refused(app_url, A) is None
        opened += 1
    assert refused(app_url, A) == limits.TOO_MANY_SESSIONS
    page = live_http.request(app_url, "/", headers={"Accept": "text/html", **cookie(A)})
    assert page.status == 429 and limits.TOO_MANY_SESSIONS.encode() in page.data
    other = live_http.request(app_url, "/", headers={"Accept": "text/html", **cookie(B)})
    assert other.status == 200
    assert healthy(app_url)


def test_a_class_behind_one_router_all_get_in(app_url):
    """30 first visits from one address within a minute, as a class arrives: each gets the page
    (and its id cookie), then opens its session with it."""
    ids = []
    for _ in range(30):
        first = live_http.request(app_url, "/", headers={"Accept": "text/html"})
        assert first.status == 200
        ids.append(first.getheader("Set-Cookie").split(";")[0].split("=")[1])
    with ExitStack() as stack:
        for bid in ids:
            stack.enter_context(session(app_url, bid))


def test_uploads_are_bounded_per_browser(app_url):
    path = "/_stcore/upload_file/some-session/some-file"

    def put(bid: str):
        return live_http.request(app_url, path, "PUT", {"Content-Type": "image/png", **cookie(bid)}, b"x")

    answers = [put(A) for _ in range(limit("UPLOADS_PER_BROWSER_PER_MINUTE"))]
    assert 429 not in {r.status for r in answers}  # Streamlit's own answers: no such session
    over = put(A)
    assert over.status == 429 and one_line_error(over) == limits.TOO_MANY_UPLOADS
    assert put(B).status != 429
    made_up = [put(f"{0xabc000 + i:012x}") for i in range(limit("UPLOADS_PER_ADDRESS_PER_MINUTE"))]
    assert made_up[-1].status == 429 and one_line_error(made_up[-1]) == limits.TOO_MANY_UPLOADS_FROM_ADDRESS
    assert healthy(app_url)
