"""Stack settings: each declared once on StackSettings, read from Pulumi.<stack>.yaml or pulumi.Config, validated."""

from __future__ import annotations

import dataclasses
import difflib
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

from infra.limits import (
    BACKUP_MAX_RETENTION_DAYS,
    BACKUP_MIN_LOCK_GRACE_DAYS,
    BAKE_TIME_MAX_MINUTES,
    CACHE_ENGINE_VERSIONS,
    CACHE_EVICTION_POLICIES,
    CACHE_MAX_REPLICAS,
    CACHE_MAX_SNAPSHOT_DAYS,
    CACHE_NODE_TYPE,
    COGNITO_DOMAIN_PREFIX,
    COGNITO_DOMAIN_PREFIX_TEXT,
    COGNITO_MFA_MODES,
    COGNITO_PASSWORD_LENGTH,
    COGNITO_REFRESH_DAYS,
    COGNITO_TOKEN_MINUTES,
    FARGATE_SIZES,
    IDENTIFIER,
    IDENTIFIER_TEXT,
    LOG_RETENTION_DAYS,
    MASTER_USERNAME,
    MASTER_USERNAME_TEXT,
    MAX_ROTATION_DAYS,
    MONITORING_INTERVALS_SECONDS,
    PERFORMANCE_INSIGHTS_RETENTION_DAYS,
    PERFORMANCE_INSIGHTS_RETENTION_TEXT,
    RESERVED_DATABASES,
    RESERVED_DB_USERS,
    SECRET_RECOVERY_WINDOW_DAYS,
    WAF_MODES,
    WAF_RATE_LIMIT_RANGE,
    WAF_RATE_WINDOWS_SECONDS,
    backup_schedule_problem,
)
from infra.limits import REGION as AWS_REGION
from stacks import stack_file
from stacks.schedules_setting import SCHEDULES, Schedule
from stacks.setting_types import (
    BOOL,
    PRIVATE_CIDR,
    REQUIRED,
    Invalid,
    Kind,
    Setting,
    declarations,
    integer,
    one_of,
    pattern,
    setting,
)

NAMESPACE = "groundwork"
"""Config namespace of the project's own keys (`groundwork:<key>` in Pulumi.<stack>.yaml)."""

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
"""Default project directory: the repository root, where Pulumi.yaml and Pulumi.<stack>.yaml live."""

REDACTED = "[secret]"
"""Stand-in for a `{secure: ...}` value read offline; secure values are never decrypted here."""

OTHER_NAMESPACES = ("aws", "pulumi", "docker-build", "postgresql")
"""Namespaces of the providers' own config keys, which a stack file may also carry."""

REGION = pattern(AWS_REGION, "an AWS region such as eu-west-1")
EMAIL = r"(?=.{3,254}$)[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+"
"""An e-mail address as SNS takes it: no spaces or control characters, at most 254 characters."""
"""What `aws:region` accepts."""


class SettingsError(ValueError):
    """A stack setting is missing or has a value that is not allowed; `line` is its line in the stack file."""

    def __init__(
        self,
        key: str,
        value: Any,
        allowed: str,
        *,
        source: str | None = None,
        line: int | None = None,
        message: str | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        self.line = line
        where = f" in {source}" + (f":{line}" if line else "") if source else ""
        shown = "<missing>" if value is None else stack_file.shorten(value)
        name = stack_file.shorten(key)
        super().__init__(message or f"setting {name}{where} has value {shown}; allowed: {allowed}")


_DNS_NAME = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_LABELS = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
_TOKEN = pattern(r"\S{1,512}", "a non-empty string without spaces (at most 512 characters)")
_HTTPS_URL = r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
_SCOPE = r"[\x21\x23-\x5b\x5d-\x7e]{1,256}"
_SCOPE_TEXT = "printable ASCII without spaces, quotes or backslashes"
_IDENTITY = "Identity, protection and DNS"
_NETWORK = "Network"
_DATABASE = "Database"
_POOLING = "Connection pooling (RDS Proxy)"
_SERVICE = "Container service"
_STORAGE = "Storage and secrets"
_MONITORING = "Monitoring"
_OBJECTS = "Database objects and access to the private database"
_CACHE = "Cache, worker and scheduled jobs"
_EDGE = "Edge protection: firewall, request limits and CORS"
_BACKUP = "Backups and disaster recovery"
_SIGN_IN = "Sign-in and tokens"
GROUPS = (
    _IDENTITY, _NETWORK, _DATABASE, _POOLING, _SERVICE, _STORAGE, _MONITORING, _OBJECTS, _CACHE, _EDGE, _BACKUP,
    _SIGN_IN,
)  # fmt: skip
"""Sections of docs/settings.md, in order."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StackSettings:
    """Everything that makes one stack differ from another; each field after `region` declares one setting."""

    stack: str
    """Stack name (dev, prod, local, ...)."""
    region: str
    """AWS region of every resource (`aws:region`)."""

    # fmt: off
    # Identity, protection and DNS
    protect: bool = setting(
        "protect", True, BOOL,
        "Stateful resources (database, buckets, credentials secret, a created hosted zone) get Pulumi's `protect`, "
        "and destroying the stack must be confirmed by name.",
        group=_IDENTITY,
        feeds=("StorageArgs.protect", "DatabaseArgs.protect", "HostedZoneArgs.protect", "IdentityArgs.protect"),
    )
    domain: str = setting(
        "domain", REQUIRED, pattern(_DNS_NAME, "a lowercase domain such as example.com"),
        "Domain whose Route53 public hosted zone holds the service's records.",
        group=_IDENTITY, feeds=("HostedZoneArgs.domain",),
    )
    service_subdomain: str = setting(
        "serviceSubdomain", "api", pattern(_LABELS, "lowercase DNS labels such as api.dev"),
        "Labels in front of the domain that form the service's host name.",
        group=_IDENTITY,
    )
    create_hosted_zone: bool = setting(
        "createHostedZone", False, BOOL,
        "Create the hosted zone instead of looking up an existing one (delegate its name servers afterwards; "
        "see the `name_servers` output).",
        group=_IDENTITY, feeds=("HostedZoneArgs.create",),
    )

    # Network
    vpc_cidr: str = setting(
        "vpcCidr", "10.0.0.0/16", PRIVATE_CIDR,
        "IPv4 range of the VPC; split into public, private (NAT) and database (no route out) subnets per zone.",
        group=_NETWORK, feeds=("NetworkArgs.cidr",),
    )
    availability_zones: int = setting(
        "availabilityZones", 2, one_of((2, 3)), "Number of availability zones the network spans.",
        group=_NETWORK, feeds=("NetworkArgs.zone_count",),
    )
    nat_gateways: str = setting(
        "natGateways", "single", one_of(("single", "perZone")),
        "One NAT gateway for the whole VPC (`single`) or one per zone (`perZone`).",
        group=_NETWORK, feeds=("NetworkArgs.nat_per_zone",),
    )

    # Database
    db_engine_version: str = setting(
        "dbEngineVersion", "17", one_of(("16", "17")),
        "PostgreSQL major version (minor versions are upgraded automatically).",
        group=_DATABASE, feeds=("DatabaseArgs.engine_version",),
    )
    db_instance_class: str = setting(
        "dbInstanceClass", "db.t4g.small",
        pattern(r"db\.[a-z0-9]+\.[a-z0-9]+", "an RDS instance class such as db.t4g.small"),
        "RDS instance class.",
        group=_DATABASE, feeds=("DatabaseArgs.instance_class",),
    )
    db_allocated_storage_gb: int = setting(
        "dbAllocatedStorageGb", 20, integer(20, 65536),
        "Initial gp3 storage in GiB; also the base of the free-storage alarm.",
        group=_DATABASE, feeds=("DatabaseArgs.allocated_storage_gb", "MonitoringArgs.db_storage_gb"),
    )
    db_max_allocated_storage_gb: int = setting(
        "dbMaxAllocatedStorageGb", 100, integer(20, 65536), "Storage autoscaling ceiling in GiB.",
        group=_DATABASE, feeds=("DatabaseArgs.max_allocated_storage_gb",),
    )
    db_multi_az: bool = setting(
        "dbMultiAz", False, BOOL, "Synchronous standby in another zone.",
        group=_DATABASE, feeds=("DatabaseArgs.multi_az",),
    )
    db_backup_retention_days: int = setting(
        "dbBackupRetentionDays", 7, integer(1, 35), "Days of automated backups (point-in-time recovery window).",
        group=_DATABASE, feeds=("DatabaseArgs.backup_retention_days",),
    )
    db_deletion_protection: bool = setting(
        "dbDeletionProtection", True, BOOL, "RDS refuses to delete the instance.",
        group=_DATABASE, feeds=("DatabaseArgs.deletion_protection",),
    )
    db_final_snapshot: bool = setting(
        "dbFinalSnapshot", True, BOOL,
        "Take a final snapshot named `gw-<stack>-db-final-<8 hex digits>` when the instance is deleted; the suffix "
        "is drawn once per life of the stack, so snapshots of earlier lives never clash.",
        group=_DATABASE, feeds=("DatabaseArgs.final_snapshot",),
    )
    db_performance_insights_retention_days: int = setting(
        "dbPerformanceInsightsRetentionDays", 7,
        one_of(PERFORMANCE_INSIGHTS_RETENTION_DAYS, PERFORMANCE_INSIGHTS_RETENTION_TEXT),
        "Performance Insights retention in days.",
        group=_DATABASE, feeds=("DatabaseArgs.performance_insights_retention_days",),
    )
    db_monitoring_interval_seconds: int = setting(
        "dbMonitoringIntervalSeconds", 60, one_of(MONITORING_INTERVALS_SECONDS),
        "Enhanced Monitoring interval in seconds (0 turns it off).",
        group=_DATABASE, feeds=("DatabaseArgs.monitoring_interval_seconds",),
    )
    db_master_username: str = setting(
        "dbMasterUsername", "groundwork_admin",
        pattern(MASTER_USERNAME, MASTER_USERNAME_TEXT, not_in=RESERVED_DB_USERS),
        "RDS master user; its password is generated, stored and rotated by RDS in Secrets Manager.",
        group=_DATABASE, feeds=("DatabaseArgs.master_username", "DatabaseObjectsArgs.owner"),
    )
    database_name: str = setting(
        "databaseName", "app", pattern(IDENTIFIER, IDENTIFIER_TEXT, not_in=RESERVED_DATABASES),
        "Application database named in `DATABASE_URL` and created by the database-objects step.",
        group=_DATABASE,
        feeds=("DatabaseArgs.database_name", "PoolingArgs.database_name", "DatabaseObjectsArgs.database_name"),
    )

    # Connection pooling (RDS Proxy)
    proxy_max_connections_percent: int = setting(
        "proxyMaxConnectionsPercent", 90, integer(1, 100),
        "Share of the database's `max_connections` the proxy may open.",
        group=_POOLING, feeds=("PoolingArgs.max_connections_percent",),
    )
    proxy_max_idle_connections_percent: int = setting(
        "proxyMaxIdleConnectionsPercent", 50, integer(0, 100), "Share of `max_connections` kept open while idle.",
        group=_POOLING, feeds=("PoolingArgs.max_idle_connections_percent",),
    )
    proxy_borrow_timeout_seconds: int = setting(
        "proxyBorrowTimeoutSeconds", 30, integer(0, 3600),
        "Seconds a client waits for a pooled connection before an error.",
        group=_POOLING, feeds=("PoolingArgs.borrow_timeout_seconds",),
    )
    proxy_idle_client_timeout_seconds: int = setting(
        "proxyIdleClientTimeoutSeconds", 1800, integer(1, 28800),
        "Seconds before the proxy closes an idle client connection.",
        group=_POOLING, feeds=("PoolingArgs.idle_client_timeout_seconds",),
    )

    # Container service
    service_cpu: int = setting(
        "serviceCpu", 256, one_of(tuple(FARGATE_SIZES)), "Fargate task CPU units.",
        group=_SERVICE, feeds=("ServiceArgs.cpu",),
    )
    service_memory: int = setting(
        "serviceMemory", 512, integer(512, 30720),
        "Fargate task memory in MiB; a size Fargate allows for serviceCpu.",
        group=_SERVICE, feeds=("ServiceArgs.memory",),
    )
    service_desired_count: int = setting(
        "serviceDesiredCount", 1, integer(1, 100),
        "Tasks at first deployment; autoscaling owns the number afterwards.",
        group=_SERVICE, feeds=("ServiceArgs.desired_count",),
    )
    service_min_count: int = setting(
        "serviceMinCount", 1, integer(1, 100), "Autoscaling floor.",
        group=_SERVICE, feeds=("ServiceArgs.min_count",),
    )
    service_max_count: int = setting(
        "serviceMaxCount", 2, integer(1, 100), "Autoscaling ceiling.",
        group=_SERVICE, feeds=("ServiceArgs.max_count",),
    )
    autoscaling_cpu_target: int = setting(
        "autoscalingCpuTarget", 60, integer(10, 90), "Average CPU percentage autoscaling keeps the service at.",
        group=_SERVICE, feeds=("ServiceArgs.cpu_target_percent",),
    )
    autoscaling_requests_per_target: int = setting(
        "autoscalingRequestsPerTarget", 500, integer(1, 100000),
        "Requests per task per minute autoscaling keeps the service at.",
        group=_SERVICE, feeds=("ServiceArgs.requests_per_target",),
    )
    release_bake_minutes: int = setting(
        "releaseBakeMinutes", 5, integer(0, BAKE_TIME_MAX_MINUTES),
        "Minutes a blue/green release keeps the previous tasks after production traffic moved to the new ones, so "
        "a rollback in that time is a switch back rather than a new deployment.",
        group=_SERVICE, feeds=("BlueGreenArgs.bake_time_minutes",),
    )
    log_retention_days: int = setting(
        "logRetentionDays", 14, one_of(LOG_RETENTION_DAYS),
        "Retention of the service's, the database's, the rotation functions' and the release check's log groups.",
        group=_SERVICE,
        feeds=(
            "ServiceArgs.log_retention_days",
            "DatabaseArgs.log_retention_days",
            "DatabaseCredentialsRotationArgs.log_retention_days",
            "ReleaseGateArgs.log_retention_days",
        ),
    )
    ecr_immutable_tags: bool = setting(
        "ecrImmutableTags", False, BOOL, "Image tags cannot be moved once pushed.",
        group=_SERVICE, feeds=("RegistryArgs.immutable_tags",),
    )
    ecr_keep_images: int = setting(
        "ecrKeepImages", 10, integer(1, 1000),
        "Tagged images the repository keeps (untagged ones expire after a day).",
        group=_SERVICE, feeds=("RegistryArgs.keep_images",),
    )
    alb_deletion_protection: bool = setting(
        "albDeletionProtection", True, BOOL, "AWS refuses to delete the load balancer.",
        group=_SERVICE, feeds=("LoadBalancerArgs.deletion_protection",),
    )

    # Storage and secrets
    bucket_force_destroy: bool = setting(
        "bucketForceDestroy", False, BOOL,
        "Buckets (and the image repository) may be deleted while they still hold objects.",
        group=_STORAGE, feeds=("StorageArgs.force_destroy", "RegistryArgs.force_delete"),
    )
    log_bucket_expiration_days: int = setting(
        "logBucketExpirationDays", 90, integer(1, 3650), "Days the log bucket keeps access logs.",
        group=_STORAGE, feeds=("StorageArgs.log_expiration_days",),
    )
    app_bucket_noncurrent_days: int = setting(
        "appBucketNoncurrentDays", 30, integer(1, 3650),
        "Days the application bucket keeps overwritten or deleted object versions.",
        group=_STORAGE, feeds=("StorageArgs.app_noncurrent_days",),
    )
    secret_recovery_window_days: int = setting(
        "secretRecoveryWindowDays", 7, one_of(SECRET_RECOVERY_WINDOW_DAYS, "0 or 7 to 30"),
        "Days a deleted secret can be restored.",
        group=_STORAGE, feeds=("DatabaseArgs.secret_recovery_window_days",),
    )
    secret_rotation_days: int = setting(
        "secretRotationDays", 30, integer(1, MAX_ROTATION_DAYS),
        "Days between rotations of the database credentials.",
        group=_STORAGE, feeds=("DatabaseCredentialsRotationArgs.rotation_days",),
    )

    # Monitoring
    alarm_email: str | None = setting(
        "alarmEmail", None, pattern(EMAIL, "an e-mail address of at most 254 characters, without controls"),
        "Address subscribed to the alarm topic (AWS mails a confirmation first). May be a secure value.",
        group=_MONITORING, feeds=("MonitoringArgs.alarm_email",), secret_ok=True,
    )
    alarm_5xx_percent: int = setting(
        "alarm5xxPercent", 5, integer(1, 100),
        "5xx responses (load balancer and targets) as a percentage of requests that raise the alarm.",
        group=_MONITORING, feeds=("MonitoringArgs.error_5xx_percent",),
    )
    alarm_latency_p95_ms: int = setting(
        "alarmLatencyP95Ms", 200, integer(10, 60000), "p95 target response time in milliseconds that raises the alarm.",
        group=_MONITORING, feeds=("MonitoringArgs.latency_p95_ms",),
    )
    grafana_url: str | None = setting(
        "grafanaUrl", None,
        pattern(r"https://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*/?",
                "an https:// address of a Grafana instance, such as https://example.grafana.net"),
        "Grafana the program declares the stack's dashboard and a CloudWatch data source in (with `grafanaToken`); "
        "unset: nothing is declared in Grafana. See [observability.md](observability.md).",
        group=_MONITORING, default_text="none (no Grafana)",
    )
    grafana_token: str | None = setting(
        "grafanaToken", None, _TOKEN,
        "Token of a Grafana service account allowed to write dashboards and data sources; a secure value only "
        "(`pulumi config set --secret groundwork:grafanaToken ...`).",
        group=_MONITORING, secret_ok=True, secret_only=True,
        default_text="none (no Grafana)",
    )
    cost_budget_monthly_usd: int | None = setting(
        "costBudgetMonthlyUsd", None, integer(1, 10_000_000),
        "Monthly budget in US dollars for the estimate of `infra cost`; above it the budget control fails on "
        "protected stacks and warns elsewhere: see [cost.md](cost.md).",
        group=_MONITORING, default_text="none (no budget)",
    )

    # Database objects and access to the private database
    database_objects: bool = setting(
        "databaseObjects", True, BOOL,
        "Declare the application database, its login and read-only roles, grants and default privileges with the "
        "postgresql provider. `infra up` applies them through the bastion's SSM tunnel: see "
        "[database-objects.md](database-objects.md).",
        group=_OBJECTS,
    )
    database_admin_host: str | None = setting(
        "databaseAdminHost", None, pattern(r"[A-Za-z0-9.-]{1,253}", "a host name or IP address"),
        "Host the postgresql provider connects to. Leave unset: `infra up` points the provider at its own tunnel "
        "for each run; set it only for a tunnel or runner of your own.",
        group=_OBJECTS, default_text="the instance endpoint",
    )
    database_admin_port: int = setting(
        "databaseAdminPort", 5432, integer(1, 65535), "Port the postgresql provider connects to.",
        group=_OBJECTS,
    )
    bastion: bool = setting(
        "bastion", True, BOOL,
        "An SSM-managed host with no inbound rules in a private subnet, admitted by the database's security group; "
        "`infra up` forwards a local port through it to the database.",
        group=_OBJECTS, feeds=("NetworkArgs.bastion",),
    )

    # Cache, worker and scheduled jobs
    cache: bool = setting(
        "cache", True, BOOL,
        "An ElastiCache for Valkey replication group (TLS, IAM sign-in, KMS) the service reads through and the "
        "worker takes its events from.",
        group=_CACHE, feeds=("NetworkArgs.cache",),
    )
    cache_node_type: str = setting(
        "cacheNodeType", "cache.t4g.micro",
        pattern(CACHE_NODE_TYPE, "an ElastiCache node type such as cache.t4g.micro"), "ElastiCache node type.",
        group=_CACHE, feeds=("CacheArgs.node_type",),
    )
    cache_engine_version: str = setting(
        "cacheEngineVersion", "8.0", one_of(tuple(CACHE_ENGINE_VERSIONS)), "Valkey version.",
        group=_CACHE, feeds=("CacheArgs.engine_version",),
    )
    cache_replicas: int = setting(
        "cacheReplicas", 1, integer(0, CACHE_MAX_REPLICAS),
        "Replicas beside the primary; one or more turns on multi-AZ automatic failover.",
        group=_CACHE, feeds=("CacheArgs.replicas",),
    )
    cache_snapshot_retention_days: int = setting(
        "cacheSnapshotRetentionDays", 7, integer(0, CACHE_MAX_SNAPSHOT_DAYS),
        "Days of daily cache snapshots kept (0 turns snapshots off).",
        group=_CACHE, feeds=("CacheArgs.snapshot_retention_days",),
    )
    cache_eviction_policy: str = setting(
        "cacheEvictionPolicy", "allkeys-lru", one_of(CACHE_EVICTION_POLICIES),
        "What Valkey evicts when memory is full.",
        group=_CACHE, feeds=("CacheArgs.eviction_policy",),
    )
    cache_ttl_seconds: int = setting(
        "cacheTtlSeconds", 300, integer(1, 86400),
        "Seconds a cached read lives without being refreshed by a write (`CACHE_TTL_SECONDS`).",
        group=_CACHE,
    )
    worker: bool = setting(
        "worker", True, BOOL,
        "A background worker service from the same image: relays the outbox and applies each write's event.",
        group=_CACHE, feeds=("NetworkArgs.worker",),
    )
    worker_cpu: int = setting(
        "workerCpu", 256, one_of(tuple(FARGATE_SIZES)), "Fargate CPU units of a worker task.",
        group=_CACHE, feeds=("WorkerArgs.cpu",),
    )
    worker_memory: int = setting(
        "workerMemory", 512, integer(512, 30720),
        "Fargate memory of a worker task in MiB; a size allowed for workerCpu.",
        group=_CACHE, feeds=("WorkerArgs.memory",),
    )
    worker_min_count: int = setting(
        "workerMinCount", 1, integer(1, 100), "Worker autoscaling floor.",
        group=_CACHE, feeds=("WorkerArgs.min_count",),
    )
    worker_max_count: int = setting(
        "workerMaxCount", 4, integer(1, 100), "Worker autoscaling ceiling.",
        group=_CACHE, feeds=("WorkerArgs.max_count",),
    )
    worker_backlog_per_task: int = setting(
        "workerBacklogPerTask", 100, integer(1, 100000), "Waiting events per worker task that autoscaling keeps.",
        group=_CACHE, feeds=("WorkerArgs.backlog_per_task",),
    )
    schedules: tuple[Schedule, ...] = setting(
        "schedules", (), SCHEDULES,
        "Scheduled jobs: EventBridge Scheduler runs the service's task with each job's command "
        "(`name`, `expression`, `command`, optional `timeZone`).",
        group=_CACHE, default_text="none",
    )

    # Edge protection: firewall, request limits and CORS
    firewall: bool = setting(
        "firewall", True, BOOL,
        "A WAFv2 web ACL on the load balancer: a rate limit per client address and AWS managed rules.",
        group=_EDGE,
    )
    firewall_rate_limit: int = setting(
        "firewallRateLimit", 1000, integer(*WAF_RATE_LIMIT_RANGE),
        "Requests one client address may send per window before the firewall answers 429.",
        group=_EDGE, feeds=("FirewallArgs.rate_limit",),
    )
    firewall_rate_window_seconds: int = setting(
        "firewallRateWindowSeconds", 300, one_of(WAF_RATE_WINDOWS_SECONDS), "Window of the per-address rate limit.",
        group=_EDGE, feeds=("FirewallArgs.rate_window_seconds",),
    )
    firewall_core_rules: str = setting(
        "firewallCoreRules", "block", one_of(WAF_MODES),
        "AWS core rule set: block, count only (a first rollout) or off.",
        group=_EDGE,
    )
    firewall_known_bad_inputs: str = setting(
        "firewallKnownBadInputs", "block", one_of(WAF_MODES), "AWS known-bad-inputs rules: block, count or off.",
        group=_EDGE,
    )
    firewall_sql_injection: str = setting(
        "firewallSqlInjection", "block", one_of(WAF_MODES), "AWS SQL-injection rules: block, count or off.",
        group=_EDGE,
    )
    firewall_ip_reputation: str = setting(
        "firewallIpReputation", "block", one_of(WAF_MODES), "AWS IP reputation list: block, count or off.",
        group=_EDGE,
    )
    subject_rate_limit: int = setting(
        "subjectRateLimit", 120, integer(0, 1_000_000),
        "Writes (`POST /map`) one token subject may make per window, shared by every task through the cache "
        "(0 turns the limit off).",
        group=_EDGE,
    )
    subject_rate_window_seconds: int = setting(
        "subjectRateWindowSeconds", 60, integer(1, 86400), "Window of the per-subject limit.",
        group=_EDGE,
    )
    cors_origins: str = setting(
        "corsOrigins", "", pattern(r"|https?://[a-z0-9.-]+(:\d{1,5})?(,https?://[a-z0-9.-]+(:\d{1,5})?)*|\*",
                                   "comma-separated origins such as https://app.example.com, * or nothing"),
        "Origins browsers may call the API from (none by default).",
        group=_EDGE, default_text="none",
    )
    cors_allow_credentials: bool = setting(
        "corsAllowCredentials", False, BOOL, "Browsers may send cookies and authorization with cross-origin calls.",
        group=_EDGE,
    )

    # Backups and disaster recovery
    backup: bool = setting(
        "backup", True, BOOL,
        "An AWS Backup vault (its own KMS key) and a daily plan for the database and the application bucket, with "
        "alarms on failed jobs: see [disaster-recovery.md](disaster-recovery.md).",
        group=_BACKUP,
    )
    backup_retention_days: int = setting(
        "backupRetentionDays", 35, integer(1, BACKUP_MAX_RETENTION_DAYS),
        "Days each daily recovery point is kept (the prod policy wants 30 or more).",
        group=_BACKUP, feeds=("BackupArgs.retention_days",),
    )
    backup_schedule: str = setting(
        "backupSchedule", "cron(0 3 * * ? *)",
        Kind(
            "an AWS cron expression: cron(minutes hours day-of-month month day-of-week year) with valid fields, "
            "one of day-of-month and day-of-week ?, and one number of minutes (at most hourly), such as "
            "cron(0 3 * * ? *)",
            lambda v: v if isinstance(v, str) and backup_schedule_problem(v) is None else dataclasses.MISSING,
        ),
        "When the daily backup starts (UTC).",
        group=_BACKUP, feeds=("BackupArgs.schedule",),
    )
    backup_copy_region: str | None = setting(
        "backupCopyRegion", None, REGION,
        "A second region that receives a copy of every recovery point (survives the loss of the stack's region).",
        group=_BACKUP, feeds=("BackupArgs.copy_region",), default_text="none",
    )
    backup_copy_retention_days: int | None = setting(
        "backupCopyRetentionDays", None, integer(1, BACKUP_MAX_RETENTION_DAYS),
        "Days the copies are kept.",
        group=_BACKUP, feeds=("BackupArgs.copy_retention_days",), default_text="backupRetentionDays",
    )
    backup_vault_lock: bool = setting(
        "backupVaultLock", False, BOOL,
        "Lock the vault: nobody deletes recovery points early or shortens their retention (governance mode).",
        group=_BACKUP, feeds=("BackupArgs.vault_lock",),
    )
    backup_vault_lock_changeable_days: int | None = setting(
        "backupVaultLockChangeableDays", None, integer(BACKUP_MIN_LOCK_GRACE_DAYS, 36500),
        "Compliance mode: after this many days the lock cannot be removed by anyone, ever.",
        group=_BACKUP, feeds=("BackupArgs.vault_lock_changeable_days",), default_text="none (governance mode)",
    )

    # Sign-in and tokens
    user_pool_mfa: str = setting(
        "userPoolMfa", "OPTIONAL", one_of(COGNITO_MFA_MODES),
        "Second factor of the user pool: `OFF`, `OPTIONAL` (users may enrol an authenticator app) or `ON` (every "
        "sign-in needs one; `infra token --user` then cannot sign in).",
        group=_SIGN_IN, feeds=("IdentityArgs.mfa",),
    )
    user_pool_password_min_length: int = setting(
        "userPoolPasswordMinLength", 12, integer(*COGNITO_PASSWORD_LENGTH),
        "Shortest password the pool accepts; upper and lower case, a digit and a symbol are always required.",
        group=_SIGN_IN, feeds=("IdentityArgs.password_min_length",),
    )
    user_pool_self_sign_up: bool = setting(
        "userPoolSelfSignUp", False, BOOL,
        "Apps may call SignUp (the e-mail address is verified by a code); off, only administrators create users.",
        group=_SIGN_IN, feeds=("IdentityArgs.self_sign_up",),
    )
    user_pool_domain_prefix: str | None = setting(
        "userPoolDomainPrefix", None, pattern(COGNITO_DOMAIN_PREFIX, COGNITO_DOMAIN_PREFIX_TEXT),
        "Start of the pool's domain (`<prefix>-<random>.auth.<region>.amazoncognito.com`), which serves the machine "
        "client's token endpoint (through `StackSettings.domain_prefix`).",
        group=_SIGN_IN, default_text="gw-<stack>",
    )
    access_token_minutes: int = setting(
        "accessTokenMinutes", 15, integer(*COGNITO_TOKEN_MINUTES),
        "Life of an access token in minutes; the API refuses a Cognito token that claims to live longer.",
        group=_SIGN_IN, feeds=("IdentityArgs.access_token_minutes",),
    )
    id_token_minutes: int = setting(
        "idTokenMinutes", 15, integer(*COGNITO_TOKEN_MINUTES), "Life of an ID token of the app client in minutes.",
        group=_SIGN_IN, feeds=("IdentityArgs.id_token_minutes",),
    )
    refresh_token_days: int = setting(
        "refreshTokenDays", 7, integer(*COGNITO_REFRESH_DAYS),
        "Life of a refresh token of the app client in days: how long an app stays signed in without the password.",
        group=_SIGN_IN, feeds=("IdentityArgs.refresh_token_days",),
    )
    oidc_issuer: str | None = setting(
        "oidcIssuer", None, pattern(_HTTPS_URL, "an https:// URL such as https://example.eu.auth0.com/"),
        "An OIDC issuer of your own (Auth0, Okta, Entra ID, Keycloak) the API trusts instead: its exact `iss`. Set, "
        "the stack declares no user pool: see [identity.md](identity.md).",
        group=_SIGN_IN, default_text="none (the stack's own Cognito user pool)",
    )
    oidc_jwks_url: str | None = setting(
        "oidcJwksUrl", None, pattern(_HTTPS_URL, "an https:// URL"),
        "Where the issuer publishes its signing keys.",
        group=_SIGN_IN, default_text="`<oidcIssuer>/.well-known/jwks.json`",
    )
    oidc_audience: str | None = setting(
        "oidcAudience", None,
        pattern(r"[^,\s]{1,256}(,[^,\s]{1,256}){0,49}", "comma-separated client ids or audiences"),
        "The client ids and audiences a token may be issued to (its `client_id` or `aud`); required with "
        "`oidcIssuer`.",
        group=_SIGN_IN, default_text="none",
    )
    oidc_scope_prefix: str = setting(
        "oidcScopePrefix", "", pattern(_SCOPE.replace("{1,", "{0,"), _SCOPE_TEXT),
        "What the issuer puts before the scope names `map/read`, `map/write`, `map/admin`.",
        group=_SIGN_IN, default_text="none",
    )
    oidc_user_scope: str | None = setting(
        "oidcUserScope", None, pattern(_SCOPE, _SCOPE_TEXT),
        "A scope the issuer gives signed-in users that stands for `map/read` and `map/write` on their own record.",
        group=_SIGN_IN, default_text="none",
    )

    # fmt: on

    @property
    def host_name(self) -> str:
        """The service's public host name."""
        return f"{self.service_subdomain}.{self.domain}"

    @property
    def service_url(self) -> str:
        """The service's public URL."""
        return f"https://{self.host_name}"

    @property
    def external_issuer(self) -> bool:
        """The API trusts an issuer of the stack owner's own; the stack declares no user pool."""
        return self.oidc_issuer is not None

    @property
    def domain_prefix(self) -> str:
        """Start of the user pool's domain."""
        return self.user_pool_domain_prefix or f"gw-{self.stack}"


SETTINGS: tuple[Setting, ...] = declarations(StackSettings)
"""Every `groundwork:` setting, in documentation order."""
KEYS = SETTINGS
"""Former name of SETTINGS."""
_BY_KEY = {s.key: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Rule:
    """A check across keys: `key` is the one reported; `allowed` returns what it allows when the check fails."""

    key: str
    text: str
    allowed: Callable[[StackSettings], str | None]


def _when_protected(attr: str, wanted: Any, text: str) -> Callable[[StackSettings], str | None]:
    return lambda s: text if s.protect and getattr(s, attr) != wanted else None


RULES: tuple[Rule, ...] = (
    Rule(
        "serviceSubdomain", "`serviceSubdomain` and `domain` form a host name of at most 253 characters.",
        lambda s: None if len(s.host_name) <= 253
        else f"at most {max(0, 252 - len(s.domain))} characters with domain {s.domain} (a host name has 253)",
    ),
    Rule(
        "dbMaxAllocatedStorageGb", "`dbMaxAllocatedStorageGb` is at least `dbAllocatedStorageGb`.",
        lambda s: None if s.db_max_allocated_storage_gb >= s.db_allocated_storage_gb
        else f"at least dbAllocatedStorageGb ({s.db_allocated_storage_gb})",
    ),
    Rule(
        "proxyMaxIdleConnectionsPercent", "`proxyMaxIdleConnectionsPercent` is at most `proxyMaxConnectionsPercent`.",
        lambda s: None if s.proxy_max_idle_connections_percent <= s.proxy_max_connections_percent
        else f"at most proxyMaxConnectionsPercent ({s.proxy_max_connections_percent})",
    ),
    Rule(
        "serviceMemory",
        "`serviceMemory` is a size Fargate allows for `serviceCpu`: "
        + "; ".join(f"{cpu}: {', '.join(map(str, sizes))}" for cpu, sizes in FARGATE_SIZES.items()) + ".",
        lambda s: None if s.service_memory in FARGATE_SIZES[s.service_cpu]
        else f"for serviceCpu {s.service_cpu}: one of " + ", ".join(map(str, FARGATE_SIZES[s.service_cpu])),
    ),
    Rule(
        "serviceDesiredCount", "`serviceMinCount <= serviceDesiredCount <= serviceMaxCount`.",
        lambda s: None if s.service_min_count <= s.service_desired_count <= s.service_max_count
        else f"from serviceMinCount ({s.service_min_count}) to serviceMaxCount ({s.service_max_count})",
    ),
    Rule(
        "bucketForceDestroy", "When `protect` is true: `bucketForceDestroy` is false.",
        _when_protected("bucket_force_destroy", False, "false when protect is true"),
    ),
    Rule(
        "dbDeletionProtection", "When `protect` is true: `dbDeletionProtection` is true.",
        _when_protected("db_deletion_protection", True, "true when protect is true"),
    ),
    Rule(
        "dbFinalSnapshot", "When `protect` is true: `dbFinalSnapshot` is true.",
        _when_protected("db_final_snapshot", True, "true when protect is true"),
    ),
    Rule(
        "albDeletionProtection", "When `protect` is true: `albDeletionProtection` is true.",
        _when_protected("alb_deletion_protection", True, "true when protect is true"),
    ),
    Rule(
        "secretRecoveryWindowDays", "When `protect` is true: `secretRecoveryWindowDays` is not 0.",
        lambda s: "7 to 30 when protect is true" if s.protect and s.secret_recovery_window_days == 0 else None,
    ),
    Rule(
        "workerMemory",
        "`workerMemory` is a size Fargate allows for `workerCpu`.",
        lambda s: None if s.worker_memory in FARGATE_SIZES[s.worker_cpu]
        else f"for workerCpu {s.worker_cpu}: one of " + ", ".join(map(str, FARGATE_SIZES[s.worker_cpu])),
    ),
    Rule(
        "workerMaxCount", "`workerMinCount <= workerMaxCount`.",
        lambda s: None if s.worker_min_count <= s.worker_max_count
        else f"at least workerMinCount ({s.worker_min_count})",
    ),
    Rule(
        "worker", "The worker needs the cache (its events travel through the cache's stream).",
        lambda s: "false when cache is false" if s.worker and not s.cache else None,
    ),
    Rule(
        "corsAllowCredentials", "`corsAllowCredentials` is false when `corsOrigins` is `*` (browsers refuse both).",
        lambda s: "false when corsOrigins is *" if s.cors_allow_credentials and s.cors_origins == "*" else None,
    ),
    Rule(
        "backupCopyRegion", "`backupCopyRegion` is another region than `aws:region`.",
        lambda s: f"a region other than {s.region}" if s.backup_copy_region == s.region else None,
    ),
    Rule(
        "backupCopyRetentionDays", "`backupCopyRetentionDays` only with `backupCopyRegion`.",
        lambda s: "unset without backupCopyRegion"
        if s.backup_copy_retention_days is not None and s.backup_copy_region is None else None,
    ),
    Rule(
        "backupVaultLockChangeableDays", "`backupVaultLockChangeableDays` only with `backupVaultLock` true.",
        lambda s: "unset without backupVaultLock"
        if s.backup_vault_lock_changeable_days is not None and not s.backup_vault_lock else None,
    ),
    Rule(
        "grafanaToken", "`grafanaUrl` and `grafanaToken` are given together (or neither).",
        lambda s: None if (s.grafana_url is None) == (s.grafana_token is None)
        else ("a secure value when grafanaUrl is set" if s.grafana_token is None else "unset without grafanaUrl"),
    ),
    Rule(
        "oidcAudience", "`oidcAudience` is set when `oidcIssuer` is (a token must be issued to a known client).",
        lambda s: "a value when oidcIssuer is set" if s.oidc_issuer and not s.oidc_audience else None,
    ),
    *(
        Rule(
            key, f"`{key}` only with `oidcIssuer`.",
            lambda s, attr=attr: "unset without oidcIssuer" if getattr(s, attr) and not s.oidc_issuer else None,
        )
        for key, attr in (
            ("oidcJwksUrl", "oidc_jwks_url"), ("oidcAudience", "oidc_audience"),
            ("oidcScopePrefix", "oidc_scope_prefix"), ("oidcUserScope", "oidc_user_scope"),
        )
    ),
    Rule(
        "refreshTokenDays", "`refreshTokenDays` is longer than `accessTokenMinutes` and `idTokenMinutes`.",
        lambda s: "longer than the access and ID tokens"
        if s.refresh_token_days * 1440 <= max(s.access_token_minutes, s.id_token_minutes) else None,
    ),
    Rule(
        "dbBackupRetentionDays", "When `protect` is true: `dbBackupRetentionDays` is at least 7.",
        lambda s: "7 to 35 when protect is true" if s.protect and s.db_backup_retention_days < 7 else None,
    ),
)  # fmt: skip
"""Checks that involve more than one key, run after each value is checked on its own."""


def closest_key(key: str) -> str | None:
    """The declared key a misspelt one most likely meant."""
    if len(key) > 64:
        return None
    by_case = {k.lower(): k for k in _BY_KEY}
    if key.lower() in by_case:
        return by_case[key.lower()]
    match = difflib.get_close_matches(key, list(_BY_KEY), n=1, cutoff=0.6)
    return match[0] if match else None


def _unknown(key: str, value: Any, source: str | None, line: int | None) -> SettingsError:
    guess = closest_key(key)
    hint = f" (did you mean {NAMESPACE}:{guess}?)" if guess else ""
    allowed = f"one of the keys in docs/settings.md{hint}"
    return SettingsError(f"{NAMESPACE}:{key}", value, allowed, source=source, line=line)


def from_values(
    stack: str,
    region: Any,
    values: Mapping[str, Any],
    *,
    source: str | None = None,
    lines: Mapping[str, int] | None = None,
) -> StackSettings:
    """Builds settings from `groundwork:` values keyed without the namespace; raises SettingsError.

    `lines` maps full keys (`groundwork:databaseName`) to their line in the stack file, for the error.
    """
    lines = lines or {}

    def fail(key: str, value: Any, allowed: str) -> SettingsError:
        return SettingsError(key, value, allowed, source=source, line=lines.get(key))

    for key in values:
        if key not in _BY_KEY:
            raise _unknown(key, values[key], source, lines.get(f"{NAMESPACE}:{key}"))
    if region is None:
        raise fail("aws:region", None, REGION.allowed)
    if region == REDACTED:
        raise fail("aws:region", region, "a plain (not secure) value")
    try:
        fields: dict[str, Any] = {"stack": stack, "region": REGION(region)}
    except Invalid as error:
        raise fail("aws:region", region, error.allowed) from None
    for spec in SETTINGS:
        name = f"{NAMESPACE}:{spec.key}"
        value = values.get(spec.key)
        if value is None:
            if spec.required:
                raise fail(name, None, f"a value ({spec.kind.allowed})")
            continue
        if value == REDACTED:
            if not spec.secret_ok:
                raise fail(name, value, "a plain (not secure) value")
            fields[spec.attr] = REDACTED
            continue
        try:
            fields[spec.attr] = spec.kind(value)
        except Invalid as error:
            raise fail(name, value, error.allowed) from None
    settings = StackSettings(**fields)
    for rule in RULES:
        allowed = rule.allowed(settings)
        if allowed is not None:
            spec = _BY_KEY[rule.key]
            raise fail(f"{NAMESPACE}:{rule.key}", getattr(settings, spec.attr), allowed)
    return settings


def allowed_values(key: str) -> str:
    """What the `groundwork:` key accepts on its own, as it appears in errors and docs."""
    return _BY_KEY[key].kind.allowed


def stack_file_path(stack: str, project_dir: pathlib.Path | None = None) -> pathlib.Path:
    """Where the stack's settings file is."""
    return (pathlib.Path(project_dir) if project_dir is not None else PROJECT_DIR) / f"Pulumi.{stack}.yaml"


def read_stack_values(
    stack: str, project_dir: pathlib.Path | None = None
) -> tuple[Any, dict[str, Any], stack_file.StackFile]:
    """The region, the `groundwork:` values (secure ones redacted) and the file they came from; strict."""
    path = stack_file_path(stack, project_dir)
    source = str(path)
    if not path.is_file():
        raise SettingsError("stack", stack, f"a stack with a settings file ({source} does not exist)")
    try:
        document = stack_file.read(path)
    except stack_file.StackFileError as error:
        key = error.key or "stack file"
        raise SettingsError(key, None, error.expected, source=source, line=error.line, message=str(error)) from None
    region: Any = None
    values: dict[str, Any] = {}
    for full_key, raw in document.config.items():
        line = document.lines.get(full_key)
        if raw is None:
            # YAML reads `key:`, `key: ~` and `key: null` as no value, which would silently mean the default.
            allowed = "a value (delete the line to use the default)"
            name = stack_file.shorten(full_key)
            message = f"setting {name} in {source}:{line} has an empty value; allowed: {allowed}"
            raise SettingsError(full_key, raw, allowed, source=source, line=line, message=message)
        secure = isinstance(raw, dict) and "secure" in raw
        value = REDACTED if secure else raw
        namespace, _, key = full_key.partition(":")
        if full_key == "aws:region":
            region = value
        elif namespace == NAMESPACE and key:
            declared = _BY_KEY.get(key)
            if declared and declared.secret_only and not secure:  # a plain "[secret]" is plain text too
                raise SettingsError(
                    full_key,
                    "<not shown>",
                    f"a secure value (pulumi config set --secret {full_key} ...)",
                    source=source,
                    line=line,
                )
            if isinstance(value, list | dict) and not (declared and declared.kind.structured):
                raise SettingsError(full_key, value, "a single value, not a list or mapping", source=source, line=line)
            values[key] = value
        elif namespace not in OTHER_NAMESPACES or not key:
            allowed = f"keys namespaced {NAMESPACE}: or one of " + ", ".join(f"{n}:" for n in OTHER_NAMESPACES)
            raise SettingsError(full_key, value, allowed, source=source, line=line)
    return region, values, document


def load_stack_settings(stack: str, project_dir: pathlib.Path | None = None) -> StackSettings:
    """Reads Pulumi.<stack>.yaml with the strict loader, without pulumi.Config; secure values stay redacted."""
    region, values, document = read_stack_values(stack, project_dir)
    return from_values(stack, region, values, source=str(document.path), lines=document.lines)


@dataclasses.dataclass(frozen=True)
class Effective:
    """One setting's value in a stack and where it came from (`file` or `default`)."""

    key: str
    value: Any
    source: str
    line: int | None
    setting: Setting | None


def effective(stack: str, project_dir: pathlib.Path | None = None) -> list[Effective]:
    """Every setting of a validated stack with its value and source, `aws:region` first."""
    region, values, document = read_stack_values(stack, project_dir)
    settings = from_values(stack, region, values, source=str(document.path), lines=document.lines)
    rows = [Effective("aws:region", settings.region, "file", document.lines.get("aws:region"), None)]
    for spec in SETTINGS:
        full = f"{NAMESPACE}:{spec.key}"
        given = values.get(spec.key) is not None
        rows.append(
            Effective(
                full, getattr(settings, spec.attr), "file" if given else "default", document.lines.get(full), spec
            )
        )
    return rows


def load() -> StackSettings:
    """Reads the running program's settings from pulumi.Config; the only reader of pulumi.Config."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    values: dict[str, Any] = {}
    for key in _config_keys():
        if key.startswith(f"{NAMESPACE}:"):
            name = key.partition(":")[2]
            values[name] = config.get(name)
    for spec in SETTINGS:
        value = config.get(spec.key)
        if value is not None:
            values[spec.key] = value
    region = pulumi.Config("aws").get("region")
    return from_values(pulumi.get_stack(), region, values, source=f"stack {pulumi.get_stack()}")


def _config_keys() -> list[str]:
    """Names of all config keys the engine passed to the program."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get())
    keys.update(runtime_config.get_config_env())
    return sorted(keys)
