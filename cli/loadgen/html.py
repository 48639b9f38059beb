"""The load report as one self-contained HTML page in the smoke report's style: tables and inline SVG charts."""

from __future__ import annotations

from html import escape

from cli.loadgen.capacity import CapacityResult, step_row
from cli.loadgen.charts import spectrum_svg, steps_svg, timeline_svg
from cli.loadgen.report import LoadSummary, percentiles, spectrum
from cli.smoke.html import STYLE

COLUMNS = ("p50", "p90", "p95", "p99", "p99.9", "max")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _cells(values: list[object]) -> str:
    return "".join(f'<td class="n">{escape(str(v))}</td>' for v in values)


def _run_sections(summary: LoadSummary, heading: str) -> str:
    """Gates, rates, percentiles, endpoints, errors, warnings and the two charts of one run."""
    merged, options = summary.step.merged, summary.options
    gates = "".join(
        f"<tr><td>{escape(g.name)}</td><td class='{'ok' if g.passed else 'broken'}'>"
        f"{'ok' if g.passed else 'BROKEN'}</td><td>{escape(g.actual)}</td><td>{escape(g.limit)}</td></tr>"
        for g in summary.gate_results
    )
    heads = "".join(f"<th>{name} ms</th>" for name in COLUMNS)
    latency_rows = ""
    for label, histogram in (("intended send (corrected)", merged.latency), ("actual send", merged.service)):
        figures = percentiles(histogram)
        latency_rows += f"<tr><td>{label}</td>{_cells([_ms(figures[c]) for c in COLUMNS])}</tr>"
    endpoint_rows = "".join(
        f"<tr><td>{escape(name)}</td>"
        + _cells([row["requests"], row["failed"], *(_ms(row.get(f"{p}_ms")) for p in ("p50", "p95", "p99", "max"))])
        + "</tr>"
        for name, row in summary.endpoints().items()
    )
    error_rows = "".join(
        f"<tr><td class='fail'>{escape(kind)}</td><td class='n'>{count}</td>"
        f"<td>{escape(' | '.join(merged.examples.get(kind, [])))}</td></tr>"
        for kind, count in sorted(merged.errors.items(), key=lambda item: -item[1])
    )
    errors = (
        f"<h3>Errors by kind</h3><table><tr><th>kind</th><th>count</th><th>examples</th></tr>{error_rows}</table>"
        if error_rows
        else ""
    )
    warnings = "".join(f"<p class='warn'>warning: {escape(w)}</p>" for w in summary.warnings)
    notes = "".join(f"<p class='muted'>note: {escape(n)}</p>" for n in summary.notes)
    curves = [("intended send", spectrum(merged.latency)), ("actual send", spectrum(merged.service))]
    totals = summary.totals
    return f"""<h2>{escape(heading)}</h2>
<p>Target {options.rate:g} req/s, achieved <b>{summary.achieved_rate:.1f}</b> req/s over {summary.elapsed_s:.1f} s
({totals["sent"]} sent after a {options.warmup_s:g} s warm-up of {totals["warmup_sent"]}); {summary.requests} with an
outcome, {totals["failed"]} failed. Generator: {summary.step.processes} process(es), {totals["connections"]}
connection(s) opened (at most {options.connections}), busiest process at {summary.cpu_share * 100:.0f} % of a CPU,
{totals["late"]} late send(s). Mix {escape(options.mix)}, timeout {options.timeout_s:g} s.</p>
{warnings}{notes}
<table><tr><th>gate</th><th>result</th><th>measured</th><th>limit</th></tr>{gates}</table>
<h3>Latency</h3>
<table><tr><th>measured from</th>{heads}</tr>{latency_rows}</table>
<table><tr><th>endpoint</th><th>requests</th><th>failed</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>
<th>max ms</th></tr>{endpoint_rows}</table>
{errors}
<h3>Latency over time</h3>
{timeline_svg(summary.timeline(), options.gates.p95_ms)}
<h3>Percentile spectrum</h3>
{spectrum_svg(curves, options.gates.p95_ms)}
"""


def _page(title: str, verdict_ok: bool, verdict: str, meta: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(title)}</title>
<style>{STYLE} h3 {{ font-size: 1rem; margin-top: 1.5rem; }}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="verdict {"ok" if verdict_ok else "broken"}">{escape(verdict)}</p>
<p class="muted">{meta}</p>
{body}
</body></html>
"""


def summary_html(summary: LoadSummary) -> str:
    verdict = "passed" if summary.passed else "failed: " + ", ".join(g.name for g in summary.broken)
    meta = (
        f"Started {escape(summary.step.started_at.isoformat(timespec='seconds'))} · target from "
        f"{escape(summary.source)}"
    )
    return _page(
        f"Load run against {summary.target_url}",
        summary.passed,
        verdict,
        meta,
        _run_sections(summary, "Run"),
    )


def capacity_html(result: CapacityResult, target_url: str, source: str) -> str:
    rows = [step_row(step) for step in result.steps]
    table = "".join(
        f"<tr><td class='n'>{r['rate']:g}</td>"
        + _cells([f"{r['achieved']:.1f}", _ms(r["p50_ms"]), _ms(r["p95_ms"]), _ms(r["p99_ms"])])
        + f"<td class='n'>{r['error_rate'] * 100:.2f}</td>"
        f"<td class='{'ok' if r['held'] else 'broken'}'>{'held' if r['held'] else 'broke'}</td>"
        f"<td>{escape(', '.join(r['broken']))}{' (generator at its ceiling)' if r['generator_at_ceiling'] else ''}"
        "</td></tr>"
        for r in rows
    )
    if result.held is None:
        verdict = f"no rate held ({result.stopped})"
    else:
        verdict = f"capacity {result.capacity:g} req/s"
        if result.per_task is not None:
            verdict += f", {result.per_task:.1f} per task over {result.search.tasks}"
        if result.tasks_needed is not None:
            verdict += f"; {result.tasks_needed} task(s) for {result.search.target_rate:g} req/s"
    gates = result.steps[0].options.gates if result.steps else None
    notes = "".join(f"<p class='warn'>note: {escape(n)}</p>" for n in result.notes)
    body = f"""<h2>Steps</h2>
<p>The search stopped: {escape(result.stopped)}.</p>{notes}
<table><tr><th>rate</th><th>achieved</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors %</th>
<th>verdict</th><th>why</th></tr>{table}</table>
{steps_svg(rows, gates.p95_ms if gates else None)}
{_run_sections(result.held, f"The highest rate that held: {result.capacity:g} req/s") if result.held else ""}
"""
    started = result.steps[0].step.started_at.isoformat(timespec="seconds") if result.steps else ""
    meta = f"Started {escape(started)} · target from {escape(source)}"
    return _page(f"Capacity search against {target_url}", result.passed, verdict, meta, body)
