"""RDS restores into a new instance with the live one's network, parameters and security, and the switch-over."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.core.aws_errors import error_message
from cli.core.errors import ConfigError, OperationFailed
from cli.recovery.times import iso, require_within
from cli.verify.aws import is_not_found

ClientFactory = Callable[[str], Any]
IDENTIFIER = re.compile(r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)")
"""RDS instance identifiers: a letter first, letters, digits and single hyphens, at most 63, no hyphen last."""
TARGET_GROUP = "default"
"""The only target group an RDS Proxy has."""
RESTORED_TAG = "groundwork:restored-from"
WAIT_DELAY_S = 30
WAIT_ATTEMPTS = 120
"""Up to an hour for the new instance to become available (RDS restores take minutes to tens of minutes)."""


class RestoreRefused(ConfigError):
    """The restore cannot go ahead as asked (bad name, existing instance, unusable snapshot)."""


@dataclass(frozen=True)
class RestoreRequest:
    """Which live instance, into which new one, from which point in time or snapshot."""

    source: str
    into: str
    to: datetime | None = None
    snapshot: str | None = None


@dataclass
class RestoreResult:
    """The new instance and how long it took to become available."""

    source: str
    into: str
    method: str
    restore_point: str | None
    snapshot: str | None
    address: str
    port: int
    seconds: float
    copied: dict[str, Any] = field(default_factory=dict)
    switched: bool = False
    steps: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "into": self.into,
            "method": self.method,
            "restore_point": self.restore_point,
            "snapshot": self.snapshot,
            "endpoint": {"address": self.address, "port": self.port},
            "seconds_to_available": round(self.seconds, 1),
            "copied_settings": self.copied,
            "switched": self.switched,
            "steps": self.steps,
        }


def live_instance(rds: Any, identifier: str) -> dict[str, Any]:
    """The live instance's description; a missing one is a configuration error naming it."""
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except Exception as exc:
        if is_not_found(exc, "DBInstanceNotFound", "DBInstanceNotFoundFault"):
            raise RestoreRefused(
                f"the stack's database instance {identifier!r} does not exist",
                hint="check the stack's outputs (`infra outputs`) and the region",
            ) from None
        raise OperationFailed(error_message(exc)) from None


def check_new_name(rds: Any, source: str, into: str) -> None:
    """The new instance's name: a valid identifier, not the live instance, not an existing instance."""
    if not IDENTIFIER.fullmatch(into):
        raise RestoreRefused(
            f"--into {into!r} is not a valid RDS instance identifier",
            hint="1 to 63 letters, digits and single hyphens, starting with a letter and not ending with a hyphen",
        )
    if into.lower() == source.lower():
        raise RestoreRefused(
            f"--into {into!r} is the live instance; a restore never overwrites it",
            hint="name a new instance, e.g. --into " + f"{source}-restored"[:63],
        )
    try:
        rds.describe_db_instances(DBInstanceIdentifier=into)
    except Exception as exc:
        if is_not_found(exc, "DBInstanceNotFound", "DBInstanceNotFoundFault"):
            return
        raise OperationFailed(error_message(exc)) from None
    raise RestoreRefused(f"an instance named {into!r} already exists; nothing was restored", hint="choose another name")


def restorable_window(rds: Any, live: dict[str, Any]) -> tuple[datetime, datetime]:
    """The earliest and latest restorable times: RDS's own window, or creation and retention when it gives none."""
    latest = _aware(live.get("LatestRestorableTime"))
    if latest is None or not live.get("BackupRetentionPeriod"):
        raise RestoreRefused(
            f"{live['DBInstanceIdentifier']} has no automated backups, so no point-in-time restore",
            hint="restore a snapshot with --snapshot ID, and set dbBackupRetentionDays to 1 or more",
        )
    backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=live["DBInstanceIdentifier"])
    for backup in backups.get("DBInstanceAutomatedBackups", []):
        window = backup.get("RestoreWindow") or {}
        earliest = _aware(window.get("EarliestTime"))
        if earliest is not None and backup.get("Status", "active") == "active":
            return earliest, _aware(window.get("LatestTime")) or latest
    created = _aware(live.get("InstanceCreateTime")) or latest
    return max(created, latest - timedelta(days=int(live["BackupRetentionPeriod"]))), latest


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def copied_settings(live: dict[str, Any]) -> dict[str, Any]:
    """The live instance's placement, parameters and security, as restore arguments."""
    settings: dict[str, Any] = {
        "DBInstanceClass": live["DBInstanceClass"],
        "DBSubnetGroupName": (live.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in live.get("VpcSecurityGroups", [])],
        "DBParameterGroupName": next((g["DBParameterGroupName"] for g in live.get("DBParameterGroups", [])), None),
        "MultiAZ": bool(live.get("MultiAZ")),
        "PubliclyAccessible": False,
        "EnableIAMDatabaseAuthentication": bool(live.get("IAMDatabaseAuthenticationEnabled")),
        "DeletionProtection": bool(live.get("DeletionProtection")),
        "CopyTagsToSnapshot": bool(live.get("CopyTagsToSnapshot")),
        "StorageType": live.get("StorageType"),
        "EnableCloudwatchLogsExports": live.get("EnabledCloudwatchLogsExports") or None,
        "CACertificateIdentifier": (live.get("CACertificateIdentifier") or None),
        "ManageMasterUserPassword": True if live.get("MasterUserSecret") else None,
    }
    return {key: value for key, value in settings.items() if value not in (None, [])}


def _check_snapshot(rds: Any, live: dict[str, Any], snapshot: str) -> None:
    """The snapshot exists, is ready, and is encrypted whenever the live instance is."""
    try:
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    except Exception as exc:
        if is_not_found(exc, "DBSnapshotNotFound", "DBSnapshotNotFoundFault"):
            raise RestoreRefused(
                f"snapshot {snapshot!r} does not exist in this region",
                hint="list them: aws rds describe-db-snapshots --db-instance-identifier "
                + live["DBInstanceIdentifier"],
            ) from None
        raise OperationFailed(error_message(exc)) from None
    info = found[0]
    if info.get("Status") != "available":
        raise RestoreRefused(f"snapshot {snapshot!r} is {info.get('Status')!r}, not available", hint="wait, then retry")
    if live.get("StorageEncrypted") and not info.get("Encrypted"):
        raise RestoreRefused(
            f"snapshot {snapshot!r} is not encrypted; restoring it would create an unencrypted database",
            hint="copy it with a KMS key first (aws rds copy-db-snapshot --kms-key-id ...), then restore the copy",
        )


def restore(
    rds: Any,
    request: RestoreRequest,
    *,
    clock: Callable[[], float] = time.monotonic,
    wait_delay_s: int = WAIT_DELAY_S,
    overrides: dict[str, Any] | None = None,
) -> RestoreResult:
    """Restore into a new instance with the live one's settings (but `overrides`), wait until it is available."""
    if (request.to is None) == (request.snapshot is None):
        raise RestoreRefused("give exactly one of --to TIME or --snapshot ID", hint="see `infra restore --help`")
    live = live_instance(rds, request.source)
    check_new_name(rds, request.source, request.into)
    settings = copied_settings(live) | dict(overrides or {})
    tags = [
        {"Key": RESTORED_TAG, "Value": request.source},
        {"Key": "groundwork:restore-point", "Value": iso(request.to) if request.to else request.snapshot or ""},
    ]
    if request.to is not None:
        earliest, latest = restorable_window(rds, live)
        require_within(request.to, earliest, latest, request.source)
        call = lambda: rds.restore_db_instance_to_point_in_time(  # noqa: E731 - one call, two shapes
            SourceDBInstanceIdentifier=request.source,
            TargetDBInstanceIdentifier=request.into,
            RestoreTime=request.to,
            Tags=tags,
            **settings,
        )
    else:
        _check_snapshot(rds, live, request.snapshot or "")
        call = lambda: rds.restore_db_instance_from_db_snapshot(  # noqa: E731
            DBInstanceIdentifier=request.into, DBSnapshotIdentifier=request.snapshot, Tags=tags, **settings
        )
    started = clock()
    try:
        call()
    except Exception as exc:
        raise OperationFailed(
            f"RDS refused the restore into {request.into}: {error_message(exc)}",
            hint="nothing was changed on the live instance; fix the cause and run the command again",
        ) from None
    restored = wait_available(rds, request.into, delay_s=wait_delay_s)
    seconds = clock() - started
    if live.get("StorageEncrypted") and not restored.get("StorageEncrypted"):
        raise OperationFailed(
            f"{request.into} came up unencrypted although {request.source} is encrypted",
            hint=f"delete it (aws rds delete-db-instance --db-instance-identifier {request.into}) and report this",
        )
    endpoint = restored.get("Endpoint") or {}
    return RestoreResult(
        source=request.source,
        into=request.into,
        method="point-in-time" if request.to else "snapshot",
        restore_point=iso(request.to) if request.to else None,
        snapshot=request.snapshot,
        address=str(endpoint.get("Address", "")),
        port=int(endpoint.get("Port") or 5432),
        seconds=seconds,
        copied={k: v for k, v in settings.items() if k != "ManageMasterUserPassword"}
        | {"StorageEncrypted": bool(restored.get("StorageEncrypted")), "KmsKeyId": restored.get("KmsKeyId")},
    )


def wait_available(rds: Any, identifier: str, *, delay_s: int = WAIT_DELAY_S) -> dict[str, Any]:
    """Wait with RDS's own waiter until the instance is available; a failed restore names its status."""
    from botocore.exceptions import WaiterError

    try:
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=identifier, WaiterConfig={"Delay": delay_s, "MaxAttempts": WAIT_ATTEMPTS}
        )
    except WaiterError as exc:
        status = (exc.last_response or {}).get("DBInstances", [{}])[0].get("DBInstanceStatus", "unknown")
        raise OperationFailed(
            f"{identifier} did not become available (status {status})",
            hint=f"see its events: aws rds describe-events --source-identifier {identifier} --source-type db-instance",
        ) from None
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def switch_steps(result: RestoreResult, *, proxy: str | None, secret_arn: str | None, stack: str) -> list[str]:
    """The exact steps that move the service onto the restored instance, and reconcile the stack afterwards."""
    steps = []
    if proxy:
        steps += [
            f"aws rds deregister-db-proxy-targets --db-proxy-name {proxy} --target-group-name {TARGET_GROUP} "
            f"--db-instance-identifiers {result.source}",
            f"aws rds register-db-proxy-targets --db-proxy-name {proxy} --target-group-name {TARGET_GROUP} "
            f"--db-instance-identifiers {result.into}",
        ]
    if secret_arn:
        steps.append(
            f"set host to {result.address} in the credentials secret {secret_arn} (what `infra restore --switch` "
            "does), so its rotation reaches the restored instance"
        )
    steps += [
        "if the credentials rotated after the restore point, set the app role's current password on the restored "
        "instance as its master user (through the bastion; the master secret is the one RDS made for it)",
        f"check the service: infra verify --stack {stack} and infra smoke --stack {stack}",
        f"keep {result.source} until the service is confirmed on {result.into}; then make the stack manage the "
        f"restored instance: rename {result.source} away (aws rds modify-db-instance --db-instance-identifier "
        f"{result.source} --new-db-instance-identifier {result.source}-replaced --apply-immediately), rename "
        f"{result.into} to {result.source} the same way, and run infra refresh --stack {stack}",
    ]
    return steps


def switch(rds: Any, secrets: Any, result: RestoreResult, *, proxy: str, secret_arn: str | None) -> None:
    """Point the proxy at the restored instance (rolling back if that fails) and the credentials' host at it."""
    targets = {"DBProxyName": proxy, "TargetGroupName": TARGET_GROUP}
    try:
        rds.deregister_db_proxy_targets(**targets, DBInstanceIdentifiers=[result.source])
    except Exception as exc:
        raise OperationFailed(
            f"the proxy {proxy} kept its target: {error_message(exc)}", hint="nothing changed"
        ) from None
    try:
        rds.register_db_proxy_targets(**targets, DBInstanceIdentifiers=[result.into])
    except Exception as exc:
        rds.register_db_proxy_targets(**targets, DBInstanceIdentifiers=[result.source])
        raise OperationFailed(
            f"the proxy {proxy} could not take {result.into} ({error_message(exc)}); it points at {result.source} "
            "again",
            hint="fix the cause and run the switch steps by hand",
        ) from None
    if secret_arn:
        current = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        current["host"] = result.address
        current["port"] = result.port
        secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(current))
    result.switched = True
