"""Fixtures for the smoke check's tests: faulty servers on loopback and a private CA."""

from __future__ import annotations

import gc
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.cli.smoke.faulty import FaultyServer, serve


@pytest.fixture(scope="session", autouse=True)
def _quiet_collector() -> Iterator[None]:
    """Timing tests share the process with servers they start; earlier test modules' garbage would otherwise
    make a full collection pause every thread for hundreds of milliseconds in the middle of a measurement."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    """A plain-HTTP faulty server; set `.mode` and `.delay_s` before the check runs."""
    with serve(FaultyServer()) as server:
        yield server


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str, **cert_options) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names, **cert_options).configure_cert(context)
    return context
