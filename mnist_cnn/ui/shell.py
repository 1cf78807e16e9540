"""The page's first second: a canvas to draw on before Streamlit's frontend has loaded.

On the 2-core machine Streamlit's own page takes 2-2.5 s from the first request to a drawable
canvas, and a page with nothing but the canvas takes as long (docs/BENCHMARKS.md, section 5): the
time goes to parsing Streamlit's bundle and loading the canvas component's script. So the server
adds a small page of its own to Streamlit's HTML (ShellMiddleware): the title, a plain canvas
and a Prediction line, drawn by an inline script (shell.js) as soon as the HTML arrives. Each
stroke is answered by the same model through a JSON route (config.PREDICT_ROUTE, predict()).
When Streamlit's canvas is ready, the strokes are drawn again on it, so the drawing and its
prediction carry over, and this page steps aside, the page scrolled so that Streamlit's canvas is
where this one was (a stroke begun at that moment still lands on a canvas).

For a second or two both pages are in the document. This one is hidden from assistive technology
and its words are drawn by CSS (attr(data-text)), so a search of the page by role or text
(a screen reader, a test) meets the app's own title and prediction only, never two of each.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from mnist_cnn import config
from mnist_cnn.config import CANVAS_SIZE

SHELL_ID = "mnist-draw-shell"
MAX_PNG_SIDE = 4 * CANVAS_SIZE  # the shell sends its canvas at CANVAS_SIZE; anything far larger is not from it
GIVE_UP_MS = 60_000  # a page whose canvas never comes (the script failed) is shown anyway
LOADING_NOTE = "Loading the rest of the app… what you draw here carries over."
HINT = "Draw one digit, large or small, anywhere."

_ASSETS = Path(__file__).with_suffix("")


def shell_html(predict_url: str) -> str:
    """The first-second page: markup, style, its settings as JSON and the script that runs it."""
    settings = {"id": SHELL_ID, "predictUrl": predict_url, "size": CANVAS_SIZE, "stroke": config.DEFAULT_STROKE_WIDTH,
                "giveUpMs": GIVE_UP_MS, "title": "MNIST Draw"}
    text = html.escape  # shown through CSS, attr(data-text): see the module's docstring
    return (
        f'<div id="{SHELL_ID}" aria-hidden="true">'
        '<aside class="mds-sidebar"></aside><main class="mds-main">'
        f'<h1 data-text="{text(config.APP_TITLE)}"></h1>'
        f'<p class="mds-caption" data-text="{text(config.APP_INTRO)}"></p>'
        '<div class="mds-row"><div class="mds-left">'
        f'<canvas width="{CANVAS_SIZE}" height="{CANVAS_SIZE}" data-testid="shell-canvas"></canvas>'
        f'<p class="mds-caption"><span data-text="{text(HINT)} "></span>'
        '<button type="button" tabindex="-1" class="mds-clear" data-text="Clear"></button></p>'
        '</div><div class="mds-right"><div class="mds-label" data-text="Prediction"></div>'
        '<div class="mds-value" data-testid="shell-answer" data-text="—"></div>'
        '<div class="mds-delta" data-testid="shell-delta" data-text=""></div>'
        f'<p class="mds-note" data-text="{text(LOADING_NOTE)}"></p></div></div></main></div>'
        f'<script id="{SHELL_ID}-settings" type="application/json">{json.dumps(settings)}</script>'
        f"<style>{_ASSETS.with_suffix('.css').read_text()}</style>"
        f"<script>{_ASSETS.with_suffix('.js').read_text()}</script>"
    )


def inject(page: bytes, predict_url: str) -> bytes:
    """Streamlit's HTML with the first-second page at the end of its body: an inline script there
    runs while the HTML is parsed, before Streamlit's deferred bundle."""
    if b"</body>" not in page or SHELL_ID.encode() in page:
        return page
    return page.replace(b"</body>", shell_html(predict_url).encode() + b"</body>", 1)


def answer_png(data: bytes, clf: Any) -> dict[str, Any]:
    """The answer to one stroke on the shell's canvas, as the Draw tab would show it: raises
    ValueError (one sentence) for anything that is not a PNG of a canvas."""
    from PIL import Image, UnidentifiedImageError

    from mnist_cnn.preprocess import canvas_to_mnist
    from mnist_cnn.ui.verdicts import NO_PREDICTION, judge, metric_text

    if not data or len(data) > config.MAX_PREDICT_PNG_BYTES:
        raise ValueError(f"send the canvas as a PNG of at most {config.MAX_PREDICT_PNG_BYTES:,} bytes")
    try:
        picture = Image.open(io.BytesIO(data))
        if picture.format != "PNG" or max(picture.size) > MAX_PNG_SIDE:
            raise ValueError(f"send the canvas as a PNG of at most {MAX_PNG_SIDE}x{MAX_PNG_SIDE} pixels")
        rgba = np.asarray(picture.convert("RGBA"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("that is not a PNG picture of the canvas") from exc
    image = canvas_to_mnist(rgba)
    if image is None:
        return {"value": NO_PREDICTION, "delta": ""}
    value, delta = metric_text(judge(image, clf))
    return {"value": value, "delta": delta}


async def predict(request: Any) -> Any:
    """POST config.PREDICT_ROUTE: the shell canvas's PNG in, {"value", "delta"} out (or
    {"error"} with status 400). The model runs in a thread, off the server's event loop."""
    from starlette.responses import JSONResponse

    from mnist_cnn.ui import common

    data = await request.body()
    try:
        answer = await asyncio.to_thread(lambda: answer_png(data, common.current_classifier()))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


_STALE_HEADERS = (b"content-length", b"etag", b"last-modified")  # they described the page before injection


class ShellMiddleware:
    """Adds the first-second page to every HTML page the server sends (Streamlit's index.html)."""

    def __init__(self, app: Any, predict_url: str) -> None:
        self.app, self.predict_url = app, predict_url

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        start: dict | None = None
        body: list[bytes] = []

        async def send_injected(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message  # held back: the body's length changes
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = inject(b"".join(body), self.predict_url)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in _STALE_HEADERS]
                await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
                await send({"type": "http.response.body", "body": page})
            else:
                await send(message)

        await self.app(scope, receive, send_injected)


def middleware() -> list:
    """For app.py's st.App: the first-second page in Streamlit's HTML."""
    from starlette.middleware import Middleware

    from mnist_cnn.ui.startup import route_url

    return [Middleware(ShellMiddleware, predict_url=route_url(config.PREDICT_ROUTE))]
