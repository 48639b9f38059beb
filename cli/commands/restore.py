"""`infra restore`: restore the stack's database into a new instance, then print or perform the switch-over."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import JsonOption, StackOption


def restore(
    into: Annotated[str, typer.Option("--into", help="Name of the new instance (never the live one).")],
    to: Annotated[
        str | None, typer.Option("--to", help="Point in time, ISO 8601 with a zone, e.g. 2026-11-30T14:05:00Z.")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option("--snapshot", help="Snapshot (or AWS Backup recovery point) id.")
    ] = None,
    switch: Annotated[bool, typer.Option("--switch", help="Move the service to the restored instance.")] = False,
    confirm_stack: Annotated[
        str | None, typer.Option("--confirm-stack", help="Confirm --switch on a protected stack from a script.")
    ] = None,
    stack: StackOption = "local",
    as_json: JsonOption = False,
) -> None:
    """Restore the database to a point in time or a snapshot into a new instance; print the switch-over steps."""
    from cli.commands.context import open_target
    from cli.errors import ConfigError
    from cli.recovery import rds
    from cli.recovery.confirm import confirm_switch
    from cli.recovery.times import parse_instant
    from cli.render import emit_json
    from cli.verify.aws import client_factory
    from stacks import outputs as names

    if (to is None) == (snapshot is None):
        raise ConfigError("give exactly one of --to TIME or --snapshot ID", hint="see `infra restore --help`")
    instant = parse_instant(to) if to is not None else None
    session, target = open_target(stack, as_json=as_json)
    confirmed = None
    if switch:
        confirmed = confirm_switch(
            target.stack,
            target.protect,
            confirm_stack=confirm_stack,
            interactive=session.interactive,
            ask_name=lambda text: typer.prompt(text, default="", show_default=False, err=True),
        )
    stack_outputs = {k: v.value for k, v in session.engine().outputs(target.stack).items()}
    source = stack_outputs.get(names.DATABASE_INSTANCE)
    if not source:
        raise ConfigError(f"stack {target.stack!r} exports no {names.DATABASE_INSTANCE}", hint="run `infra up` first")
    clients = client_factory(target.region or stack_outputs.get(names.REGION) or "")
    console = session.console
    console.print(f"restoring {source} into [bold]{into}[/] ({to or snapshot}); this takes minutes")
    result = rds.restore(clients("rds"), rds.RestoreRequest(source=source, into=into, to=instant, snapshot=snapshot))
    proxy, secret_arn = stack_outputs.get(names.PROXY_NAME), stack_outputs.get(names.DATABASE_SECRET_ARN)
    result.steps = rds.switch_steps(result, proxy=proxy, secret_arn=secret_arn, stack=target.stack)
    console.print(f"[bold]{into}[/] is available at {result.address}:{result.port} after {result.seconds:.0f} s")
    if switch:
        if not proxy:
            raise ConfigError(f"stack {target.stack!r} exports no {names.PROXY_NAME}", hint="follow the steps by hand")
        rds.switch(clients("rds"), clients("secretsmanager"), result, proxy=proxy, secret_arn=secret_arn)
        console.print(f"the proxy {proxy} now serves {into}; what is left:")
        steps = result.steps[3 if secret_arn else 2 :]
    else:
        console.print("to move the service onto it:")
        steps = result.steps
    for number, step in enumerate(steps, 1):
        console.print(f"  {number}. {step}", markup=False)
    if as_json:
        emit_json({"ok": True, "stack": target.stack, "confirmed_by": confirmed, **result.to_json()})
