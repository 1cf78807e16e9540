"""Who "this person" is across a reload: an anonymous id per browser, in a cookie.

Streamlit gives every page load a new session, so an id kept in session state is lost when
someone reloads: the run they started could then be decided by nobody ("Use it anyway / Keep
the current one" are offered to whoever started it). So the server hands each browser an
anonymous random id with the first page it navigates to (a session cookie: it lasts until the
browser is closed), and `ui.common.session_id()` reads it back through `st.context.cookies`. The
same id marks the drawings a browser saved. Nothing else is in it, and it is never sent on.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import cookie_parser  # the server's own parser: Streamlit runs on Starlette

from mnist_cnn.config import BROWSER_COOKIE

ID_BYTES = 6  # 12 hex digits, as the ids made in session state
_VALID = re.compile(rf"[0-9a-f]{{{2 * ID_BYTES}}}")


def new_id() -> str:
    return secrets.token_hex(ID_BYTES)


def is_valid(value: object) -> bool:
    """Only an id this server could have made is taken (a cookie is whatever the browser sends;
    outside a browser, as in Streamlit's AppTest, there may be no cookies at all)."""
    return isinstance(value, str) and _VALID.fullmatch(value) is not None


def cookies(scope: dict) -> dict[str, str]:
    """The cookies an ASGI request or websocket carries."""
    return cookie_parser(dict(scope.get("headers", [])).get(b"cookie", b"").decode("latin-1"))


def asks_for_a_page(scope: dict) -> bool:
    """A browser navigating to a page (it accepts HTML), not a script or data request."""
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return scope["type"] == "http" and scope.get("method") == "GET" and b"text/html" in accept


class BrowserIdMiddleware:
    """Gives a browser navigating to a page without a valid id cookie a new one."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not asks_for_a_page(scope) or is_valid(cookies(scope).get(BROWSER_COOKIE)):
            return await self.app(scope, receive, send)
        cookie = f"{BROWSER_COOKIE}={new_id()}; Path=/; SameSite=Lax; HttpOnly".encode()

        async def send_with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
