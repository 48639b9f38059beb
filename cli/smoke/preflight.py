"""Pre-flight checks, each reported on its own: DNS, TLS, HTTP-to-HTTPS redirect, and /livez."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cli.smoke.http import Client, Endpoint, build_request

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
EXPIRY_WARN_DAYS = 30
REDIRECT_CODES = (301, 302, 307, 308)
MAX_LOCATION = 200


@dataclass(frozen=True)
class Check:
    """The outcome of one pre-flight check."""

    name: str
    status: str
    summary: str
    duration_ms: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_json(self) -> dict[str, Any]:
        ms = None if self.duration_ms is None else round(self.duration_ms, 3)
        return {"name": self.name, "status": self.status, "summary": self.summary, "duration_ms": ms, **self.data}


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def is_address(host: str) -> bool:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host.strip("[]"))
        return True
    return False


async def dns(host: str, port: int, timeout_s: float) -> tuple[Check, list[str]]:
    """Resolve the host name; the check and the addresses found (in the resolver's order)."""
    if is_address(host):
        return Check("dns", PASS, f"{host} is an address; nothing to resolve", 0.0, {"addresses": [host]}), [host]
    start = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        return Check("dns", FAIL, f"{host} did not resolve within {timeout_s:g} s", _ms_since(start)), []
    except OSError as exc:
        return Check("dns", FAIL, f"{host} does not resolve: {exc.strerror or exc}", _ms_since(start)), []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    took = _ms_since(start)
    summary = f"{host} -> {', '.join(addresses)} in {took:.1f} ms"
    return Check("dns", PASS, summary, took, {"addresses": addresses}), addresses


def _cert_name(parts: Any) -> str:
    for rdn in parts or ():
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return "?"


async def tls(
    host: str, address: str, port: int, context: ssl.SSLContext, timeout_s: float, *, now: datetime | None = None
) -> Check:
    """Handshake with the host name checked against the certificate and the chain against the trust store."""
    start = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(
                address, port, ssl=context, server_hostname=host, ssl_handshake_timeout=timeout_s
            )
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        return Check("tls", FAIL, f"certificate rejected for {host}: {reason}", _ms_since(start))
    except ssl.SSLError as exc:
        return Check("tls", FAIL, f"TLS handshake with {host} failed: {exc.reason or exc}", _ms_since(start))
    except TimeoutError:
        return Check("tls", FAIL, f"no TLS handshake with {host} within {timeout_s:g} s", _ms_since(start))
    except OSError as exc:
        return Check("tls", FAIL, f"cannot connect to {address}:{port}: {exc.strerror or exc}", _ms_since(start))
    took = _ms_since(start)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() or {}
        version = ssl_object.version()
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    days = (expires - (now or datetime.now(UTC))).days
    data = {
        "subject": _cert_name(cert.get("subject")),
        "issuer": _cert_name(cert.get("issuer")),
        "expires": expires.isoformat(),
        "days_to_expiry": days,
        "version": version,
    }
    summary = f"{version}, certificate for {data['subject']} from {data['issuer']}, chain verified, {days} days left"
    if days < EXPIRY_WARN_DAYS:
        return Check("tls", WARN, summary + f" (under {EXPIRY_WARN_DAYS}: renew it)", took, data)
    return Check("tls", PASS, summary, took, data)


async def redirect(host: str, address: str, port: int, timeout_s: float) -> Check:
    """Plain HTTP on `port` must answer with a redirect to https://<host>."""
    from cli.smoke.classify import classify_exception

    start = time.perf_counter()
    authority = f"[{host}]" if ":" in host else host
    client = Client(Endpoint(address, port, authority))
    request = build_request("GET", "/livez", authority, {"Connection": "close"})
    try:
        response, _, took = await client.send(request, timeout_s)
    except Exception as exc:
        kind, detail = classify_exception(exc)
        return Check("redirect", FAIL, f"http://{authority}:{port} failed: {kind}: {detail}", _ms_since(start))
    finally:
        client.close()
    status, location = response.status, response.headers.get("location", "")[:MAX_LOCATION]
    data = {"http_status": status, "location": location}
    if status in REDIRECT_CODES and _is_https_to(location, host):
        return Check("redirect", PASS, f"http -> {status} {location}", took, data)
    if status in REDIRECT_CODES:
        summary = f"http redirects to {location or 'nowhere'}, not https://{authority}"
        return Check("redirect", FAIL, summary, took, data)
    return Check("redirect", FAIL, f"http answered {status} instead of redirecting to https", took, data)


def _is_https_to(location: str, host: str) -> bool:
    """Whether a Location points at https on this very host (not merely a name that starts the same)."""
    try:
        parts = urlsplit(location)
        parts.port  # noqa: B018 (reading the port validates it)
    except ValueError:
        return False
    return parts.scheme == "https" and parts.hostname == host.lower()


async def livez(endpoint: Endpoint, path_prefix: str, timeout_s: float) -> Check:
    """GET /livez must answer 200 with {"status": "ok"}."""
    from cli.smoke.classify import classify_exception

    client = Client(endpoint)
    request = build_request("GET", path_prefix + "/livez", endpoint.host_header, {"Accept": "application/json"})
    try:
        response, _, took = await client.send(request, timeout_s)
    except Exception as exc:
        kind, detail = classify_exception(exc)
        return Check("livez", FAIL, f"{kind}: {detail}", None, {"failure": kind})
    finally:
        client.close()
    if response.status != 200:
        return Check("livez", FAIL, f"answered {response.status}", took, {"http_status": response.status})
    if b'"ok"' not in response.body:
        text = response.body[:80].decode("utf-8", "replace")
        summary = f"200 but the body is not the liveness answer: {text!r}"
        return Check("livez", FAIL, summary, took, {"http_status": 200})
    return Check("livez", PASS, f"200 in {took:.1f} ms", took, {"http_status": 200})
