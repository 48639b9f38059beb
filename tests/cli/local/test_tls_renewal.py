"""Local certificates: at most 366 days (Mozilla's profiles), and made again by `up` before they expire."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from cli.local import tls
from cli.local.services import TlsService


def _leaf(files: tls.TlsFiles) -> x509.Certificate:
    return x509.load_pem_x509_certificate(files.server_cert.read_bytes())


def _service(files: tls.TlsFiles, tmp_path) -> TlsService:
    return TlsService(
        "tls",
        [1, 2],
        tmp_path / "error.log",
        base=tmp_path,
        files=files,
        upstream_port=3,
        test_port=4,
        test_upstream_port=5,
        load_balancer={},
    )


def test_the_server_certificate_lives_at_most_366_days(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.generate(files)
    leaf = _leaf(files)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc <= dt.timedelta(days=366)


def test_a_longer_lifetime_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^lifetime_days=397 is not allowed; allowed: 1 to 366"):
        tls.generate(tls.TlsFiles(tmp_path / "tls"), lifetime_days=397)


def test_renewal_is_due_only_near_the_end(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.generate(files)
    now = dt.datetime.now(dt.UTC)
    assert not tls.renewal_due(files, now)
    assert not tls.renewal_due(files, now + dt.timedelta(days=tls.LEAF_DAYS - tls.RENEW_BEFORE_DAYS - 1))
    assert tls.renewal_due(files, now + dt.timedelta(days=tls.LEAF_DAYS - tls.RENEW_BEFORE_DAYS + 1))
    files.server_cert.write_text("not a certificate")
    assert tls.renewal_due(files, now)


def test_a_certificate_near_its_expiry_is_made_again(tmp_path):
    files = tls.TlsFiles(tmp_path / "tls")
    tls.generate(files, lifetime_days=10)
    old = _leaf(files).serial_number
    service = _service(files, tmp_path)
    assert service.ensure_certificate() is True
    leaf = _leaf(files)
    assert leaf.serial_number != old
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=tls.LEAF_DAYS - 1)
    assert service.ensure_certificate() is False  # fresh: kept
