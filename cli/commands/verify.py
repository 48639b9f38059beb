"""`infra verify`: check the deployed stack against its settings through the AWS APIs."""

from __future__ import annotations

from cli.core.options import JsonOption, StackOption


def verify(stack: StackOption = "local", as_json: JsonOption = False) -> None:
    """Check the live stack (database, proxy, service, load balancer, certificate, DNS, monitoring, buckets)."""
    from cli.commands.context import open_stack
    from cli.core.render import emit_json
    from cli.verify.render import render_report
    from cli.verify.runner import failure

    session, backend = open_stack(stack, as_json=as_json)
    report = backend.verify(session)
    render_report(session.console, report)
    document = {"ok": report.ok, **report.to_json()}
    if not report.ok:
        raise failure(report, document)
    if as_json:
        emit_json(document)
