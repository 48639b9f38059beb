"""The report: counts, the error a failed run raises, and the one-line problems under the table."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from cli.core.errors import ExitCode
from cli.verify.model import Check, Report, Status
from cli.verify.render import render_report
from cli.verify.runner import failure


def _report() -> Report:
    checks = [Check("buckets", "versioning", Status.PASS, "versioning enabled", "versioning enabled", "b")]
    checks += [
        Check("alarms", "has actions", Status.FAIL, "actions disabled", "actions enabled", f"a{i}") for i in range(6)
    ]
    checks.append(Check("certificate", "days to expiry", Status.WARN, "expires in 9 day(s)", "more than 30 days", "c"))
    return Report(stack="dev", checks=checks)


def test_counts_and_ok():
    report = _report()
    assert report.summary() == {"pass": 1, "warn": 1, "fail": 6}
    assert not report.ok
    assert Report("dev", [c for c in report.checks if c.status is not Status.FAIL]).ok


def test_the_failure_names_four_checks_and_counts_the_rest():
    report = _report()
    error = failure(report, {"ok": False, **report.to_json()})
    assert error.exit_code is ExitCode.FAILED
    assert error.message == (
        "dev: 6 verification check(s) failed: alarms has actions (a0), alarms has actions (a1), "
        "alarms has actions (a2), alarms has actions (a3) and 2 more"
    )
    doc = error.to_json()
    assert doc["ok"] is False
    assert doc["summary"]["fail"] == 6
    assert len(doc["checks"]) == 8


def test_problems_are_listed_one_per_line_after_the_table():
    buffer = StringIO()
    render_report(Console(file=buffer, width=80, color_system=None), _report())
    lines = buffer.getvalue().splitlines()
    assert "fail alarms: has actions (a5): actions disabled; expected actions enabled" in lines
    assert "warn certificate: days to expiry (c): expires in 9 day(s); expected more than 30 days" in lines
    assert not any(line.startswith("pass ") for line in lines)
    assert lines[-1] == "dev: 1 passed, 1 warning(s), 6 failed"
