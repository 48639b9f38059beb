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
    """Bounds each request's head: its parsed size (the URL and every header) once complete, the bytes read while it
    is incomplete (before httptools has gathered a header that never ends), and the bytes of a body's framing that
    are not body (chunk sizes and trailers, which httptools also gathers)."""

    _head_bytes = 0
    _parsed_bytes = 0
    _framing_bytes = 0
    _body_bytes = 0
    _in_head = False
    _in_body = False
    _begun = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the refusal waits for earlier answers; nothing more of this connection is parsed
        started_in_head = self._in_head
        started_in_body = self._in_body
        started_idle = not self._in_head and not self._in_body
        begun, body_before = self._begun, self._body_bytes
        super().data_received(data)
        # Counted only when the whole read belongs to one phase of one message: it continued a head, began the only
        # message it holds, or stayed in one body. A read that crossed messages is left out (at most one read more).
        same = self._begun == begun
        if self._in_head and ((started_in_head and same) or (started_idle and self._begun == begun + 1)):
            self._head_bytes += len(data)
        elif self._in_body and started_in_body and same:
            self._framing_bytes += len(data) - (self._body_bytes - body_before)
        if self._refused:
            return
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(after_earlier_answers=True)
        elif self._framing_bytes > MAX_HEAD_BYTES:
            # This message's own body framing: its request cannot be answered, so nothing is waited for.
            self._refuse(after_earlier_answers=False)

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            self._answer_refusal(after_earlier_answers=True)
        else:
            super().send_400_response(msg)

    def _refuse(self, *, after_earlier_answers: bool) -> None:
        self._refused = True
        self._answer_refusal(after_earlier_answers=after_earlier_answers)

    def _answer_refusal(self, *, after_earlier_answers: bool) -> None:
        if self.transport.is_closing():
            return
        earlier = (self.cycle is not None and not self.cycle.response_complete) or self.pipeline
        if after_earlier_answers and earlier:
            self.flow.pause_reading()  # answered after the requests before it (on_response_complete)
            return
        self.transport.write(_RESPONSE)
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refused:
            self._answer_refusal(after_earlier_answers=True)

    def on_message_begin(self) -> None:
        self._begun += 1
        self._in_head = True
        self._head_bytes = self._parsed_bytes = self._framing_bytes = 0
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

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()
