"""Controls 20-27: load balancer, listeners, target group and certificate."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs

_LB = resource_types.LB_LOAD_BALANCER
_LISTENER = resource_types.LB_LISTENER
_TG = resource_types.LB_TARGET_GROUP
_SUBNET = resource_types.EC2_SUBNET
_CERT = resource_types.ACM_CERTIFICATE
LIVENESS_PATH = "/livez"
"""The API's no-I/O liveness endpoint, the only acceptable health check path."""
TLS_POLICY_PREFIXES = (
    "ELBSecurityPolicy-TLS13-1-2-",
    "ELBSecurityPolicy-TLS13-1-3-",
    "ELBSecurityPolicy-TLS-1-2-",
    "ELBSecurityPolicy-FS-1-2-",
)
"""Listener security policies that allow nothing older than TLS 1.2."""
_KEYS = ("RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")


def _listeners(view: PlanView, protocol: str) -> list[dict]:
    return [r for r in view.of(_LISTENER) if str(inputs(r).get("protocol", "")).upper() == protocol]


@control("20", "HTTP only redirects to HTTPS", sources=("ELB.1", "CKV2_AWS_20", "AVD-AWS-0054"), level="E")
def http_redirects(view: PlanView) -> Iterator[Violation]:
    for r in _listeners(view, "HTTP"):
        actions = inputs(r).get("defaultActions") or []
        redirects = [a for a in actions if a.get("type") == "redirect"]
        if not actions or len(redirects) != len(actions):
            yield Violation(r["urn"], "HTTP listener has an action other than a redirect")
        elif any(str((a.get("redirect") or {}).get("protocol", "")).upper() != "HTTPS" for a in redirects):
            yield Violation(r["urn"], "HTTP listener redirects somewhere other than HTTPS")


@control(
    "21",
    "HTTPS with a certificate and TLS 1.2+",
    sources=("ELB.17", "ELB.18", "CKV_AWS_103", "AVD-AWS-0047"),
    level="E",
)
def https_listener(view: PlanView) -> Iterator[Violation]:
    for r in _listeners(view, "HTTPS"):
        policy = str(inputs(r).get("sslPolicy") or "")
        if not inputs(r).get("certificateArn"):
            yield Violation(r["urn"], "HTTPS listener without certificateArn")
        if not policy.startswith(TLS_POLICY_PREFIXES):
            yield Violation(r["urn"], f"sslPolicy {policy or 'unset'} allows TLS older than 1.2")
    served = {
        dep for r in _listeners(view, "HTTPS") for dep in r.get("property_dependencies", {}).get("loadBalancerArn", [])
    }
    for lb in view.of(_LB):
        if inputs(lb).get("loadBalancerType", "application") == "application" and lb["urn"] not in served:
            yield Violation(lb["urn"], "load balancer has no HTTPS listener")


@control("22", "Invalid header fields dropped", sources=("ELB.4", "CKV_AWS_131"), level="E")
def drop_invalid_headers(view: PlanView) -> Iterator[Violation]:
    for lb in view.of(_LB):
        application = inputs(lb).get("loadBalancerType", "application") == "application"
        if application and inputs(lb).get("dropInvalidHeaderFields") is not True:
            yield Violation(lb["urn"], "dropInvalidHeaderFields is not true")


@control("23", "Desync mitigation defensive or strictest", sources=("ELB.12", "CKV_AWS_328"), level="E")
def desync_mitigation(view: PlanView) -> Iterator[Violation]:
    for lb in view.of(_LB):
        mode = inputs(lb).get("desyncMitigationMode", "defensive")
        if mode not in ("defensive", "strictest"):
            yield Violation(lb["urn"], f"desyncMitigationMode is {mode}")


@control("24", "Access logs to a bucket", sources=("ELB.5", "CKV_AWS_91"), level="P")
def access_logs(view: PlanView) -> Iterator[Violation]:
    for lb in view.of(_LB):
        logs = inputs(lb).get("accessLogs") or {}
        if logs.get("enabled") is not True or not logs.get("bucket"):
            yield Violation(lb["urn"], "accessLogs not enabled with a bucket")


@control("25", "Deletion protection and two zones", sources=("ELB.6", "ELB.13", "CKV_AWS_150"), level="P")
def lb_resilience(view: PlanView) -> Iterator[Violation]:
    for lb in view.of(_LB):
        if inputs(lb).get("enableDeletionProtection") is not True:
            yield Violation(lb["urn"], "enableDeletionProtection is not true")
        zones = {
            inputs(s).get("availabilityZone")
            for subnet_id in inputs(lb).get("subnets") or []
            for s in view.with_id(subnet_id)
            if s["type"] == _SUBNET
        }
        if len(zones) < 2:
            yield Violation(lb["urn"], f"subnets span {len(zones)} availability zone(s), 2 needed")


@control("26", "Target health check on the liveness path", sources=("CKV_AWS_261",), level="E")
def health_check(view: PlanView) -> Iterator[Violation]:
    for tg in view.of(_TG):
        check = inputs(tg).get("healthCheck") or {}
        if check.get("enabled") is False:
            yield Violation(tg["urn"], "health check disabled")
            continue
        if check.get("path") != LIVENESS_PATH:
            yield Violation(tg["urn"], f"health check path {check.get('path')!r}, expected {LIVENESS_PATH}")
        if str(check.get("matcher")) != "200":
            yield Violation(tg["urn"], f"health check matcher {check.get('matcher')!r}, expected 200")


@control("27", "Certificate key, DNS validation, transparency logs", sources=("ACM.2", "CKV_AWS_234"), level="E")
def certificate(view: PlanView) -> Iterator[Violation]:
    for cert in view.of(_CERT):
        args = inputs(cert)
        if args.get("keyAlgorithm", "RSA_2048") not in _KEYS:
            yield Violation(cert["urn"], f"keyAlgorithm {args.get('keyAlgorithm')} is weaker than RSA 2048")
        if args.get("validationMethod") != "DNS":
            yield Violation(cert["urn"], "validationMethod is not DNS")
        if (args.get("options") or {}).get("certificateTransparencyLoggingPreference") == "DISABLED":
            yield Violation(cert["urn"], "certificate transparency logging disabled")
