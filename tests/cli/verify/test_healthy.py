"""A healthy stack in moto passes every check, whether identifiers come from outputs or are derived."""

from __future__ import annotations

from cli.verify.model import Status
from cli.verify.runner import FAMILIES
from tests.cli.verify.conftest import not_passing

FAMILY_NAMES = [family for family, _ in FAMILIES]


def test_every_check_passes_on_a_healthy_stack(verify):
    report = verify()
    assert not_passing(report) == []
    assert report.ok
    # The moto stack has no cache, worker or web ACL outputs: those families have nothing to check there
    # (tests/cli/verify/test_cache_worker_firewall.py checks them).
    optional = {"cache", "worker", "firewall"}
    assert sorted({c.family for c in report.checks}) == sorted(set(FAMILY_NAMES) - optional)
    assert len(report.checks) >= 40


def test_identifiers_are_derived_when_the_new_outputs_are_absent(verify):
    report = verify(derived_only=True)
    assert not_passing(report) == []
    assert {c.resource for c in report.checks if c.family == "log groups"} == {
        "/groundwork/gw-dev-api",
        "/aws/rds/instance/gw-dev-db/postgresql",
        "/aws/rds/instance/gw-dev-db/upgrade",
    }


def test_each_check_says_what_it_saw_and_what_it_expected(verify):
    for check in verify().checks:
        assert check.status is Status.PASS
        assert check.observed, check
        assert check.expected, check
