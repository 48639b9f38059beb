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


def test_unhealthy_targets_of_both_target_groups_are_the_live_api_being_down() -> None:
    (alarm,) = [a for a in recorded("prod").of_type(ALARM) if a.name == "gw-prod-mon-unhealthy-targets"]
    groups = {q["metric"]["dimensions"]["TargetGroup"] for q in alarm["metricQueries"] if q.get("metric")}
    assert len(groups) == 2  # blue's and green's: the alarm sums them
    (rule,) = rules([alarm])["rules"]
    assert rule["expr"] == '(1 - min_over_time(up{job="api"}[60s])) > 0'
    assert (rule["periods"], rule["for_seconds"]) == (3, 120)


def test_metric_math_over_other_metrics_is_cloud_only_with_the_metrics_named() -> None:
    class Alarm:
        name = "x-targets"
        inputs = {
            "metricQueries": [
                {"id": f"{n.lower()}1", "metric": {"namespace": "AWS/ApplicationELB", "metricName": n, "period": 60}}
                for n in ("UnHealthyHostCount", "HealthyHostCount")
            ]
            + [{"id": "ratio", "expression": "unhealthyhostcount1 / healthyhostcount1", "returnData": True}],
            "evaluationPeriods": 1,
            "threshold": 0,
            "comparisonOperator": "GreaterThanThreshold",
        }

    mapped = rules([Alarm()])
    assert mapped["rules"] == []
    reason = "metric math over HealthyHostCount, UnHealthyHostCount has no local counterpart"
    assert mapped["cloud_only"] == [{"alarm": "x-targets", "reason": reason}]


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
