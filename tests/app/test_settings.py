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
    assert settings.keepalive_seconds == 5
    assert load({**GOOD, "KEEPALIVE_SECONDS": "65"}).keepalive_seconds == 65


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
        ({"KEEPALIVE_SECONDS": "0"}, "KEEPALIVE_SECONDS='0' is out of range; allowed: 1 to 4000"),
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


def test_cache_and_limit_defaults():
    settings = load(GOOD)
    assert settings.cache_url == ""
    assert settings.cache_iam_auth is False
    assert settings.cache_ttl_seconds == 300
    assert settings.subject_rate_limit == 0
    assert settings.subject_rate_window_seconds == 60


def test_cache_settings_are_read_and_the_password_stays_out_of_the_repr(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load(
        {
            **GOOD,
            "CACHE_URL": "rediss://:url-hunter2@cache.internal:6380/0",
            "CACHE_USERNAME": "app",
            "CACHE_PASSWORD": "password-hunter2",
            "CACHE_CA_FILE": str(ca),
            "CACHE_TTL_SECONDS": "60",
            "SUBJECT_RATE_LIMIT": "120",
            "SUBJECT_RATE_WINDOW_SECONDS": "30",
        }
    )
    assert (settings.cache_username, settings.cache_ttl_seconds, settings.cache_ca_file) == ("app", 60, str(ca))
    assert (settings.subject_rate_limit, settings.subject_rate_window_seconds) == (120, 30)
    assert "hunter2" not in repr(settings)
    assert load({**GOOD, "CACHE_URL": "redis://127.0.0.1:6379/0"}).cache_url.startswith("redis://")
    assert load({**GOOD, "CACHE_URL": "redis://[::1]:6379"}).cache_url == "redis://[::1]:6379"
    iam = load({**GOOD, "CACHE_URL": "rediss://master.c.cache.amazonaws.com:6379/0", "CACHE_IAM_AUTH": "true",
                "CACHE_USERNAME": "app", "AWS_REGION": "eu-west-1"})  # fmt: skip
    assert iam.cache_iam_auth is True


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"CACHE_URL": "redis://:hunter2@cache.internal:6379"}, "CACHE_URL uses redis:// (no TLS) for a host that is"),
        ({"CACHE_URL": "redis://10.0.0.5:6379"}, "allowed: rediss://, or redis:// for 127.0.0.1, ::1 or localhost"),
        ({"CACHE_URL": "http://hunter2@cache:6379"}, "CACHE_URL is not a cache address (its value is not shown)"),
        ({"CACHE_URL": "rediss://cache:port-hunter2"}, "CACHE_URL is not a cache address"),
        ({"CACHE_URL": "rediss://cache:6379/db-hunter2"}, "CACHE_URL is not a cache address"),
        ({"CACHE_URL": "rediss:///0"}, "CACHE_URL is not a cache address"),
        ({"CACHE_IAM_AUTH": "true"}, "CACHE_IAM_AUTH=true needs CACHE_URL"),
        (
            {"CACHE_URL": "rediss://cache:6379", "CACHE_IAM_AUTH": "true", "AWS_REGION": "eu-west-1"},
            "CACHE_USERNAME is missing; CACHE_IAM_AUTH needs the cache user",
        ),
        (
            {"CACHE_URL": "rediss://cache:6379", "CACHE_IAM_AUTH": "true", "CACHE_USERNAME": "app"},
            "AWS_REGION and AWS_DEFAULT_REGION are both missing; CACHE_IAM_AUTH needs one",
        ),
        (
            {
                "CACHE_URL": "rediss://cache:6379",
                "CACHE_IAM_AUTH": "true",
                "CACHE_USERNAME": "app",
                "AWS_REGION": "eu-west-1",
                "CACHE_PASSWORD": "hunter2",
            },
            "CACHE_PASSWORD and a password in CACHE_URL are not allowed with CACHE_IAM_AUTH on",
        ),
        ({"CACHE_IAM_AUTH": "maybe"}, "CACHE_IAM_AUTH='maybe' is not a boolean"),
        ({"CACHE_CA_FILE": "/nonexistent/ca.pem"}, "CACHE_CA_FILE='/nonexistent/ca.pem' is not a readable file"),
        ({"CACHE_TTL_SECONDS": "0"}, "CACHE_TTL_SECONDS='0' is out of range; allowed: 1 to 604800"),
        ({"SUBJECT_RATE_LIMIT": "-1"}, "SUBJECT_RATE_LIMIT='-1' is out of range; allowed: 0 to 1000000"),
        ({"SUBJECT_RATE_LIMIT": "many"}, "SUBJECT_RATE_LIMIT='many' is not a whole number"),
        ({"SUBJECT_RATE_WINDOW_SECONDS": "0"}, "SUBJECT_RATE_WINDOW_SECONDS='0' is out of range; allowed: 1 to 86400"),
    ],
)
def test_each_cache_and_limit_mistake_is_named_without_secrets(change, expected):
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, **change})
    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value)


OIDC = {
    "DATABASE_URL": "postgresql://app:pw@db:5432/app",
    "JWT_JWKS_URL": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/.well-known/jwks.json",
    "JWT_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool",
    "JWT_AUDIENCE": "app-client, machine-client",
}


def test_an_issuer_key_set_needs_no_secret_and_lists_its_clients():
    settings = load({**OIDC, "JWT_SCOPE_PREFIX": "groundwork/", "JWT_USER_SCOPE": "aws.cognito.signin.user.admin"})
    assert settings.jwt_jwks_url == OIDC["JWT_JWKS_URL"]
    assert settings.jwt_secret == ""
    assert settings.jwt_audience == ("app-client", "machine-client")
    assert settings.jwt_scope_prefix == "groundwork/"
    assert settings.jwt_user_scope == "aws.cognito.signin.user.admin"
    assert settings.jwt_max_lifetime == 86400
    assert settings.jwt_leeway == 5


def test_loopback_key_sets_may_use_http():
    assert load({**OIDC, "JWT_JWKS_URL": "http://127.0.0.1:5000/pool/.well-known/jwks.json"}).jwt_jwks_url


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"JWT_SECRET": "s" * 32}, "JWT_SECRET is set with JWT_JWKS_URL; allowed: one of the two"),
        ({"JWT_SECRET_NEXT": "n" * 32}, "JWT_SECRET_NEXT is set with JWT_JWKS_URL"),
        ({"JWT_JWKS_URL": "http://idp.example.com/jwks.json"}, "uses http:// for a host that is not loopback"),
        ({"JWT_JWKS_URL": "ftp://idp.example.com/jwks.json"}, "is not an address; allowed: https://"),
        ({"JWT_JWKS_URL": "https://user@idp.example.com/jwks"}, "is not an address"),
        ({"JWT_JWKS_URL": "https://idp:port/jwks"}, "is not an address"),
        ({"JWT_AUDIENCE": ""}, "JWT_AUDIENCE is missing"),
        ({"JWT_AUDIENCE": " , "}, "JWT_AUDIENCE lists no value"),
        ({"JWT_SCOPE_PREFIX": "has space/"}, "JWT_SCOPE_PREFIX='has space/' has a character a scope cannot hold"),
        ({"JWT_USER_SCOPE": 'quo"te'}, "JWT_USER_SCOPE='quo\"te' has a character"),
        ({"JWT_MAX_LIFETIME": "10"}, "JWT_MAX_LIFETIME='10' is out of range; allowed: 60 to 604800"),
        ({"JWT_LEEWAY": "3600"}, "JWT_LEEWAY='3600' is out of range; allowed: 0 to 300"),
    ],
)
def test_each_token_mistake_is_named_with_what_is_allowed(change, expected):
    with pytest.raises(SettingsError) as caught:
        load({**OIDC, **change})
    assert expected in str(caught.value)


def test_without_a_key_set_the_hs256_secret_is_required():
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, "JWT_SECRET": ""})
    assert "JWT_SECRET is missing; it is required unless JWT_JWKS_URL names the issuer's key set" in str(caught.value)


def test_secrets_are_never_echoed_in_token_problems():
    with pytest.raises(SettingsError) as caught:
        load({**OIDC, "JWT_SECRET": "hunter2-" * 5})
    assert "hunter2" not in str(caught.value)
