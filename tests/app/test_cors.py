"""CORS: configured origins, methods and headers are allowed, others are not, and nothing without configuration."""

from __future__ import annotations

import subprocess
import sys

import httpx
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


@pytest.fixture(scope="module")
def cors_api(postgres, start_app):
    return start_app(
        postgres.url(),
        WORKERS="1",
        CORS_ORIGINS="https://app.example.com, HTTPS://Admin.Example.com:8443",
        CORS_ALLOW_CREDENTIALS="true",
    )


def _preflight(base_url: str, origin: str, method: str = "POST", headers: str = "authorization,content-type"):
    return httpx.options(
        f"{base_url}/map",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_configured_origin_passes_preflight(cors_api):
    response = _preflight(cors_api.base_url, "https://app.example.com", headers="authorization,idempotency-key")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert set(response.headers["access-control-allow-methods"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_configured_origins_are_compared_as_browsers_send_them(cors_api):
    response = _preflight(cors_api.base_url, "https://admin.example.com:8443")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://admin.example.com:8443"


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example.net", "POST", "authorization"),
        ("https://app.example.com.evil.net", "POST", "authorization"),
        ("http://app.example.com", "POST", "authorization"),
        ("null", "POST", "authorization"),
        ("https://app.example.com", "DELETE", "authorization"),
        ("https://app.example.com", "POST", "x-secret-header"),
    ],
)
def test_other_origins_methods_and_headers_are_refused(cors_api, origin, method, headers):
    response = _preflight(cors_api.base_url, origin, method, headers)
    assert response.status_code == 400
    if origin != "https://app.example.com":
        assert "access-control-allow-origin" not in response.headers


def test_simple_requests_carry_the_headers_only_for_allowed_origins(cors_api):
    allowed = httpx.get(f"{cors_api.base_url}/livez", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-cache" in allowed.headers["access-control-expose-headers"].lower()
    refused = httpx.get(f"{cors_api.base_url}/livez", headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in refused.headers


def test_no_cors_headers_without_configuration(api):
    response = httpx.get(f"{api.base_url}/livez", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers
    preflight = _preflight(api.base_url, "https://app.example.com")
    assert "access-control-allow-origin" not in preflight.headers


def test_defaults_allow_the_api_methods_and_headers():
    settings = load({**GOOD, "CORS_ORIGINS": "https://app.example.com"})
    assert settings.cors_methods == ("GET", "POST")
    assert settings.cors_headers == ("Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key")
    assert settings.cors_allow_credentials is False
    assert load({**GOOD, "CORS_ORIGINS": "*"}).cors_origins == ("*",)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"CORS_ORIGINS": "*", "CORS_ALLOW_CREDENTIALS": "true"}, "CORS_ORIGINS='*' with CORS_ALLOW_CREDENTIALS=true"),
        ({"CORS_ORIGINS": "*,https://a.example.com"}, "CORS_ORIGINS mixes * with origins"),
        ({"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS entry 'example.com' is not an origin"),
        ({"CORS_ORIGINS": "https://a.example.com/app"}, "CORS_ORIGINS entry 'https://a.example.com/app' is not an"),
        ({"CORS_ORIGINS": "https://user@a.example.com"}, "is not an origin"),
        ({"CORS_ORIGINS": "https://a.example.com:99999"}, "is not an origin"),
        ({"CORS_ORIGINS": "ftp://a.example.com"}, "is not an origin; allowed: scheme://host[:port]"),
        ({"CORS_METHODS": "GET,TRACE"}, "CORS_METHODS entry 'TRACE' is not allowed; allowed: GET, POST"),
        ({"CORS_HEADERS": "Authorization,Bad Header"}, "CORS_HEADERS entry 'Bad Header' is not a header name"),
        (
            {"CORS_ORIGINS": "https://a.example.com", "CORS_HEADERS": "*", "CORS_ALLOW_CREDENTIALS": "true"},
            "CORS_HEADERS='*' with CORS_ALLOW_CREDENTIALS=true",
        ),
        ({"CORS_ALLOW_CREDENTIALS": "sometimes"}, "CORS_ALLOW_CREDENTIALS='sometimes' is not a boolean"),
    ],
)
def test_bad_cors_settings_are_refused_with_what_is_allowed(change, expected):
    with pytest.raises(SettingsError) as caught:
        load({**GOOD, **change})
    assert expected in str(caught.value)


def test_the_image_refuses_a_wildcard_with_credentials_with_exit_2():
    env = app_environment("postgresql://x@127.0.0.1:1/x", free_port(), CORS_ORIGINS="*", CORS_ALLOW_CREDENTIALS="true")
    result = subprocess.run(image_command(), cwd=APP_DIR, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "CORS_ORIGINS='*' with CORS_ALLOW_CREDENTIALS=true is not allowed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
