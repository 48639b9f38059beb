"""Inline SVG charts of a load run, drawn on the smoke report's frame: latency over time, percentile spectrum, steps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from cli.smoke.charts import BOTTOM, COLOURS, FAILURE_COLOUR, HEIGHT, LEFT, RIGHT, TOP, WIDTH
from cli.smoke.charts import _frame as frame
from cli.smoke.charts import _nice_max as nice_max

PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _y(value: float, y_max: float) -> float:
    return TOP + PLOT_H - PLOT_H * min(value, y_max) / y_max


def _polyline(points: Sequence[tuple[float, float]], colour: str, name: str) -> str:
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    line = f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8">'
    return f"{line}<title>{escape(name)}</title></polyline>"


def _tick(x: float, label: str) -> str:
    """A label under the x axis."""
    return f'<text x="{x:.1f}" y="{TOP + PLOT_H + 14}" text-anchor="middle">{escape(label)}</text>'


def _dot(cx: float, cy: float, radius: float, colour: str, tip: str) -> str:
    return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius}" fill="{colour}"><title>{escape(tip)}</title></circle>'


def _legend(names: Sequence[tuple[str, str]]) -> list[str]:
    parts = []
    for i, (name, colour) in enumerate(names):
        parts.append(f'<rect x="{LEFT + 8}" y="{TOP + 3 + 14 * i}" width="10" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + 22}" y="{TOP + 8 + 14 * i}">{escape(name)}</text>')
    return parts


def _gate_line(gate_ms: float | None, y_max: float, label: str) -> list[str]:
    if gate_ms is None or gate_ms > y_max:
        return []
    y = _y(gate_ms, y_max)
    line = f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{FAILURE_COLOUR}"'
    text = f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="{FAILURE_COLOUR}">'
    return [f'{line} stroke-dasharray="4 3"/>', f"{text}{escape(label)}</text>"]


def timeline_svg(rows: Sequence[dict], gate_ms: float | None) -> str:
    """Per second of the window: p50, p99 and max latency (from intended send); failures marked in red."""
    rows = [r for r in rows if r["p50_ms"] is not None or r["failed"]]
    if not rows:
        return "<p>No answered requests.</p>"
    seconds = max(r["second"] for r in rows) + 1
    y_max = nice_max(max((r["max_ms"] or 0.0) for r in rows))
    step = PLOT_W / seconds

    def x(second: int) -> float:
        return LEFT + step * (second + 0.5)

    body: list[str] = []
    series = (("p50", "p50_ms", COLOURS[1]), ("p99", "p99_ms", COLOURS[2]), ("max", "max_ms", COLOURS[0]))
    for name, key, colour in series:
        points = [(x(r["second"]), _y(r[key], y_max)) for r in rows if r[key] is not None]
        body.append(_polyline(points, colour, name))
    for r in rows:
        if r["failed"]:
            tip = f"second {r['second']}: {r['failed']} failed of {r['sent']}"
            body.append(_dot(x(r["second"]), TOP + PLOT_H - 4, 3.5, FAILURE_COLOUR, tip))
    body += _gate_line(gate_ms, y_max, f"p95 gate {gate_ms:g} ms" if gate_ms else "")
    for i in range(5):
        value = seconds * i / 4
        body.append(
            f'<text x="{LEFT + PLOT_W * i / 4:.1f}" y="{TOP + PLOT_H + 14}" text-anchor="middle">{value:.0f}</text>'
        )
    body += _legend([(name, colour) for name, _, colour in series])
    return frame("seconds into the measured window (by intended send time)", "latency (ms)", y_max, body,
                 "latency over time")  # fmt: skip


def spectrum_svg(curves: Sequence[tuple[str, Sequence[tuple[float, float]]]], gate_ms: float | None) -> str:
    """Latency by percentile on HdrHistogram's scale: each step right is one more nine (90 %, 99 %, 99.9 % ...)."""
    curves = [(name, points) for name, points in curves if points]
    if not curves:
        return "<p>No answered requests.</p>"

    def nines(pct: float) -> float:
        return -math.log10(max(1 - pct / 100, 1e-7))

    last = max(nines(p) for _, points in curves for p, _ in points[:-1]) if any(len(p) > 1 for _, p in curves) else 1
    span = max(1.0, math.ceil(last + 0.5))
    y_max = nice_max(max(v for _, points in curves for _, v in points))
    body: list[str] = []
    for i, (name, points) in enumerate(curves):
        # The last point is the maximum (100 %): drawn at the right edge of the finite scale.
        xy = [(LEFT + PLOT_W * min(nines(p), span) / span, _y(v, y_max)) for p, v in points]
        body.append(_polyline(xy, COLOURS[i % len(COLOURS)], name))
    body += _gate_line(gate_ms, y_max, f"p95 gate {gate_ms:g} ms" if gate_ms else "")
    for k in range(int(span) + 1):
        label = "0 %" if k == 0 else f"{100 - 10 ** (2 - k):.{max(0, k - 2)}f} %"
        body.append(
            f'<text x="{LEFT + PLOT_W * k / span:.1f}" y="{TOP + PLOT_H + 14}" text-anchor="middle">{label}</text>'
        )
    body += _legend([(name, COLOURS[i % len(COLOURS)]) for i, (name, _) in enumerate(curves)])
    return frame("percentile (each tick one more nine; the right edge is the maximum)", "latency (ms)", y_max, body,
                 "percentile spectrum")  # fmt: skip


def steps_svg(rows: Sequence[dict], gate_ms: float | None) -> str:
    """The capacity search: p95 and p99 at each rate tried, held steps as dots, broken ones as crosses."""
    rows = [r for r in rows if r["p95_ms"] is not None]
    if not rows:
        return "<p>No step answered.</p>"
    x_max = nice_max(max(r["rate"] for r in rows))
    y_max = nice_max(max(r["p99_ms"] or r["p95_ms"] for r in rows))
    ordered = sorted(rows, key=lambda r: r["rate"])
    body: list[str] = []

    def x(rate: float) -> float:
        return LEFT + PLOT_W * rate / x_max

    for name, key, colour in (("p95", "p95_ms", COLOURS[0]), ("p99", "p99_ms", COLOURS[2])):
        body.append(_polyline([(x(r["rate"]), _y(r[key], y_max)) for r in ordered if r[key] is not None], colour, name))
    for r in ordered:
        cx, cy = x(r["rate"]), _y(r["p95_ms"], y_max)
        tip = f"{r['rate']:g}/s: p95 {r['p95_ms']:.1f} ms, {'held' if r['held'] else 'broke'}"
        if r["held"]:
            body.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{COLOURS[1]}"><title>{escape(tip)}</title></circle>'
            )
        else:
            body.append(
                f'<path d="M{cx - 4:.1f} {cy - 4:.1f}L{cx + 4:.1f} {cy + 4:.1f}M{cx - 4:.1f} {cy + 4:.1f}L{cx + 4:.1f} '
                f'{cy - 4:.1f}" stroke="{FAILURE_COLOUR}" stroke-width="2"><title>{escape(tip)}</title></path>'
            )
    body += _gate_line(gate_ms, y_max, f"p95 gate {gate_ms:g} ms" if gate_ms else "")
    for i in range(5):
        body.append(_tick(LEFT + PLOT_W * i / 4, f"{x_max * i / 4:g}"))
    body += _legend([("p95", COLOURS[0]), ("p99", COLOURS[2])])
    return frame("requests per second asked", "latency (ms)", y_max, body, "capacity search")
