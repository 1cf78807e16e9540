"""Each browser's anonymous id: given with the first page it navigates to, kept as it comes back."""

import asyncio
import re
from http.cookies import Morsel, SimpleCookie

import live_http

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


# ---------- through a real server (`streamlit run app.py` on 127.0.0.1) ----------

def id_cookie(response) -> Morsel | None:
    """The id cookie the response sets, if any (Streamlit sets cookies of its own as well)."""
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie(header)
        if BROWSER_COOKIE in cookie:
            return cookie[BROWSER_COOKIE]
    return None


def test_the_first_page_from_the_server_sets_a_session_cookie_scripts_cannot_read(app_url):
    response = live_http.request(app_url, "/", headers={"Accept": "text/html"})
    assert response.status == 200
    morsel = id_cookie(response)
    assert browser_id.is_valid(morsel.value)
    assert morsel["httponly"] and morsel["path"] == "/" and morsel["samesite"] == "Lax"
    assert not morsel["expires"] and not morsel["max-age"]  # ends with the browser session


def test_the_server_keeps_a_valid_id_and_replaces_a_forged_one(app_url):
    known = browser_id.new_id()
    again = live_http.request(app_url, "/", headers={"Accept": "text/html", "Cookie": f"{BROWSER_COOKIE}={known}"})
    assert again.status == 200 and id_cookie(again) is None
    forged = live_http.request(app_url, "/", headers={"Accept": "text/html", "Cookie": f"{BROWSER_COOKIE}=x"})
    assert browser_id.is_valid(id_cookie(forged).value)


def test_the_servers_health_check_and_scripts_get_no_cookie(app_url):
    page = live_http.request(app_url, "/", headers={"Accept": "text/html"}).data.decode()
    script = re.search(r'data-entry="\./([^"]+)"', page).group(1)  # Streamlit's entry script
    for path in ("/_stcore/health", f"/{script}"):
        response = live_http.request(app_url, path, headers={"Accept": "*/*"})
        assert response.status == 200 and id_cookie(response) is None, path
