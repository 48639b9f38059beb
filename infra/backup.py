"""Backup: an AWS Backup vault and daily plan for the database and the application bucket, copied to a second region."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from infra import assume_role_policy, key_policy, require, service_key_use, type_token
from infra.dashboards import AlarmSpec
from infra.limits import BACKUP_MAX_RETENTION_DAYS, REGION, backup_schedule_problem
from infra.panels import Metric, Panel

TYPE = type_token("backup", "Backup")

DAILY = "cron(0 3 * * ? *)"
"""03:00 UTC every day: after the database's own backup window (02:00-03:00), before its maintenance window."""
SERVICE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
)
"""AWS's managed policies for the role AWS Backup assumes: back up and restore RDS and S3, nothing else."""
MAX_RETENTION_DAYS = BACKUP_MAX_RETENTION_DAYS
_REGION = REGION


@dataclasses.dataclass(frozen=True, kw_only=True)
class BackupArgs:
    """Inputs of a Backup."""

    database_arn: pulumi.Input[str]
    """ARN of the RDS instance to back up."""
    bucket_arns: Sequence[pulumi.Input[str]]
    """ARNs of the buckets to back up (AWS Backup needs their versioning on)."""
    region: str
    """Region of the stack (the copy must go elsewhere)."""
    account_id: pulumi.Input[str]
    """Account that administers the vaults' keys."""
    retention_days: int = 35
    """Days each daily recovery point is kept (1 to 36500)."""
    schedule: str = DAILY
    """When the daily backup starts, as an AWS cron expression (UTC)."""
    copy_region: str | None = None
    """Region that receives a copy of every recovery point; None keeps them in one region only."""
    copy_retention_days: int | None = None
    """Days the copies are kept; None keeps them as long as the originals."""
    vault_lock: bool = False
    """Lock the vault: no one can delete recovery points before min_retention_days, nor shorten retention."""
    vault_lock_changeable_days: int | None = None
    """None: governance mode (privileged users can remove the lock); N >= 3: compliance mode, immutable after N days."""
    protect: bool = True
    """Protect the vaults from deletion by Pulumi and refuse to delete a vault that still holds recovery points."""


class Backup(pulumi.ComponentResource):
    """Daily AWS Backup recovery points of the database and bucket in an encrypted vault, with failure alarms."""

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # A key of the vault's own: recovery points are encrypted independently of the resources they copy.
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: encrypts the backup vault's recovery points",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account: key_policy(account, [service_key_use(account, "backup", args.region)])
            ),
            opts=stateful,
        )
        # The vault that holds the recovery points; a protected one cannot be deleted while it holds any.
        self.vault = aws.backup.Vault(
            f"{name}-vault", kms_key_arn=self.key.arn, force_destroy=not args.protect, opts=stateful
        )
        copy_vault = None
        if copy_region := args.copy_region:
            # A key in the copy region: a KMS key never leaves its region.
            copy_key = aws.kms.Key(
                f"{name}-copy-key",
                description=f"{name}: encrypts the copies of the recovery points in {args.copy_region}",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                region=args.copy_region,
                policy=pulumi.Output.from_input(args.account_id).apply(
                    lambda account: key_policy(account, [service_key_use(account, "backup", copy_region)])
                ),
                opts=stateful,
            )
            # The vault in the second region: the recovery points survive the loss of the stack's region.
            copy_vault = aws.backup.Vault(
                f"{name}-copy-vault",
                kms_key_arn=copy_key.arn,
                force_destroy=not args.protect,
                region=args.copy_region,
                opts=stateful,
            )
        if args.vault_lock:
            # The lock: recovery points cannot be deleted early, not even by an administrator in compliance mode.
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock",
                backup_vault_name=self.vault.name,
                min_retention_days=args.retention_days,
                max_retention_days=MAX_RETENTION_DAYS,
                changeable_for_days=args.vault_lock_changeable_days,
                opts=child,
            )
        copy_retention = args.copy_retention_days or args.retention_days
        # The plan: one daily rule, kept for the retention, copied to the second region when one is given.
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name=self.vault.name,
                    schedule=args.schedule,
                    start_window=60,
                    completion_window=360,
                    # Point-in-time recovery stays with the database's own automated backups (its retention).
                    enable_continuous_backup=False,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=args.retention_days),
                    copy_actions=(
                        [
                            aws.backup.PlanRuleCopyActionArgs(
                                destination_vault_arn=copy_vault.arn,
                                lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(delete_after=copy_retention),
                            )
                        ]
                        if copy_vault
                        else None
                    ),
                )
            ],
            opts=child,
        )
        # The role AWS Backup assumes to take and restore recovery points.
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("backup.amazonaws.com"),
            description=f"{name}: AWS Backup takes and restores recovery points of the database and bucket",
            opts=child,
        )
        for policy_arn in SERVICE_POLICIES:
            # AWS's managed policy for one of the service's jobs (backup or restore, RDS or S3).
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy_arn.rsplit('/', 1)[1].removeprefix('AWSBackupServiceRolePolicyFor').lower()}",
                role=self.role.name,
                policy_arn=policy_arn,
                opts=child,
            )
        # What the plan covers: the database instance and the buckets, by ARN (no tag can widen it by accident).
        self.selection = aws.backup.Selection(
            f"{name}-selection",
            plan_id=self.plan.id,
            iam_role_arn=self.role.arn,
            resources=[args.database_arn, *args.bucket_arns],
            opts=child,
        )
        vault = {"BackupVaultName": self.vault.name}
        self.alarm_specs = [
            AlarmSpec(
                "backup-failed",
                f"{name}: an AWS Backup job failed; see the AWS Backup console's jobs",
                "AWS/Backup",
                "NumberOfBackupJobsFailed",
                vault,
                "Sum",
                0,
                periods=1,
            )
        ]
        if copy_vault:
            self.alarm_specs.append(
                AlarmSpec(
                    "backup-copy-failed",
                    f"{name}: copying a recovery point to {args.copy_region} failed",
                    "AWS/Backup",
                    "NumberOfCopyJobsFailed",
                    vault,
                    "Sum",
                    0,
                    periods=1,
                )
            )
        self.panels = [
            Panel(
                "Backup jobs",
                [
                    Metric("AWS/Backup", metric, vault, "Sum")
                    for metric in ("NumberOfBackupJobsCompleted", "NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed")
                ],
            )
        ]

        self.vault_name = self.vault.name
        self.vault_arn = self.vault.arn
        self.copy_vault_arn = copy_vault.arn if copy_vault else None
        self.plan_id = self.plan.id
        self.register_outputs(
            {
                "vault_name": self.vault_name,
                "vault_arn": self.vault_arn,
                "copy_vault_arn": self.copy_vault_arn,
                "plan_id": self.plan_id,
                "role_arn": self.role.arn,
            }
        )


def _validate(args: BackupArgs) -> None:
    """Raises ValueError naming the field and what is allowed."""
    require(
        1 <= args.retention_days <= MAX_RETENTION_DAYS,
        "retention_days",
        args.retention_days,
        f"1 to {MAX_RETENTION_DAYS}",
    )
    require(
        backup_schedule_problem(args.schedule) is None,
        "schedule",
        args.schedule,
        "an AWS cron expression running at most hourly, such as cron(0 3 * * ? *)",
    )
    require(len(args.bucket_arns) >= 1, "bucket_arns", len(args.bucket_arns), "one or more bucket ARNs")
    require(_REGION.fullmatch(args.region) is not None, "region", args.region, "an AWS region such as eu-west-1")
    if args.copy_region is not None:
        require(
            _REGION.fullmatch(args.copy_region) is not None,
            "copy_region",
            args.copy_region,
            "None or an AWS region such as eu-central-1",
        )
        require(args.copy_region != args.region, "copy_region", args.copy_region, f"a region other than {args.region}")
    if args.copy_retention_days is not None:
        require(
            args.copy_region is not None, "copy_retention_days", args.copy_retention_days, "None without copy_region"
        )
        require(
            1 <= args.copy_retention_days <= MAX_RETENTION_DAYS,
            "copy_retention_days",
            args.copy_retention_days,
            f"1 to {MAX_RETENTION_DAYS}",
        )
    if args.vault_lock_changeable_days is not None:
        require(
            args.vault_lock, "vault_lock_changeable_days", args.vault_lock_changeable_days, "None without vault_lock"
        )
        require(
            args.vault_lock_changeable_days >= 3,
            "vault_lock_changeable_days",
            args.vault_lock_changeable_days,
            "None (governance mode) or 3 or more days (compliance mode)",
        )
