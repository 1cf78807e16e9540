"""One HTTP request to the app server a test module started (conftest's `app_url`: a real
`streamlit run app.py` on 127.0.0.1), with the standard library's client."""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from urllib.parse import urlsplit


def request(url: str, path: str, method: str = "GET", headers: dict[str, str] | None = None,
            body: bytes | Iterable[bytes] | None = None, chunked: bool = False,
            source: str | None = None) -> http.client.HTTPResponse:
    """The response, its body already read (`.data`). `chunked` sends an iterable body without a
    Content-Length, as a browser streaming an upload may; `source` is the local address to send
    from (another loopback address stands for another network)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120,
                                            source_address=(source, 0) if source else None)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        response.data = response.read()
        return response
    finally:
        connection.close()


def declare_only(url: str, path: str, length: int, content_type: str = "image/png") -> http.client.HTTPResponse:
    """A POST that announces a `length`-byte body and sends none of it: the server must answer
    from the headers alone."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        response.data = response.read()
        return response
    finally:
        connection.close()
