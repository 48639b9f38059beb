"""The plan's alarms as Prometheus rules: same threshold, comparison and periods, or cloud only with the reason."""

from __future__ import annotations

from cli.local.alert_rules import rules
from tests.mocks import recorded

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def test_alarms_with_a_local_series_keep_their_threshold_and_periods() -> None:
    alarms = recorded("prod").of_type(ALARM)
    mapped = rules(alarms)
    by_alarm = {r["alarm"]: r for r in mapped["rules"]}
    assert set(by_alarm) == {"gw-prod-mon-5xx-rate", "gw-prod-mon-latency-p95", "gw-prod-mon-unhealthy-targets",
                             "gw-prod-mon-worker-backlog"}  # fmt: skip
    for alarm in alarms:
        if alarm.name in by_alarm:
            rule = by_alarm[alarm.name]
            periods = int(alarm["evaluationPeriods"])
            assert rule["periods"] == periods, alarm.urn
            assert rule["for_seconds"] == 60 * (periods - 1), alarm.urn
            assert rule["expr"].endswith(f"> {rule['threshold']:g}"), alarm.urn
            assert rule["threshold"] == float(alarm["threshold"]), alarm.urn
            assert "[60s]" in rule["expr"], alarm.urn
    backlog = by_alarm["gw-prod-mon-worker-backlog"]["expr"]
    assert 'worker_backlog{service="gw-prod-worker"}' in backlog  # the alarm's Service dimension as the label
    reasons = {c["alarm"]: c["reason"] for c in mapped["cloud_only"]}
    assert set(reasons) | set(by_alarm) == {a.name for a in alarms}
    assert "not exported" in reasons["gw-prod-mon-db-cpu"]


def test_a_dimension_value_cannot_break_out_of_its_label() -> None:
    class Alarm:
        name = "x-worker-backlog"
        inputs = {
            "namespace": "Groundwork/Worker",
            "metricName": "Backlog",
            "statistic": "Maximum",
            "dimensions": {"Service": 'w"} or vector(1) #'},
            "period": 60,
            "evaluationPeriods": 1,
            "threshold": 5,
            "comparisonOperator": "LessThanThreshold",
        }

    (rule,) = rules([Alarm()])["rules"]
    assert rule["expr"] == '(max_over_time(worker_backlog{service="w} or vector(1) #"}[60s])) < 5'
    assert rule["for_seconds"] == 0
