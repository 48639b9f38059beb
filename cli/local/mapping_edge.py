"""The load balancer's part of the local mapping: listeners, rules, the upstream, headers and the certificate."""

from __future__ import annotations

from typing import Any

from cli.core import resource_types
from cli.local.mapping_core import MappingError, plain_text

SSL_POLICY_PROTOCOLS = {
    "ELBSecurityPolicy-TLS13-1-3-2021-06": ("TLSv1.3",),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": ("TLSv1.2", "TLSv1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": ("TLSv1.2", "TLSv1.3"),
    "ELBSecurityPolicy-TLS-1-2-2017-01": ("TLSv1.2",),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": ("TLSv1.2",),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": ("TLSv1.2",),
}
"""The TLS versions of the load balancer's SSL policies; an unknown policy is refused, not guessed."""
RESPONSE_HEADERS = {
    "routingHttpResponseStrictTransportSecurityHeaderValue": "Strict-Transport-Security",
    "routingHttpResponseXContentTypeOptionsHeaderValue": "X-Content-Type-Options",
    "routingHttpResponseXFrameOptionsHeaderValue": "X-Frame-Options",
    "routingHttpResponseContentSecurityPolicyHeaderValue": "Content-Security-Policy",
    "routingHttpResponseAccessControlAllowOriginHeaderValue": "Access-Control-Allow-Origin",
    "routingHttpResponseAccessControlAllowMethodsHeaderValue": "Access-Control-Allow-Methods",
    "routingHttpResponseAccessControlAllowHeadersHeaderValue": "Access-Control-Allow-Headers",
    "routingHttpResponseAccessControlAllowCredentialsHeaderValue": "Access-Control-Allow-Credentials",
    "routingHttpResponseAccessControlExposeHeadersHeaderValue": "Access-Control-Expose-Headers",
    "routingHttpResponseAccessControlMaxAgeHeaderValue": "Access-Control-Max-Age",
}
"""The listener attributes that add a response header, and the header each one sets."""


def load_balancer(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    listeners = by_type.get(resource_types.LB_LISTENER, [])
    redirect = https = None
    for listener in listeners:
        inputs = listener.inputs
        if inputs.get("protocol") == "HTTPS" and int(inputs.get("port", 443)) == 443:
            policy = inputs.get("sslPolicy", "ELBSecurityPolicy-2016-08")
            if policy not in SSL_POLICY_PROTOCOLS:
                raise MappingError(
                    f"{listener.urn}: SSL policy {policy!r} has no local TLS versions; known: "
                    + ", ".join(SSL_POLICY_PROTOCOLS)
                )
            https = {
                "urn": listener.urn,
                "arn": listener.state.get("arn"),
                "protocols": SSL_POLICY_PROTOCOLS[policy],
                **_response_headers(listener),
            }
        elif inputs.get("protocol") != "HTTPS":
            action = (inputs.get("defaultActions") or [{}])[0]
            if action.get("type") == "redirect":
                target = action["redirect"]
                redirect = {
                    "urn": listener.urn,
                    "protocol": target.get("protocol", "#{protocol}"),
                    "host": target.get("host", "#{host}"),
                    "port": str(target.get("port", "#{port}")),
                    "status": int(str(target.get("statusCode", "HTTP_301")).removeprefix("HTTP_")),
                    **_response_headers(listener),
                }
    if https is None:
        raise MappingError("the local stack needs the load balancer's HTTPS listener; the plan declares none")
    return {
        "redirect": redirect,
        "https": https,
        "rules": _fixed_responses(by_type, https["arn"]),
        "target": _upstream(by_type),
    }


def _fixed_responses(by_type: dict[str, list[Any]], https_arn: Any) -> list[dict[str, Any]]:
    """The HTTPS listener's fixed-response rules as nginx locations. Forwarding rules are what the upstream does
    already (the production rule), and the release test listener's rule has the local release's own test port."""
    rules = []
    for rule in by_type.get(resource_types.LB_LISTENER_RULE, []):
        inputs = rule.inputs
        actions = inputs.get("actions", [])
        if inputs.get("listenerArn") != https_arn or all(a.get("type") == "forward" for a in actions):
            continue
        fixed = [a["fixedResponse"] for a in actions if a.get("type") == "fixed-response"]
        paths = [v for c in inputs.get("conditions", []) for v in (c.get("pathPattern") or {}).get("values", [])]
        only_paths = all(set(c) == {"pathPattern"} for c in inputs.get("conditions", []))
        if not fixed or not paths or not only_paths:
            raise MappingError(f"{rule.urn}: the local load balancer realises fixed responses on paths only")
        rules.append(
            {
                "urn": rule.urn,
                "priority": int(inputs.get("priority", 50000)),
                "paths": paths,
                "status": int(fixed[0]["statusCode"]),
                "content_type": fixed[0].get("contentType", "text/plain"),
                "body": fixed[0].get("messageBody", ""),
            }
        )
    return sorted(rules, key=lambda r: r["priority"])


def _upstream(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    """The one nginx upstream: blue's and green's target groups must agree on port and health check."""
    groups = by_type.get(resource_types.LB_TARGET_GROUP, [])
    if not groups:
        raise MappingError(f"the local stack needs one {resource_types.LB_TARGET_GROUP}; the plan declares none")
    targets = []
    for group in groups:
        check = group.inputs.get("healthCheck", {})
        targets.append(
            {
                "port": int(group.inputs.get("port", 80)),
                "health_path": check.get("path", "/"),
                "healthy_threshold": int(check.get("healthyThreshold", 5)),
                "unhealthy_threshold": int(check.get("unhealthyThreshold", 2)),
                "interval": int(check.get("interval", 30)),
                "matcher": str(check.get("matcher", "200")),
            }
        )
    if any(target != targets[0] for target in targets):
        raise MappingError(
            "the local stack runs one upstream; the plan's target groups differ in port or health check: "
            + ", ".join(g.urn for g in groups)
        )
    return targets[0]


def _response_headers(listener: Any) -> dict[str, Any]:
    """The headers a listener adds to every answer (its `routing.http.response.*` attributes) and whether it names
    itself in a Server header (on unless turned off, as on AWS)."""
    inputs = listener.inputs
    headers = {}
    for attribute, header in RESPONSE_HEADERS.items():
        value = inputs.get(attribute)
        if value is None:
            continue
        if not isinstance(value, str) or not value or not plain_text(value):
            raise MappingError(f"{listener.urn}: {attribute} {value!r} is not a header value nginx can send")
        headers[header] = value
    return {"headers": headers, "server_header": inputs.get("routingHttpResponseServerEnabled", True) is not False}


def certificate(by_type: dict[str, list[Any]]) -> dict[str, Any]:
    names = [r.inputs["domainName"] for r in by_type.get(resource_types.ACM_CERTIFICATE, [])]
    names += [
        alt
        for r in by_type.get(resource_types.ACM_CERTIFICATE, [])
        for alt in r.inputs.get("subjectAlternativeNames", [])
    ]
    records = [
        r.inputs["name"]
        for r in by_type.get(resource_types.ROUTE53_RECORD, [])
        if r.inputs.get("type") in ("A", "AAAA")
    ]
    return {"names": sorted({*names, *records})}
