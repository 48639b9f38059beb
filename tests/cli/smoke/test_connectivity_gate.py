"""The release gate against a real local HTTP server: passing, failing, slow, and a refused connection."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.local.processes import free_port
from cli.smoke.connectivity import run_gate


class _Api(BaseHTTPRequestHandler):
    mode = "pass"
    stored: dict[str, bytes] = {}

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.mode == "slow":
            time.sleep(1.0)  # past the gate's per-request bound in the test below
        if self.path == "/heartbeat":
            self._answer(500 if self.mode == "fail" else 200, {"status": "ok"})
        elif self.path.startswith("/map/") and self.headers.get("Authorization") == "Bearer t":
            user = self.path.removeprefix("/map/")
            self._answer(200, json.loads(self.stored[user])) if user in self.stored else self._answer(404, {})
        else:
            self._answer(401, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Authorization") != "Bearer t":
            self._answer(401, {})
            return
        document = json.loads(body)
        self.stored[document["user_id"]] = json.dumps({**document, "version": 1}).encode()
        self._answer(201, {**document, "version": 1})


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    _Api.mode = "pass"


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def test_a_working_service_passes_every_check(server):
    verdict = run_gate(_url(server), "t", requests=5)
    assert verdict.ok, verdict.to_json()
    assert [c.name for c in verdict.checks] == ["heartbeat", "write", "read back", "requests"]


def test_a_heartbeat_answering_500_fails_the_heartbeat_and_the_requests(server):
    _Api.mode = "fail"
    verdict = run_gate(_url(server), "t", requests=5)
    assert not verdict.ok
    assert verdict.failed == ["heartbeat", "requests"]
    assert "0/5 answered 200" in verdict.checks[-1].detail


def test_a_wrong_token_fails_the_write(server):
    verdict = run_gate(_url(server), "wrong", requests=1)
    assert verdict.failed == ["write", "read back"]


def test_a_slow_service_fails_within_the_bound(server):
    _Api.mode = "slow"
    verdict = run_gate(_url(server), "t", requests=2, timeout=0.2)
    assert "heartbeat" in verdict.failed
    assert verdict.checks[0].detail == "no answer in time"


def test_a_refused_connection_is_a_failed_check_not_an_error():
    verdict = run_gate(f"http://127.0.0.1:{free_port()}", "t", requests=2)
    assert verdict.failed == ["heartbeat", "write", "read back", "requests"]
    assert "ConnectError" in verdict.checks[0].detail
