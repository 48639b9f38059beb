"""The local load balancer under hostile input, against real nginx: every error it answers itself is the API's JSON
error document with the right status and the listener's security headers; no client input gets a 5xx; the redirect
names the configured host; TLS offers Mozilla's intermediate suites and curves only."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from cli.local import nginx, tls
from cli.local.processes import free_ports
from cli.local.services import TlsService
from tests.harness import scratch_dir

HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
LOAD_BALANCER = {
    "redirect": {
        "urn": "http",
        "protocol": "HTTPS",
        "host": "api.example.com",
        "port": "443",
        "status": 301,
        "headers": {},
        "server_header": False,
    },
    "https": {"urn": "https", "protocols": ["TLSv1.2", "TLSv1.3"], "headers": HEADERS, "server_header": False},
    "rules": [
        {
            "urn": "r",
            "priority": 1,
            "paths": ["/metrics"],
            "status": 404,
            "content_type": "application/json",
            "body": '{"error":{"code":"not_found","message":"Not Found"}}',
        },
    ],
    "target": {
        "port": 8000,
        "health_path": "/livez",
        "healthy_threshold": 2,
        "unhealthy_threshold": 3,
        "interval": 15,
        "matcher": "200",
    },
}


class _Upstream(http.server.BaseHTTPRequestHandler):
    """The target: JSON answers with weaker security headers of its own, which the listener's replace."""

    def do_GET(self) -> None:
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Security-Policy", "default-src *")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def edge():
    base = scratch_dir("groundwork-nginx-")
    http_port, https_port, upstream_port = free_ports(3)
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", upstream_port), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    files = tls.TlsFiles(base / "tls")
    service = TlsService(
        "tls",
        [http_port, https_port],
        base / "nginx" / "error.log",
        base=base / "nginx",
        files=files,
        upstream_port=upstream_port,
        test_port=free_ports(1)[0],
        test_upstream_port=free_ports(1)[0],
        load_balancer=LOAD_BALANCER,
        redirect_host="localhost",
    )
    (base / "nginx").mkdir(parents=True)
    service.start()
    try:
        yield service, files
    finally:
        service.stop()
        upstream.shutdown()
        shutil.rmtree(base, ignore_errors=True)


def _exchange(port: int, request: bytes, files: tls.TlsFiles | None = None) -> bytes:
    """Send raw bytes (over TLS when files are given) and read the whole answer."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock: socket.socket = raw
    if files is not None:
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        sock = context.wrap_socket(raw, server_hostname="localhost")
    with sock:
        sock.sendall(request)
        with contextlib.suppress(ConnectionResetError):
            sock.shutdown(socket.SHUT_WR) if files is None else None
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError, ssl.SSLError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def _parse(answer: bytes) -> tuple[int, dict[str, list[str]], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def _assert_json_error(answer: bytes, status: int, headers: dict[str, str] = HEADERS) -> dict:
    got, found, body = _parse(answer)
    assert got == status, answer[:300]
    assert found["content-type"] == ["application/json"], answer[:300]
    document = json.loads(body)
    assert set(document) == {"error"}, body
    assert {"code", "message"} <= set(document["error"]), body
    for name, value in headers.items():
        assert found.get(name.lower()) == [value], (name, answer[:400])
    return document


HOSTILE = [
    ("long path", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 414),
    ("NUL in the path", b"GET /a%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),
    ("raw NUL", b"GET /a\x00b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),
    ("malformed request line", b"GET\r\nHost: localhost\r\n\r\n", 400),
    ("garbage", b"\x16\x03\x01 hello there\r\n\r\n", 400),
    ("space in path", b"GET /a b c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),
    ("no Host", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
    ("unsupported version", b"GET / HTTP/2.7\r\nHost: localhost\r\nConnection: close\r\n\r\n", 505),
    (
        "unknown transfer coding",
        b"POST /map HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n",
        501,
    ),
    (
        "huge header",
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 20000 + b"\r\nConnection: close\r\n\r\n",
        400,
    ),
    (
        "body too large",
        b"POST /map HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n",
        413,
    ),
    ("TRACE", b"TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 405),
    ("dot dot", b"GET /../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 400),
]


@pytest.mark.parametrize(("what", "request_bytes", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_get_a_json_4xx_over_tls(edge, what, request_bytes, status):
    service, files = edge
    _assert_json_error(_exchange(service.ports[1], request_bytes, files), status)


@pytest.mark.parametrize(("what", "request_bytes", "status"), HOSTILE[:8], ids=[h[0] for h in HOSTILE[:8]])
def test_hostile_requests_get_a_json_4xx_on_the_http_port(edge, what, request_bytes, status):
    service, _ = edge
    _assert_json_error(_exchange(service.ports[0], request_bytes), status, headers={})


def test_a_405_names_the_methods_the_api_serves(edge):
    service, files = edge
    answer = _exchange(service.ports[1], b"TRACE / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", files)
    assert _parse(answer)[1]["allow"] == [nginx.ALLOWED_METHODS]


def test_the_error_pages_cannot_be_fetched_directly(edge):
    service, files = edge
    request = f"GET {nginx.ERROR_PREFIX}500 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    _assert_json_error(_exchange(service.ports[1], request, files), 404)


def test_proxied_answers_carry_the_listener_headers_instead_of_the_targets(edge):
    service, files = edge
    answer = _exchange(service.ports[1], b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", files)
    status, headers, body = _parse(answer)
    assert status == 200
    assert json.loads(body) == {"ok": True}
    for name, value in HEADERS.items():
        assert headers[name.lower()] == [value], name
    assert headers["server"] == ["nginx"]  # no version; open-source nginx cannot drop the header itself


def test_a_fixed_response_rule_carries_the_headers(edge):
    service, files = edge
    request = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    answer = _exchange(service.ports[1], request, files)
    _assert_json_error(answer, 404)


def test_the_target_down_is_a_json_502(edge):
    service, files = edge
    down = TlsService(
        "tls-down",
        free_ports(2),
        service.log.parent.parent / "down" / "error.log",
        base=service.log.parent.parent / "down",
        files=files,
        upstream_port=free_ports(1)[0],
        test_port=free_ports(1)[0],
        test_upstream_port=free_ports(1)[0],
        load_balancer=LOAD_BALANCER,
    )
    down.base.mkdir(parents=True, exist_ok=True)
    down.start()
    try:
        answer = _exchange(down.ports[1], b"GET /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", files)
        _assert_json_error(answer, 502)
    finally:
        down.stop()


def test_the_redirect_names_the_configured_host_never_the_request_host(edge):
    service, _ = edge
    for host in (b"evil.example", b"evil.example:1", b"localhost"):
        request = b"GET /docs?a=1 HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
        status, headers, _ = _parse(_exchange(service.ports[0], request))
        assert status == 301
        assert headers["location"] == [f"https://localhost:{service.ports[1]}/docs?a=1"]


def test_tls_offers_the_mozilla_intermediate_suites_only(edge):
    service, files = edge
    allowed = set(nginx.MOZILLA_INTERMEDIATE_CIPHERS.split(":"))
    refused = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-CCM", "AES128-GCM-SHA256"]
    for cipher in refused:
        assert cipher not in allowed
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(str(files.ca_cert))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
        with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", service.ports[1]), timeout=5) as raw:
            context.wrap_socket(raw, server_hostname="localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(files.ca_cert))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", service.ports[1]), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        assert sock.cipher()[0] in allowed


@pytest.mark.parametrize(("group", "accepted"), [("X448", False), ("secp521r1", False), ("X25519", True)])
def test_tls_offers_the_mozilla_intermediate_curves_only(edge, group, accepted):
    service, files = edge
    handshake = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{service.ports[1]}", "-groups", group, "-tls1_3",
         "-CAfile", str(files.ca_cert), "-servername", "localhost", "-brief"],
        input=b"", capture_output=True, timeout=20, check=False,
    )  # fmt: skip
    assert (handshake.returncode == 0) is accepted, handshake.stderr.decode(errors="replace")[-500:]
