"""Database checks: available, encrypted, private, multi-AZ and deletion protection as set, backups retained."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cli.verify import identify
from cli.verify.aws import is_not_found
from cli.verify.context import Context
from cli.verify.model import Check, Status, Unverifiable, judge

FAMILY = "database"
TRANSIENT_STATES = frozenset(
    {
        "backing-up",
        "modifying",
        "maintenance",
        "upgrading",
        "storage-optimization",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "configuring-iam-database-auth",
        "renaming",
        "rebooting",
        "starting",
        "creating",
    }
)
"""Instance states that pass on their own; reported as warnings, not failures."""


def describe_instance(ctx: Context, identifier: str) -> dict[str, Any]:
    """The RDS instance as DescribeDBInstances returns it."""
    try:
        return ctx.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as exc:
        if is_not_found(exc, "DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise Unverifiable(
                "exists", f"RDS has no instance {identifier}", "the database instance exists", identifier
            ) from exc
        raise


def check_available(db: dict[str, Any]) -> Check:
    """The instance is available (a transient state only warns)."""
    state = db.get("DBInstanceStatus", "unknown")
    status = Status.PASS if state == "available" else Status.WARN if state in TRANSIENT_STATES else Status.FAIL
    return Check(FAMILY, "available", status, f"status {state}", "status available", db["DBInstanceIdentifier"])


def check_encrypted(db: dict[str, Any]) -> Check:
    """Storage is encrypted at rest."""
    on = bool(db.get("StorageEncrypted"))
    observed = "storage encrypted" + (f" with {db['KmsKeyId']}" if on and db.get("KmsKeyId") else "")
    return judge(
        FAMILY,
        "encrypted",
        on,
        observed if on else "storage not encrypted",
        "storage encrypted",
        db["DBInstanceIdentifier"],
    )


def check_not_public(db: dict[str, Any]) -> Check:
    """The instance has no public address."""
    public = bool(db.get("PubliclyAccessible"))
    return judge(
        FAMILY,
        "not public",
        not public,
        "publicly accessible" if public else "not publicly accessible",
        "not publicly accessible",
        db["DBInstanceIdentifier"],
    )


def check_multi_az(db: dict[str, Any], settings: Any) -> Check:
    """A standby in a second zone when the settings ask for one."""
    on = bool(db.get("MultiAZ"))
    wanted = bool(settings.db_multi_az)
    observed = "multi-AZ (standby in a second zone)" if on else "single-AZ"
    expected = "multi-AZ (dbMultiAz is true)" if wanted else "either (dbMultiAz is false)"
    return judge(FAMILY, "multi-AZ", on or not wanted, observed, expected, db["DBInstanceIdentifier"])


def check_deletion_protection(db: dict[str, Any], settings: Any) -> Check:
    """RDS refuses deletion when the settings ask for it."""
    on = bool(db.get("DeletionProtection"))
    wanted = bool(settings.db_deletion_protection)
    observed = "deletion protection on" if on else "deletion protection off"
    expected = "on (dbDeletionProtection is true)" if wanted else "either (dbDeletionProtection is false)"
    return judge(FAMILY, "deletion protection", on or not wanted, observed, expected, db["DBInstanceIdentifier"])


def check_backups(db: dict[str, Any], settings: Any) -> Check:
    """Automated backups are kept at least as long as the settings say."""
    days = int(db.get("BackupRetentionPeriod") or 0)
    wanted = int(settings.db_backup_retention_days)
    observed = f"backups kept {days} day(s)" if days else "automated backups off (retention 0 days)"
    expected = f"backups kept at least {wanted} day(s) (dbBackupRetentionDays)"
    return judge(FAMILY, "backups retained", days >= max(wanted, 1), observed, expected, db["DBInstanceIdentifier"])


def verify(ctx: Context) -> list[Check]:
    """Every database check."""
    db = describe_instance(ctx, identify.database_instance(ctx))
    return [
        check_available(db),
        check_encrypted(db),
        check_not_public(db),
        check_multi_az(db, ctx.settings),
        check_deletion_protection(db, ctx.settings),
        check_backups(db, ctx.settings),
    ]
