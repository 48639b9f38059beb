"""Options shared by the commands: --stack and --json."""

from __future__ import annotations

from typing import Annotated

import typer

JSON_META_KEY = "infra.json"
LOCAL_STACK = "local"
"""The embedded stack on this machine (cli/local), the default of --stack."""


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    ctx.meta[JSON_META_KEY] = value
    return value


StackOption = Annotated[
    str,
    typer.Option(
        "--stack",
        "-s",
        help="Stack: `local` (processes on this machine, the default) or a cloud stack such as dev or prod.",
        show_default=True,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print exactly one JSON document on stdout and nothing on stderr but an error.",
        callback=_remember_json,
        is_eager=True,
    ),
]
SkipPolicyOption = Annotated[
    bool,
    typer.Option(
        "--skip-policy",
        help="Do not give the policy pack to the engine. Refused on protected stacks; says so loudly elsewhere.",
    ),
]
