"""What a verification produces: checks with a status, the observed value and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The outcome of one check."""

    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One property of one resource: pass, warn or fail, with the observed and the expected value in words."""

    family: str
    name: str
    status: Status
    observed: str
    expected: str
    resource: str = ""

    def to_json(self) -> dict[str, Any]:
        """The check as it appears in `--json` output."""
        return {
            "family": self.family,
            "check": self.name,
            "status": self.status.value,
            "resource": self.resource,
            "observed": self.observed,
            "expected": self.expected,
        }


def judge(
    family: str, name: str, ok: bool, observed: str, expected: str, resource: str = "", *, warn: bool = False
) -> Check:
    """A check that passes when `ok`, otherwise fails (or only warns when `warn`)."""
    status = Status.PASS if ok else (Status.WARN if warn else Status.FAIL)
    return Check(family, name, status, observed, expected, resource)


class Unverifiable(Exception):
    """A family cannot be checked: an identifier is missing or the resource does not exist."""

    def __init__(self, name: str, observed: str, expected: str, resource: str = "") -> None:
        super().__init__(observed)
        self.name = name
        self.observed = observed
        self.expected = expected
        self.resource = resource


class MissingOutput(Unverifiable):
    """The stack does not export an output a check needs."""

    def __init__(self, output: str, what: str) -> None:
        super().__init__(
            "identify",
            f"the stack has no output {output!r}",
            f"an output {output!r} with the {what}",
        )
        self.output = output


@dataclass
class Report:
    """Every check of one verification run, in the order they ran."""

    stack: str
    checks: list[Check] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many checks ended with `status`."""
        return sum(1 for check in self.checks if check.status is status)

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [check for check in self.checks if check.status is Status.FAIL]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return not self.failed

    def summary(self) -> dict[str, int]:
        """Counts by status."""
        return {status.value: self.count(status) for status in Status}

    def to_json(self) -> dict[str, Any]:
        """The report as it appears in `--json` output, without the `ok` flag."""
        return {
            "stack": self.stack,
            "summary": self.summary(),
            "checks": [check.to_json() for check in self.checks],
        }
