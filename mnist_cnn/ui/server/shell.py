"""The page's first second: a canvas to draw on before Streamlit's frontend has loaded.

On the 2-core machine Streamlit's own page takes 2-2.5 s from the first request to a drawable
canvas, and a page with nothing but the canvas takes as long (docs/BENCHMARKS.md, section 5): the
time goes to running Streamlit's scripts and then the canvas component's. So the server adds a
small page of its own to Streamlit's HTML (ShellMiddleware): the title, a plain canvas and a
Prediction line, drawn by an inline script (shell.js) as soon as the HTML arrives. Each stroke is
answered by the same model through a JSON route (config.PREDICT_ROUTE, predict()). Streamlit's
scripts are fetched at once but run GRACE_MS after the canvas shows, or, if someone starts drawing
by then, when that stroke ends: running them takes the browser's main thread for over a second in
pieces of up to 250 ms, which would make that first stroke stutter and its answer wait. When
Streamlit's canvas is ready, the strokes are drawn again on it, one at a time (one Undo each), so
the drawing and its prediction carry over; then this page steps aside, the app scrolled so that
its canvas is where this one was if someone drew (their next stroke lands on a canvas too).

For a second or two both pages are in the document. This one is hidden from assistive technology
and its words are drawn by CSS (attr(data-text)), so a search of the page by role or text (a
screen reader, a test) meets the app's own title and prediction only, never two of each.
"""

from __future__ import annotations

import asyncio
import functools
import html
import io
import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from mnist_cnn import config
from mnist_cnn.ui.browser_id import asks_for_a_page

SHELL_ID = "mnist-draw-shell"
GIVE_UP_MS = 20_000  # a page whose canvas never comes (the script failed, no connection) is shown anyway
LOADING_NOTE = "Loading the rest of the app… what you draw here carries over."
NO_ANSWER = "The server did not answer; the app is still loading."
PREDICT_URL = "." + config.PREDICT_ROUTE  # relative, like Streamlit's own assets: it follows any base path
ASSETS = Path(__file__).parent
# Streamlit's page preloads its font; the shell uses the same file, so its text wraps as the app's.
FONT_LINK = re.compile(rb'<link[^>]*href="([^"]*SourceSans[^"]*Upright[^"]*\.woff2)"')
# Streamlit's entry script: the shell starts it itself, after a first stroke begun at once (below).
ENTRY_SCRIPT = re.compile(rb'<script type="module" crossorigin src="([^"]+)"></script>')
GRACE_MS = 400  # Streamlit starts this long after the canvas shows, or when a stroke begun by then ends
MAX_HOLD_MS = 2_500  # and this long after at the latest, whatever happens
THEME = {"--mds-paper": ("theme.backgroundColor", "#ffffff"), "--mds-text": ("theme.textColor", "#1f2933"),
         "--mds-side": ("theme.secondaryBackgroundColor", "#f3f5f8")}


@functools.cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def theme_css() -> str:
    """The app's theme colours (.streamlit/config.toml) as the shell's CSS variables."""
    import streamlit as st

    values = {var: (st.get_option(option) or default) for var, (option, default) in THEME.items()}
    return f"#{SHELL_ID}{{{';'.join(f'{var}:{value}' for var, value in values.items())}}}"


def shell_html(font_url: str | None = None, entry: str | None = None) -> str:
    """The first-second page: markup with its settings, style and the script that runs it (and,
    given Streamlit's entry script, starts it)."""
    from mnist_cnn.reading.verdicts import DRAW_HINT, NO_PREDICTION

    settings = {"predictUrl": PREDICT_URL, "size": config.CANVAS_SIZE, "stroke": config.DEFAULT_STROKE_WIDTH,
                "ink": config.CANVAS_INK, "paper": config.CANVAS_PAPER, "giveUpMs": GIVE_UP_MS,
                "title": config.PAGE_TITLE, "none": NO_PREDICTION, "noAnswer": NO_ANSWER}
    text = html.escape  # every word is shown through CSS, attr(data-text): see the module's docstring
    left, right = config.PREDICTION_COLUMNS
    font = (f'@font-face{{font-family:"MDS Source Sans";src:url("{text(font_url)}") format("woff2");'
            "font-weight:200 900}" if font_url else "")
    return (
        f'<div id="{SHELL_ID}" aria-hidden="true" data-settings="{text(json.dumps(settings))}">'
        '<aside class="mds-sidebar"></aside><main class="mds-main">'
        f'<h1 data-text="{text(config.APP_TITLE)}"></h1>'
        f'<p class="mds-caption" data-text="{text(config.APP_INTRO)}"></p>'
        f'<div class="mds-row" style="grid-template-columns:{left}fr {right}fr"><div class="mds-left">'
        f'<canvas width="{config.CANVAS_SIZE}" height="{config.CANVAS_SIZE}" data-testid="shell-canvas"></canvas>'
        f'<p class="mds-caption"><span data-text="{text(DRAW_HINT)} "></span>'
        '<button type="button" tabindex="-1" class="mds-clear" data-text="Clear"></button></p>'
        '</div><div class="mds-right"><div class="mds-label" data-text="Prediction"></div>'
        f'<div class="mds-value" data-testid="shell-answer" data-text="{text(NO_PREDICTION)}"></div>'
        '<div class="mds-delta" data-testid="shell-delta" data-text=""></div>'
        f'<p class="mds-note" data-text="{text(LOADING_NOTE)}"></p></div></div></main></div>'
        f"<style>{font}{theme_css()}{_asset('shell.css')}</style>"
        f'<script data-shell="{SHELL_ID}" data-entry="{text(entry or "")}" data-grace-ms="{GRACE_MS}" '
        f'data-max-hold-ms="{MAX_HOLD_MS}">{_asset("shell.js")}</script>'
    )


def inject(page: bytes) -> bytes:
    """Streamlit's HTML with the first-second page at the end of its body: an inline script there
    runs while the HTML is parsed, before Streamlit's deferred bundle."""
    if b"</body>" not in page or SHELL_ID.encode() in page:
        return page
    font, entry = FONT_LINK.search(page), ENTRY_SCRIPT.search(page)
    if entry:  # still fetched and compiled at once, run when the shell starts it
        page = page.replace(entry.group(0), b'<link rel="modulepreload" crossorigin href="%s">' % entry.group(1), 1)
    shell = shell_html(font.group(1).decode() if font else None, entry.group(1).decode() if entry else None)
    return page.replace(b"</body>", shell.encode() + b"</body>", 1)


TOO_MANY_BYTES = f"send the canvas as a PNG of at most {config.MAX_PREDICT_PNG_BYTES:,} bytes"
BROKEN_PICTURE = (SyntaxError, ValueError, OSError, struct.error, EOFError)  # what Pillow raises on damaged files


def answer_png(data: bytes, clf: Any) -> dict[str, Any]:
    """The answer to the strokes on the shell's canvas, as the Draw tab would give it. Raises
    ValueError (one sentence) for anything but a PNG of a canvas: empty, too big, not a PNG,
    damaged."""
    from PIL import Image

    from mnist_cnn.reading.preprocess import canvas_to_mnist
    from mnist_cnn.reading.verdicts import NO_PREDICTION, judge, metric_text

    side = config.MAX_PREDICT_PNG_SIDE
    if not data or len(data) > config.MAX_PREDICT_PNG_BYTES:
        raise ValueError(TOO_MANY_BYTES)
    try:
        picture = Image.open(io.BytesIO(data))  # reads the header only
        is_a_canvas = picture.format == "PNG" and max(picture.size) <= side
        rgba = np.asarray(picture.convert("RGBA")) if is_a_canvas else None
    except Image.DecompressionBombError:
        rgba = None  # far more pixels than any canvas: said below
    except BROKEN_PICTURE as exc:
        raise ValueError("that is not a PNG picture of the canvas") from exc
    if rgba is None:
        raise ValueError(f"send the canvas as a PNG of at most {side}x{side} pixels")
    image = canvas_to_mnist(rgba)
    if image is None:
        return {"value": NO_PREDICTION, "delta": ""}
    value, delta = metric_text(judge(image, clf, number_hint=False))  # no hint in the answer
    return {"value": value, "delta": delta}


async def read_capped(request: Any, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def predict(request: Any) -> Any:
    """POST config.PREDICT_ROUTE: the shell canvas's PNG in, {"value", "delta"} out (or
    {"error"} with status 400 or 413). The model runs in a thread, off the server's event loop."""
    from starlette.responses import JSONResponse

    from mnist_cnn.ui import common

    data = await read_capped(request, config.MAX_PREDICT_PNG_BYTES)
    if data is None:
        return JSONResponse({"error": TOO_MANY_BYTES}, status_code=413)
    try:
        answer = await asyncio.to_thread(lambda: answer_png(data, common.current_classifier()))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


_STALE_HEADERS = (b"content-length", b"etag", b"last-modified", b"accept-ranges")  # they described the page before


class ShellMiddleware:
    """Adds the first-second page to the HTML pages browsers navigate to (Streamlit's index.html,
    at its root or any deep link). Those are asked for uncompressed, as whole files: the page has
    to be read to be changed, and it is small (16 KB)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not asks_for_a_page(scope):
            return await self.app(scope, receive, send)
        skip = (b"accept-encoding", b"range", b"if-range", b"if-none-match", b"if-modified-since")
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in skip],
                 "extensions": {k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"}}
        start: dict | None = None
        body: list[bytes] = []

        async def send_injected(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if (message.get("status") == 200 and headers.get(b"content-type", b"").startswith(b"text/html")
                        and b"content-encoding" not in headers):
                    start = message  # held back: the body's length changes
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = inject(b"".join(body))
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in _STALE_HEADERS]
                await send({**start, "headers": [*headers, (b"content-length", str(len(page)).encode())]})
                await send({"type": "http.response.body", "body": page})
            else:
                await send(message)

        await self.app(scope, receive, send_injected)
