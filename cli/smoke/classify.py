"""Failure classes of one request: DNS, connect, TLS, timeout, reset, protocol, HTTP status, wrong body."""

from __future__ import annotations

import asyncio
import errno
import ssl

DNS = "dns"
CONNECT = "connect"
TLS = "tls"
TIMEOUT = "timeout"
RESET = "reset"
PROTOCOL = "protocol"
WRONG_BODY = "wrong_body"

_RESET_ERRNOS = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED}


def http_status(code: int) -> str:
    """The failure class of an unexpected HTTP status, e.g. `http_500`."""
    return f"http_{code}"


def classify_exception(exc: BaseException) -> tuple[str, str]:
    """The failure class and a short detail for an exception raised while making one request."""
    import aiohttp

    detail = _detail(exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return DNS, detail
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
        return TLS, detail
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return TIMEOUT, detail or "no answer within the request timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return CONNECT, detail
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError):
        return RESET, detail or "the server closed the connection"
    if isinstance(exc, aiohttp.ClientOSError | OSError) and getattr(exc, "errno", None) in _RESET_ERRNOS:
        return RESET, detail
    if isinstance(exc, aiohttp.ClientConnectionError):
        return RESET, detail
    return PROTOCOL, detail


def _detail(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
