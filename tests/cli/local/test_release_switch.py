"""The release's switch on a real nginx: it returns only once nginx's previous workers are gone, which is only once
the requests they held were answered; until then the old version must keep running."""

from __future__ import annotations

import http.server
import shutil
import ssl
import threading

import httpx
import pytest

from cli.local import release_flow, tls
from cli.local.processes import free_port
from cli.local.services import TlsService
from tests.harness import scratch_dir

SLOW_SECONDS = 2.0
"""How long the old version takes to answer the request in flight during the switch."""


class Backend:
    """A plain HTTP server on a free loopback port; GET /slow answers after SLOW_SECONDS, once told to begin."""

    def __init__(self, name: str) -> None:
        self.received, self.answering = threading.Event(), threading.Event()
        self.port = free_port()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/slow":
                    backend.received.set()
                    threading.Event().wait(SLOW_SECONDS)
                    backend.answering.set()
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stopped:
    """Stands in for the new version's process: a failed switch would stop it."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def edge():
    base = scratch_dir("groundwork-switch-")
    blue, green = Backend("blue"), Backend("green")
    files = tls.TlsFiles(base / "tls")
    service = TlsService(
        "tls",
        [free_port(), free_port()],
        base / "nginx" / "error.log",
        base=base / "nginx",
        files=files,
        upstream_port=blue.port,
        test_port=free_port(),
        test_upstream_port=green.port,
        load_balancer={
            "https": {"protocols": ["TLSv1.2", "TLSv1.3"], "headers": {}, "server_header": False},
            "target": {"unhealthy_threshold": 3, "interval": 30},
            "redirect": None,
            "rules": [],
        },
        names=(),
    )
    service.start()
    yield service, blue, green
    service.stop()
    blue.close()
    green.close()
    shutil.rmtree(base, ignore_errors=True)


def _get(edge: TlsService, path: str, port: int | None = None) -> httpx.Response:
    trust = ssl.create_default_context(cafile=str(edge.files.ca_cert))
    return httpx.get(f"https://localhost:{port or edge.ports[1]}{path}", verify=trust, timeout=30)


def test_the_switch_returns_after_the_old_workers_answered_what_they_held(edge):
    service, blue, green = edge
    assert _get(service, "/", service.test_port).text == "green", "the test port reaches the other slot"
    answers: list[httpx.Response] = []
    in_flight = threading.Thread(target=lambda: answers.append(_get(service, "/slow")))
    in_flight.start()
    assert blue.received.wait(10)
    master = service.pid()
    assert master is not None
    previous = set(release_flow._workers(master))
    new_version = Stopped()

    release_flow._switch(service, live=green.port, test=blue.port, stop_on_failure=new_version)  # type: ignore[arg-type]

    assert blue.answering.is_set(), "the switch returned while an old worker still waited on the old version"
    assert not set(release_flow._workers(master)) & previous
    in_flight.join(30)
    assert [(a.status_code, a.text) for a in answers] == [(200, "blue")]
    assert _get(service, "/").text == "green"
    assert _get(service, "/", service.test_port).text == "blue", "the test port now reaches the next release's slot"
    assert not new_version.stopped
    assert (service.upstream_port, service.test_upstream_port) == (green.port, blue.port)
