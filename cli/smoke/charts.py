"""Inline SVG charts of a run: the latency distribution and the latency over time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from cli.smoke.stats import Sample, histogram

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
COLOURS = ("#2b6cb0", "#2f855a", "#b7791f", "#6b46c1", "#2c7a7b")
FAILURE_COLOUR = "#c53030"


_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
"""Multipliers of a power of ten that make readable tick steps."""
TICKS = 4
"""Intervals on the y axis."""
CHAR_W = 6.2
"""Approximate width of one character at the charts' font size, to keep labels apart."""
SHAPES = ("circle", "square", "triangle", "diamond", "plus")
"""Marker shapes of the endpoint series: each differs in shape as well as colour (colour-blind safe)."""
MARKER_DASHES = {"p50": "2 3", "p95": "6 3", "gate p95": "10 3 2 3"}
"""Dash patterns of the distribution's vertical markers, so they differ in more than colour."""


def _nice_max(value: float, *, integer: bool = False) -> float:
    """The top of an axis of TICKS intervals that holds the value with little room to spare.

    Counts get whole-number steps, so no tick reads 1.25 requests.
    """
    if value <= 0:
        return float(TICKS) if integer else 1.0
    wanted = value / TICKS
    magnitude = 10 ** math.floor(math.log10(wanted))
    step = next(m * magnitude for m in _STEPS if m * magnitude >= wanted * (1 - 1e-9))
    if integer:
        step = max(1, math.ceil(step))
    return step * TICKS


def _frame(x_label: str, y_label: str, y_max: float, body: list[str], title: str) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(TICKS + 1):
        value = y_max * i / TICKS
        y = TOP + plot_h - plot_h * i / TICKS
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    parts.extend(body)
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#4a5568"/>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def label_rows(labels: Sequence[tuple[float, str]], gap: float = 6) -> list[int]:
    """A row for each label (x, text), in order, so that no two labels on one row overlap."""
    row_ends: list[float] = []
    rows = []
    for x, text in labels:
        start, end = x, x + len(text) * CHAR_W
        row = next((i for i, last in enumerate(row_ends) if last + gap <= start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(end)
        else:
            row_ends[row] = end
        rows.append(row)
    return rows


def _shape(kind: str, x: float, y: float, colour: str, tip: str) -> str:
    """One data point drawn as the series' shape."""
    title = f"<title>{escape(tip)}</title>"
    fill = f'fill="{colour}" fill-opacity="0.75"'
    if kind == "square":
        return f'<rect x="{x - 2.5:.1f}" y="{y - 2.5:.1f}" width="5" height="5" {fill}>{title}</rect>'
    if kind == "triangle":
        points = f"M{x:.1f} {y - 3.5:.1f}L{x + 3:.1f} {y + 2.5:.1f}L{x - 3:.1f} {y + 2.5:.1f}Z"
        return f'<path d="{points}" {fill}>{title}</path>'
    if kind == "diamond":
        points = f"M{x:.1f} {y - 3.5:.1f}L{x + 3.5:.1f} {y:.1f}L{x:.1f} {y + 3.5:.1f}L{x - 3.5:.1f} {y:.1f}Z"
        return f'<path d="{points}" {fill}>{title}</path>'
    if kind == "plus":
        return (
            f'<path d="M{x - 3.5:.1f} {y:.1f}H{x + 3.5:.1f}M{x:.1f} {y - 3.5:.1f}V{y + 3.5:.1f}" stroke="{colour}" '
            f'stroke-width="1.5">{title}</path>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" {fill}>{title}</circle>'


def distribution_svg(samples: Sequence[Sample], markers: dict[str, float | None]) -> str:
    """A histogram of latencies with vertical markers (percentiles, the gate) where they fall."""
    values = [s.latency_ms for s in samples if s.timed]
    bins = histogram(values, bins=20)
    if not bins:
        return "<p>No timed responses.</p>"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_max = _nice_max(max(count for _, _, count in bins), integer=True)
    width = plot_w / len(bins)
    body = []
    for i, (low, high, count) in enumerate(bins):
        h = plot_h * count / y_max
        x = LEFT + i * width
        body.append(
            f'<rect x="{x + 1:.1f}" y="{TOP + plot_h - h:.1f}" width="{width - 2:.1f}" height="{h:.1f}" '
            f'fill="{COLOURS[0]}"><title>{low:.1f}-{high:.1f} ms: {count}</title></rect>'
        )
        if i % 4 == 0 or i == len(bins) - 1:
            body.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{low:.1f}</text>')
    low_edge, high_edge = bins[0][0], bins[-1][1]

    def position(value: float) -> float | None:
        """Where a latency falls on the binned axis (bins may be log-spaced)."""
        for i, (low, high, _) in enumerate(bins):
            if low <= value <= high:
                fraction = (value - low) / (high - low) if high > low else 0
                return LEFT + (i + fraction) * width
        return None

    placed = []
    for name, value in markers.items():
        x = None if value is None or not low_edge <= value <= high_edge else position(value)
        if x is None or value is None:
            continue
        text = f"{name} {value:.1f} ms"
        # A label that would run past the plot is drawn to the left of its line.
        fits = x + 3 + len(text) * CHAR_W <= WIDTH - RIGHT
        placed.append((x + 3 if fits else x - 3 - len(text) * CHAR_W, text, x, name))
    placed.sort()
    rows = label_rows([(start, text) for start, text, _, _ in placed])
    for (start, text, x, name), row in zip(placed, rows, strict=True):
        colour = FAILURE_COLOUR if name.startswith("gate") else "#1a202c"
        dash = MARKER_DASHES.get(name, "4 3")
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="{colour}" '
                    f'stroke-width="1.5" stroke-dasharray="{dash}"/>')  # fmt: skip
        # A white halo keeps a label readable where another marker's line runs behind it.
        body.append(f'<text x="{start:.1f}" y="{TOP + 12 + 13 * row}" fill="{colour}" stroke="white" '
                    f'stroke-width="3" paint-order="stroke">{escape(text)}</text>')  # fmt: skip
    return _frame("latency (ms, bin lower edges)", "requests", y_max, body, "latency distribution")


def timeline_svg(samples: Sequence[Sample], gate_ms: float | None) -> str:
    """Each request's latency at the moment it started; failures in red, the p95 gate as a line."""
    if not samples:
        return "<p>No requests.</p>"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    x_max = max(s.started_s * 1000 + s.latency_ms for s in samples) or 1.0
    y_max = _nice_max(max(s.latency_ms for s in samples))
    endpoints = list(dict.fromkeys(s.endpoint for s in samples))
    body = []
    for s in samples:
        x = LEFT + plot_w * (s.started_s * 1000) / x_max
        y = TOP + plot_h - plot_h * min(s.latency_ms, y_max) / y_max
        tip = f"{s.endpoint} at {s.started_s * 1000:.1f} ms: {s.latency_ms:.1f} ms" + (
            f" ({s.failure})" if s.failure else ""
        )
        if s.failure:
            body.append(
                f'<path d="M{x - 3:.1f} {y - 3:.1f}L{x + 3:.1f} {y + 3:.1f}M{x - 3:.1f} {y + 3:.1f}L{x + 3:.1f} '
                f'{y - 3:.1f}" stroke="{FAILURE_COLOUR}" stroke-width="1.5"><title>{escape(tip)}</title></path>'
            )
        else:
            index = endpoints.index(s.endpoint)
            body.append(_shape(SHAPES[index % len(SHAPES)], x, y, COLOURS[index % len(COLOURS)], tip))
    if gate_ms is not None and gate_ms <= y_max:
        y = TOP + plot_h - plot_h * gate_ms / y_max
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{FAILURE_COLOUR}" '
                    'stroke-dasharray="4 3"/>')  # fmt: skip
        body.append(f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="{FAILURE_COLOUR}">'
                    f"p95 gate {gate_ms:g} ms</text>")  # fmt: skip
    elif gate_ms is not None:
        body.append(f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 10}" text-anchor="end" fill="{FAILURE_COLOUR}">'
                    f"p95 gate {gate_ms:g} ms: above every request</text>")  # fmt: skip
    for i in range(5):
        x = LEFT + plot_w * i / 4
        body.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{x_max * i / 4:.0f}</text>')
    for i, name in enumerate(endpoints):
        colour = COLOURS[i % len(COLOURS)]
        body.append(_shape(SHAPES[i % len(SHAPES)], LEFT + 10, TOP + 8 + 14 * i, colour, name))
        body.append(f'<text x="{LEFT + 18}" y="{TOP + 12 + 14 * i}">{escape(name)}</text>')
    if any(s.failure for s in samples):
        y = TOP + 8 + 14 * len(endpoints)
        body.append(f'<path d="M{LEFT + 7} {y - 3}L{LEFT + 13} {y + 3}M{LEFT + 7} {y + 3}L{LEFT + 13} {y - 3}" '
                    f'stroke="{FAILURE_COLOUR}" stroke-width="1.5"/>')  # fmt: skip
        body.append(f'<text x="{LEFT + 18}" y="{y + 4}">failed</text>')
    return _frame("time since the first request (ms)", "latency (ms)", y_max, body, "latency over time")
