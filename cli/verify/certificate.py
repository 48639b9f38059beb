"""Certificate checks: issued, covers the service's host name, days to expiry (warn under 30)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge

FAMILY = "certificate"
WARN_DAYS = 30
"""Fewer days than this to expiry is a warning."""
STATUS_WORDS = {
    "PENDING_VALIDATION": "pending validation (ACM has not seen the DNS validation record)",
    "VALIDATION_TIMED_OUT": "validation timed out",
    "EXPIRED": "expired",
    "REVOKED": "revoked",
    "FAILED": "failed",
    "INACTIVE": "inactive",
}


def describe_certificate(ctx: Context, arn: str) -> dict[str, Any]:
    """The certificate as ACM DescribeCertificate returns it."""
    try:
        return ctx.client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as exc:
        if is_not_found(exc, "ResourceNotFoundException"):
            raise Unverifiable("exists", f"ACM has no certificate {arn}", "the certificate exists", arn) from exc
        raise


def _label(cert: dict[str, Any]) -> str:
    return str(cert.get("DomainName") or cert.get("CertificateArn", "?"))


def check_issued(cert: dict[str, Any]) -> Check:
    """ACM has issued the certificate."""
    state: str = cert.get("Status", "UNKNOWN")
    observed = "issued" if state == "ISSUED" else STATUS_WORDS.get(state, state.lower())
    return judge(FAMILY, "issued", state == "ISSUED", observed, "issued", _label(cert))


def covers(pattern: str, host: str) -> bool:
    """Whether a certificate name (possibly `*.domain`) covers a host name."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.count(".") == pattern.count(".") and host.endswith(pattern[1:])
    return pattern == host


def check_covers_host(cert: dict[str, Any], host: str) -> Check:
    """The certificate names the service's host."""
    names = list(dict.fromkeys([cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]))
    ok = any(covers(name, host) for name in names if name)
    return judge(FAMILY, "covers host", ok, f"names {', '.join(n for n in names if n)}", f"covers {host}", _label(cert))


def check_expiry(cert: dict[str, Any], now: datetime) -> Check:
    """Days left before the certificate expires: expired fails, under 30 days warns."""
    expected = f"more than {WARN_DAYS} days to expiry"
    not_after = cert.get("NotAfter")
    if not_after is None or cert.get("Status", "ISSUED") not in ("ISSUED", "EXPIRED"):
        return Check(FAMILY, "days to expiry", Status.WARN, "no expiry date (not issued)", expected, _label(cert))
    days = (not_after - now).days
    when = not_after.date().isoformat()
    if days < 0:
        return judge(FAMILY, "days to expiry", False, f"expired {-days} day(s) ago ({when})", expected, _label(cert))
    observed = f"expires in {days} day(s) ({when})"
    renewal = (cert.get("RenewalSummary") or {}).get("RenewalStatus")
    if renewal and days < WARN_DAYS:
        observed += f"; renewal {renewal.lower().replace('_', ' ')}"
    return judge(FAMILY, "days to expiry", days >= WARN_DAYS, observed, expected, _label(cert), warn=True)


def verify(ctx: Context) -> list[Check]:
    """Every certificate check."""
    cert = describe_certificate(ctx, identify.certificate_arn(ctx))
    return [check_issued(cert), check_covers_host(cert, identify.host_name(ctx)), check_expiry(cert, ctx.now)]
