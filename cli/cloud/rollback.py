"""`infra rollback` on a cloud stack: an earlier promoted release's task definition, deployed blue/green again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cli.cloud import release_store
from cli.cloud.release_step import settle_deployment
from cli.core import releases
from cli.core.errors import ConfigError, NotAvailable, OperationFailed

if TYPE_CHECKING:
    from rich.console import Console

    from cli.verify.context import ClientFactory


def rollback_stack(
    stack: str,
    values: dict[str, Any],
    console: Console,
    *,
    to: str | None,
    project: str,
    confirm: Callable[[str], str],
    client: ClientFactory,
) -> dict[str, Any]:
    """Point the API service at the chosen release's task definition (the promoted one before the live one by
    default) once `confirm` agrees; ECS deploys it blue/green through the same check, and the outcome is recorded.
    The schema stays as it is: there are no down-migrations, and expand/contract keeps the older code working."""
    from stacks import outputs as names

    cluster, service = values.get(names.CLUSTER_NAME), values.get(names.SERVICE_NAME)
    log_group = values.get(names.RELEASE_CHECK_LOG_GROUP)
    if not cluster or not service:
        raise ConfigError(f"stack {stack!r} exports no API service", hint=f"run `infra up --stack {stack}` first")
    if not log_group:
        raise NotAvailable(
            f"stack {stack!r} does not deploy blue/green yet, so a rollback would skip the release check",
            hint=f"run `infra up --stack {stack}` with this version of the program first",
        )
    ssm, parameter = client("ssm"), release_store.parameter_name(project, stack)
    history = release_store.load(ssm, parameter)
    target = releases.rollback_target(history, to)
    live = next((r for r in reversed(history) if r.outcome == releases.PROMOTED), None)
    if live is not None and live.task_definition == target.task_definition:
        raise ConfigError(f"release {target.id} ({target.task_definition}) is the live one", hint="`infra releases`")
    replaced = f"{live.id} ({live.task_definition})" if live else "the live release"
    what = (
        f"{service}: from {replaced} back to {target.id} ({target.task_definition}, {target.image}); "
        "no down-migration runs, the schema stays where the live release left it"
    )
    console.print(f"[bold]rollback[/] {what}")
    confirmed = confirm(what)
    ecs = client("ecs")
    try:
        updated = ecs.update_service(cluster=cluster, service=service, taskDefinition=target.task_definition)
    except ecs.exceptions.ClientError as exc:
        raise OperationFailed(
            f"ECS refused the rollback to {target.task_definition}: {exc.response.get('Error', {}).get('Message')}",
            hint="a deregistered task definition cannot come back; `infra releases` names the others",
        ) from None
    task_definition = updated["service"]["taskDefinition"]
    fields = {"image": target.image, "task_definition": target.task_definition, "settings": target.settings_hash}
    document = settle_deployment(
        client, console, str(cluster), str(service), task_definition, str(log_group), ssm, parameter, fields,
        rollback_of=target.id,
    )  # fmt: skip
    if live is not None:
        release_store.mark(ssm, parameter, live.id, releases.ROLLED_BACK)
        console.print(f"release {live.id} recorded as rolled back")
    return {
        "ok": True,
        "stack": stack,
        "confirmed_by": confirmed,
        "rolled_back": live.id if live else None,
        "release": document,
        "next": f"the program still declares the newer release: `infra refresh --stack {stack}` then `infra up` "
        "deploys it again",
    }
