"""Controls 1-13: RDS instances, parameter groups and the proxy."""

from __future__ import annotations

from collections.abc import Iterator

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs

_DB = (resource_types.RDS_INSTANCE, resource_types.RDS_CLUSTER)
_INSTANCE = resource_types.RDS_INSTANCE
_PROXY = resource_types.RDS_PROXY
_PARAMS = resource_types.RDS_PARAMETER_GROUP


@control("1", "Database storage is encrypted", sources=("RDS.3", "CKV_AWS_16", "AVD-AWS-0080"), level="E")
def storage_encrypted(view: PlanView) -> Iterator[Violation]:
    for r in view.of(*_DB):
        if inputs(r).get("storageEncrypted") is not True:
            yield Violation(r["urn"], "storageEncrypted is not true")


@control("2", "Database is not publicly accessible", sources=("RDS.2", "CKV_AWS_17", "AVD-AWS-0180"), level="E")
def not_public(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        if inputs(r).get("publiclyAccessible") is True:
            yield Violation(r["urn"], "publiclyAccessible is true")


@control("3", "Database is Multi-AZ", sources=("RDS.5", "CKV_AWS_157"), level="P")
def multi_az(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        if inputs(r).get("multiAz") is not True:
            yield Violation(r["urn"], "multiAz is not true")


@control(
    "4", "Backups kept 1 day everywhere, 7 in prod", sources=("RDS.11", "CKV_AWS_133", "AVD-AWS-0077"), level="E/P"
)
def backup_retention(view: PlanView) -> Iterator[Violation]:
    for r in view.of(*_DB):
        days = inputs(r).get("backupRetentionPeriod") or 0
        if days < 1:
            yield Violation(r["urn"], f"backupRetentionPeriod is {days}, at least 1 needed", level="E")
        elif days < 7:
            yield Violation(r["urn"], f"backupRetentionPeriod is {days}, at least 7 for production", level="P")


@control("5", "Database deletion protection", sources=("RDS.8", "CKV_AWS_293", "AVD-AWS-0177"), level="P")
def deletion_protection(view: PlanView) -> Iterator[Violation]:
    for r in view.of(*_DB):
        if inputs(r).get("deletionProtection") is not True:
            yield Violation(r["urn"], "deletionProtection is not true")


@control("6", "Final snapshot on deletion", sources=("pulumi-aws docs",), level="P")
def final_snapshot(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        args = inputs(r)
        if args.get("skipFinalSnapshot") is not False or not args.get("finalSnapshotIdentifier"):
            yield Violation(r["urn"], "skipFinalSnapshot must be false with a finalSnapshotIdentifier")


@control("7", "PostgreSQL logs exported", sources=("RDS.9", "RDS.36", "CKV_AWS_129"), level="P")
def log_exports(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        if "postgresql" not in (inputs(r).get("enabledCloudwatchLogsExports") or []):
            yield Violation(r["urn"], "enabledCloudwatchLogsExports lacks postgresql")


@control("8", "Parameter group forces TLS", sources=("CKV2_AWS_69",), level="E")
def force_ssl(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        if not str(inputs(r).get("engine", "")).startswith("postgres"):
            continue
        groups = view.referenced(r, "parameterGroupName", _PARAMS)
        if not any(_forces_ssl(g) for g in groups):
            yield Violation(r["urn"], "no postgres parameter group with rds.force_ssl=1 is used by the instance")


def _forces_ssl(group: dict) -> bool:
    args = inputs(group)
    if not str(args.get("family", "")).startswith("postgres"):
        return False
    return any(p.get("name") == "rds.force_ssl" and str(p.get("value")) == "1" for p in args.get("parameters") or [])


@control("9", "Minor version upgrades on", sources=("RDS.13", "CKV_AWS_226"), level="E")
def minor_upgrades(view: PlanView) -> Iterator[Violation]:
    for r in view.of(*_DB):
        if inputs(r).get("autoMinorVersionUpgrade") is False:
            yield Violation(r["urn"], "autoMinorVersionUpgrade is false")


@control(
    "10",
    "Monitoring, Performance Insights and IAM authentication",
    sources=("RDS.6", "CKV_AWS_118", "CKV_AWS_353", "RDS.10"),
    level="A",
)
def observability(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        args = inputs(r)
        if not (args.get("monitoringInterval") or 0) > 0:
            yield Violation(r["urn"], "monitoringInterval is 0 (Enhanced Monitoring off)")
        if args.get("performanceInsightsEnabled") is not True:
            yield Violation(r["urn"], "performanceInsightsEnabled is not true")
        if args.get("iamDatabaseAuthenticationEnabled") is not True:
            yield Violation(r["urn"], "iamDatabaseAuthenticationEnabled is not true")


@control("11", "Master user and snapshot tags", sources=("RDS.25", "RDS.17"), level="A")
def master_user(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_INSTANCE):
        args = inputs(r)
        if args.get("username") == "postgres":
            yield Violation(r["urn"], "username is the default postgres")
        if args.get("copyTagsToSnapshot") is not True:
            yield Violation(r["urn"], "copyTagsToSnapshot is not true")
        if args.get("manageMasterUserPassword") is not True:
            yield Violation(r["urn"], "manageMasterUserPassword is not true")


@control("12", "Proxy requires TLS", sources=("RDS.43",), level="E")
def proxy_tls(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_PROXY):
        if inputs(r).get("requireTls") is not True:
            yield Violation(r["urn"], "requireTls is not true")


@control("13", "Proxy authenticates with a secret, no debug logging", sources=("RDS Proxy API",), level="P")
def proxy_auth(view: PlanView) -> Iterator[Violation]:
    for r in view.of(_PROXY):
        auths = inputs(r).get("auths") or []
        if not auths or not all(a.get("secretArn") for a in auths):
            yield Violation(r["urn"], "an auth entry has no secretArn")
        if inputs(r).get("debugLogging") is True:
            yield Violation(r["urn"], "debugLogging is true (logs SQL and credentials)")
