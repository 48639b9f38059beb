"""Load balancer checks: active, HTTP redirects, HTTPS with the certificate and a TLS 1.2+ policy, healthy targets."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge
from stacks import outputs as out

FAMILY = "load balancer"
OLD_PROTOCOLS = ("SSLv3", "TLSv1", "TLSv1.1")
"""Protocols a TLS policy must not offer."""


def _name(lb: dict[str, Any]) -> str:
    return str(lb.get("LoadBalancerName", "?"))


def check_active(lb: dict[str, Any]) -> Check:
    """The load balancer is active (provisioning only warns)."""
    state = (lb.get("State") or {}).get("Code", "unknown")
    status = Status.PASS if state == "active" else Status.WARN if state == "provisioning" else Status.FAIL
    return Check(FAMILY, "active", status, f"state {state}", "state active", _name(lb))


def _action_words(action: dict[str, Any]) -> str:
    kind = action.get("Type", "?")
    if kind == "redirect":
        redirect = action.get("RedirectConfig") or {}
        return (
            f"redirect to {redirect.get('Protocol', '#{protocol}')}:{redirect.get('Port', '#{port}')} "
            f"({redirect.get('StatusCode', '?')})"
        )
    if kind == "forward":
        return "forward to targets"
    return kind


def check_http_redirect(lb: dict[str, Any], listener: dict[str, Any] | None) -> Check:
    """Port 80 only redirects to HTTPS on 443."""
    expected = "HTTP :80 redirects to HTTPS:443"
    if listener is None:
        return judge(FAMILY, "HTTP redirects", False, "no listener on port 80", expected, _name(lb))
    actions = listener.get("DefaultActions", [])
    redirect = next((a.get("RedirectConfig") or {} for a in actions if a.get("Type") == "redirect"), None)
    ok = (
        listener.get("Protocol") == "HTTP"
        and redirect is not None
        and redirect.get("Protocol") == "HTTPS"
        and str(redirect.get("Port")) == "443"
    )
    observed = f"{listener.get('Protocol')} :80 " + (", ".join(_action_words(a) for a in actions) or "no action")
    return judge(FAMILY, "HTTP redirects", ok, observed, expected, _name(lb))


def check_https_certificate(lb: dict[str, Any], listener: dict[str, Any] | None, certificate: str | None) -> Check:
    """Port 443 terminates HTTPS with the stack's certificate."""
    expected = f"HTTPS :443 with {certificate}" if certificate else "HTTPS :443 with an ACM certificate"
    if listener is None:
        return judge(FAMILY, "HTTPS certificate", False, "no listener on port 443", expected, _name(lb))
    attached = [c.get("CertificateArn") for c in listener.get("Certificates", []) if c.get("CertificateArn")]
    ok = listener.get("Protocol") == "HTTPS" and bool(attached) and (certificate is None or certificate in attached)
    observed = f"{listener.get('Protocol')} :443 with " + (", ".join(attached) if attached else "no certificate")
    return judge(FAMILY, "HTTPS certificate", ok, observed, expected, _name(lb))


def tls_protocols(ctx: Context, policy: str) -> list[str]:
    """The protocols an ELB TLS policy offers."""
    found = ctx.client("elbv2").describe_ssl_policies(Names=[policy]).get("SslPolicies", [])
    return list(found[0].get("SslProtocols", [])) if found else []


def check_tls_policy(lb: dict[str, Any], policy: str | None, protocols: list[str]) -> Check:
    """The HTTPS policy offers TLS 1.2 at the lowest, and TLS 1.3 (TLS 1.3 missing only warns)."""
    expected = "a policy offering TLS 1.3 and nothing below TLS 1.2 (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06)"
    if not policy:
        return judge(FAMILY, "TLS policy", False, "no TLS policy (no HTTPS listener)", expected, _name(lb))
    old = [p for p in protocols if p in OLD_PROTOCOLS]
    observed = f"{policy} offers {', '.join(protocols) or 'unknown protocols'}"
    if old or not protocols:
        return judge(FAMILY, "TLS policy", False, observed, expected, _name(lb))
    return judge(FAMILY, "TLS policy", "TLSv1.3" in protocols, observed, expected, _name(lb), warn=True)


def _target_words(item: dict[str, Any]) -> str:
    health = item.get("TargetHealth") or {}
    target = item.get("Target") or {}
    text = f"{target.get('Id', '?')} {health.get('State', 'unknown')}"
    return f"{text} ({health['Reason']})" if health.get("Reason") else text


def check_healthy_targets(group: str, health: list[dict[str, Any]], desired: int) -> Check:
    """At least as many healthy targets as tasks desired."""
    healthy = [h for h in health if (h.get("TargetHealth") or {}).get("State") == "healthy"]
    others = [h for h in health if h not in healthy]
    observed = f"{len(healthy)} healthy of {len(health)} registered"
    if others:
        observed += ": " + ", ".join(_target_words(h) for h in others)
    expected = f"at least {desired} healthy (the service's desired count)"
    return judge(FAMILY, "healthy targets", len(healthy) >= desired, observed, expected, group.split(":")[-1])


def target_health(ctx: Context, group: str) -> list[dict[str, Any]]:
    """Health of every target registered in the target group."""
    return list(ctx.client("elbv2").describe_target_health(TargetGroupArn=group).get("TargetHealthDescriptions", []))


def serving_groups(ctx: Context, group: str) -> list[str]:
    """The target group and, for a blue/green service, its alternate: after a release the tasks are in the other.
    The alternate comes from the service's load balancer entry, else from the stack's output."""
    try:
        entries = identify.service_description(ctx).get("loadBalancers", [])
    except (Unverifiable, ClientError):
        entries = []
    alternates = [
        str(alternate)
        for entry in entries
        if (alternate := (entry.get("advancedConfiguration") or {}).get("alternateTargetGroupArn"))
    ]
    if not alternates and ctx.output(out.ALTERNATE_TARGET_GROUP_ARN):
        alternates = [str(ctx.output(out.ALTERNATE_TARGET_GROUP_ARN))]
    return [group, *dict.fromkeys(a for a in alternates if a != group)]


def desired_count(ctx: Context) -> int:
    """Tasks the service wants now (autoscaling may have moved it), else the settings' first count."""
    try:
        return int(identify.service_description(ctx).get("desiredCount", ctx.settings.service_desired_count))
    except (Unverifiable, ClientError):
        return int(ctx.settings.service_desired_count)


def verify(ctx: Context) -> list[Check]:
    """Every load balancer check."""
    lb = identify.load_balancer(ctx)
    http, https = identify.listener_on(ctx, 80), identify.listener_on(ctx, 443)
    policy = (https or {}).get("SslPolicy")
    certificate = ctx.output(out.CERTIFICATE_ARN)
    checks = [
        check_active(lb),
        check_http_redirect(lb, http),
        check_https_certificate(lb, https, certificate),
        check_tls_policy(lb, policy, tls_protocols(ctx, policy) if policy else []),
    ]
    group = identify.target_group_arn(ctx)
    health = [item for serving in serving_groups(ctx, group) for item in target_health(ctx, serving)]
    checks.append(check_healthy_targets(group, health, desired_count(ctx)))
    return checks
