"""CORS: configured origins are allowed, others are not, and nothing is allowed when none are configured."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture(scope="module")
def cors_api(postgres, start_app):
    return start_app(postgres.url(), WORKERS="1", CORS_ORIGINS="https://app.example.com")


def _preflight(base_url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{base_url}/map",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_configured_origin_passes_preflight(cors_api):
    response = _preflight(cors_api.base_url, "https://app.example.com")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_other_origin_is_refused(cors_api):
    response = _preflight(cors_api.base_url, "https://evil.example.net")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_no_cors_headers_without_configuration(api):
    response = httpx.get(f"{api.base_url}/livez", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers
