"""Start-up settings: every bad or missing variable is named, and the image's command exits 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import APP_DIR, app_environment, free_port, image_command

sys.path.insert(0, str(APP_DIR))
from groundwork_api.settings import SettingsError, load

GOOD = {
    "DATABASE_URL": "postgresql://app:pw@db:5432/app",
    "JWT_SECRET": "s" * 32,
    "JWT_ISSUER": "issuer",
    "JWT_AUDIENCE": "audience",
}


def test_defaults_are_the_documented_ones():
    settings = load(GOOD)
    assert settings.port == 8000
    assert settings.database_timeout == 2.0
    assert settings.max_body_bytes == 64 * 1024
    assert settings.pool_max_size == 10
    assert settings.cors_origins == ()
    assert settings.database_sslmode == ""
    assert settings.database_iam_auth is False
    assert settings.jwt_secret_next == settings.jwt_secret_previous == ""
    assert settings.idempotency_ttl == 86400


def test_secrets_are_not_in_the_settings_repr():
    text = repr(load({**GOOD, "JWT_SECRET_NEXT": "n" * 32, "JWT_SECRET_PREVIOUS": "p" * 32}))
    assert "pw@db" not in text
    for secret in ("s" * 32, "n" * 32, "p" * 32):
        assert secret not in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"DATABASE_URL": ""}, "DATABASE_URL is missing"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a postgresql:// URL"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET is too short; allowed: at least 32 bytes"),
        ({"JWT_ISSUER": ""}, "JWT_ISSUER is missing"),
        ({"PORT": "eighty"}, "PORT='eighty' is not a whole number; allowed: 1 to 65535"),
        ({"PORT": "70000"}, "PORT='70000' is out of range; allowed: 1 to 65535"),
        ({"DATABASE_TIMEOUT": "0"}, "DATABASE_TIMEOUT='0' is out of range; allowed: 0.05 to 60"),
        ({"DATABASE_SSLMODE": "sometimes"}, "DATABASE_SSLMODE='sometimes' is not allowed; allowed: disable"),
        ({"POOL_MIN_SIZE": "20", "POOL_MAX_SIZE": "5"}, "POOL_MIN_SIZE=20 exceeds POOL_MAX_SIZE=5"),
        ({"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS entry 'example.com' is not an origin"),
        ({"ACCESS_LOG": "maybe"}, "ACCESS_LOG='maybe' is not a boolean"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' is not allowed; allowed: debug, info, warning, error"),
        ({"JWT_SECRET_NEXT": "short"}, "JWT_SECRET_NEXT is too short; allowed: at least 32 bytes"),
        ({"JWT_SECRET_PREVIOUS": "short"}, "JWT_SECRET_PREVIOUS is too short; allowed: at least 32 bytes"),
        ({"DATABASE_IAM_AUTH": "maybe"}, "DATABASE_IAM_AUTH='maybe' is not a boolean"),
        ({"IDEMPOTENCY_TTL": "10"}, "IDEMPOTENCY_TTL='10' is out of range; allowed: 60 to 604800"),
        ({"IDEMPOTENCY_TTL": "a day"}, "IDEMPOTENCY_TTL='a day' is not a number; allowed: 60 to 604800"),
    ],
)
def test_each_mistake_is_named_with_what_is_allowed(change, expected):
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, **change})
    assert expected in str(caught.value)


def test_all_problems_are_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        load({})
    assert len(caught.value.problems) == 4


def test_database_url_value_is_never_echoed():
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, "DATABASE_URL": "mysql://user:hunter2@host/db"})
    assert "hunter2" not in str(caught.value)


def test_image_command_exits_2_with_the_problems_and_no_traceback(tmp_path):
    env = app_environment("postgresql://x@127.0.0.1:1/x", free_port(), JWT_SECRET="short", PORT="nope")
    result = subprocess.run(image_command(), cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "JWT_SECRET is too short" in result.stdout
    assert "PORT='nope' is not a whole number" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


IAM = {
    **GOOD,
    "DATABASE_URL": "postgresql://app@proxy:5432/app",
    "DATABASE_IAM_AUTH": "true",
    "AWS_REGION": "eu-west-1",
}


def test_iam_auth_reads_the_region_falling_back_to_the_default_region():
    assert load(IAM).database_iam_auth is True
    assert load(IAM).aws_region == "eu-west-1"
    assert load({**IAM, "AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"}).aws_region == "us-east-2"
    assert load({**IAM, "AWS_DEFAULT_REGION": "us-east-2"}).aws_region == "eu-west-1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"DATABASE_URL": "postgresql://app:hunter2@proxy:5432/app"}, "DATABASE_URL must not contain a password"),
        ({"DATABASE_URL": "postgresql://app@proxy/app?password=hunter2"}, "DATABASE_URL must not contain a password"),
        ({"DATABASE_URL": "postgresql://proxy:5432/app"}, "DATABASE_URL must name a user, one host"),
        ({"DATABASE_URL": "postgresql://app@/app"}, "DATABASE_URL must name a user, one host"),
        ({"DATABASE_URL": "postgresql://app@proxy-a,proxy-b/app"}, "DATABASE_URL must name a user, one host"),
        ({"DATABASE_URL": "postgresql://app@proxy:hunter2/app"}, "DATABASE_URL must name a user, one host"),
        ({"DATABASE_URL": "postgresql://%zz-hunter2@proxy/app"}, "DATABASE_URL could not be parsed"),
        ({"AWS_REGION": ""}, "AWS_REGION and AWS_DEFAULT_REGION are both missing; DATABASE_IAM_AUTH needs one"),
    ],
)
def test_iam_auth_mistakes_are_named_without_the_url(change, expected):
    with pytest.raises(SettingsError) as caught:
        load({**IAM, **change})
    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_without_iam_auth_the_url_keeps_its_password_and_no_region_is_needed():
    settings = load({**IAM, "DATABASE_IAM_AUTH": "false", "DATABASE_URL": GOOD["DATABASE_URL"], "AWS_REGION": ""})
    assert settings.database_iam_auth is False
    assert settings.database_url == GOOD["DATABASE_URL"]


def test_short_signing_keys_are_never_echoed():
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, "JWT_SECRET_NEXT": "next-hunter2", "JWT_SECRET_PREVIOUS": "previous-hunter2"})
    assert len(caught.value.problems) == 2
    assert "hunter2" not in str(caught.value)
