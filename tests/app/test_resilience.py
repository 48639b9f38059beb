"""The database stopped, paused or missing at start: bounded 503s, nothing written, and recovery without a restart."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from tests.app.tokens import admin_token
from tests.harness import APP_DIR, PgBouncer, Postgres, migrate

sys.path.insert(0, str(APP_DIR))
from groundwork_api.migrations import MIGRATIONS

DEADLINE = 1.0
PATIENCE = 30.0
"""How long the test's client waits: far past the service's deadline, so an answer at all (rather than the client's
own timeout) shows the service bounded its wait, whatever the machine's load; the figure itself is a benchmark's."""


@pytest.fixture
def own_database(scratch):
    """A cluster and pooler that this test may stop, pause and restart."""
    name = uuid.uuid4().hex[:8]
    server = Postgres(scratch / f"pg-{name}").init()
    bouncer = PgBouncer(server, scratch / f"pgbouncer-{name}", query_wait_timeout=30).start()
    yield server, bouncer
    bouncer.stop()
    server.destroy()


def _cluster_pids(server: Postgres) -> list[int]:
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False)
    return [postmaster, *map(int, children.stdout.split())]


@contextlib.contextmanager
def paused(server: Postgres):
    """Freeze every process of the cluster: connections stay open but nothing answers."""
    pids = _cluster_pids(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _write(app, user_id: str) -> httpx.Response:
    return httpx.post(
        f"{app.base_url}/map",
        json={"user_id": user_id, "practice": {"k": 1}},
        headers={"Authorization": f"Bearer {admin_token()}"},
        timeout=PATIENCE,
    )


def _heartbeat(app, timeout: float = 5) -> httpx.Response:
    """A heartbeat with every detail, from a fresh probe (the admin scope's), not the one shared for a second."""
    return httpx.get(f"{app.base_url}/heartbeat", headers={"Authorization": f"Bearer {admin_token()}"}, timeout=timeout)


def _reason_once_reachable(app, timeout: float = 15) -> str:
    """The heartbeat's reason for refusing once the database answers again (no longer a connection failure)."""
    deadline = time.monotonic() + timeout
    reason = ""
    while time.monotonic() < deadline:
        answer = _heartbeat(app, timeout=30)
        reason = answer.json().get("reason", "")
        if answer.status_code != 503 or "schema" in reason:
            return reason
        time.sleep(0.1)
    return reason


def _wait_healthy(app, timeout: float = 15) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _heartbeat(app, timeout=10).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"heartbeat did not recover within {timeout} s")


@pytest.mark.parametrize("path", ["direct", "pooled"])
def test_stopped_database_gives_bounded_503_then_recovers(own_database, start_app, path):
    server, bouncer = own_database
    app = start_app(server.url() if path == "direct" else bouncer.url(), WORKERS="1", DATABASE_TIMEOUT=str(DEADLINE))
    app.wait_for_database()
    assert _write(app, "before-stop").status_code == 201

    server.stop("fast")
    heartbeat = _heartbeat(app, timeout=PATIENCE)
    assert heartbeat.status_code == 503
    body = heartbeat.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert body["reason"]
    assert set(body["pool"]) == {"size", "idle", "waiting", "max"}

    lost = _write(app, "while-down")
    assert lost.status_code == 503
    # Directly, the closed connection is seen before the write goes out: nothing was written. Through the pooler the
    # write reaches PgBouncer, which holds it for a server until the deadline: its outcome is unknown to the API.
    expected = "database_unavailable" if path == "direct" else "write_outcome_unknown"
    assert lost.json()["error"]["code"] == expected
    assert httpx.get(f"{app.base_url}/livez").status_code == 200

    server.start()
    _wait_healthy(app)
    assert _write(app, "after-restart").status_code == 201
    rows = dict(server.query("SELECT user_id, version FROM user_practice"))
    assert rows == {"before-stop": 1, "after-restart": 1}


@pytest.mark.parametrize("path", ["direct", "pooled"])
def test_paused_database_cannot_hang_a_request(own_database, start_app, path):
    server, bouncer = own_database
    app = start_app(server.url() if path == "direct" else bouncer.url(), WORKERS="1", DATABASE_TIMEOUT=str(DEADLINE))
    app.wait_for_database()
    assert _heartbeat(app).status_code == 200
    with paused(server):
        heartbeat = _heartbeat(app, timeout=PATIENCE)
        assert heartbeat.status_code == 503
        write = _write(app, "while-paused")
        assert write.status_code == 503
    _wait_healthy(app)
    assert server.query("SELECT count(*) FROM user_practice WHERE user_id = 'while-paused'") == [(0,)]


@pytest.mark.parametrize("path", ["direct", "pooled"])
def test_starts_without_a_database_and_connects_when_it_appears(own_database, start_app, path):
    server, bouncer = own_database
    server.stop("fast")
    url = server.url() if path == "direct" else bouncer.url()
    app = start_app(url, migrate=False, WORKERS="1", DATABASE_TIMEOUT=str(DEADLINE))
    assert httpx.get(f"{app.base_url}/livez").status_code == 200
    heartbeat = _heartbeat(app, timeout=PATIENCE)
    assert heartbeat.status_code == 503

    server.start()
    behind = _reason_once_reachable(app)
    assert "schema is at version 0" in behind, "a database without this release's schema is refused"
    migrate(url)  # the release's migration step, which the service never runs itself
    _wait_healthy(app)
    response = _write(app, "late-schema")
    assert response.status_code == 201, response.text
    applied = server.query("SELECT version FROM schema_migrations ORDER BY version")
    assert applied == [(m.version,) for m in MIGRATIONS]
    app.log_entry(response.headers["x-request-id"])
    lines = app.log.read_text().splitlines()
    assert any("connection" in line for line in lines), "the failed connection attempts are logged"
    for line in lines:
        json.loads(line)  # every line, the pool's connection errors included, is one JSON object
