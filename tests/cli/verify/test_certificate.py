"""Certificate checks with moto (pending, expiring, wrong name); an expired one as data (moto refuses to import it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from cli.verify import certificate
from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find


def test_a_pending_certificate_fails(verify):
    pending = boto3.client("acm", region_name=healthy.REGION).request_certificate(
        DomainName=healthy.HOST, ValidationMethod="DNS"
    )["CertificateArn"]
    report = verify(outputs={out.CERTIFICATE_ARN: pending})
    issued = find(report, "certificate", "issued")
    assert issued.status is Status.FAIL
    assert issued.observed == "pending validation (ACM has not seen the DNS validation record)"
    expiry = find(report, "certificate", "days to expiry")
    assert (expiry.status, expiry.observed) == (Status.WARN, "no expiry date (not issued)")


def test_a_certificate_expiring_within_30_days_warns(verify, cloud):
    soon = healthy.import_certificate(days=10)
    boto3.client("elbv2", region_name=healthy.REGION).modify_listener(
        ListenerArn=cloud.https_listener, Certificates=[{"CertificateArn": soon}]
    )
    report = verify(derived_only=True)
    check = find(report, "certificate", "days to expiry")
    assert check.status is Status.WARN
    assert check.observed.startswith("expires in 9 day(s) (")
    assert check.expected == "more than 30 days to expiry"
    assert report.ok


def test_a_certificate_for_another_name_fails(verify):
    other = healthy.import_certificate(host="www.example.com")
    check = find(verify(outputs={out.CERTIFICATE_ARN: other}), "certificate", "covers host")
    assert check.status is Status.FAIL
    assert (check.observed, check.expected) == ("names www.example.com", f"covers {healthy.HOST}")


def test_a_missing_certificate_fails(verify):
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    check = find(verify(outputs={out.CERTIFICATE_ARN: arn}), "certificate", "exists")
    assert check.observed == f"ACM has no certificate {arn}"


def test_an_expired_certificate_fails():
    """moto refuses to import an expired certificate, so DescribeCertificate's answer is given as data."""
    now = datetime(2026, 11, 22, tzinfo=UTC)
    cert = {"DomainName": healthy.HOST, "Status": "EXPIRED", "NotAfter": now - timedelta(days=3, hours=1)}
    check = certificate.check_expiry(cert, now)
    assert (check.status, check.observed) == (Status.FAIL, "expired 4 day(s) ago (2026-11-18)")
    assert certificate.check_issued(cert).observed == "expired"


@pytest.mark.parametrize(
    ("pattern", "host", "covered"),
    [
        ("api.dev.example.com", "api.dev.example.com", True),
        ("*.dev.example.com", "api.dev.example.com", True),
        ("*.example.com", "api.dev.example.com", False),
        ("api.example.com", "api.dev.example.com", False),
    ],
)
def test_certificate_names_cover_hosts_like_tls_does(pattern, host, covered):
    assert certificate.covers(pattern, host) is covered
