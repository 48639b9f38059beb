"""Runs controls over a plan and decides, per stack, which findings are errors, warnings or advice."""

from __future__ import annotations

import dataclasses
from typing import Any

from cli.plan.policy.model import Control, Violation
from cli.plan.policy.view import PlanView

SEVERITY_ORDER = ("error", "warning", "advisory")


@dataclasses.dataclass(frozen=True)
class Finding:
    """A violation with the severity it has on this stack."""

    urn: str
    message: str
    level: str
    severity: str


@dataclasses.dataclass
class ControlResult:
    """One control's outcome on one plan."""

    control: Control
    findings: list[Finding]

    @property
    def status(self) -> str:
        """pass, or the worst severity among the findings."""
        for severity in SEVERITY_ORDER:
            if any(f.severity == severity for f in self.findings):
                return severity
        return "pass"


@dataclasses.dataclass
class PolicyReport:
    """Every control's result for one stack."""

    stack: str
    production: bool
    results: list[ControlResult]

    @property
    def errors(self) -> int:
        return sum(1 for r in self.results for f in r.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def counts(self) -> dict[str, int]:
        """Controls by status."""
        counts: dict[str, int] = dict.fromkeys(("pass", *SEVERITY_ORDER), 0)
        for r in self.results:
            counts[r.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "production": self.production,
            "ok": self.ok,
            "counts": self.counts(),
            "controls": [
                {
                    "id": r.control.id,
                    "title": r.control.title,
                    "sources": list(r.control.sources),
                    "level": r.control.level,
                    "status": r.status,
                    "findings": [dataclasses.asdict(f) for f in r.findings],
                }
                for r in self.results
            ],
        }


def severity(level: str, production: bool) -> str:
    """E is an error everywhere, P an error on production and a warning elsewhere, A advice."""
    if level == "E":
        return "error"
    if level == "P":
        return "error" if production else "warning"
    return "advisory"


def evaluate(plan: dict[str, Any], controls: list[Control], *, production: bool | None = None) -> PolicyReport:
    """Every control over the plan; a control that raises is reported as an error finding, not a crash."""
    view = PlanView(plan, production=production)
    results = []
    for control in controls:
        try:
            violations = list(control.check(view))
        except Exception as error:
            violations = [Violation("", f"control raised {type(error).__name__}: {error}", level="E")]
        findings = [_finding(control, v, view.production) for v in violations]
        results.append(ControlResult(control, sorted(findings, key=lambda f: (f.urn, f.message))))
    return PolicyReport(stack=view.stack, production=view.production, results=results)


def _finding(control: Control, violation: Violation, production: bool) -> Finding:
    level = violation.level or control.level
    if level not in ("E", "P", "A"):
        level = level.split("/")[0]
    return Finding(violation.urn, violation.message, level, severity(level, production))
