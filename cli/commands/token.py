"""`infra token`: an access token from the stack's identity provider, for a user or for the machine client."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption


def token(
    stack: StackOption = "local",
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Sign this user in (created in the stack's pool first if need be).", show_default=False
        ),
    ] = None,
    client: Annotated[bool, typer.Option("--client", help="A machine token (client credentials) instead.")] = False,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="With --client: ask for this scope only (repeatable), e.g. map/read."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Create a missing user on a cloud stack without asking.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print an access token; with --json, an object with access_token, expires_in and sub."""
    from cli.commands.context import open_stack
    from cli.core.errors import ConfigError
    from cli.core.render import emit_json

    if (user is None) == (not client):
        raise ConfigError("pass --user NAME or --client", hint="e.g. infra token --stack local --user alice")
    if scope and not client:
        raise ConfigError("--scope is for --client", hint="a user's token carries the scopes its sign-in gives")
    session, backend = open_stack(stack, as_json=as_json)
    issued = backend.token(session, user=user, client=client, scopes=tuple(scope or ()), yes=yes)
    if as_json:
        fields = ("access_token", "expires_in", "sub", "token_type", "scope")
        emit_json({"ok": True, "stack": stack, **{k: issued[k] for k in fields if k in issued}})
        return
    session.console.print(f"[dim]token for {issued['sub']}, valid {issued['expires_in']} s[/]")
    typer.echo(issued["access_token"])
