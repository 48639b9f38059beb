"""/heartbeat without credentials says only the status, from one database probe shared by concurrent callers; the
details are for the admin scope. The public OpenAPI document lists only the public routes."""

from __future__ import annotations

import re
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.app.tokens import admin_token, user_token
from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.app import HEARTBEAT_SHARED_S

CALLERS = 40
PUBLIC_ROUTES = {"/livez", "/heartbeat", "/map", "/map/{user_id}", "/map/{user_id}/summary"}


@pytest.fixture(scope="module")
def logged_database(postgres):
    """A database of its own whose every statement PostgreSQL writes to its log, so probes can be counted."""
    name = f"heartbeat_{uuid.uuid4().hex[:8]}"
    with postgres.connect("postgres") as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {postgres.app_user}")
        conn.execute(f"ALTER DATABASE {name} SET log_statement = 'all'")
    return name


@pytest.fixture(scope="module")
def app(postgres, logged_database, start_app):
    return start_app(postgres.url(database=logged_database), WORKERS="1")


def _probes_logged(postgres, since: int) -> int:
    return len(re.findall(rb"statement: SELECT 1\b", postgres.log.read_bytes()[since:]))


def test_without_a_token_only_the_status_is_shown(app):
    response = httpx.get(f"{app.base_url}/heartbeat")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_users_token_sees_only_the_status_too(app):
    response = httpx.get(f"{app.base_url}/heartbeat", headers={"Authorization": f"Bearer {user_token('someone')}"})
    assert response.json() == {"status": "ok"}


def test_an_invalid_token_is_told_so(app):
    response = httpx.get(f"{app.base_url}/heartbeat", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401


def test_the_admin_scope_sees_every_detail_from_a_fresh_probe(app, postgres):
    since = postgres.log.stat().st_size
    headers = {"Authorization": f"Bearer {admin_token()}"}
    bodies = [httpx.get(f"{app.base_url}/heartbeat", headers=headers).json() for _ in range(3)]
    for body in bodies:
        assert body["status"] == "ok"
        assert body["version"]
        assert body["database"]["server_version"]
        assert body["database"]["latency_ms"] >= 0
        assert {"size", "idle", "waiting", "max"} <= body["pool"].keys()
    assert _probes_logged(postgres, since) == 3


def test_concurrent_callers_share_one_probe(app, postgres):
    # The earlier tests' public heartbeats leave an answer that is reused for HEARTBEAT_SHARED_S: let it age, so
    # these callers need a probe of their own.
    time.sleep(HEARTBEAT_SHARED_S + 0.1)
    since = postgres.log.stat().st_size

    def call(_):
        return httpx.get(f"{app.base_url}/heartbeat", timeout=10)

    with ThreadPoolExecutor(CALLERS) as pool:
        answers = list(pool.map(call, range(CALLERS)))
    assert {a.status_code for a in answers} == {200}
    probes = _probes_logged(postgres, since)
    print(f"{CALLERS} concurrent public heartbeats ran {probes} database probe(s)")
    # One probe serves every caller within a second; even a slow machine spreading the calls over a few seconds
    # stays far below one probe per caller.
    assert 1 <= probes <= CALLERS // 4


def test_the_public_document_lists_only_public_routes(app):
    document = httpx.get(f"{app.base_url}/openapi.json").json()
    assert set(document["paths"]) == PUBLIC_ROUTES
    assert "/metrics" not in httpx.get(f"{app.base_url}/docs").text
