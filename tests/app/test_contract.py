"""Each endpoint's contract, on the direct path and behind PgBouncer."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.app.tokens import admin_token


@pytest.fixture
def client(api):
    with httpx.Client(base_url=api.base_url, timeout=10) as http:
        yield http


def _write(client, user_id: str, practice: dict) -> httpx.Response:
    return client.post(
        "/map",
        json={"user_id": user_id, "practice": practice},
        headers={"Authorization": f"Bearer {admin_token()}"},
    )


def test_livez_answers_ok_without_touching_the_database(client):
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"].startswith("application/json")


def test_heartbeat_reports_service_database_and_pool_to_the_admin_scope(client):
    response = client.get("/heartbeat", headers={"Authorization": f"Bearer {admin_token()}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "groundwork-api"
    assert body["version"] == "0.0.0-dev"
    assert body["uptime_s"] >= 0
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["latency_ms"] > 0
    assert body["database"]["server_version"].split(".")[0].isdigit()
    assert set(body["pool"]) == {"size", "idle", "waiting", "max"}
    assert body["pool"]["max"] == 10


def test_first_write_creates_then_updates_increase_the_version(client, postgres):
    user_id = f"user-{uuid.uuid4()}"
    first = _write(client, user_id, {"scales": ["C major"], "minutes": 20})
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["user_id"] == user_id
    assert created["version"] == 1
    assert created["practice"] == {"scales": ["C major"], "minutes": 20}

    second = _write(client, user_id, {"scales": ["G major"], "minutes": 25.5})
    assert second.status_code == 200, second.text
    updated = second.json()
    assert updated["version"] == 2
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]

    rows = postgres.query("SELECT practice, version FROM user_practice WHERE user_id = %s", (user_id,))
    assert rows == [({"scales": ["G major"], "minutes": 25.5}, 2)]


def test_unicode_and_nesting_within_limits_round_trip(client):
    practice = {"名前": "练习 🎹", "nested": {"a": [1, {"b": [True, None, -1.5e-3]}]}, "empty": {}}
    response = _write(client, f"ü-{uuid.uuid4()}", practice)
    assert response.status_code == 201, response.text
    assert response.json()["practice"] == practice


def test_request_id_is_honoured_and_echoed(client):
    assert client.get("/livez", headers={"X-Request-ID": "abc-123.x"}).headers["x-request-id"] == "abc-123.x"
    generated = client.get("/livez", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert generated != "bad id\twith spaces"
    assert len(generated) == 32


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/map"), ("GET", "/map"), ("DELETE", "/heartbeat"), ("POST", "/livez"), ("PATCH", "/metrics")],
)
def test_methods_that_do_not_exist_get_405_json(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_unknown_paths_get_404_json(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not Found"}}


def test_metrics_expose_requests_latency_and_pool_in_prometheus_text(client):
    client.get("/livez")
    client.get("/heartbeat")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/livez",status="200"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/heartbeat",status="200"}' in text
    assert 'db_pool_connections{state="max"} 20.0' in text  # two workers, ten each, summed
    assert "db_up 1.0" in text


@pytest.mark.parametrize("path", ["/metrics", "/%6Detrics", "/metrics?x=1"])
def test_metrics_are_refused_to_requests_relayed_by_a_load_balancer(api, path):
    import socket

    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404"), reply[:100]
    assert b"http_requests_total" not in reply


def test_openapi_document_and_docs_page(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/livez", "/heartbeat", "/map"}
    assert spec["paths"]["/map"]["post"]["security"] == [{"bearer": ["map/write"]}]
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/openapi.json" in page.text
    assert "<script" not in page.text
    assert "src=" not in page.text


def test_access_log_lines_are_json_with_request_fields(client, api):
    client.get("/livez", headers={"X-Request-ID": "log-check-1"})
    entry = api.log_entry("log-check-1")
    assert entry["method"] == "GET"
    assert entry["path"] == "/livez"
    assert entry["route"] == "/livez"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    assert entry["level"] == "info"
