"""Admin access lines are written whatever LOG_LEVEL says; a user's own access writes none."""

from __future__ import annotations

import json
import sys

import pytest

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api import logs
from groundwork_api.access import Principal, require_owner
from groundwork_api.errors import ApiError

ADMIN = Principal(subject="machine", client_id="machine-client", admin=True, may_read=True, may_write=True, expires=0)
USER = Principal(subject="alice", client_id="app-client", admin=False, may_read=True, may_write=True, expires=0)


@pytest.fixture
def quiet_logs():
    logs.set_level("error")
    yield
    logs.set_level("info")


def _lines(capfd) -> list[dict]:
    logs.flush()
    return [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]


def test_an_admin_access_is_logged_even_when_only_errors_are(quiet_logs, capfd):
    require_owner(ADMIN, "bob", "read", "req-1")
    (line,) = _lines(capfd)
    assert line["event"] == "admin access"
    assert (line["client_id"], line["user_id"], line["action"], line["request_id"]) == (
        "machine-client",
        "bob",
        "read",
        "req-1",
    )


def test_own_access_and_refusals_write_no_audit_line(capfd):
    require_owner(USER, "alice", "write", "req-2")
    with pytest.raises(ApiError) as refused:
        require_owner(USER, "bob", "write", "req-3")
    assert refused.value.status == 403
    assert _lines(capfd) == []
