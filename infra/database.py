"""Database: a private, encrypted RDS PostgreSQL instance with TLS enforced and its credentials in Secrets Manager."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra import assume_role_policy, require, require_log_retention, type_token
from infra.keys import KeyArns
from infra.limits import (
    IDENTIFIER,
    IDENTIFIER_TEXT,
    MASTER_USERNAME,
    MASTER_USERNAME_TEXT,
    MONITORING_INTERVALS_SECONDS,
    PERFORMANCE_INSIGHTS_RETENTION_DAYS,
    PERFORMANCE_INSIGHTS_RETENTION_TEXT,
    RESERVED_DB_USERS,
)

TYPE = type_token("database", "Database")

ENGINE_VERSIONS = ("16", "17")
"""PostgreSQL major versions the component accepts."""
LOG_EXPORTS = ("postgresql", "upgrade")
"""Log types exported to CloudWatch Logs."""
PARAMETERS = {
    "rds.force_ssl": "1",
    "log_connections": "1",
    "log_disconnections": "1",
    "log_lock_waits": "1",
    "log_min_duration_statement": "500",
    "log_temp_files": "0",
    "log_autovacuum_min_duration": "1000",
    # Not "ddl": CREATE/ALTER ROLE ... PASSWORD would put the service's password in CloudWatch Logs.
    "log_statement": "none",
    # Slow statements are logged without their bind parameters, which carry users' data.
    "log_parameter_max_length": "0",
    "idle_in_transaction_session_timeout": "60000",
}
"""Parameter-group values: TLS only, slow statements (without values) and lock waits logged, idle transactions
ended."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    """Inputs of a Database."""

    subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets (two or more zones) the instance may live in; never public ones."""
    security_group_id: pulumi.Input[str]
    """Security group that admits only the proxy (and the bastion)."""
    engine_version: str = "17"
    """PostgreSQL major version."""
    instance_class: str = "db.t4g.small"
    """RDS instance class."""
    allocated_storage_gb: int = 20
    """Initial gp3 storage in GiB."""
    max_allocated_storage_gb: int = 100
    """Storage autoscaling ceiling in GiB."""
    multi_az: bool = True
    """Keep a synchronous standby in another zone."""
    backup_retention_days: int = 7
    """Days of automated backups (1 to 35)."""
    deletion_protection: bool = True
    """RDS refuses to delete the instance."""
    final_snapshot: bool = True
    """Take a named final snapshot on deletion."""
    performance_insights_retention_days: int = 7
    """Performance Insights retention in days."""
    monitoring_interval_seconds: int = 60
    """Enhanced Monitoring interval; 0 turns it off."""
    master_username: str = "groundwork_admin"
    """RDS master user; its password is generated and rotated by RDS in Secrets Manager."""
    app_username: str = "app"
    """Login role the service uses; its credentials secret is created here for the proxy."""
    database_name: str = "app"
    """Name of the application database."""
    secret_recovery_window_days: int = 30
    """Days a deleted credentials secret can be restored (0 or 7 to 30)."""
    protect: bool = True
    """Protect the instance and its credentials from deletion by Pulumi."""
    log_retention_days: int = 30
    """Retention of the exported PostgreSQL and upgrade logs."""
    keys: KeyArns = dataclasses.field(default_factory=KeyArns)
    """Customer keys to encrypt with (the stack's own on protected stacks); AWS-managed keys where None."""


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL reachable only inside the VPC, with backups, log exports and Performance Insights."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # Subnet group: the instance and its standby may only be placed in the database subnets.
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{name}: database subnets without internet routes",
            opts=child,
        )
        # Parameter group: TLS required for every connection, useful logging.
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{args.engine_version}",
            description=f"{name}: TLS only, slow-query and connection logging",
            parameters=[{"name": k, "value": v, "apply_method": "immediate"} for k, v in PARAMETERS.items()],
            opts=child,
        )
        monitoring_role = None
        if args.monitoring_interval_seconds:
            # Role the Enhanced Monitoring agent uses to publish OS metrics.
            monitoring_role = aws.iam.Role(
                f"{name}-monitoring-role",
                assume_role_policy=assume_role_policy("monitoring.rds.amazonaws.com"),
                description="RDS Enhanced Monitoring",
                opts=child,
            )
            # AWS's managed policy for Enhanced Monitoring (logs:* on the RDSOSMetrics log group only).
            aws.iam.RolePolicyAttachment(
                f"{name}-monitoring-policy",
                role=monitoring_role.name,
                policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                opts=child,
            )
        snapshot_suffix = None
        if args.final_snapshot:
            # A suffix drawn once per life of the stack: the final snapshot of one life never blocks the deletion
            # of the next, which would otherwise find a snapshot of the same name already there.
            snapshot_suffix = random.RandomId(f"{name}-final-snapshot-suffix", byte_length=4, opts=child)
        # The identifier is fixed so the exported logs' groups can exist, with retention, before RDS writes to them.
        identifier = name
        # Exported database logs, kept for the configured period instead of forever.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}-logs",
                name=f"/aws/rds/instance/{identifier}/{log}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.keys.logs,
                opts=child,
            )
            for log in LOG_EXPORTS
        ]
        # The instance: private, encrypted, master password managed (and rotated) by RDS in Secrets Manager.
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            publicly_accessible=False,
            network_type="IPV4",
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            parameter_group_name=self.parameter_group.name,
            username=args.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.keys.secrets,
            iam_database_authentication_enabled=True,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.protect,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.final_snapshot,
            final_snapshot_identifier=(
                pulumi.Output.concat(f"{name}-final-", snapshot_suffix.hex) if snapshot_suffix else None
            ),
            performance_insights_enabled=True,
            performance_insights_retention_period=args.performance_insights_retention_days,
            performance_insights_kms_key_id=args.keys.performance_insights,
            monitoring_interval=args.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=log_groups),
        )

        # The service's database password, generated once and kept secret in state.
        # Letters and digits only, so the value sits in a postgresql:// URL without escaping.
        self.app_password = random.RandomPassword(f"{name}-app-password", length=40, special=False, opts=stateful)
        # The service's credentials: what the proxy signs in with, in the shape the rotation function reads.
        self.app_secret = aws.secretsmanager.Secret(
            f"{name}-app-credentials",
            description=f"{name}: credentials of the {args.app_username} login role (used by the proxy, rotated)",
            recovery_window_in_days=args.secret_recovery_window_days,
            kms_key_id=args.keys.secrets,
            opts=stateful,
        )
        # First value of the credentials; rotation writes every later one, so the program never rewrites it.
        self.app_secret_value = aws.secretsmanager.SecretVersion(
            f"{name}-app-credentials-value",
            secret_id=self.app_secret.id,
            secret_string=pulumi.Output.all(
                host=self.instance.address,
                port=self.instance.port,
                password=pulumi.Output.secret(self.app_password.result),
            ).apply(
                lambda v: json.dumps(
                    {
                        "engine": "postgres",
                        "host": v["host"],
                        "port": int(v["port"]),
                        "dbname": args.database_name,
                        "username": args.app_username,
                        "password": v["password"],
                    }
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )

        self.log_group_names = [group.name for group in log_groups]
        self.identifier = self.instance.identifier
        self.address = self.instance.address
        self.port = self.instance.port
        self.resource_id = self.instance.resource_id
        self.master_username = args.master_username
        self.master_secret_arn = self.instance.master_user_secrets.apply(lambda s: s[0]["secret_arn"])
        self.app_username = args.app_username
        self.database_name = args.database_name
        self.register_outputs(
            {
                "identifier": self.identifier,
                "address": self.address,
                "port": self.port,
                "arn": self.instance.arn,
                "master_secret_arn": self.master_secret_arn,
                "app_secret_arn": self.app_secret.arn,
            }
        )


def _validate(args: DatabaseArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(args.engine_version in ENGINE_VERSIONS, "engine_version", args.engine_version, ", ".join(ENGINE_VERSIONS))
    require(
        re.fullmatch(r"db\.[a-z0-9]+\.[a-z0-9]+", args.instance_class) is not None,
        "instance_class",
        args.instance_class,
        "an RDS class such as db.t4g.small",
    )
    require(len(args.subnet_ids) >= 2, "subnet_ids", len(args.subnet_ids), "subnets in two or more zones")
    require(20 <= args.allocated_storage_gb <= 65536, "allocated_storage_gb", args.allocated_storage_gb, "20 to 65536")
    require(
        args.allocated_storage_gb <= args.max_allocated_storage_gb <= 65536,
        "max_allocated_storage_gb",
        args.max_allocated_storage_gb,
        f"{args.allocated_storage_gb} to 65536",
    )
    require(1 <= args.backup_retention_days <= 35, "backup_retention_days", args.backup_retention_days, "1 to 35")
    require(
        args.performance_insights_retention_days in PERFORMANCE_INSIGHTS_RETENTION_DAYS,
        "performance_insights_retention_days",
        args.performance_insights_retention_days,
        PERFORMANCE_INSIGHTS_RETENTION_TEXT,
    )
    require(
        args.monitoring_interval_seconds in MONITORING_INTERVALS_SECONDS,
        "monitoring_interval_seconds",
        args.monitoring_interval_seconds,
        ", ".join(map(str, MONITORING_INTERVALS_SECONDS)),
    )
    for field in ("app_username", "database_name"):
        value = getattr(args, field)
        require(IDENTIFIER.fullmatch(value) is not None, field, value, IDENTIFIER_TEXT)
    require(
        MASTER_USERNAME.fullmatch(args.master_username) is not None,
        "master_username",
        args.master_username,
        MASTER_USERNAME_TEXT,
    )
    for field in ("master_username", "app_username"):
        value = getattr(args, field)
        require(value not in RESERVED_DB_USERS, field, value, "a name other than " + ", ".join(RESERVED_DB_USERS))
    require(
        args.app_username != args.master_username,
        "app_username",
        args.app_username,
        "a role other than the master user",
    )
    require_log_retention(args.log_retention_days)
    require(
        args.secret_recovery_window_days == 0 or 7 <= args.secret_recovery_window_days <= 30,
        "secret_recovery_window_days",
        args.secret_recovery_window_days,
        "0 or 7 to 30",
    )
    if args.protect:
        require(args.deletion_protection, "deletion_protection", False, "True when protect is True")
        require(args.final_snapshot, "final_snapshot", False, "True when protect is True")
