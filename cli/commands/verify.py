"""`infra verify`: check the deployed stack against its settings through the AWS APIs."""

from __future__ import annotations

from cli.options import JsonOption, StackOption


def verify(stack: StackOption = "local", as_json: JsonOption = False) -> None:
    """Check the live stack (database, proxy, service, load balancer, certificate, DNS, monitoring, buckets)."""
    from cli.commands.context import open_target
    from cli.render import emit_json
    from cli.verify.render import render_report
    from cli.verify.runner import failure, verify_target

    session, target = open_target(stack, as_json=as_json)
    report = verify_target(target, session.engine().outputs(target.stack))
    render_report(session.console, report)
    document = {"ok": report.ok, **report.to_json()}
    if not report.ok:
        raise failure(report, document)
    if as_json:
        emit_json(document)
