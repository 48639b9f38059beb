"""The report as one self-contained HTML page: tables and inline SVG charts, no external assets."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from cli.smoke.charts import distribution_svg, timeline_svg
from cli.smoke.stats import PERCENTILES, Summary

if TYPE_CHECKING:
    from cli.smoke.report import SmokeReport

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a202c; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { padding: .25rem .6rem; text-align: left; }
th { border-bottom: 1px solid #a0aec0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass, .ok { color: #2f855a; font-weight: 600; } .warn { color: #b7791f; font-weight: 600; }
.skip { color: #718096; } .fail, .broken { color: #c53030; font-weight: 600; } .muted { color: #718096; }
.verdict { font-size: 1.2rem; padding: .5rem 1rem; border-radius: .3rem; display: inline-block; }
.verdict.ok { background: #f0fff4; } .verdict.broken { background: #fff5f5; }
"""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(name: str, s: Summary) -> str:
    cells = [s.requests, s.failed, *(_ms(s.percentiles_ms[p]) for p in PERCENTILES), _ms(s.max_ms)]
    numbers = "".join(f'<td class="n">{c}</td>' for c in cells)
    return f"<tr><td>{escape(name)}</td>{numbers}<td class='n'>{s.throughput_rps:.0f}</td></tr>"


def html_report(report: SmokeReport) -> str:
    """The whole page as a string."""
    overall = report.overall
    verdict_class = "ok" if report.passed else "broken"
    verdict = "passed" if report.passed else "failed: " + ", ".join(g.name for g in report.broken)
    profile = (
        f"{escape(report.profile.name)} ({escape(report.profile.summary())})" if report.profile else "none (direct)"
    )
    checks = "".join(
        f"<tr><td>{escape(c.name)}</td><td class='{c.status}'>{c.status}</td>"
        f"<td class='n'>{_ms(c.duration_ms)}</td><td>{escape(c.summary)}</td></tr>"
        for c in report.preflight
    )
    backend = "".join(
        f"<tr><td>{escape(c.name)}</td><td class='{c.status}'>{c.status}</td>"
        f"<td class='n'>{_ms(c.duration_ms)}</td><td>{escape(c.summary)}</td></tr>"
        for c in report.checks
    )
    backend_table = (
        "<h2>Backend checks</h2><table><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr>"
        f"{backend}</table>"
        if backend
        else ""
    )
    heads = "".join(f"<th>p{p} ms</th>" for p in PERCENTILES)
    rows = "".join(_row(name, s) for name, s in report.endpoints().items()) + _row("overall", overall)
    examples = report.failure_examples()
    failures = "".join(
        f"<tr><td class='fail'>{escape(name)}</td><td class='n'>{count}</td>"
        f"<td>{escape(' | '.join(examples.get(name, [])))}</td></tr>"
        for name, count in sorted(overall.failures.items(), key=lambda item: -item[1])
    )
    gates = "".join(
        f"<tr><td>{escape(g.name)}</td><td class='{'ok' if g.passed else 'broken'}'>"
        f"{'ok' if g.passed else 'BROKEN'}</td><td>{escape(g.actual)}</td><td>{escape(g.limit)}</td></tr>"
        for g in report.gate_results
    )
    database = report.database()
    db_line = (
        f"<p>Database round trip reported by /heartbeat: p50 {database['p50_ms']:.1f} ms, "
        f"max {database['max_ms']:.1f} ms over {database['samples']} heartbeats.</p>"
        if database["samples"]
        else ""
    )
    markers = {
        "p50": overall.percentiles_ms.get(50),
        "p95": overall.percentiles_ms.get(95),
        "gate p95": report.gates.p95_ms,
    }
    service = " ".join(str(v) for v in report.service.values() if v) or "unknown"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>infra smoke: {escape(report.target_url)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Smoke check of {escape(report.target_url)}</h1>
<p class="verdict {verdict_class}">{escape(verdict)}</p>
<p class="muted">Started {escape(report.started_at.isoformat(timespec="seconds"))} · target from {escape(report.source)}
· service {escape(service)} · {report.requests} requests at concurrency {report.concurrency}, timeout
{report.timeout_s:g} s, writes {"on" if report.writes else "off"} · network profile {profile}</p>
<h2>Gates</h2>
<table><tr><th>gate</th><th>result</th><th>measured</th><th>limit</th></tr>{gates}</table>
<h2>Pre-flight</h2>
<table><tr><th>check</th><th>result</th><th>ms</th><th>detail</th></tr>{checks}</table>
<h2>Results</h2>
<p>{len(report.samples)} requests in {report.wall_s * 1000:.0f} ms.</p>
<table><tr><th>endpoint</th><th>requests</th><th>failed</th>{heads}<th>max ms</th><th>req/s</th></tr>{rows}</table>
{db_line}
{backend_table}
{_failure_table(failures)}
<h2>Latency distribution</h2>
{distribution_svg(report.samples, markers)}
<h2>Latency over time</h2>
{timeline_svg(report.samples, report.gates.p95_ms)}
</body></html>
"""


def _failure_table(rows: str) -> str:
    if not rows:
        return ""
    return f"<h2>Failures</h2><table><tr><th>class</th><th>count</th><th>examples</th></tr>{rows}</table>"
