"""Each browser's anonymous id: given with the first page it navigates to, kept as it comes back."""

import asyncio

from mnist_cnn.config import BROWSER_COOKIE
from mnist_cnn.ui import browser_id


def serve(cookie: bytes | None = None, accept: bytes = b"text/html") -> dict:
    """The response headers the middleware sends for one GET."""
    sent = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html></html>"})

    async def send(message):
        sent.append(message)

    headers = [(b"accept", accept)] + ([(b"cookie", cookie)] if cookie else [])
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    asyncio.run(browser_id.BrowserIdMiddleware(app)(scope, None, send))
    return sent[0]


def given_id(response: dict) -> str | None:
    cookies = [v.decode() for k, v in response["headers"] if k == b"set-cookie"]
    if not cookies:
        return None
    name, value = cookies[0].split(";")[0].split("=")
    assert name == BROWSER_COOKIE and "HttpOnly" in cookies[0] and "Path=/" in cookies[0]
    return value


def test_a_browser_without_an_id_gets_a_new_one_with_its_first_page():
    first, second = given_id(serve()), given_id(serve())
    assert browser_id.is_valid(first) and browser_id.is_valid(second) and first != second


def test_a_browser_keeps_its_id_and_a_forged_one_is_replaced():
    known = browser_id.new_id()
    assert given_id(serve(f"theme=dark; {BROWSER_COOKIE}={known}".encode())) is None
    forged = given_id(serve(f"{BROWSER_COOKIE}=<script>".encode()))
    assert browser_id.is_valid(forged)


def test_only_pages_get_an_id_not_scripts_or_data():
    assert given_id(serve(accept=b"application/json")) is None
