"""A cloud release after the apply: the migration as a one-off task of the new task definition, then its record."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cli.cloud import blue_green, release_store
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
    live = next((r for r in reversed(history) if r.outcome == releases.PROMOTED), None)
    if not applied and live is not None and live.rollback_of:
        # A rollback set the service's task definition behind the program's back; an unchanged apply keeps it.
        console.print(
            f"release {live.id} (a rollback to {live.rollback_of}, {live.task_definition}) is live; nothing to "
            "release: `infra up` releases again once the program changes the service"
        )
        return {"id": live.id, "outcome": live.outcome, "unchanged": True}
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
            hint=_unmigrated_hint(values) + "; run `infra up` again",
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
            hint=_unmigrated_hint(values) + ": fix the migration and run `infra up` again (see docs/releases.md)",
            details={"release": failed.to_json(), "migration": run.to_json(), "error_lines": lines},
        )
    log_group = values.get(names.RELEASE_CHECK_LOG_GROUP)
    if not log_group:
        # A stack from before blue/green: its tasks were replaced during the apply.
        promoted = release_store.record(ssm, parameter, **fields, outcome=releases.PROMOTED)
        console.print(f"[bold green]released[/] {promoted.id}: {revision} ({promoted.image}) by {promoted.by}")
        return {**promoted.to_json(), "migration": run.to_json(), "store": f"ssm:{parameter}"}
    document = settle_deployment(
        client, console, shape.cluster, str(service), shape.task_definition, str(log_group), ssm, parameter, fields
    )
    return {**document, "migration": run.to_json()}


def settle_deployment(
    client: ClientFactory,
    console: Console,
    cluster: str,
    service: str,
    task_definition: str,
    log_group: str,
    ssm: Any,
    parameter: str,
    fields: dict[str, Any],
    *,
    rollback_of: str | None = None,
) -> dict[str, Any]:
    """Follow the blue/green deployment of `task_definition` to its end, show the check's verdict, and record the
    release; one ECS rolled back is recorded as such and raises, naming the checks that failed."""

    def stage(status: str, lifecycle_stage: str) -> None:
        console.print(f"  deployment {status.lower().replace('_', ' ')}: {lifecycle_stage or '-'}")

    console.print(f"[bold]blue/green[/] {service} to {_revision(task_definition)}: green takes test traffic first")
    end = blue_green.follow_release(
        client("ecs"),
        client("logs"),
        cluster=cluster,
        service=service,
        task_definition=task_definition,
        log_group=log_group,
        on_stage=stage,
    )
    if end.verdict is not None:
        shown = "[green]passed[/]" if end.verdict.status == "SUCCEEDED" else f"[red]{end.verdict.status.lower()}[/]"
        from rich.markup import escape

        console.print(f"release check: {shown}" + "".join(f"\n  {escape(line)}" for line in end.verdict.details))
    outcome, failed_checks = blue_green.outcome_of(end)
    release = release_store.record(
        ssm, parameter, **fields, outcome=outcome, failed_checks=failed_checks, rollback_of=rollback_of
    )
    document = {**release.to_json(), "deployment": end.to_json(), "store": f"ssm:{parameter}"}
    if outcome != releases.PROMOTED:
        raise OperationFailed(
            f"release {release.id} was not promoted: {blue_green.describe_end(end)}; the previous release keeps "
            "serving",
            hint=f"the release check's log group {log_group} has every check; fix and run `infra up` again",
            details={"release": document},
        )
    console.print(f"[bold green]released[/] {release.id}: {release.task_definition} ({release.image}) by {release.by}")
    return document


def _unmigrated_hint(values: dict[str, Any]) -> str:
    """What the new tasks do while their schema is behind: wait at the release check (blue/green), or answer 503."""
    from stacks import outputs as names

    if values.get(names.RELEASE_CHECK_LOG_GROUP):
        return "green waits at the release check for its schema and ECS rolls it back after 15 minutes; blue serves"
    return "the new tasks answer 503 on data routes until the schema is migrated"


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
