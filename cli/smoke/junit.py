"""The report as JUnit XML for CI: one test case per pre-flight check and per gate."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from cli.smoke.preflight import FAIL, SKIP, WARN

if TYPE_CHECKING:
    from cli.smoke.report import SmokeReport


def junit_xml(report: SmokeReport) -> str:
    """A <testsuites> document; a broken gate or a failed check is a <failure>."""
    cases: list[ET.Element] = []
    checks = [("smoke.preflight", c) for c in report.preflight] + [("smoke.checks", c) for c in report.checks]
    for classname, check in checks:
        case = ET.Element(
            "testcase",
            classname=classname,
            name=check.name,
            time=f"{(check.duration_ms or 0) / 1000:.6f}",
        )
        if check.status == FAIL:
            ET.SubElement(case, "failure", message=check.summary, type="preflight").text = check.summary
        elif check.status == SKIP:
            ET.SubElement(case, "skipped", message=check.summary)
        elif check.status == WARN:
            ET.SubElement(case, "system-out").text = "warning: " + check.summary
        cases.append(case)
    overall = report.overall
    examples = report.failure_examples()
    for gate in report.gate_results:
        case = ET.Element("testcase", classname="smoke.gates", name=gate.name, time=f"{report.wall_s:.6f}")
        text = f"{gate.actual} (limit {gate.limit})"
        if not gate.passed:
            detail = text
            if gate.name == "failures" and overall.failures:
                lines = [f"{name}: {count}" for name, count in sorted(overall.failures.items())]
                lines += [f"  {item}" for items in examples.values() for item in items]
                detail += "\n" + "\n".join(lines)
            ET.SubElement(case, "failure", message=text, type="gate").text = detail
        else:
            ET.SubElement(case, "system-out").text = text
        cases.append(case)
    failures = sum(1 for case in cases if case.find("failure") is not None)
    skipped = sum(1 for case in cases if case.find("skipped") is not None)
    total_time = f"{report.wall_s + sum((c.duration_ms or 0) for c in report.preflight) / 1000:.6f}"
    suites = ET.Element("testsuites", name="infra smoke", tests=str(len(cases)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"smoke {report.target_url}",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=total_time,
        timestamp=report.started_at.replace(tzinfo=None).isoformat(timespec="seconds"),
    )
    properties = ET.SubElement(suite, "properties")
    props = {
        "target": report.target_url,
        "source": report.source,
        "profile": report.profile.name if report.profile else "none",
        "requests": str(report.requests),
        "concurrency": str(report.concurrency),
        "p50_ms": _num(overall.percentiles_ms.get(50)),
        "p95_ms": _num(overall.percentiles_ms.get(95)),
        "p99_ms": _num(overall.percentiles_ms.get(99)),
        "throughput_rps": f"{overall.throughput_rps:.1f}",
    }
    props.update(_check_figures(report))
    for name, value in props.items():
        ET.SubElement(properties, "property", name=name, value=value)
    suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _check_figures(report: SmokeReport) -> dict[str, str]:
    """The backend and burst checks' latencies and the burst's measured start of refusals, as properties."""
    figures: dict[str, str] = {}
    for check in report.checks:
        data = check.data
        if check.name == "async" and "latency_ms" in data:
            figures["async_latency_ms"] = _num(data["latency_ms"])
        elif check.name == "cache_read" and "second" in data:
            figures["cache_first_read_ms"] = _num(data["first"]["latency_ms"])
            figures["cache_second_read_ms"] = _num(data["second"]["latency_ms"])
        elif check.name == "burst" and "configured" in data:
            figures["burst_configured_allowance"] = str(data["configured"]["allowance"])
            figures["burst_admitted_before_429"] = str(data["admitted_before_429"])
            if "measured_allowance" in data:
                figures["burst_measured_allowance"] = str(data["measured_allowance"])
    return figures


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"
