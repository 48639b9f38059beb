"""The drill on a cloud stack: marker writes through the service, an RDS point-in-time restore into a throwaway."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cli.core.errors import ConfigError, OperationFailed
from cli.recovery import rds
from cli.recovery.drill import (
    ApiTarget,
    ApiWriter,
    DrillFailed,
    DrillReport,
    compare,
    new_run_id,
    rows_of,
    write_after,
    write_markers,
)
from cli.recovery.times import iso

if TYPE_CHECKING:
    from rich.console import Console

    from cli.core.outputs import StackOutput
    from cli.core.stack_ref import StackRef

RESTORABLE_WAIT_S = 900
"""RDS uploads transaction logs every five minutes; the restore point becomes restorable within that, plus margin."""
POLL_S = 20
THROWAWAY_SETTINGS = {"DeletionProtection": False, "MultiAZ": False}
"""The throwaway is deleted at the end of the drill, and a single zone restores as fast and costs half."""
UNREACHABLE_HINT = (
    "the drill reads the restored database directly, which sits in private subnets: run `infra drill` from a host "
    "inside the VPC (the bastion: aws ssm start-session --target <bastion_instance_id>)"
)


def _master_url(secrets: Any, instance: dict[str, Any], database: str) -> str:
    """A TLS connection URL for the instance's master user, from the secret RDS manages for it (never shown)."""
    arn = (instance.get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise DrillFailed(
            f"{instance['DBInstanceIdentifier']} has no RDS-managed master secret to sign in with",
            hint="the program's database sets manage_master_user_password; restore it from that stack",
        )
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    endpoint = instance.get("Endpoint") or {}
    user, password = quote(value["username"], safe=""), quote(value["password"], safe="")
    return (
        f"postgresql://{user}:{password}@{endpoint.get('Address')}:{endpoint.get('Port', 5432)}/{database}"
        "?sslmode=require&connect_timeout=10"
    )


def _wait_restorable(rds_client: Any, source: str, point: datetime, progress: Callable[[str], None]) -> None:
    deadline = time.monotonic() + RESTORABLE_WAIT_S
    while True:
        live = rds.live_instance(rds_client, source)
        latest = live.get("LatestRestorableTime")
        if latest is not None and latest >= point:
            return
        if time.monotonic() > deadline:
            raise DrillFailed(
                f"{source}'s latest restorable time stayed before {iso(point)} for {RESTORABLE_WAIT_S} s",
                hint="check the instance's automated backups (backup retention above 0) and its events",
            )
        progress(f"waiting for {source} to make {iso(point)} restorable (latest: {latest})")
        time.sleep(POLL_S)


def drill_rds(
    rds_client: Any,
    secrets: Any,
    api: ApiTarget,
    *,
    source: str,
    database: str,
    stack: str,
    progress: Callable[[str], None] = lambda _: None,
    read_rows: Callable[[str], dict[str, tuple[int, datetime]]] = rows_of,
    clock: Callable[[], float] = time.monotonic,
    wait_delay_s: int = rds.WAIT_DELAY_S,
) -> DrillReport:
    """Write, restore the instance to a point after the marker into a throwaway, check, measure, delete it."""
    report = DrillReport(stack=stack, run=new_run_id(), started_at=iso(datetime.now(UTC)))
    live = rds.live_instance(rds_client, source)
    into = f"{source[:50].rstrip('-')}-drill-{report.run[-6:]}"
    rds.check_new_name(rds_client, source, into)
    writer = ApiWriter(api)
    try:
        progress(f"writing {report.run}'s records and marker through {api.base_url}")
        marker = write_markers(writer, report)
        # The marker's own commit time (the database's clock), rounded up: RDS restores to whole seconds.
        stored = datetime.fromisoformat(str(marker["updated_at"]).replace("Z", "+00:00")).astimezone(UTC)
        point = stored.replace(microsecond=0) + timedelta(seconds=1)
        try:
            expected = read_rows(_master_url(secrets, live, database))
        except OperationFailed:
            raise
        except Exception as exc:
            raise DrillFailed(f"could not read the live database {source}: {exc}", hint=UNREACHABLE_HINT) from None
        expected = {user: row for user, row in expected.items() if row[1] <= point}
        while datetime.now(UTC) <= point + timedelta(seconds=1):  # later writes must commit after the point
            time.sleep(0.2)
        write_after(writer, report)
    finally:
        writer.close()
    report.restore_point = iso(point)
    _wait_restorable(rds_client, source, point, progress)

    progress(f"restoring {source} to {report.restore_point} into the throwaway {into}")
    report.throwaway = into
    started = clock()
    try:
        rds.restore(
            rds_client,
            rds.RestoreRequest(source=source, into=into, to=point),
            wait_delay_s=wait_delay_s,
            overrides=THROWAWAY_SETTINGS,
        )
        restored = rds.live_instance(rds_client, into)
        try:
            found = read_rows(_master_url(secrets, restored, database))
        except OperationFailed:
            raise
        except Exception as exc:
            raise DrillFailed(f"could not read the restored database {into}: {exc}", hint=UNREACHABLE_HINT) from None
        report.recovery_time_s = clock() - started
        compare(report, expected, found, point)
    except OperationFailed as exc:
        report.failure = exc.message
        raise
    finally:
        report.throwaway_removed = _delete(rds_client, into, progress)
    return report


def _delete(rds_client: Any, identifier: str, progress: Callable[[str], None]) -> bool:
    """Delete the throwaway (no final snapshot, no retained backups); True once RDS has it deleting or gone."""
    progress(f"deleting the throwaway {identifier}")
    try:
        if rds.live_instance(rds_client, identifier).get("DeletionProtection"):
            # Only this drill's own throwaway: it was restored under this name a moment ago.
            rds_client.modify_db_instance(
                DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
            )
        rds_client.delete_db_instance(
            DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )
    except rds.RestoreRefused:
        return True  # already gone
    except Exception as exc:
        from cli.verify.aws import is_not_found

        if not is_not_found(exc, "DBInstanceNotFound", "DBInstanceNotFoundFault"):
            progress(f"could not delete {identifier}: {exc}; delete it by hand")
            return False
    return True


def cloud_drill(
    ref: StackRef, stack_outputs: dict[str, StackOutput], *, token: str, progress: Callable[[str], None]
) -> DrillReport:
    """The drill on a cloud stack, from its outputs: the service (with an admin token), the database, the region."""
    from cli.smoke.endpoint import from_stack
    from cli.verify.aws import client_factory
    from stacks import outputs as names

    values = {k: v.value for k, v in stack_outputs.items()}
    for name in (names.DATABASE_INSTANCE, names.DATABASE_NAME):
        if not values.get(name):
            raise ConfigError(f"stack {ref.stack!r} exports no {name}", hint=f"deploy it: infra up --stack {ref.stack}")
    service = from_stack(ref, stack_outputs, token=token)
    clients = client_factory(ref.region or values.get(names.REGION) or "")
    return drill_rds(
        clients("rds"),
        clients("secretsmanager"),
        ApiTarget(base_url=service.base_url, token=service.token or "", ca_file=service.ca_file),
        source=values[names.DATABASE_INSTANCE],
        database=values[names.DATABASE_NAME],
        stack=ref.stack,
        progress=progress,
    )


def restore_instance(
    ref: StackRef,
    values: dict[str, Any],
    console: Console,
    *,
    into: str,
    to: datetime | None,
    snapshot: str | None,
    switch: bool,
) -> dict[str, Any]:
    """Restore the stack's database into a new instance, switch the proxy to it when asked, and print what is left."""
    from cli.verify.aws import client_factory
    from stacks import outputs as names

    source = values.get(names.DATABASE_INSTANCE)
    if not source:
        raise ConfigError(f"stack {ref.stack!r} exports no {names.DATABASE_INSTANCE}", hint="run `infra up` first")
    clients = client_factory(ref.region or values.get(names.REGION) or "")
    console.print(f"restoring {source} into [bold]{into}[/] ({iso(to) if to else snapshot}); this takes minutes")
    result = rds.restore(clients("rds"), rds.RestoreRequest(source=source, into=into, to=to, snapshot=snapshot))
    proxy, secret_arn = values.get(names.PROXY_NAME), values.get(names.DATABASE_SECRET_ARN)
    result.steps = rds.switch_steps(result, proxy=proxy, secret_arn=secret_arn, stack=ref.stack)
    console.print(f"[bold]{into}[/] is available at {result.address}:{result.port} after {result.seconds:.0f} s")
    if switch:
        if not proxy:
            raise ConfigError(f"stack {ref.stack!r} exports no {names.PROXY_NAME}", hint="follow the steps by hand")
        rds.switch(clients("rds"), clients("secretsmanager"), result, proxy=proxy, secret_arn=secret_arn)
        console.print(f"the proxy {proxy} now serves {into}; what is left:")
        steps = result.steps[3 if secret_arn else 2 :]
    else:
        console.print("to move the service onto it:")
        steps = result.steps
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {step}", markup=False)
    return result.to_json()
