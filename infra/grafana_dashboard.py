"""The dashboard's panels as a Grafana dashboard (CloudWatch data source), built with grafana-foundation-sdk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import cloudwatch as cw
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import cloudwatch as cw_models
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

from infra.panels import HEIGHT, WIDTH, Expression, Metric, Panel, Threshold, position

DATA_SOURCE_TYPE = "cloudwatch"
"""Grafana's plugin id of the CloudWatch data source."""


def dashboard_json(
    panels: Sequence[Panel], *, title: str, uid: str, region: str, data_source_uid: str
) -> dict[str, Any]:
    """The Grafana dashboard of resolved panels: one time series per panel, at the place CloudWatch shows it."""
    source = models.DataSourceRef(type_val=DATA_SOURCE_TYPE, uid=data_source_uid)
    builder = (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["groundwork"])
        .time("now-3h", "now")
        .refresh("1m")
        .timezone(common.TimeZoneUtc)
        .readonly()
    )
    for index, panel in enumerate(panels):
        builder = builder.with_panel(_panel(panel, index, region, source))
    return json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))


def _panel(panel: Panel, index: int, region: str, source: models.DataSourceRef) -> timeseries.Panel:
    x, y = position(index)
    built = (
        timeseries.Panel()
        .title(panel.title)
        .datasource(source)
        .grid_pos(models.GridPos(h=HEIGHT, w=WIDTH, x=x, y=y))
        .interval(f"{panel.period}s")
        .draw_style(common.GraphDrawStyle.LINE)
        .line_width(1)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE))
    )
    for number, metric in enumerate(panel.metrics):
        ref = _ref(number)
        built = built.with_target(_metric_query(metric, ref, panel.period, region, source))
        if metric.right_axis:
            right = models.DynamicConfigValue(id_val="custom.axisPlacement", value=common.AxisPlacement.RIGHT)
            built = built.override_by_query(ref, [right])
    for expression in panel.expressions:
        built = built.with_target(_expression_query(expression, panel.period, region, source))
    if panel.thresholds:
        built = (
            built.description(alarm_text(panel.thresholds))
            .thresholds(dash.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(_steps(panel.thresholds)))
            .thresholds_style(common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.LINE))
        )
    return built


def _ref(number: int) -> str:
    """refId of the panel's nth query: A, B, ... (the ids an expression reads are the metrics' own ids)."""
    return chr(ord("A") + number) if number < 26 else f"Q{number}"


def _metric_query(
    metric: Metric, ref: str, period: int, region: str, source: models.DataSourceRef
) -> cw.CloudWatchMetricsQuery:
    query = (
        cw.CloudWatchMetricsQuery()
        .ref_id(ref)
        .datasource(source)
        .query_mode(cw_models.CloudWatchQueryMode.METRICS)
        .metric_query_type(cw_models.MetricQueryType.SEARCH)
        .metric_editor_mode(cw_models.MetricEditorMode.BUILDER)
        .region(region)
        .namespace(metric.namespace)
        .metric_name(metric.name)
        .dimensions({key: str(value) for key, value in metric.dimensions.items()})
        .match_exact(True)
        .statistic(metric.statistic)
        .period(str(period))
        .label(metric.label or metric.name)
        .hide(not metric.visible)
    )
    if metric.id:
        query = query.id(metric.id)
    return query


def _expression_query(
    expression: Expression, period: int, region: str, source: models.DataSourceRef
) -> cw.CloudWatchMetricsQuery:
    return (
        cw.CloudWatchMetricsQuery()
        .ref_id(expression.id)
        .id(expression.id)
        .datasource(source)
        .query_mode(cw_models.CloudWatchQueryMode.METRICS)
        .metric_query_type(cw_models.MetricQueryType.SEARCH)
        .metric_editor_mode(cw_models.MetricEditorMode.CODE)
        .region(region)
        .expression(expression.expression)
        .period(str(period))
        .label(expression.label)
    )


def _steps(thresholds: Sequence[Threshold]) -> list[models.Threshold]:
    """Threshold steps: the base colour, then a step at each alarm's value (red beyond it)."""
    lines = sorted({(t.value, t.above) for t in thresholds})
    base = "green" if lines[0][1] else "red"
    return [models.Threshold(value=None, color=base)] + [
        models.Threshold(value=value, color="red" if above else "green") for value, above in lines
    ]


def alarm_text(thresholds: Sequence[Threshold]) -> str:
    """The panel's description: each alarm drawn on it and the side of the line it rises on."""
    return "Alarms: " + "; ".join(f"{t.alarm} {'above' if t.above else 'below'} {t.value:g}" for t in thresholds)
