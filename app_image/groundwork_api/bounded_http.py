"""uvicorn's httptools protocol with a bound on a request's line and headers: past it, a 431 and the connection closed.

httptools keeps a header it is still reading in memory, however long, and uvicorn sets no bound; the load balancer
and nginx in front refuse large heads first, and this bound holds where clients reach the port directly.
"""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
"""Largest request line and headers taken together: the load balancer's own bound on a request's headers."""
_BODY = orjson.dumps(
    {
        "error": {
            "code": "request_header_too_large",
            "message": f"the request line and headers exceed {MAX_HEAD_BYTES} bytes",
        }
    }
)
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_BODY)
    + _BODY
)


class _HeadTooLarge(Exception):
    """Stops httptools in the middle of a head that is over the bound (uvicorn then calls send_400_response)."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Bounds each request's head twice: its parsed size (the URL and every header) once it is complete, and the
    bytes read while it is incomplete, before httptools has gathered a header that never ends."""

    _head_bytes = 0
    _parsed_bytes = 0
    _in_head = False
    _in_body = False
    _begun = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
        started_in_head = self._in_head
        started_idle = not self._in_head and not self._in_body
        begun = self._begun
        super().data_received(data)
        # Counted when the whole read belongs to the head still being read: it continued that head, or it began the
        # only message it holds. A read that also finished an earlier message is left out (at most one read more).
        whole = (started_in_head and self._begun == begun) or (started_idle and self._begun == begun + 1)
        if self._in_head and whole and not self._refused:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_RESPONSE)
            self.transport.close()

    def on_message_begin(self) -> None:
        self._begun += 1
        self._in_head, self._head_bytes, self._parsed_bytes = True, 0, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._parsed_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body = False, True
        if self._parsed_bytes > MAX_HEAD_BYTES:
            self._refused = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()
