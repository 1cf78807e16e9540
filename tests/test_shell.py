"""The page's first second (ui/shell.py): Streamlit's HTML gains a canvas of its own, and its
strokes are answered by the same model through config.PREDICT_ROUTE."""

import asyncio
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from mnist_cnn.config import PREDICT_ROUTE
from mnist_cnn.synthetic import canvas_set
from mnist_cnn.ui import shell

PAGE = b"<!DOCTYPE html><html><head><script type=module src=./static/js/index.js></script></head><body></body></html>"


def png(rgba: np.ndarray, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgba).convert("RGB" if fmt == "JPEG" else "RGBA").save(out, fmt)
    return out.getvalue()


def settings_of(page: bytes) -> dict:
    found = re.search(rb'<script id="mnist-draw-shell-settings" type="application/json">(.*?)</script>', page)
    return json.loads(found.group(1))


def test_streamlits_page_gains_the_canvas_once_before_its_own_script_runs():
    page = shell.inject(PAGE, "/base/api/predict")
    body = page[page.index(b"<body>"):]
    assert b'data-testid="shell-canvas"' in body and b"MNIST Draw" in body
    assert settings_of(page)["predictUrl"] == "/base/api/predict"
    assert page.index(b"<script>") > page.index(b"<body>")  # inline, at the end: it runs while the HTML is parsed
    assert shell.inject(page, "/api/predict") == page  # a page that has it already is left alone
    assert shell.inject(b'{"not": "html"}', "/api/predict") == b'{"not": "html"}'


def test_the_middleware_changes_html_only_and_says_its_new_length():
    async def app(scope, receive, send):
        kind = b"text/html" if scope["path"] == "/" else b"application/json"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind), (b"content-length", b"107"), (b"etag", b'"abc"')]})
        await send({"type": "http.response.body", "body": PAGE[:50], "more_body": True})
        await send({"type": "http.response.body", "body": PAGE[50:]})

    def get(path: str) -> tuple[dict, bytes]:
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path}
        asyncio.run(shell.ShellMiddleware(app, predict_url=PREDICT_ROUTE)(scope, None, send))
        return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])

    headers, body = get("/")
    assert body == shell.inject(PAGE, PREDICT_ROUTE) and int(headers[b"content-length"]) == len(body)
    assert b"etag" not in headers  # it described the page before the canvas was added
    headers, body = get("/data.json")
    assert body == PAGE and headers[b"content-length"] == b"107" and headers[b"etag"] == b'"abc"'


@pytest.mark.mnist
def test_strokes_on_the_first_canvas_are_answered_as_the_draw_tab_would(mnist, improved_clf):
    x_test, y_test = mnist[1]
    canvases = list(canvas_set(x_test, y_test, 40, seed=3))
    answers = [shell.answer_png(png(rgba), improved_clf) for rgba, _ in canvases]
    right = sum(a["value"] == str(label) for a, (_, label) in zip(answers, canvases))
    assert right >= 39, f"{right}/40 test digits read right from the canvas PNG"
    assert all(re.fullmatch(r"\d+% sure", a["delta"]) for a in answers if a["value"].isdigit())
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    assert shell.answer_png(png(blank), improved_clf) == {"value": "—", "delta": ""}


def test_what_is_not_a_canvas_png_gets_one_sentence(improved_clf):
    picture = np.zeros((280, 280, 4), np.uint8)
    for data in (b"", b"GIF89a not a png", png(picture, "JPEG"), png(np.zeros((2000, 10, 4), np.uint8)),
                 b"\x89PNG" + b"0" * 3_000_000):
        with pytest.raises(ValueError) as err:
            shell.answer_png(data, improved_clf)
        assert str(err.value).startswith(("send the canvas", "that is not a PNG")) and "\n" not in str(err.value)


def test_the_server_serves_the_predictions_beside_the_page():
    from mnist_cnn.ui.startup import routes

    served = {(r.path, tuple(sorted(r.methods))) for r in routes()}
    assert (PREDICT_ROUTE, ("POST",)) in served
