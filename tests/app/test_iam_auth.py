"""RDS IAM authentication: every new pooled connection signs in with a fresh auth token, never a stored password."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.harness import APP_DIR

sys.path.insert(0, str(APP_DIR))
from groundwork_api.db import Database
from groundwork_api.settings import Settings, load

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "fake-secret-key-for-tests"}
IAM_ENV = {
    "DATABASE_URL": "postgresql://app_iam@proxy.example.internal:6543/app?sslmode=verify-full",
    "DATABASE_IAM_AUTH": "true",
    "AWS_REGION": "eu-west-1",
    "JWT_SECRET": "s" * 32,
    "JWT_ISSUER": "issuer",
    "JWT_AUDIENCE": "audience",
}


@pytest.fixture
def fake_credentials(monkeypatch):
    """Credentials from the environment, first in botocore's chain: signing works offline and no real key is used."""
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def _connect_kwargs(settings: Settings) -> dict:
    kwargs = Database(settings).pool.kwargs
    assert callable(kwargs), "with IAM auth the pool must resolve its connection options per connection"
    return asyncio.run(kwargs())


def _assert_token_for(token: str, host_port: str, user: str) -> None:
    assert token.startswith(f"{host_port}/?")
    assert "Action=connect" in token
    assert f"DBUser={user}" in token
    assert "X-Amz-Signature=" in token
    assert f"X-Amz-Credential={FAKE_CREDENTIALS['AWS_ACCESS_KEY_ID']}%2F" in token
    assert "eu-west-1%2Frds-db%2Faws4_request" in token


def test_each_connection_gets_a_token_for_the_urls_host_port_and_user(fake_credentials):
    kwargs = _connect_kwargs(load(IAM_ENV))
    _assert_token_for(kwargs["password"], "proxy.example.internal:6543", "app_iam")
    # The usual options still apply.
    assert kwargs["prepare_threshold"] is None
    assert kwargs["autocommit"] is True


def test_the_port_defaults_to_5432(fake_credentials):
    settings = load({**IAM_ENV, "DATABASE_URL": "postgresql://app_iam@proxy.example.internal/app"})
    _assert_token_for(_connect_kwargs(settings)["password"], "proxy.example.internal:5432", "app_iam")


def test_the_token_and_not_a_password_in_the_url_is_what_psycopg_sends(fake_credentials):
    # load() refuses such a URL; built directly, the token must still win over the URL's password.
    settings = Settings(
        database_url="postgresql://app_iam:stored-password@proxy.example.internal:6543/app",
        jwt_secret="s" * 32,
        jwt_issuer="issuer",
        jwt_audience="audience",
        database_iam_auth=True,
        aws_region="eu-west-1",
    )
    kwargs = _connect_kwargs(settings)
    libpq_kwargs = {k: v for k, v in kwargs.items() if k not in ("autocommit", "prepare_threshold")}
    sent = conninfo_to_dict(make_conninfo(settings.database_url, **libpq_kwargs))["password"]
    assert sent == kwargs["password"]
    assert "stored-password" not in sent
    _assert_token_for(sent, "proxy.example.internal:6543", "app_iam")


def test_without_iam_auth_the_options_are_a_plain_dict_and_the_url_password_is_used():
    settings = load({**IAM_ENV, "DATABASE_IAM_AUTH": "false", "DATABASE_URL": "postgresql://app:pw@db:5432/app"})
    kwargs = Database(settings).pool.kwargs
    assert isinstance(kwargs, dict)
    assert "password" not in kwargs


def test_the_running_service_signs_in_with_a_token_and_never_logs_it(postgres, start_app):
    """A local PostgreSQL refuses the token, which shows it was sent as the password; the log never shows it."""
    url = f"postgresql://{postgres.app_user}@127.0.0.1:{postgres.port}/{postgres.app_database}"
    # No migration first: the database refuses the token, which is the point (a migration would be refused alike).
    app = start_app(
        url,
        migrate=False,
        WORKERS="1",
        DATABASE_TIMEOUT="0.5",
        DATABASE_IAM_AUTH="true",
        AWS_REGION="eu-west-1",
        AWS_EC2_METADATA_DISABLED="true",
        **FAKE_CREDENTIALS,
    )
    assert httpx.get(f"{app.base_url}/livez").status_code == 200
    heartbeat = httpx.get(f"{app.base_url}/heartbeat")
    assert heartbeat.status_code == 503
    deadline = time.monotonic() + 10
    while "password authentication failed" not in app.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = app.log.read_text()
    events = "\n".join(json.loads(line)["event"] for line in log.splitlines() if line.startswith("{"))
    assert f'password authentication failed for user "{postgres.app_user}"' in events
    assert "no password supplied" not in events
    for leak in ("X-Amz-Signature", "Action=connect", FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]):
        assert leak not in log
        assert leak not in heartbeat.text
    app.stop()


def test_the_release_migration_signs_in_with_a_token_too(fake_credentials):
    from groundwork_api.migrate import connection_options

    options = connection_options(IAM_ENV)
    _assert_token_for(options["password"], "proxy.example.internal:6543", "app_iam")
    plain = connection_options({**IAM_ENV, "DATABASE_IAM_AUTH": "false"})
    assert "password" not in plain
