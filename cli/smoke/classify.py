"""Failure classes of one request: DNS, connect, TLS, timeout, reset, protocol, HTTP status, wrong body, deadline."""

from __future__ import annotations

import socket
import ssl

from cli.smoke.http import ConnectError, ProtocolError, ResetError

DNS = "dns"
CONNECT = "connect"
TLS = "tls"
TIMEOUT = "timeout"
RESET = "reset"
PROTOCOL = "protocol"
WRONG_BODY = "wrong_body"
DEADLINE = "deadline"
"""In flight when the run's overall deadline ran out."""


def http_status(code: int) -> str:
    """The failure class of an unexpected HTTP status, e.g. `http_500`."""
    return f"http_{code}"


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """The failure class and a short detail for an exception raised while making one request."""
    detail = _detail(exc)
    if isinstance(exc, socket.gaierror):
        return DNS, detail
    if isinstance(exc, ssl.SSLError):
        return TLS, detail
    if isinstance(exc, TimeoutError):
        return TIMEOUT, detail
    if isinstance(exc, ConnectError):
        return CONNECT, detail
    if isinstance(exc, ResetError | ConnectionError):
        return RESET, detail
    if isinstance(exc, ProtocolError):
        return PROTOCOL, detail
    if isinstance(exc, OSError):
        return RESET, detail
    return PROTOCOL, detail


def _detail(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate rejected: {exc.verify_message}"
    if isinstance(exc, ConnectError):
        return exc.strerror or str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
