"""Dashboard, alarm and log group checks with moto."""

from __future__ import annotations

import json

import boto3
import pytest

from cli.verify.model import Status
from stacks import outputs as out
from tests.cli.verify import stack as healthy
from tests.cli.verify.conftest import find, not_passing

SILENT = "gw-dev-mon-latency-p95-0c1d2e3"


@pytest.mark.parametrize("derived_only", [False, True], ids=["named-in-outputs", "found-by-prefix"])
def test_an_alarm_without_actions_fails(verify, cloud, derived_only):
    healthy.put_alarm(SILENT, actions=[])
    report = verify(derived_only=derived_only, outputs={out.ALARM_NAMES: [*cloud.alarms, SILENT]})
    check = find(report, "alarms", "has actions", SILENT)
    assert check.status is Status.FAIL
    assert check.observed == "no alarm actions: nobody is told when it fires"
    assert [(f, n) for _, f, n, _ in not_passing(report)] == [("alarms", "has actions")]


def test_an_alarm_with_actions_disabled_fails(verify, cloud):
    healthy.put_alarm(SILENT, actions=[cloud.topic], enabled=False)
    check = find(verify(derived_only=True), "alarms", "has actions", SILENT)
    assert (check.status, check.observed) == (Status.FAIL, "actions disabled")


def test_an_alarm_notifying_another_topic_warns(verify):
    stranger = boto3.client("sns", region_name=healthy.REGION).create_topic(Name="someone-else")["TopicArn"]
    healthy.put_alarm(SILENT, actions=[stranger])
    check = find(verify(derived_only=True), "alarms", "has actions", SILENT)
    assert check.status is Status.WARN
    assert check.observed == f"notifies {stranger} (not the stack's alarm topic)"


def test_an_exported_alarm_that_is_gone_fails(verify, cloud):
    report = verify(outputs={out.ALARM_NAMES: [*cloud.alarms, SILENT]})
    check = find(report, "alarms", "alarms exist")
    assert (check.status, check.observed) == (Status.FAIL, f"missing: {SILENT}")


def test_a_missing_dashboard_fails(verify):
    boto3.client("cloudwatch", region_name=healthy.REGION).delete_dashboards(DashboardNames=[healthy.DASHBOARD])
    check = find(verify(), "dashboard", "exists with widgets")
    assert (check.status, check.observed) == (Status.FAIL, "no such dashboard")


def test_an_empty_dashboard_fails(verify):
    boto3.client("cloudwatch", region_name=healthy.REGION).put_dashboard(
        DashboardName=healthy.DASHBOARD, DashboardBody=json.dumps({"widgets": []})
    )
    check = find(verify(), "dashboard", "exists with widgets")
    assert (check.status, check.observed) == (Status.FAIL, "0 widget(s)")


def test_a_log_group_without_retention_fails(verify):
    boto3.client("logs", region_name=healthy.REGION).delete_retention_policy(logGroupName=healthy.SERVICE_LOGS)
    check = find(verify(), "log groups", "retention", healthy.SERVICE_LOGS)
    assert (check.status, check.observed) == (Status.FAIL, "no retention: events never expire")


def test_a_retention_other_than_the_settings_warns(verify):
    logs = boto3.client("logs", region_name=healthy.REGION)
    logs.put_retention_policy(logGroupName=healthy.RDS_LOGS[0], retentionInDays=30)
    check = find(verify(), "log groups", "retention", healthy.RDS_LOGS[0])
    assert (check.status, check.observed, check.expected) == (
        Status.WARN,
        "events kept 30 days",
        "events kept 14 days (logRetentionDays)",
    )


def test_a_missing_log_group_fails(verify):
    boto3.client("logs", region_name=healthy.REGION).delete_log_group(logGroupName=healthy.RDS_LOGS[1])
    check = find(verify(derived_only=True), "log groups", "retention", healthy.RDS_LOGS[1])
    assert (check.status, check.observed) == (Status.FAIL, "no such log group")
