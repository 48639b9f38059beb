"""The HTML report's charts: labels apart, whole-number counts, axes fitted to the data, series told apart by shape."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cli.smoke.charts import CHAR_W, _nice_max, distribution_svg, label_rows, timeline_svg
from cli.smoke.stats import Sample

SVG = "{http://www.w3.org/2000/svg}"


def _samples() -> list[Sample]:
    """A run like the one in the issue: most answers near 100 ms, a tail to 552 ms, two endpoints, one failure."""
    latencies = [90 + (i * 37) % 60 for i in range(190)] + [210, 230, 236, 240, 300, 340, 420, 480, 552]
    samples = [
        Sample("heartbeat" if i % 2 else "map", i * 0.01, latency, status=200) for i, latency in enumerate(latencies)
    ]
    samples.append(Sample("map", 2.0, 12.0, failure="http_500", status=500))
    return samples


def _texts(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))  # noqa: S314 - the charts' own output
    return list(root.iter(f"{SVG}text"))


@pytest.mark.parametrize(("value", "top"), [(552, 600), (1000, 1000), (219.7, 240), (0.9, 1), (7, 8)])
def test_axes_end_near_the_largest_value(value: float, top: float) -> None:
    assert _nice_max(value) == top


def test_count_axes_have_whole_number_ticks() -> None:
    for count in (1, 3, 5, 6, 13, 97):
        top = _nice_max(count, integer=True)
        assert top >= count
        assert all((top * i / 4).is_integer() for i in range(5)), (count, top)


def test_labels_that_would_collide_go_on_separate_rows() -> None:
    assert label_rows([(100, "gate p95 200.0 ms"), (130, "p95 235.2 ms"), (400, "p50 101.0 ms")]) == [0, 1, 0]


def test_the_distribution_labels_do_not_overlap_and_counts_are_whole() -> None:
    svg = distribution_svg(_samples(), {"p50": 110.0, "p95": 235.2, "gate p95": 200.0})
    labels = [t for t in _texts(svg) if t.text and " ms" in t.text and t.get("fill")]
    assert len(labels) == 3
    boxes = [(float(t.get("x")), float(t.get("y")), len(t.text) * CHAR_W) for t in labels]
    for i, (x1, y1, w1) in enumerate(boxes):
        for x2, y2, w2 in boxes[i + 1 :]:
            assert y1 != y2 or x1 + w1 <= x2 or x2 + w2 <= x1, labels
    ticks = [
        t.text for t in _texts(svg) if t.get("text-anchor") == "end" and t.text and re.fullmatch(r"[\d.]+", t.text)
    ]
    assert ticks
    assert all(float(tick).is_integer() for tick in ticks), ticks
    dashes = set(re.findall(r'stroke-dasharray="([^"]+)"', svg))
    assert len(dashes) == 3  # the three markers differ in dash pattern, not only in colour


def test_the_timeline_fits_its_axis_and_draws_each_endpoint_in_its_own_shape() -> None:
    svg = timeline_svg(_samples(), 200.0)
    ticks = [float(t.text) for t in _texts(svg) if t.get("text-anchor") == "end" and t.text.replace(".", "").isdigit()]
    assert max(ticks) == 600  # not 1000 for a maximum of 552
    assert "<circle" in svg
    assert "<rect" in svg  # the second endpoint: squares
    assert "failed" in svg  # the failure mark has its legend entry
