"""A cloud release after the apply: the migration as a one-off task of the new task definition, then its record."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cli.cloud import release_store
from cli.cloud.one_off import NoTaskNetwork, run_task, service_shape
from cli.core import releases
from cli.core.errors import OperationFailed

if TYPE_CHECKING:
    from rich.console import Console

    from cli.core.stack_ref import StackRef
    from cli.verify.context import ClientFactory

MIGRATION_STARTED_BY = "infra-up-migrate"


def release_applied(
    ref: StackRef,
    values: dict[str, Any],
    console: Console,
    *,
    applied: bool,
    project: str,
    client: ClientFactory | None = None,
) -> dict[str, Any] | None:
    """Migrate with the service's new task definition and record the release in the stack's SSM history.

    A stack without an API service has nothing to release (None). When nothing was applied and the history's last
    release is this task definition, promoted, the release is already done. A failed migration is recorded as failed
    and raises, naming the migration's own error lines.
    """
    from stacks import outputs as names

    cluster, service = values.get(names.CLUSTER_NAME), values.get(names.SERVICE_NAME)
    if not cluster or not service:
        return None
    if client is None:
        from cli.verify.aws import client_factory

        client = client_factory(str(values.get(names.REGION) or ref.region or ""))
    ssm, parameter = client("ssm"), release_store.parameter_name(project, ref.stack)
    history = release_store.load(ssm, parameter)
    declared = values.get(names.TASK_DEFINITION_ARN)
    last = history[-1] if history else None
    if (
        not applied
        and declared
        and last is not None
        and last.outcome == releases.PROMOTED
        and last.task_definition == _revision(str(declared))
    ):
        console.print(f"release {last.id} ({last.task_definition}) is live; nothing to release")
        return {"id": last.id, "outcome": last.outcome, "unchanged": True}
    try:
        shape = service_shape(client("ecs"), cluster=str(cluster), service=str(service), task_definition=declared)
    except NoTaskNetwork as missing:
        # Nothing was released: say so and how to migrate by hand, rather than fail an apply that already happened.
        console.print(
            f"[bold yellow]not released:[/] {missing.message}; run the migration with "
            f"`infra run --stack {ref.stack} -- python -m groundwork_api.migrate`"
        )
        return {"outcome": "not released", "reason": missing.message}
    revision = _revision(shape.task_definition)
    fields = {
        "image": shape.image or str(values.get(names.IMAGE_REF) or "unknown"),
        "task_definition": revision,
        "settings": releases.settings_hash(_stack_settings(ref)),
    }
    console.print(f"[bold]migrate[/] {' '.join(releases.MIGRATION_COMMAND)} as a task of {service} ({revision})")
    output: list[str] = []
    show = _shower(console, output)
    try:
        run = run_task(
            client("ecs"),
            client("logs"),
            shape,
            releases.MIGRATION_COMMAND,
            on_line=show,
            started_by=MIGRATION_STARTED_BY,
        )
    except OperationFailed as exc:
        failed = release_store.record(
            ssm, parameter, **fields, outcome=releases.FAILED_BEFORE_TRAFFIC, failed_checks=["migration"]
        )
        raise OperationFailed(
            f"the migration task did not run ({exc.message}); release {failed.id} recorded as failed",
            hint="the new tasks answer 503 on data routes until the schema is migrated; run `infra up` again",
            details={"release": failed.to_json()},
        ) from exc
    if run.exit_code != 0:
        failed = release_store.record(
            ssm, parameter, **fields, outcome=releases.FAILED_BEFORE_TRAFFIC, failed_checks=["migration"]
        )
        lines = releases.error_lines(output)
        raise OperationFailed(
            f"the migration failed (exit {run.exit_code}: {run.stopped_reason or 'no reason given'}); "
            f"release {failed.id} recorded as failed:\n" + "\n".join(lines),
            hint="the new tasks answer 503 on data routes until the schema is migrated: fix the migration and run "
            "`infra up` again (see docs/releases.md)",
            details={"release": failed.to_json(), "migration": run.to_json(), "error_lines": lines},
        )
    promoted = release_store.record(ssm, parameter, **fields, outcome=releases.PROMOTED)
    console.print(f"[bold green]released[/] {promoted.id}: {revision} ({promoted.image}) by {promoted.by}")
    return {**promoted.to_json(), "migration": run.to_json(), "store": f"ssm:{parameter}"}


def _revision(task_definition_arn: str) -> str:
    """family:revision, as the release history names a task definition."""
    return task_definition_arn.rsplit("/", 1)[-1]


def _stack_settings(ref: StackRef) -> str:
    path = ref.project_dir / f"Pulumi.{ref.stack}.yaml"
    return path.read_text() if path.is_file() else ""


def _shower(console: Console, kept: list[str]) -> Callable[[str], None]:
    def show(line: str) -> None:
        kept.append(line)
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)

    return show
