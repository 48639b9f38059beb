"""The load balancer's listeners: security headers on every HTTPS answer, no Server header, a redirect to the
configured host only, and bad header values refused with the field named."""

from __future__ import annotations

import pytest

from infra import loadbalancer
from tests.mocks import Recording, recorded


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    return recorded(request.param)


def _listeners(stack: Recording) -> dict[float, object]:
    return {r["port"]: r for r in stack.of_type("aws:lb/listener:Listener")}


def test_https_listener_sets_the_security_headers(stack: Recording) -> None:
    https = _listeners(stack)[443.0]
    hsts = https["routingHttpResponseStrictTransportSecurityHeaderValue"]
    age = int(hsts.split(";")[0].removeprefix("max-age="))
    assert age >= 365 * 24 * 3600, https.urn
    assert "includeSubDomains" in hsts, https.urn
    assert https["routingHttpResponseXContentTypeOptionsHeaderValue"] == "nosniff", https.urn
    assert https["routingHttpResponseXFrameOptionsHeaderValue"] == "DENY", https.urn
    assert https["routingHttpResponseContentSecurityPolicyHeaderValue"] == "default-src 'none'; frame-ancestors 'none'"
    assert https["routingHttpResponseServerEnabled"] is False, https.urn
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-"), https.urn


def test_redirect_names_the_configured_host_not_the_request_host(stack: Recording) -> None:
    http = _listeners(stack)[80.0]
    redirect = http["defaultActions"][0]["redirect"]
    assert redirect["host"] == stack.settings.host_name, http.urn
    assert "#{host}" not in str(redirect), http.urn
    assert redirect["port"] == "443", http.urn
    assert http["routingHttpResponseServerEnabled"] is False, http.urn


BASE = dict(vpc_id="v", subnet_ids=["a", "b"], security_group_id="s", certificate_arn="c", host_name="h.example")


@pytest.mark.parametrize(
    ("field", "headers"),
    [
        ("strict_transport_security", loadbalancer.ResponseHeaders(strict_transport_security="max-age=3600")),
        (
            "strict_transport_security",
            loadbalancer.ResponseHeaders(strict_transport_security="max-age=63072000"),
        ),
        ("content_type_options", loadbalancer.ResponseHeaders(content_type_options="sniff")),
        ("frame_options", loadbalancer.ResponseHeaders(frame_options="ALLOW-FROM https://x.example")),
        ("content_security_policy", loadbalancer.ResponseHeaders(content_security_policy="default-src 'self'")),
    ],
)
def test_weak_headers_are_refused_with_the_field(field: str, headers: loadbalancer.ResponseHeaders) -> None:
    with pytest.raises(ValueError, match=rf"^response_headers\.{field}=.* is not allowed"):
        loadbalancer.LoadBalancer("l", loadbalancer.LoadBalancerArgs(**BASE, log_bucket="b", response_headers=headers))


def test_a_host_name_with_a_path_or_space_is_refused() -> None:
    args = loadbalancer.LoadBalancerArgs(**{**BASE, "host_name": "evil/x y"}, log_bucket="b")
    with pytest.raises(ValueError, match=r"^host_name="):
        loadbalancer.LoadBalancer("l", args)
