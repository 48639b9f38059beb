"""The plan's CloudWatch alarms as Prometheus alerting rules, where a local process exports the series they watch."""

from __future__ import annotations

import re
from string import Template
from typing import Any

API_JOB = "api"
"""Prometheus job of the API's /metrics (the label the expressions below select)."""
WORKER_JOB = "worker"
"""Prometheus job of the workers' /metrics."""

_COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_REQUESTS = 'http_requests_total{job="api"}'
_ERRORS = 'http_requests_total{job="api",status=~"5.."}'
_LATENCY = 'http_request_duration_seconds_bucket{job="api"}'
_UP = 'up{job="api"}'
_ALB = "AWS/ApplicationELB"

# One load balancer and one target group in front of one API: the API's own series stand for the load balancer's.
SERIES: dict[tuple[str, str, str], str] = {
    (_ALB, "TargetResponseTime", "p50"): f"histogram_quantile(0.50, sum by (le) (rate({_LATENCY}[$w])))",
    (_ALB, "TargetResponseTime", "p95"): f"histogram_quantile(0.95, sum by (le) (rate({_LATENCY}[$w])))",
    (_ALB, "TargetResponseTime", "p99"): f"histogram_quantile(0.99, sum by (le) (rate({_LATENCY}[$w])))",
    (_ALB, "RequestCount", "Sum"): f"sum(increase({_REQUESTS}[$w]))",
    (_ALB, "UnHealthyHostCount", "Maximum"): f"1 - min_over_time({_UP}[$w])",
    (_ALB, "HealthyHostCount", "Minimum"): f"min_over_time({_UP}[$w])",
    ("Groundwork/Worker", "Backlog", "Maximum"): 'max_over_time(worker_backlog{service="$Service"}[$w])',
}
"""CloudWatch series (namespace, metric, statistic) -> PromQL of the local series over one period `$w`; a
dimension the local series keeps as a label is `$<dimension name>`."""

ERROR_RATE_METRICS = frozenset({"RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"})
"""The metrics of the 5xx-rate alarm's math: 5xx answers as a percentage of requests."""
ERROR_RATE = f"100 * sum(rate({_ERRORS}[$w])) / sum(rate({_REQUESTS}[$w]))"
MATH: dict[frozenset[tuple[str, str]], str] = {
    frozenset((_ALB, name) for name in ERROR_RATE_METRICS): ERROR_RATE,
    # The unhealthy targets summed over blue's and green's target groups: locally the live slot is the one target.
    frozenset({(_ALB, "UnHealthyHostCount")}): SERIES[(_ALB, "UnHealthyHostCount", "Maximum")],
}
"""The metrics (namespace, name) an alarm's metric math reads -> PromQL of what it computes, with `$w`."""

_NO_LOCAL = {
    "AWS/RDS": "PostgreSQL's and PgBouncer's own statistics are not exported to the local Prometheus",
    "AWS/ElastiCache": "Redis's statistics are not exported to the local Prometheus",
    "AWS/WAFV2": "nginx's rate limit counts no blocked requests into Prometheus",
    "AWS/Backup": "the local stack has no AWS Backup jobs",
    "AWS/ECS": "the local processes have no ECS service metrics",
}


def rules(alarms: list[Any]) -> dict[str, Any]:
    """Each recorded MetricAlarm as a rule when its series exists locally; the others with the reason they do not."""
    realised, cloud_only = [], []
    for alarm in sorted(alarms, key=lambda a: a.name):
        inputs = alarm.inputs
        try:
            expression = _expression(inputs)
        except LookupError as missing:
            cloud_only.append({"alarm": alarm.name, "reason": str(missing.args[0])})
            continue
        period = int(inputs.get("period") or _query_period(inputs))
        periods = int(inputs.get("evaluationPeriods", 1))
        comparison = _COMPARISONS.get(str(inputs.get("comparisonOperator")))
        if comparison is None:
            cloud_only.append({"alarm": alarm.name, "reason": f"comparison {inputs.get('comparisonOperator')}"})
            continue
        threshold = float(inputs["threshold"])
        # Dimension values become label values inside double quotes: nothing may end the string early.
        dimensions = {k: re.sub(r'["\\\n]', "", str(v)) for k, v in (inputs.get("dimensions") or {}).items()}
        series = Template(expression).safe_substitute(dimensions, w=f"{period}s")
        realised.append(
            {
                "alarm": alarm.name,
                "name": re.sub(r"[^A-Za-z0-9_]", "_", alarm.name),
                "expr": f"({series}) {comparison} {_number(threshold)}",
                # CloudWatch raises the alarm at the Nth breaching period in a row: the condition has held for one
                # period when first true, and for N - 1 more.
                "for_seconds": period * (periods - 1),
                "period": period,
                "periods": periods,
                "threshold": threshold,
                "description": str(inputs.get("alarmDescription", "")),
            }
        )
    return {"rules": realised, "cloud_only": cloud_only}


def _expression(inputs: dict[str, Any]) -> str:
    """PromQL of the series the alarm watches, with `$w` for its period; LookupError says why there is none."""
    queries = inputs.get("metricQueries") or []
    if queries:
        metrics = frozenset((q["metric"]["namespace"], q["metric"]["metricName"]) for q in queries if q.get("metric"))
        if metrics in MATH:
            return MATH[metrics]
        names = sorted({name for _, name in metrics})
        raise LookupError(f"metric math over {', '.join(names)} has no local counterpart")
    namespace, name = str(inputs.get("namespace")), str(inputs.get("metricName"))
    statistic = str(inputs.get("statistic") or inputs.get("extendedStatistic"))
    template = SERIES.get((namespace, name, statistic))
    if template is None:
        reason = _NO_LOCAL.get(namespace, f"no local process exports {namespace} {name}")
        raise LookupError(f"{namespace} {name}: {reason}")
    return template


def _query_period(inputs: dict[str, Any]) -> int:
    periods = {int(q["metric"]["period"]) for q in inputs.get("metricQueries") or [] if q.get("metric")}
    return max(periods or {60})


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
