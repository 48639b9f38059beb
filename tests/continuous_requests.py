"""Continuous GET requests through a stack's endpoint, counted the way a well-behaved HTTP/1.1 client sees them.

A keep-alive connection can be closed by the server while it is idle (nginx closes its idle connections when a
graceful reload retires the worker that holds them). A request the client sends on such a connection at that very
moment meets the close before any byte of an answer; RFC 9112 section 9.3.1 lets a client send an idempotent request
again on a new connection then, and browsers, curl and urllib3 do. That retry is counted apart (`retried`), with the
stage and exception that caused it. Everything else is an error: a request that failed on a new connection, one whose
answer had begun, a second failure of a retried request, and every answer that is not 200.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

BEFORE_ANY_ANSWER = ("http11.send_request_headers", "http11.send_request_body", "http11.receive_response_headers")
"""httpcore's stages of a request in which a failure means the server sent no byte of an answer."""
NO_ANSWER = "Server disconnected without sending a response."


@dataclass
class Attempt:
    """One try of a request: its status (None on a failure), the failure, and what the connection did."""

    status: int | None = None
    text: str = ""
    error: BaseException | None = None
    new_connection: bool = False
    failed_stage: str | None = None

    def closed_while_idle(self) -> bool:
        """The server closed the reused connection before any byte of an answer: safe to send a GET again."""
        if self.error is None or self.new_connection or self.failed_stage not in BEFORE_ANY_ANSWER:
            return False
        if isinstance(self.error, httpx.RemoteProtocolError):
            return str(self.error) == NO_ANSWER
        return isinstance(self.error, httpx.ReadError | httpx.WriteError)

    def describe(self) -> str:
        if self.error is None:
            return str(self.status)
        connection = "new" if self.new_connection else "reused"
        return f"{type(self.error).__name__}({self.error}) at {self.failed_stage} on a {connection} connection"


@dataclass
class ContinuousRequests:
    """GET `path` in a loop on one client (one keep-alive connection at a time) until stopped."""

    base_url: str
    ca_file: str
    path: str = "/heartbeat"
    pause: float = 0.0
    """Seconds between requests (none by default: the next request leaves as soon as the last one is answered)."""
    sent: int = 0
    answered: int = 0
    retried: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    """Every answer: when it arrived (time.monotonic()), its status and its body."""
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def _attempt(self, client: httpx.Client) -> Attempt:
        attempt = Attempt()

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                attempt.new_connection = True
            elif event.endswith(".failed") and attempt.failed_stage is None:
                attempt.failed_stage = event.removesuffix(".failed")

        try:
            answer = client.get(self.path, extensions={"trace": trace})
            attempt.status, attempt.text = answer.status_code, answer.text
        except httpx.HTTPError as exc:
            attempt.error = exc
        return attempt

    def _run(self) -> None:
        trust = ssl.create_default_context(cafile=self.ca_file)
        with httpx.Client(base_url=self.base_url, verify=trust, timeout=10) as client:
            while not self.stopping.is_set():
                self.sent += 1
                attempt = self._attempt(client)
                if attempt.closed_while_idle():
                    self.retried.append(f"{time.strftime('%H:%M:%S')} {attempt.describe()}")
                    attempt = self._attempt(client)
                if attempt.status is not None:
                    self.answers.append((time.monotonic(), attempt.status, attempt.text))
                if attempt.status == 200:
                    self.answered += 1
                else:
                    self.errors.append(f"{time.strftime('%H:%M:%S')} {attempt.describe()}")
                self.stopping.wait(self.pause)

    def served(self, marker: str, since: float, timeout: float = 60) -> float:
        """Seconds from `since` (a time.monotonic()) to the first 200 answer whose body holds `marker`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, status, text in list(self.answers):
                if at >= since and status == 200 and marker in text:
                    return at - since
            time.sleep(0.01)
        raise AssertionError(f"{marker!r} was not served within {timeout} s; last: {self.answers[-1:]}")

    def summary(self) -> str:
        return (
            f"{self.sent} requests, {len(self.errors)} errors, {self.answered} answered 200, "
            f"{len(self.retried)} sent again after the server closed an idle keep-alive connection"
        )

    def __enter__(self) -> ContinuousRequests:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
