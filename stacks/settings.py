"""Stack settings: one frozen, validated object read from Pulumi.<stack>.yaml or from pulumi.Config."""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

NAMESPACE = "groundwork"
"""Config namespace of the project's own keys (`groundwork:<key>` in Pulumi.<stack>.yaml)."""

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
"""Default project directory: the repository root, where Pulumi.yaml and Pulumi.<stack>.yaml live."""

REDACTED = "[secret]"
"""Stand-in for a `{secure: ...}` value read offline; secure values are never decrypted here."""

_LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
_FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
_PI_RETENTION_DAYS = (7, *range(31, 714, 31), 731)
_RESERVED_DB_USERS = ("postgres", "admin", "rdsadmin", "root", "master", "user", "public")


class SettingsError(ValueError):
    """A stack setting is missing or has a value that is not allowed."""

    def __init__(self, key: str, value: Any, allowed: str, *, source: str | None = None) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        self.source = source
        where = f" in {source}" if source else ""
        shown = "<missing>" if value is None else repr(value)
        super().__init__(f"setting {key!r}{where} has value {shown}; allowed: {allowed}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class StackSettings:
    """Everything that makes one stack differ from another; built only by this module."""

    stack: str
    """Stack name (dev, prod, ...)."""
    region: str
    """AWS region of every resource (`aws:region`)."""
    protect: bool = True
    """Stateful resources are protected and destroying the stack must be confirmed by name."""
    domain: str
    """Domain whose Route53 public hosted zone holds the service's records."""
    service_subdomain: str = "api"
    """Labels in front of the domain that form the service's host name."""
    create_hosted_zone: bool = False
    """Create the hosted zone instead of looking up an existing one."""
    vpc_cidr: str = "10.0.0.0/16"
    """IPv4 range of the VPC."""
    availability_zones: int = 2
    """Number of availability zones the network spans."""
    nat_gateways: str = "single"
    """One NAT gateway for the whole VPC (`single`) or one per zone (`perZone`)."""
    db_engine_version: str = "17"
    """PostgreSQL major version."""
    db_instance_class: str = "db.t4g.small"
    """RDS instance class."""
    db_allocated_storage_gb: int = 20
    """Initial storage in GiB."""
    db_max_allocated_storage_gb: int = 100
    """Storage autoscaling ceiling in GiB."""
    db_multi_az: bool = False
    """Standby replica in a second zone."""
    db_backup_retention_days: int = 7
    """Days of automated backups."""
    db_deletion_protection: bool = True
    """RDS refuses to delete the instance."""
    db_final_snapshot: bool = True
    """Take a named final snapshot when the instance is deleted."""
    db_performance_insights_retention_days: int = 7
    """Performance Insights retention in days."""
    db_monitoring_interval_seconds: int = 60
    """Enhanced Monitoring interval in seconds (0 turns it off)."""
    db_master_username: str = "groundwork_admin"
    """Name of the RDS master user."""
    database_name: str = "app"
    """Name of the application database."""
    proxy_max_connections_percent: int = 90
    """Share of the database's max_connections the proxy may open."""
    proxy_max_idle_connections_percent: int = 50
    """Share of max_connections the proxy keeps idle."""
    proxy_borrow_timeout_seconds: int = 30
    """Seconds a client waits for a pooled connection before an error."""
    proxy_idle_client_timeout_seconds: int = 1800
    """Seconds before the proxy closes an idle client connection."""
    service_cpu: int = 256
    """Fargate task CPU units."""
    service_memory: int = 512
    """Fargate task memory in MiB."""
    service_desired_count: int = 1
    """Tasks at first deployment."""
    service_min_count: int = 1
    """Autoscaling floor."""
    service_max_count: int = 2
    """Autoscaling ceiling."""
    autoscaling_cpu_target: int = 60
    """Average CPU percentage autoscaling keeps the service at."""
    autoscaling_requests_per_target: int = 500
    """Requests per task per minute autoscaling keeps the service at."""
    log_retention_days: int = 14
    """Retention of the service's log group."""
    ecr_immutable_tags: bool = False
    """Image tags in the repository cannot be overwritten."""
    ecr_keep_images: int = 10
    """Images the repository keeps."""
    bucket_force_destroy: bool = False
    """Buckets may be deleted with their objects."""
    log_bucket_expiration_days: int = 90
    """Days the log bucket keeps objects."""
    app_bucket_noncurrent_days: int = 30
    """Days the application bucket keeps noncurrent object versions."""
    alb_deletion_protection: bool = True
    """The load balancer refuses deletion."""
    secret_recovery_window_days: int = 7
    """Days a deleted secret can be restored."""
    secret_rotation_days: int = 30
    """Days between rotations of the database credentials and the JWT signing keys."""
    alarm_email: str | None = dataclasses.field(default=None, repr=False)
    """Address subscribed to the alarm topic, if any."""
    alarm_5xx_percent: int = 5
    """5xx responses as a percentage of requests that raise the alarm."""
    alarm_latency_p95_ms: int = 200
    """p95 target response time in milliseconds that raises the alarm."""
    jwt_issuer: str | None = None
    """Expected `iss` of tokens; defaults to the service URL."""
    jwt_audience: str = "groundwork-api"
    """Expected `aud` of tokens."""
    database_objects: bool = False
    """Declare the database, roles and grants with the postgresql provider (a separate step)."""
    database_admin_host: str | None = None
    """Host the postgresql provider connects to; defaults to the instance endpoint."""
    database_admin_port: int = 5432
    """Port the postgresql provider connects to."""
    bastion: bool = False
    """An SSM-managed host in a private subnet for port forwarding to the database."""

    @property
    def host_name(self) -> str:
        """The service's public host name."""
        return f"{self.service_subdomain}.{self.domain}"

    @property
    def service_url(self) -> str:
        """The service's public URL."""
        return f"https://{self.host_name}"

    @property
    def issuer(self) -> str:
        """JWT issuer the service expects."""
        return self.jwt_issuer or self.service_url


@dataclasses.dataclass(frozen=True)
class _Key:
    """How one config key is parsed and checked."""

    key: str
    attr: str
    parse: Callable[[str, Any], Any]
    required: bool = False
    secret_ok: bool = False


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SettingsError(key, value, "true or false")


def _int(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(key: str, value: Any) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            number = int(value)
        if number is None or not low <= number <= high:
            raise SettingsError(key, value, f"an integer from {low} to {high}")
        return number

    return parse


def _one_of(*choices: Any) -> Callable[[str, Any], Any]:
    def parse(key: str, value: Any) -> Any:
        for choice in choices:
            if value == choice or (isinstance(value, str) and value == str(choice)):
                return choice
        raise SettingsError(key, value, "one of " + ", ".join(str(c) for c in choices))

    return parse


def _pattern(regex: str, description: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(regex, value):
            raise SettingsError(key, value, description)
        return value

    return parse


def _cidr(key: str, value: Any) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
    except ValueError:
        network = None
    if network is None or network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 20:
        raise SettingsError(key, value, "a private IPv4 network from /16 to /20, e.g. 10.0.0.0/16")
    return str(network)


def _username(key: str, value: Any) -> str:
    name = _pattern(r"[a-z][a-z0-9_]{0,15}", "a lowercase name of 1-16 letters, digits or _")(key, value)
    if name in _RESERVED_DB_USERS:
        raise SettingsError(key, value, "a name other than " + ", ".join(_RESERVED_DB_USERS))
    return name


_DNS_NAME = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_LABELS = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
_HOST = r"[A-Za-z0-9.-]{1,253}"

KEYS: tuple[_Key, ...] = (
    _Key("protect", "protect", _bool),
    _Key("domain", "domain", _pattern(_DNS_NAME, "a lowercase domain such as example.com"), required=True),
    _Key("serviceSubdomain", "service_subdomain", _pattern(_LABELS, "lowercase DNS labels such as api.dev")),
    _Key("createHostedZone", "create_hosted_zone", _bool),
    _Key("vpcCidr", "vpc_cidr", _cidr),
    _Key("availabilityZones", "availability_zones", _one_of(2, 3)),
    _Key("natGateways", "nat_gateways", _one_of("single", "perZone")),
    _Key("dbEngineVersion", "db_engine_version", _one_of("16", "17")),
    _Key(
        "dbInstanceClass",
        "db_instance_class",
        _pattern(r"db\.[a-z0-9]+\.[a-z0-9]+", "an RDS instance class such as db.t4g.small"),
    ),
    _Key("dbAllocatedStorageGb", "db_allocated_storage_gb", _int(20, 65536)),
    _Key("dbMaxAllocatedStorageGb", "db_max_allocated_storage_gb", _int(20, 65536)),
    _Key("dbMultiAz", "db_multi_az", _bool),
    _Key("dbBackupRetentionDays", "db_backup_retention_days", _int(1, 35)),
    _Key("dbDeletionProtection", "db_deletion_protection", _bool),
    _Key("dbFinalSnapshot", "db_final_snapshot", _bool),
    _Key(
        "dbPerformanceInsightsRetentionDays",
        "db_performance_insights_retention_days",
        _one_of(*_PI_RETENTION_DAYS),
    ),
    _Key("dbMonitoringIntervalSeconds", "db_monitoring_interval_seconds", _one_of(0, 1, 5, 10, 15, 30, 60)),
    _Key("dbMasterUsername", "db_master_username", _username),
    _Key(
        "databaseName",
        "database_name",
        _pattern(r"[a-z_][a-z0-9_]{0,62}", "a lowercase identifier of letters, digits or _"),
    ),
    _Key("proxyMaxConnectionsPercent", "proxy_max_connections_percent", _int(1, 100)),
    _Key("proxyMaxIdleConnectionsPercent", "proxy_max_idle_connections_percent", _int(0, 100)),
    _Key("proxyBorrowTimeoutSeconds", "proxy_borrow_timeout_seconds", _int(0, 3600)),
    _Key("proxyIdleClientTimeoutSeconds", "proxy_idle_client_timeout_seconds", _int(1, 28800)),
    _Key("serviceCpu", "service_cpu", _one_of(*_FARGATE_MEMORY)),
    _Key("serviceMemory", "service_memory", _int(512, 30720)),
    _Key("serviceDesiredCount", "service_desired_count", _int(1, 100)),
    _Key("serviceMinCount", "service_min_count", _int(1, 100)),
    _Key("serviceMaxCount", "service_max_count", _int(1, 100)),
    _Key("autoscalingCpuTarget", "autoscaling_cpu_target", _int(10, 90)),
    _Key("autoscalingRequestsPerTarget", "autoscaling_requests_per_target", _int(1, 100000)),
    _Key("logRetentionDays", "log_retention_days", _one_of(*_LOG_RETENTION_DAYS)),
    _Key("ecrImmutableTags", "ecr_immutable_tags", _bool),
    _Key("ecrKeepImages", "ecr_keep_images", _int(1, 1000)),
    _Key("bucketForceDestroy", "bucket_force_destroy", _bool),
    _Key("logBucketExpirationDays", "log_bucket_expiration_days", _int(1, 3650)),
    _Key("appBucketNoncurrentDays", "app_bucket_noncurrent_days", _int(1, 3650)),
    _Key("albDeletionProtection", "alb_deletion_protection", _bool),
    _Key("secretRecoveryWindowDays", "secret_recovery_window_days", _one_of(0, *range(7, 31))),
    _Key("secretRotationDays", "secret_rotation_days", _int(1, 90)),
    _Key(
        "alarmEmail",
        "alarm_email",
        _pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address"),
        secret_ok=True,
    ),
    _Key("alarm5xxPercent", "alarm_5xx_percent", _int(1, 100)),
    _Key("alarmLatencyP95Ms", "alarm_latency_p95_ms", _int(10, 60000)),
    _Key("jwtIssuer", "jwt_issuer", _pattern(r"\S{1,512}", "a non-empty string without spaces")),
    _Key("jwtAudience", "jwt_audience", _pattern(r"\S{1,512}", "a non-empty string without spaces")),
    _Key("databaseObjects", "database_objects", _bool),
    _Key("databaseAdminHost", "database_admin_host", _pattern(_HOST, "a host name or IP address")),
    _Key("databaseAdminPort", "database_admin_port", _int(1, 65535)),
    _Key("bastion", "bastion", _bool),
)
"""Every `groundwork:` key the program reads, in documentation order."""

_REGION = _pattern(r"[a-z]{2}(-[a-z]+)+-\d", "an AWS region such as eu-west-1")


def _validate(settings: StackSettings, source: str | None) -> None:
    """Checks that involve more than one key."""
    s = settings
    if s.db_max_allocated_storage_gb < s.db_allocated_storage_gb:
        raise SettingsError(
            "dbMaxAllocatedStorageGb",
            s.db_max_allocated_storage_gb,
            f"at least dbAllocatedStorageGb ({s.db_allocated_storage_gb})",
            source=source,
        )
    if s.proxy_max_idle_connections_percent > s.proxy_max_connections_percent:
        raise SettingsError(
            "proxyMaxIdleConnectionsPercent",
            s.proxy_max_idle_connections_percent,
            f"at most proxyMaxConnectionsPercent ({s.proxy_max_connections_percent})",
            source=source,
        )
    memory = _FARGATE_MEMORY[s.service_cpu]
    if s.service_memory not in memory:
        raise SettingsError(
            "serviceMemory",
            s.service_memory,
            f"for serviceCpu {s.service_cpu}: one of " + ", ".join(str(m) for m in memory),
            source=source,
        )
    if not s.service_min_count <= s.service_desired_count <= s.service_max_count:
        raise SettingsError(
            "serviceDesiredCount",
            s.service_desired_count,
            f"from serviceMinCount ({s.service_min_count}) to serviceMaxCount ({s.service_max_count})",
            source=source,
        )
    if s.nat_gateways == "perZone" and s.availability_zones < 2:
        raise SettingsError("natGateways", s.nat_gateways, "single when one zone is used", source=source)
    if s.protect:
        for key, attr, allowed in (
            ("bucketForceDestroy", "bucket_force_destroy", False),
            ("dbDeletionProtection", "db_deletion_protection", True),
            ("dbFinalSnapshot", "db_final_snapshot", True),
            ("albDeletionProtection", "alb_deletion_protection", True),
        ):
            if getattr(s, attr) != allowed:
                raise SettingsError(
                    key, getattr(s, attr), f"{str(allowed).lower()} when protect is true", source=source
                )
        if s.secret_recovery_window_days == 0:
            raise SettingsError("secretRecoveryWindowDays", 0, "7 to 30 when protect is true", source=source)
        if s.db_backup_retention_days < 7:
            raise SettingsError(
                "dbBackupRetentionDays",
                s.db_backup_retention_days,
                "7 to 35 when protect is true",
                source=source,
            )


def from_values(stack: str, region: Any, values: Mapping[str, Any], *, source: str | None = None) -> StackSettings:
    """Builds settings from `groundwork:` values keyed without the namespace; raises SettingsError."""
    known = {k.key: k for k in KEYS}
    for key in values:
        if key not in known:
            raise SettingsError(f"{NAMESPACE}:{key}", values[key], "one of the keys in docs/settings.md", source=source)
    if region is None:
        raise SettingsError("aws:region", None, "an AWS region such as eu-west-1", source=source)
    if region == REDACTED:
        raise SettingsError("aws:region", region, "a plain (not secure) value", source=source)
    fields: dict[str, Any] = {"stack": stack, "region": _REGION("aws:region", region)}
    for spec in KEYS:
        name = f"{NAMESPACE}:{spec.key}"
        if spec.key not in values or values[spec.key] is None:
            if spec.required:
                raise SettingsError(name, None, f"a value ({_allowed(spec)})", source=source)
            continue
        value = values[spec.key]
        if value == REDACTED and spec.secret_ok:
            fields[spec.attr] = REDACTED
            continue
        if value == REDACTED:
            raise SettingsError(name, value, "a plain (not secure) value", source=source)
        try:
            fields[spec.attr] = spec.parse(name, value)
        except SettingsError as error:
            raise SettingsError(error.key, error.value, error.allowed, source=source) from None
    settings = StackSettings(**fields)
    _validate(settings, source)
    return settings


def _allowed(spec: _Key) -> str:
    """What a key accepts, taken from its parser's own error."""
    try:
        spec.parse(spec.key, object())
    except SettingsError as error:
        return error.allowed
    return "any value"  # pragma: no cover


def allowed_values(key: str) -> str:
    """What the `groundwork:` key accepts, as it appears in error messages."""
    return _allowed({k.key: k for k in KEYS}[key])


def load_stack_settings(stack: str, project_dir: pathlib.Path | None = None) -> StackSettings:
    """Reads Pulumi.<stack>.yaml without pulumi.Config; secure values stay redacted."""
    directory = pathlib.Path(project_dir) if project_dir is not None else PROJECT_DIR
    path = directory / f"Pulumi.{stack}.yaml"
    source = str(path)
    if not path.is_file():
        raise SettingsError("stack", stack, f"a stack with a settings file ({source} does not exist)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SettingsError("stack", stack, f"a valid YAML file at {source} ({error})") from None
    config = document.get("config") if isinstance(document, dict) else None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise SettingsError("config", config, "a mapping of namespaced keys", source=source)
    region: Any = None
    values: dict[str, Any] = {}
    for full_key, raw in config.items():
        value = REDACTED if isinstance(raw, dict) and "secure" in raw else raw
        namespace, _, key = str(full_key).partition(":")
        if full_key == "aws:region":
            region = value
        elif namespace == NAMESPACE and key:
            values[key] = value
        elif namespace not in ("aws", "pulumi", "docker-build", "postgresql"):
            raise SettingsError(str(full_key), value, f"keys namespaced {NAMESPACE}: or aws:", source=source)
    return from_values(stack, region, values, source=source)


def load() -> StackSettings:
    """Reads the running program's settings from pulumi.Config; the only reader of pulumi.Config."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    present = _config_keys()
    values: dict[str, Any] = {}
    for key in present:
        if key.startswith(f"{NAMESPACE}:"):
            values[key.partition(":")[2]] = None
    for spec in KEYS:
        value = config.get(spec.key)
        if value is not None:
            values[spec.key] = value
    for key in [k for k, v in values.items() if v is None]:
        values[key] = config.get(key)
    region = pulumi.Config("aws").get("region")
    return from_values(pulumi.get_stack(), region, values, source=f"stack {pulumi.get_stack()}")


def _config_keys() -> list[str]:
    """Names of all config keys the engine passed to the program."""
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get())
    keys.update(runtime_config.get_config_env())
    return sorted(keys)
