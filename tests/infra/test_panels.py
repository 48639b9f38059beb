"""The panels are declared once: the CloudWatch dashboard and the Grafana dashboard show the same panels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from cli.plan.document import grafana_dashboard
from infra.grafana_dashboard import dashboard_json
from infra.panels import Expression, Metric, Panel, Threshold, cloudwatch_body
from tests.mocks import Recording, recorded

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _from_cloudwatch(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each widget as comparable facts: title, place, series, expressions, period and alarm lines."""
    panels = []
    for widget in body["widgets"]:
        props = widget["properties"]
        series, expressions = [], []
        for row in props["metrics"]:
            if isinstance(row[0], dict):
                expressions.append((row[0]["id"], row[0]["expression"], row[0]["label"]))
                continue
            namespace, name, *rest = row
            options = rest.pop()
            dims = dict(zip(rest[::2], rest[1::2], strict=True))
            series.append((namespace, name, tuple(sorted(dims.items())), options["stat"], options.get("visible", True)))
        lines = sorted(
            (a["label"], a["value"], a["fill"] == "above") for a in props.get("annotations", {}).get("horizontal", [])
        )
        panels.append(
            {
                "title": props["title"],
                "place": (widget["x"], widget["y"], widget["width"], widget["height"]),
                "series": series,
                "expressions": expressions,
                "period": props["period"],
                "alarms": lines,
            }
        )
    return panels


def _from_grafana(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each Grafana panel as the same facts, read from its CloudWatch queries and thresholds."""
    panels = []
    for panel in document["panels"]:
        series, expressions, periods = [], [], set()
        for target in panel["targets"]:
            periods.add(int(target["period"]))
            if target.get("expression"):
                expressions.append((target["id"], target["expression"], target["label"]))
                continue
            dims = tuple(sorted(target["dimensions"].items()))
            series.append((target["namespace"], target["metricName"], dims, target["statistic"], not target["hide"]))
        steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])[1:]
        alarms = []
        if panel.get("description"):
            for part in panel["description"].removeprefix("Alarms: ").split("; "):
                alarm, side, _value = part.split(" ")
                value = next(s["value"] for s in steps if f"{s['value']:g}" == _value)
                alarms.append((alarm, value, side == "above"))
        grid = panel["gridPos"]
        assert len(periods) == 1, panel["title"]
        panels.append(
            {
                "title": panel["title"],
                "place": (grid["x"], grid["y"], grid["w"], grid["h"]),
                "series": series,
                "expressions": expressions,
                "period": periods.pop(),
                "alarms": sorted(alarms),
            }
        )
    return panels


@pytest.fixture(scope="module", params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    return recorded(request.param)


def test_the_program_renders_the_same_panels_to_cloudwatch_and_grafana(stack: Recording) -> None:
    body = json.loads(stack.one(DASHBOARD)["dashboardBody"])
    grafana = grafana_dashboard(stack)
    assert grafana is not None
    cloudwatch_panels, grafana_panels = _from_cloudwatch(body), _from_grafana(grafana)
    assert [p["title"] for p in grafana_panels] == [p["title"] for p in cloudwatch_panels]
    for cw, gf in zip(cloudwatch_panels, grafana_panels, strict=True):
        assert gf == cw, cw["title"]


def test_every_alarm_is_drawn_on_the_panel_of_its_series(stack: Recording) -> None:
    prefix = stack.one(DASHBOARD).name.removesuffix("-dashboard")
    drawn = {
        alarm
        for panel in _from_cloudwatch(json.loads(stack.one(DASHBOARD)["dashboardBody"]))
        for alarm, *_ in panel["alarms"]
    }
    alarms = {a.name.removeprefix(f"{prefix}-") for a in stack.of_type(ALARM)}
    assert alarms == drawn


def test_the_grafana_dashboard_is_valid_for_the_sdk_types(stack: Recording) -> None:
    register_default_plugins()
    document = grafana_dashboard(stack)
    assert document is not None
    parsed = Dashboard.from_json(document)
    again = json.loads(JSONEncoder(sort_keys=True).encode(parsed))
    assert again == document
    assert {p["type"] for p in document["panels"]} == {"timeseries"}
    assert {t["datasource"]["type"] for p in document["panels"] for t in p["targets"]} == {"cloudwatch"}


def test_a_panel_renders_its_threshold_math_and_right_axis_to_both() -> None:
    lb = {"LoadBalancer": "app/a/1"}
    panel = Panel(
        "Errors",
        [
            Metric("AWS/ApplicationELB", "RequestCount", lb, "Sum", id="requests", visible=False),
            Metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum", id="errors", right_axis=True),
        ],
        expressions=[Expression("rate", "100 * errors / requests", "5xx percent")],
        thresholds=[Threshold("5xx-rate", 5), Threshold("floor", 1, above=False)],
    )
    body = cloudwatch_body([panel], "eu-west-1")
    grafana = dashboard_json([panel], title="t", uid="u", region="eu-west-1", data_source_uid="cw")
    assert _from_grafana(grafana) == _from_cloudwatch(body)
    assert body["widgets"][0]["properties"]["metrics"][1][-1]["yAxis"] == "right"
    override = grafana["panels"][0]["fieldConfig"]["overrides"][0]
    assert override["matcher"]["options"] == "B"
    assert override["properties"] == [{"id": "custom.axisPlacement", "value": "right"}]
    steps = grafana["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 1, 5]
