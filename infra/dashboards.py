"""Monitoring: a CloudWatch dashboard of the stack and alarms that notify an SNS topic."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from infra import key_policy, require, type_token
from infra.grafana_dashboard import dashboard_json
from infra.panels import Expression, Metric, Panel, Threshold, cloudwatch_body, resolved, same_series

TYPE = type_token("dashboards", "Monitoring")

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclasses.dataclass(frozen=True)
class AlarmSpec:
    """An alarm another component asks Monitoring to raise on one metric; Monitoring owns the topic it notifies."""

    suffix: str
    """Stable name suffix of the alarm resource."""
    description: str
    """What the alarm means, in words."""
    namespace: str
    """CloudWatch namespace of the metric."""
    metric_name: str
    """Name of the metric."""
    dimensions: Mapping[str, pulumi.Input[str]]
    """Dimensions that pick the metric's series."""
    statistic: str
    """Statistic compared with the threshold (Average, Sum, Maximum, ...)."""
    threshold: float
    """Value that raises the alarm."""
    periods: int = 2
    """Breaching minutes in a row before the alarm rises."""
    comparison: str = "GreaterThanThreshold"
    """How the statistic is compared with the threshold."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Inputs of Monitoring."""

    region: str
    """Region of the metrics and of the console link."""
    account_id: pulumi.Input[str]
    """Account that owns the alarm topic's encryption key."""
    load_balancer: pulumi.Input[str]
    """Load balancer ARN suffix (`app/<name>/<id>`)."""
    target_groups: Sequence[pulumi.Input[str]]
    """ARN suffix (`targetgroup/<name>/<id>`) of each target group the service may serve from (blue/green: both)."""
    cluster_name: pulumi.Input[str]
    """ECS cluster name."""
    service_name: pulumi.Input[str]
    """ECS service name."""
    db_instance: pulumi.Input[str]
    """RDS instance identifier."""
    proxy_name: pulumi.Input[str]
    """RDS Proxy name."""
    db_storage_gb: int
    """Allocated database storage, for the free-storage alarm."""
    error_5xx_percent: int = 5
    """5xx responses as a percentage of all requests that raise the alarm."""
    latency_p95_ms: int = 200
    """p95 target response time that raises the alarm."""
    db_cpu_percent: int = 80
    """Database CPU that raises the alarm."""
    db_free_storage_percent: int = 10
    """Free database storage, as a percentage of the allocation, below which the alarm rises."""
    proxy_borrow_latency_ms: int = 50
    """Average wait for a pooled connection that signals a saturated proxy."""
    alarm_email: pulumi.Input[str] | None = None
    """E-mail address subscribed to the alarm topic."""
    extra_alarms: Sequence[AlarmSpec] = ()
    """Alarms of other components (cache, worker, firewall, backups) that notify the same topic."""
    extra_panels: Sequence[Panel] = ()
    """Widgets of other components, placed after the stack's own."""


class Monitoring(pulumi.ComponentResource):
    """Dashboard covering load balancer, service, database and proxy; alarms on the signals that matter."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        require(1 <= args.error_5xx_percent <= 100, "error_5xx_percent", args.error_5xx_percent, "1 to 100")
        require(args.latency_p95_ms >= 10, "latency_p95_ms", args.latency_p95_ms, "10 or more")
        require(1 <= args.db_cpu_percent <= 100, "db_cpu_percent", args.db_cpu_percent, "1 to 100")
        require(args.db_storage_gb >= 20, "db_storage_gb", args.db_storage_gb, "20 or more")
        groups = len(args.target_groups)
        require(1 <= groups <= MAX_TARGET_GROUPS, "target_groups", f"{groups} groups", f"1 to {MAX_TARGET_GROUPS}")
        if isinstance(args.alarm_email, str):
            require(_EMAIL.fullmatch(args.alarm_email) is not None, "alarm_email", args.alarm_email, "an address")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Key of the alarm topic: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        key = aws.kms.Key(
            f"{name}-alarms-key",
            description=f"{name}: encrypts the alarm topic; usable by CloudWatch alarms of this account",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(alarm_key_policy),
            opts=child,
        )
        # Where alarms are sent, encrypted at rest.
        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=key.arn, opts=child)
        if args.alarm_email is not None:
            # The on-call address; AWS sends a confirmation mail before delivering.
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=pulumi.Output.secret(args.alarm_email),
                opts=child,
            )

        # The panels, declared once: the CloudWatch dashboard here, a Grafana dashboard from the same panels.
        self.panels = with_alarms([*stack_panels(args), *args.extra_panels], args.extra_alarms)
        self.resolved_panels = resolved(self.panels)
        body = self.resolved_panels.apply(
            lambda panels: json.dumps(cloudwatch_body(panels, args.region), sort_keys=True)
        )
        # The same panels as a Grafana dashboard: declared in Grafana only when the stack has one (infra/grafana.py),
        # and written by `infra plan --grafana-dashboard` for teams that import dashboards by hand.
        self.grafana_data_source_uid = f"{name[:29]}-cloudwatch"
        self.grafana_dashboard = self.resolved_panels.apply(
            lambda panels: json.dumps(
                dashboard_json(
                    panels, title=name, uid=name[:40], region=args.region, data_source_uid=self.grafana_data_source_uid
                ),
                sort_keys=True,
            )
        )
        # One page for the whole stack.
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard", dashboard_name=f"{name}-dashboard", dashboard_body=body, opts=child
        )

        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        alb = {"LoadBalancer": args.load_balancer}
        db = {"DBInstanceIdentifier": args.db_instance}
        proxy = {"ProxyName": args.proxy_name}
        # 5xx responses (load balancer and targets) as a share of requests.
        self._alarm(
            name,
            "5xx-rate",
            f"5xx responses above {args.error_5xx_percent}% of requests",
            threshold=args.error_5xx_percent,
            metric_queries=[
                _query("requests", "AWS/ApplicationELB", "RequestCount", alb, "Sum"),
                _query("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb, "Sum"),
                _query("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, "Sum"),
                {
                    "id": "rate",
                    "expression": ERROR_RATE,
                    "label": "5xx percent",
                    "return_data": True,
                },
            ],
        )
        # p95 latency of the targets above the budget.
        self._alarm(
            name,
            "latency-p95",
            f"p95 target response time above {args.latency_p95_ms} ms",
            namespace="AWS/ApplicationELB",
            metric_name="TargetResponseTime",
            dimensions=alb,
            extended_statistic="p95",
            threshold=args.latency_p95_ms / 1000,
        )
        # Any target failing its health check, in whichever target group serves (after a release, the other one).
        unhealthy = host_counts(args, "UnHealthyHostCount", "Maximum")
        self._alarm(
            name,
            "unhealthy-targets",
            "A target is failing the load balancer's health check",
            threshold=0,
            periods=3,
            metric_queries=[
                *(_query(m.id or "", m.namespace, m.name, dict(m.dimensions), m.statistic) for m in unhealthy),
                {"id": "unhealthy", "expression": sum_of(unhealthy), "label": "unhealthy targets", "return_data": True},
            ],
        )
        # Sustained database CPU.
        self._alarm(
            name,
            "db-cpu",
            f"Database CPU above {args.db_cpu_percent}%",
            namespace="AWS/RDS",
            metric_name="CPUUtilization",
            dimensions=db,
            statistic="Average",
            threshold=args.db_cpu_percent,
            periods=3,
        )
        # Database storage running out (before autoscaling or a resize catches up).
        free_bytes = args.db_storage_gb * 1024**3 * args.db_free_storage_percent / 100
        self._alarm(
            name,
            "db-storage",
            f"Database free storage below {args.db_free_storage_percent}% of {args.db_storage_gb} GiB",
            namespace="AWS/RDS",
            metric_name="FreeStorageSpace",
            dimensions=db,
            statistic="Minimum",
            threshold=free_bytes,
            comparison="LessThanThreshold",
        )
        # Clients waiting for a pooled connection: the proxy is saturated.
        self._alarm(
            name,
            "proxy-saturation",
            f"Clients wait more than {args.proxy_borrow_latency_ms} ms for a pooled connection",
            namespace="AWS/RDS",
            metric_name="DatabaseConnectionsBorrowLatency",
            dimensions=proxy,
            statistic="Average",
            threshold=args.proxy_borrow_latency_ms * 1000,
            periods=3,
        )

        for spec in args.extra_alarms:
            # An alarm another component asked for (its description says what it watches).
            self._alarm(
                name,
                spec.suffix,
                spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric_name,
                dimensions=dict(spec.dimensions),
                statistic=spec.statistic,
                threshold=spec.threshold,
                periods=spec.periods,
                comparison=spec.comparison,
            )

        self.dashboard_url = pulumi.Output.concat(
            f"https://{args.region}.console.aws.amazon.com/cloudwatch/home?region={args.region}#dashboards/dashboard/",
            self.dashboard.dashboard_name,
        )
        self.topic_arn = self.topic.arn
        self.dashboard_name = self.dashboard.dashboard_name
        self.alarm_names = [alarm.name for alarm in self.alarms]
        self.register_outputs(
            {
                "dashboard_url": self.dashboard_url,
                "dashboard_name": self.dashboard_name,
                "topic_arn": self.topic_arn,
                "alarm_names": self.alarm_names,
                "grafana_dashboard": self.grafana_dashboard,
            }
        )

    def _alarm(
        self,
        name: str,
        suffix: str,
        description: str,
        *,
        threshold: float,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: dict[str, pulumi.Input[str]] | None = None,
        statistic: str | None = None,
        extended_statistic: str | None = None,
        metric_queries: list[aws.cloudwatch.MetricAlarmMetricQueryArgsDict] | None = None,
        periods: int = 2,
        comparison: str = "GreaterThanThreshold",
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm that notifies the topic when it fires and when it recovers."""
        # The alarm: two (or more) breaching minutes in a row, missing data counts as fine.
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-{suffix}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dimensions,
            statistic=statistic,
            extended_statistic=extended_statistic,
            metric_queries=metric_queries,
            period=60 if metric_queries is None else None,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data="notBreaching",
            actions_enabled=True,
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.alarms.append(alarm)
        return alarm


def alarm_key_policy(account_id: str) -> str:
    """Key policy: the account administers the key; CloudWatch alarms of this account may encrypt with it."""
    return key_policy(
        account_id,
        [
            {
                "Sid": "CloudWatchAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    )


def _query(
    query_id: str, namespace: str, metric: str, dimensions: dict, stat: str
) -> aws.cloudwatch.MetricAlarmMetricQueryArgsDict:
    """A metric query of a metric-math alarm."""
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "period": 60,
            "stat": stat,
        },
    }


ERROR_RATE = "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
"""5xx responses of the load balancer and its targets as a percentage of requests (the 5xx-rate alarm's math)."""
MAX_TARGET_GROUPS = 9
"""Target groups summed at most: a metric-math alarm reads 10 metrics, one of them the sum."""


def host_counts(args: MonitoringArgs, metric: str, statistic: str) -> list[Metric]:
    """`metric` (HealthyHostCount, UnHealthyHostCount) of each target group, hidden: a sum reads them."""
    prefix = metric.lower().removesuffix("hostcount")
    return [
        Metric(
            "AWS/ApplicationELB",
            metric,
            {"TargetGroup": group, "LoadBalancer": args.load_balancer},
            statistic,
            id=f"{prefix}{index}",
            visible=False,
        )
        for index, group in enumerate(args.target_groups, start=1)
    ]


def sum_of(metrics: Sequence[Metric]) -> str:
    """Metric math adding the metrics' series, a missing datapoint (a group without targets) counted as 0."""
    return " + ".join(f"FILL({m.id}, 0)" for m in metrics)


def stack_panels(args: MonitoringArgs) -> list[Panel]:
    """The stack's own panels (load balancer, service, database, proxy), each with the alarms drawn on it."""
    lb = {"LoadBalancer": args.load_balancer}
    svc = {"ClusterName": args.cluster_name, "ServiceName": args.service_name}
    db = {"DBInstanceIdentifier": args.db_instance}
    px = {"ProxyName": args.proxy_name}
    alb, rds = "AWS/ApplicationELB", "AWS/RDS"
    free_bytes = args.db_storage_gb * 1024**3 * args.db_free_storage_percent / 100
    # Blue's and green's groups summed: after a release the tasks serve from the other one.
    healthy = host_counts(args, "HealthyHostCount", "Minimum")
    unhealthy = host_counts(args, "UnHealthyHostCount", "Maximum")
    return [
        Panel("Requests", [Metric(alb, "RequestCount", lb, "Sum")]),
        Panel(
            "4xx and 5xx responses",
            [Metric(alb, name, lb, "Sum") for name in ("HTTPCode_Target_4XX_Count", "HTTPCode_Target_5XX_Count")]
            + [Metric(alb, name, lb, "Sum") for name in ("HTTPCode_ELB_4XX_Count", "HTTPCode_ELB_5XX_Count")],
        ),
        Panel(
            "5xx responses, percent of requests",
            [
                Metric(alb, "RequestCount", lb, "Sum", id="requests", visible=False),
                Metric(alb, "HTTPCode_Target_5XX_Count", lb, "Sum", id="target5xx", visible=False),
                Metric(alb, "HTTPCode_ELB_5XX_Count", lb, "Sum", id="elb5xx", visible=False),
            ],
            expressions=[Expression("rate", ERROR_RATE, "5xx percent")],
            thresholds=[Threshold("5xx-rate", args.error_5xx_percent)],
        ),
        Panel(
            "Target response time",
            [Metric(alb, "TargetResponseTime", lb, p, label=p) for p in ("p50", "p95", "p99")],
            thresholds=[Threshold("latency-p95", args.latency_p95_ms / 1000)],
        ),
        Panel(
            "Targets",
            [*healthy, *unhealthy],
            expressions=[
                Expression("healthy", sum_of(healthy), "HealthyHostCount"),
                Expression("unhealthy", sum_of(unhealthy), "UnHealthyHostCount"),
            ],
            thresholds=[Threshold("unhealthy-targets", 0)],
        ),
        Panel(
            "Service CPU and memory",
            [
                Metric("AWS/ECS", "CPUUtilization", svc, "Average"),
                Metric("AWS/ECS", "MemoryUtilization", svc, "Average"),
            ],
        ),
        Panel("Running tasks", [Metric("ECS/ContainerInsights", "RunningTaskCount", svc, "Average")]),
        Panel(
            "Database CPU and connections",
            [
                Metric(rds, "CPUUtilization", db, "Average"),
                Metric(rds, "DatabaseConnections", db, "Average", right_axis=True),
            ],
            thresholds=[Threshold("db-cpu", args.db_cpu_percent)],
        ),
        Panel(
            "Database free storage",
            [Metric(rds, "FreeStorageSpace", db, "Minimum")],
            thresholds=[Threshold("db-storage", free_bytes, above=False)],
        ),
        Panel(
            "Database read and write latency",
            [Metric(rds, "ReadLatency", db, "Average"), Metric(rds, "WriteLatency", db, "Average")],
        ),
        Panel(
            "Proxy connections",
            [
                Metric(rds, "ClientConnections", px, "Average"),
                Metric(rds, "DatabaseConnections", px, "Average"),
                Metric(rds, "DatabaseConnectionsBorrowLatency", px, "Average", right_axis=True),
            ],
            thresholds=[Threshold("proxy-saturation", args.proxy_borrow_latency_ms * 1000)],
        ),
    ]


def with_alarms(panels: Sequence[Panel], alarms: Sequence[AlarmSpec]) -> list[Panel]:
    """The panels with each alarm of another component drawn on the panel that shows the series it watches."""
    drawn = [list(panel.thresholds) for panel in panels]
    for spec in alarms:
        for index, panel in enumerate(panels):
            if any(
                same_series(m, spec.namespace, spec.metric_name, spec.dimensions, spec.statistic) for m in panel.metrics
            ):
                drawn[index].append(Threshold(spec.suffix, spec.threshold, above=spec.comparison.startswith("Greater")))
                break
    return [dataclasses.replace(panel, thresholds=lines) for panel, lines in zip(panels, drawn, strict=True)]
