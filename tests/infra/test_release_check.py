"""The release check's handler against a real HTTP server on loopback (passing, failing, slow, refused, waiting for
its schema) and its one Cognito call under botocore's Stubber."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.stub import Stubber

from cli.local.processes import free_port
from infra.lambdas import release_check
from infra.lambdas.release_check import Config, decide

CLIENT_ID, CLIENT_SECRET, POOL_ID = "machine-client", "a-machine-client-secret-of-32-chars", "eu-west-1_pool"
TOKEN = "token-for-the-check"


@dataclass
class FakeApi:
    """The API's answers the check reads: a heartbeat, POST /map and GET /map/<id>, and a token endpoint."""

    heartbeat_status: int = 200
    heartbeat_body: dict = field(default_factory=lambda: {"status": "ok", "database": {"ok": True, "latency_ms": 1}})
    stall: bool = False
    """Hold every answer until the test ends (a release that hangs)."""
    lose_writes: bool = False
    """Answer writes but read back an older version."""
    records: dict = field(default_factory=dict)
    seen: list = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def api() -> Iterator[tuple[FakeApi, str]]:
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {TOKEN}"

        def do_GET(self) -> None:
            state.seen.append(("GET", self.path, self.headers.get("Authorization")))
            if state.stall:
                state.released.wait(30)
                return
            if self.path == "/heartbeat":
                body = state.heartbeat_body if self._authorized() else {"status": state.heartbeat_body["status"]}
                return self._send(state.heartbeat_status, body)
            if self.path.startswith("/map/") and self._authorized():
                record = state.records.get(self.path.removeprefix("/map/"))
                if record is None:
                    return self._send(404, {"error": {"code": "not_found"}})
                shown = {**record, "version": record["version"] - 1} if state.lose_writes else record
                return self._send(200, shown)
            self._send(401, {"error": {"code": "unauthorized"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.seen.append(("POST", self.path, self.headers.get("Authorization")))
            if self.path == "/oauth2/token":
                basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {basic}" or b"client_credentials" not in body:
                    return self._send(400, {"error": "invalid_client"})
                return self._send(200, {"access_token": TOKEN, "expires_in": 900, "token_type": "Bearer"})
            if self.path == "/map" and self._authorized():
                doc = json.loads(body)
                old = state.records.get(doc["user_id"], {"version": 0})
                record = {"user_id": doc["user_id"], "practice": doc["practice"], "version": old["version"] + 1}
                state.records[doc["user_id"]] = record
                return self._send(200, record)
            self._send(401, {"error": {"code": "unauthorized"}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()


def _config(url: str, *, signed_in: bool = True, **limits: float) -> Config:
    environ = {"CHECK_URL": url, "CHECK_REQUESTS": "5", "CHECK_TIMEOUT_S": "2"}
    environ.update({key: str(value) for key, value in limits.items()})
    if signed_in:
        environ.update(
            {"TOKEN_ENDPOINT": f"{url}/oauth2/token", "USER_POOL_ID": POOL_ID, "MACHINE_CLIENT_ID": CLIENT_ID}
        )
    return Config.from_environ(environ)


@pytest.fixture
def cognito() -> Iterator[Stubber]:
    client = boto3.client("cognito-idp", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield stub


def _expect_secret(stub: Stubber) -> None:
    stub.add_response(
        "describe_user_pool_client",
        {"UserPoolClient": {"ClientId": CLIENT_ID, "UserPoolId": POOL_ID, "ClientSecret": CLIENT_SECRET}},
        {"UserPoolId": POOL_ID, "ClientId": CLIENT_ID},
    )


EVENT = {
    "executionDetails": {
        "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/gw-dev-cluster/gw-dev-api",
        "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/gw-dev-cluster/gw-dev-api/9",
    },
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
}


def test_a_working_release_passes_with_its_write_read_back(api, cognito) -> None:
    state, url = api
    _expect_secret(cognito)
    answer = decide(EVENT, _config(url), cognito=cognito.client)
    cognito.assert_no_pending_responses()
    assert answer["hookStatus"] == "SUCCEEDED", answer["log"]
    log = answer["log"]
    assert log["failed"] == []
    assert [c["name"] for c in log["checks"]] == ["heartbeat", "write", "read back", "failures", "p95"]
    assert log["authenticated"] is True
    assert log["target"].endswith("/gw-dev-api/9")
    assert state.records["release-check"]["version"] == 1
    burst = [s for s in state.seen if s[:2] == ("GET", "/heartbeat") and s[2] is None]
    assert len(burst) == 5, "the burst is bounded by CHECK_REQUESTS"
    assert TOKEN not in json.dumps(log), "the token is never logged"


def test_a_release_whose_heartbeat_fails_is_failed_naming_the_check(api, cognito) -> None:
    state, url = api
    state.heartbeat_status, state.heartbeat_body = 500, {"status": "error"}
    _expect_secret(cognito)
    answer = decide(EVENT, _config(url), cognito=cognito.client)
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["heartbeat"]
    assert "HTTP 500" in answer["log"]["checks"][0]["detail"]
    assert not state.records, "nothing is written through a release that fails its heartbeat"


def test_a_lost_write_fails_the_read_back(api, cognito) -> None:
    state, url = api
    state.lose_writes = True
    _expect_secret(cognito)
    answer = decide(EVENT, _config(url), cognito=cognito.client)
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["read back"]


def test_a_slow_release_fails_within_the_request_timeout(api) -> None:
    state, url = api
    state.stall = True
    answer = decide(EVENT, _config(url, signed_in=False, CHECK_TIMEOUT_S=0.3))
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["heartbeat"]
    assert "timed out" in answer["log"]["checks"][0]["detail"].lower()


def test_a_refused_connection_fails() -> None:
    answer = decide(EVENT, _config(f"http://127.0.0.1:{free_port()}", signed_in=False))
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["heartbeat"]
    assert "refused" in answer["log"]["checks"][0]["detail"].lower()


def test_a_latency_gate_the_burst_cannot_meet_fails_it(api) -> None:
    _, url = api
    answer = decide(EVENT, _config(url, signed_in=False, CHECK_P95_MS=0))
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["p95"]
    assert answer["log"]["authenticated"] is False, "an issuer of your own: heartbeat and burst only"


def test_green_waits_for_its_migration_then_fails_when_it_never_comes(api, cognito) -> None:
    state, url = api
    state.heartbeat_status = 503
    state.heartbeat_body = {"status": "unavailable", "reason": "the database's schema is at version 1, this needs 2"}
    _expect_secret(cognito)
    first = decide(EVENT, _config(url, CHECK_SCHEMA_WAIT_S=600), cognito=cognito.client, now=lambda: 1000.0)
    assert first["hookStatus"] == "IN_PROGRESS"
    assert first["callBackDelay"] == 20
    assert first["hookDetails"] == {"waitingSince": 1000.0}
    _expect_secret(cognito)
    again = {**EVENT, "hookDetails": json.dumps(first["hookDetails"])}
    later = decide(again, _config(url, CHECK_SCHEMA_WAIT_S=600), cognito=cognito.client, now=lambda: 1700.0)
    assert later["hookStatus"] == "FAILED"
    assert later["log"]["failed"] == ["schema"]


def test_a_refused_machine_client_fails_the_token_check(api, cognito) -> None:
    _, url = api
    cognito.add_client_error("describe_user_pool_client", "AccessDeniedException", "not allowed")
    answer = decide(EVENT, _config(url), cognito=cognito.client)
    assert answer["hookStatus"] == "FAILED"
    assert answer["log"]["failed"] == ["token"]


def test_the_handler_logs_one_json_line_and_answers_without_it(api, monkeypatch, capsys) -> None:
    _, url = api
    monkeypatch.setenv("CHECK_URL", url)
    monkeypatch.setenv("CHECK_REQUESTS", "2")
    for name in ("TOKEN_ENDPOINT", "USER_POOL_ID", "MACHINE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    answer = release_check.handler(EVENT, None)
    assert answer == {"hookStatus": "SUCCEEDED"}
    (line,) = capsys.readouterr().out.splitlines()
    logged = json.loads(line)
    assert logged["event"] == "release check"
    assert logged["verdict"] == "SUCCEEDED"


def test_a_bad_configuration_fails_the_release_naming_the_key(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CHECK_URL", "ftp://nowhere")
    assert release_check.handler(EVENT, None) == {"hookStatus": "FAILED"}
    logged = json.loads(capsys.readouterr().out)
    assert logged["failed"] == ["configuration"]
    assert "CHECK_URL" in logged["reason"]


def test_the_percentile_is_nearest_rank() -> None:
    assert release_check.percentile([], 95) is None
    assert release_check.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95) == 5.0
    assert release_check.percentile(list(map(float, range(1, 101))), 95) == 95.0
