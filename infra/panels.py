"""Dashboard panels declared once (metrics, statistic, period, alarm thresholds) and their CloudWatch widgets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

PERIOD_SECONDS = 60
"""Period of every panel's datapoints and of the alarms drawn on them."""
WIDTH, HEIGHT, COLUMNS = 12, 6, 2
"""Size of a panel on both grids (CloudWatch's and Grafana's are 24 units wide) and panels per row."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """One series of a panel: a CloudWatch metric, its dimensions and the statistic drawn."""

    namespace: str
    """CloudWatch namespace, e.g. `AWS/ApplicationELB`."""
    name: str
    """Metric name, e.g. `RequestCount`."""
    dimensions: Mapping[str, pulumi.Input[str]]
    """Dimensions that pick the series, in the order they are shown."""
    statistic: str
    """Statistic drawn: Sum, Average, Minimum, Maximum, or a percentile such as p95."""
    label: str | None = None
    """Legend text; the metric's name when absent."""
    right_axis: bool = False
    """Drawn against the right y axis (a different unit from the panel's other series)."""
    id: str | None = None
    """Name an expression of the same panel refers to this series by."""
    visible: bool = True
    """Drawn; false for a series an expression only reads."""


@dataclasses.dataclass(frozen=True)
class Expression:
    """A series computed from the panel's metrics with CloudWatch metric math."""

    id: str
    """Name of the computed series."""
    expression: str
    """Metric math over the ids of the panel's metrics."""
    label: str
    """Legend text."""


@dataclasses.dataclass(frozen=True)
class Threshold:
    """An alarm drawn on a panel: the line where it rises."""

    alarm: str
    """Name suffix of the alarm (`5xx-rate`, `cache-001-cpu`)."""
    value: float
    """The alarm's threshold, in the unit of the series it watches."""
    above: bool = True
    """The alarm rises above the line (false: below it)."""


@dataclasses.dataclass(frozen=True)
class Panel:
    """One dashboard panel, rendered the same to the CloudWatch dashboard and to Grafana."""

    title: str
    """Title of the panel."""
    metrics: Sequence[Metric]
    """The series drawn (and the ones its expressions read)."""
    expressions: Sequence[Expression] = ()
    """Series computed with metric math."""
    thresholds: Sequence[Threshold] = ()
    """Alarms watching one of its series."""
    period: int = PERIOD_SECONDS
    """Seconds per datapoint."""


def metric_row(metric: Metric) -> list[Any]:
    """A metric as a CloudWatch widget row: namespace, name, dimension pairs, rendering options."""
    options: dict[str, Any] = {"stat": metric.statistic}
    if metric.label:
        options["label"] = metric.label
    if metric.right_axis:
        options["yAxis"] = "right"
    if metric.id:
        options["id"] = metric.id
    if not metric.visible:
        options["visible"] = False
    pairs = [part for key, value in metric.dimensions.items() for part in (key, value)]
    return [metric.namespace, metric.name, *pairs, options]


def cloudwatch_widget(panel: Panel, index: int, region: str) -> dict[str, Any]:
    """One panel as a CloudWatch metric widget at its place on the grid (dimension values must be resolved)."""
    rows = [metric_row(m) for m in panel.metrics]
    rows += [[{"expression": e.expression, "label": e.label, "id": e.id}] for e in panel.expressions]
    properties: dict[str, Any] = {
        "title": panel.title,
        "region": region,
        "metrics": rows,
        "view": "timeSeries",
        "stacked": False,
        "period": panel.period,
    }
    if panel.thresholds:
        properties["annotations"] = {
            "horizontal": [
                {"label": t.alarm, "value": t.value, "fill": "above" if t.above else "below"} for t in panel.thresholds
            ]
        }
    x, y = position(index)
    return {"type": "metric", "x": x, "y": y, "width": WIDTH, "height": HEIGHT, "properties": properties}


def cloudwatch_body(panels: Sequence[Panel], region: str) -> dict[str, Any]:
    """The CloudWatch dashboard document of resolved panels."""
    return {"widgets": [cloudwatch_widget(panel, index, region) for index, panel in enumerate(panels)]}


def position(index: int) -> tuple[int, int]:
    """Grid position (x, y) of the panel at `index`: two per row."""
    return (index % COLUMNS) * WIDTH, (index // COLUMNS) * HEIGHT


def resolved(panels: Sequence[Panel]) -> pulumi.Output[list[Panel]]:
    """The panels with every dimension value (an output of another resource) known."""
    values = [pulumi.Output.from_input(v) for p in panels for m in p.metrics for v in m.dimensions.values()]

    def rebuild(known: list[Any]) -> list[Panel]:
        items = iter(known)
        return [
            dataclasses.replace(
                panel,
                metrics=[
                    dataclasses.replace(metric, dimensions={k: str(next(items)) for k in metric.dimensions})
                    for metric in panel.metrics
                ],
            )
            for panel in panels
        ]

    return pulumi.Output.all(*values).apply(rebuild)


def same_series(metric: Metric, namespace: str, name: str, dimensions: Mapping[str, Any], statistic: str) -> bool:
    """Whether the metric is the series an alarm watches (dimension values compared as the same input)."""
    if (metric.namespace, metric.name, metric.statistic) != (namespace, name, statistic):
        return False
    if set(metric.dimensions) != set(dimensions):
        return False
    return all(metric.dimensions[k] is v or metric.dimensions[k] == v for k, v in dimensions.items())
