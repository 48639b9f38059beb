"""Run every family of checks against a stack and turn the result into a report or an error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from cli.core.aws_errors import CREDENTIAL_CODES, credentials_error, error_code, error_message
from cli.core.errors import OperationFailed
from cli.verify import (
    alarms,
    background_worker,
    buckets,
    cache,
    certificate,
    dashboard,
    database,
    dns,
    firewall,
    loadbalancer,
    logs,
    proxy,
    secrets,
    service,
)
from cli.verify.aws import client_factory
from cli.verify.context import ClientFactory, Context, Resolver, system_resolver
from cli.verify.model import Check, Report, Status, Unverifiable
from stacks import outputs as out

if TYPE_CHECKING:
    from rich.console import Console

    from cli.core.outputs import StackOutput
    from cli.core.stack_ref import StackRef

Family = tuple[str, Callable[[Context], list[Check]]]
FAMILIES: tuple[Family, ...] = (
    (database.FAMILY, database.verify),
    (proxy.FAMILY, proxy.verify),
    (service.FAMILY, service.verify),
    (loadbalancer.FAMILY, loadbalancer.verify),
    (certificate.FAMILY, certificate.verify),
    (dns.FAMILY, dns.verify),
    (dashboard.FAMILY, dashboard.verify),
    (alarms.FAMILY, alarms.verify),
    (logs.FAMILY, logs.verify),
    (buckets.FAMILY, buckets.verify),
    (secrets.FAMILY, secrets.verify),
    (cache.FAMILY, cache.verify),
    (background_worker.FAMILY, background_worker.verify),
    (firewall.FAMILY, firewall.verify),
)
"""Every family, in the order the report lists them."""
_NO_CREDENTIALS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)


def run_family(ctx: Context, family: str, verify: Callable[[Context], list[Check]]) -> list[Check]:
    """One family's checks; what stops the family becomes a failed check, bad credentials stop the run."""
    try:
        return verify(ctx)
    except Unverifiable as exc:
        return [Check(family, exc.name, Status.FAIL, exc.observed, exc.expected, exc.resource)]
    except _NO_CREDENTIALS as exc:
        raise credentials_error(str(exc)) from exc
    except ClientError as exc:
        if error_code(exc) in CREDENTIAL_CODES:
            raise credentials_error(error_message(exc)) from exc
        return [Check(family, "readable", Status.FAIL, error_message(exc), "AWS answers the calls that read it")]
    except BotoCoreError as exc:
        return [Check(family, "readable", Status.FAIL, f"AWS could not be asked: {exc}", "AWS reachable")]


def check_credentials(ctx: Context) -> None:
    """Stop before any check when AWS does not accept the credentials (exit 2 with a hint)."""
    try:
        ctx.client("sts").get_caller_identity()
    except _NO_CREDENTIALS as exc:
        raise credentials_error(str(exc)) from exc
    except ClientError as exc:
        if error_code(exc) in CREDENTIAL_CODES or error_code(exc) == "AccessDenied":
            raise credentials_error(error_message(exc)) from exc
        raise
    except BotoCoreError as exc:
        raise OperationFailed(
            f"AWS could not be reached: {exc}",
            hint="check network access to AWS (proxy, VPN, HTTPS_PROXY), then run `infra verify` again",
        ) from exc


def verify_stack(ctx: Context, families: tuple[Family, ...] = FAMILIES) -> Report:
    """Every family's checks against one stack."""
    check_credentials(ctx)
    report = Report(stack=ctx.stack)
    for family, verify in families:
        report.checks.extend(run_family(ctx, family, verify))
    return report


def build_context(
    target: StackRef,
    stack_outputs: dict[str, StackOutput],
    *,
    clients: ClientFactory | None = None,
    resolver: Resolver | None = None,
    now: datetime | None = None,
) -> Context:
    """The context of a run: output values, settings, clients for the stack's region, resolver and clock."""
    values = {name: item.value for name, item in stack_outputs.items()}
    region = str(values.get(out.REGION) or target.settings.region)
    return Context(
        stack=target.stack,
        settings=target.settings,
        outputs=values,
        clients=clients or client_factory(region),
        resolver=resolver or system_resolver,
        now=now or datetime.now(UTC),
    )


def verify_target(target: StackRef, stack_outputs: dict[str, StackOutput], **inject: Any) -> Report:
    """Verify a deployed stack from its outputs; `inject` may replace clients, resolver and clock."""
    return verify_stack(build_context(target, stack_outputs, **inject))


def failure(report: Report, document: dict[str, Any]) -> OperationFailed:
    """The error (exit 1) of a run with failed checks; its JSON carries the whole document."""
    failed = report.failed
    named = ", ".join(f"{c.family} {c.name}" + (f" ({c.resource})" if c.resource else "") for c in failed[:4])
    more = f" and {len(failed) - 4} more" if len(failed) > 4 else ""
    return OperationFailed(
        f"{report.stack}: {len(failed)} verification check(s) failed: {named}{more}",
        hint=f"fix what each failed check observed, then run `infra verify --stack {report.stack}` again",
        details={key: value for key, value in document.items() if key != "ok"},
    )


def verify_applied(
    target: StackRef, stack_outputs: dict[str, StackOutput], console: Console, document: dict[str, Any]
) -> None:
    """`infra up --verify`: verify after the apply, show the report, add it to `document`; failed checks raise."""
    from cli.verify.render import render_report

    report = verify_target(target, stack_outputs)
    render_report(console, report)
    document["verify"] = report.to_json()
    if not report.ok:
        raise failure(report, document)
