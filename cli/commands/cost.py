"""`infra cost`: the monthly estimate of the stack's offline plan, per resource, with each price's provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.core.options import JsonOption, StackOption

UsageOption = Annotated[
    Path | None, typer.Option("--usage", help="A TOML usage file (data processed, requests, logs); see docs/cost.md.")
]
RefreshOption = Annotated[
    bool,
    typer.Option(
        "--refresh-prices", help="Fetch every price again from the AWS Price List API and rewrite the caches."
    ),
]


def cost(
    stack: StackOption = "local",
    usage: UsageOption = None,
    refresh_prices: RefreshOption = False,
    as_json: JsonOption = False,
) -> None:
    """Price the stack's plan: monthly cost per resource, the unpriced with their reasons, the usage-priced."""
    import datetime

    from cli.commands.context import open_session
    from cli.core.errors import CredentialsError
    from cli.core.render import emit_json
    from cli.cost.render import render_estimate
    from cli.cost.sources import offline_tables, priced_with_api
    from cli.cost.usage import DEFAULTS, load_usage
    from cli.plan.actions import plan_for_exit, require_cloud_stack

    require_cloud_stack(stack)
    session = open_session(as_json=as_json)
    quantities = load_usage(usage) if usage is not None else DEFAULTS
    today = datetime.datetime.now(datetime.UTC).date()
    plan = plan_for_exit(stack, session.project_dir)
    refreshed = None
    if refresh_prices or _credentials():
        from cli.cost.fetch import pricing_client

        if refresh_prices and not _credentials():
            raise CredentialsError(
                "--refresh-prices needs AWS credentials for the Price List API (pricing:GetProducts)",
                hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID; without them `infra cost` uses the kept prices",
            )
        result, refreshed = priced_with_api(
            plan,
            session.project_dir,
            pricing_client(),
            today,
            usage=quantities,
            refresh=refresh_prices,
            progress=lambda text: session.console.print(f"[dim]{text}[/]"),
        )
    else:
        from cli.cost.estimate import estimate

        result = estimate(plan, offline_tables(session.project_dir, today), quantities)
    render_estimate(session.output, result)
    if as_json:
        document = {"ok": True, **result.to_json()}
        if refreshed is not None:
            document["refresh"] = refreshed.to_json()
        emit_json(document)


def _credentials() -> bool:
    from cli.cost.fetch import have_credentials

    return have_credentials()
