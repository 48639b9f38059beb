"""The drill's report: Markdown with every figure, a report directory checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.core.errors import ConfigError
from cli.local.drill import drill_inputs as local_inputs
from cli.recovery import report
from cli.recovery.drill import DrillReport, compare


def _report() -> DrillReport:
    result = DrillReport(stack="local", run="20261130T120000Z-abc123", started_at="2026-11-30T12:00:00Z")
    result.marker, result.restore_point, result.throwaway_removed = "drill-x-marker", "2026-11-30T12:00:01Z", True
    result.recovery_point_s, result.recovery_time_s, result.worst_case_recovery_point_s = 0.1, 4.5, 300
    return result


def test_the_markdown_report_carries_the_verdict_and_the_figures(tmp_path: Path) -> None:
    path = report.write_markdown(_report(), tmp_path, "infra drill --stack local")
    text = path.read_text()
    assert path.name == "drill-local-20261130T120000Z-abc123.md"
    assert text.startswith("# Recovery drill 20261130T120000Z-abc123 (local): PASS")
    assert "`infra drill --stack local`" in text
    assert "| recovery time (restore start to first query on the restored database) | 4.500 s |" in text
    assert "| recovery point (restore point minus the newest row restored) | 0.100 s |" in text


def test_missing_or_late_rows_fail_the_report() -> None:
    from datetime import UTC, datetime, timedelta

    point = datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC)
    earlier = point - timedelta(seconds=1)
    result = _report()
    expected = {"a": (2, earlier), "b": (1, earlier), "drill-x-marker": (1, point)}
    found = {"a": (1, earlier), "drill-x-marker": (1, point), f"drill-{result.run}-after-000": (1, point)}
    compare(result, expected, found, point)
    assert result.rows_missing == ["a", "b"]
    assert result.rows_after_present == [f"drill-{result.run}-after-000"]
    assert result.recovery_point_s == 0
    assert not result.ok
    assert "MISSING: a, b" in report.markdown(result, "infra drill")


def test_an_unwritable_report_directory_stops_before_the_drill(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot write drill reports"):
        report.prepare_dir(blocker / "reports")


def test_the_local_drill_needs_the_local_stack_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_LOCAL_DIR", str(tmp_path / "local"))
    with pytest.raises(ConfigError, match="not running"):
        local_inputs(tmp_path)
