"""The CLI's verbs on the local stack: each does the work, renders to the console and returns the JSON document."""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import ConfigError
from cli.local.stack import STACK, DamagedState, ServiceState, stack_for

if TYPE_CHECKING:
    from rich.console import Console

    from cli.local.planner import LocalPlan
    from cli.smoke.endpoint import ServiceEndpoint

_ACTION_STYLE = {
    "same": "dim",
    "create": "green",
    "start": "green",
    "restart": "yellow",
    "update": "cyan",
    "delete": "red",
}
_STATE_STYLE = {"running": "green", "stopped": "yellow", "crashed": "red", "crash-loop": "bold red", "absent": "dim"}


def _table(console: Console, title: str, states: list[ServiceState], column: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for name in ("service", column, "health", "restarts", "pid", "ports", "log"):
        table.add_column(name)
    for state in states:
        value = state.action if column == "action" else state.state
        style = (_ACTION_STYLE if column == "action" else _STATE_STYLE)[value]
        table.add_row(
            state.name,
            f"[{style}]{value}[/]",
            state.health or "",
            str(state.restarts or ""),
            str(state.pid or ""),
            ", ".join(map(str, state.ports)),
            state.log,
        )
    console.print(table)


def _cloud_only(console: Console, counts: dict[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    console.print(f"[dim]cloud only (no local counterpart): {total} resource(s) of {len(counts)} type(s)[/]")
    return {"count": total, "types": counts}


def preview(project_dir: Path, console: Console) -> dict[str, Any]:
    stack = stack_for(project_dir)
    states = stack.preview()
    objects = stack.object_changes()
    _table(console, "infra up --stack local would", states, "action")
    changes = sum(state.action != "same" for state in states) + len(objects["apply"]) + len(objects["remove"])
    if objects["apply"] or objects["remove"]:
        console.print(f"database objects: {len(objects['apply'])} to apply, {len(objects['remove'])} to remove")
    console.print(f"{changes} change(s)")
    # The cloud preview's shape (operation, counts, changes by resource), and what is particular to local after it.
    steps = [
        {"urn": f"local:service::{s.name}", "name": s.name, "type": "local:service", "op": _OP[s.action]}
        for s in states
        if s.action != "same"
    ]
    steps += [
        {"urn": urn, "name": urn.rpartition("::")[2], "type": "postgresql", "op": "update"} for urn in objects["apply"]
    ]
    steps += [
        {"urn": urn, "name": urn.rpartition("::")[2], "type": "postgresql", "op": "delete"} for urn in objects["remove"]
    ]
    for step in steps:
        step["status"] = "pending"
    return {
        "ok": True,
        "operation": "preview",
        "stack": STACK,
        "counts": dict(collections.Counter(step["op"] for step in steps)),
        "changes": steps,
        "failed": [],
        "diagnostics": [],
        "duration_seconds": None,
        "services": [s.to_json() for s in states],
        "database_objects": objects,
        "cloud_only": _cloud_only(console, stack.cloud_only()),
    }


ENGINE_NOTE_FILE = "engine-note.txt"
"""Where the local stack keeps the PostgreSQL-version note it showed last, so `up` shows it once, or when it changes."""


def note_is_new(root: Path, note: str) -> bool:
    """Whether this note differs from the one shown last for this stack; records it as shown."""
    seen = root / ENGINE_NOTE_FILE
    if seen.is_file() and seen.read_text(encoding="utf-8") == note:
        return False
    with contextlib.suppress(OSError):
        seen.write_text(note, encoding="utf-8")
    return True


_OP = {"create": "create", "start": "update", "restart": "replace", "update": "update", "delete": "delete"}
"""What each local action is in the cloud preview's terms."""


def up(project_dir: Path, console: Console, *, spinner: bool, started: float | None = None) -> dict[str, Any]:
    """Brings the local stack to the plan; `started` is when the command began, so the duration covers all of it."""
    started = time.perf_counter() if started is None else started
    stack = stack_for(project_dir)
    from cli.local import releases as history

    recorded = {r.id for r in history.load(stack.root)}
    with console.status("starting the local stack") if spinner else contextlib.nullcontext():
        states, sql = stack.up()
    seconds = time.perf_counter() - started
    release = next((r for r in history.load(stack.root) if r.id not in recorded), None)  # the one this `up` made
    if release is not None:
        console.print(f"  [green]release {release.id} promoted[/] ({release.image})")
    verb = {
        "same": "unchanged",
        "create": "created",
        "start": "started",
        "restart": "restarted after a crash",
        "update": "updated to the changed plan",
        "delete": "stopped: the program no longer declares it",
    }
    for state in states:
        style = _ACTION_STYLE[state.action]
        console.print(f"  [{style}]{state.name}: {verb[state.action]}[/]")
    for key in ("applied", "removed", "forgotten"):
        for urn in sql[key]:
            console.print(f"  [cyan]database object {key}: {urn.rpartition('::')[2]}[/]")
    if sql["forgotten"]:
        console.print("  [dim](forgotten objects stay in the database: the program keeps them on delete)[/]")
    note = stack.engine_note()
    if note and note_is_new(stack.root, note):
        console.print(f"[yellow]note:[/] {note}")
    changes = sum(state.action != "same" for state in states) + len(sql["applied"]) + len(sql["removed"])
    console.print(f"[bold green]local stack up[/] in {seconds:.1f} s ({changes} change(s))")
    console.print(f"[dim]{plan_line(stack.plan)}[/]")
    cloud_only = _cloud_only(console, stack.cloud_only())
    values = {name: value for name, (value, secret) in stack.outputs().items() if not secret}
    console.print(f"service: {values['service_url']}  (trust {values['ca_certificate']} in your browser or curl)")
    return {
        "ok": True,
        "stack": STACK,
        "seconds": round(seconds, 3),
        "changes": changes,
        "services": [s.to_json() for s in states],
        "database_objects": sql,
        "cloud_only": cloud_only,
        "engine_note": note,
        "outputs": values,
        "release": release.to_json() if release else None,
        "plan": stack.plan.to_json(),
    }


def plan_line(plan: LocalPlan) -> str:
    """Where the plan came from: the cache (keyed by what it derives from), or the program run just now."""
    if plan.reused:
        return f"plan reused from the cache ({plan.key[:12]}, {plan.seconds:.2f} s)"
    return f"planned in {plan.seconds:.1f} s (cached as {plan.key[:12]})"


def release_history(project_dir: Path, console: Console) -> dict[str, Any]:
    from cli.core import releases
    from cli.local import releases as history

    found = history.load(stack_for(project_dir).root)
    releases.render(console, found)
    return {
        "ok": True,
        "stack": STACK,
        "store": str(history.history_file(stack_for(project_dir).root)),
        "releases": [r.to_json() for r in found],
    }


def rollback(project_dir: Path, session: Any, *, to: str | None, yes: bool) -> dict[str, Any]:
    """`infra rollback --stack local`: an earlier promoted release, released again blue/green from its kept sources
    and through the same checks; the schema stays as it is."""
    from cli.core import releases
    from cli.core.errors import ConfirmationRefused
    from cli.local import release_flow, supervisor
    from cli.local import releases as history

    stack = stack_for(project_dir)
    if not stack.exists():
        raise ConfigError("the local stack does not exist", hint="run `infra up --stack local` first")
    target = releases.rollback_target(history.load(stack.root), to, release_flow.live_image(stack))
    question = f"Roll the local API back to {target.id} ({target.image}, released {target.at})?"
    if not yes:
        if not session.interactive:
            raise ConfirmationRefused(
                f"not rolling back: confirmation needed and stdin is not a terminal ({question})",
                hint=f"run `infra rollback --stack {STACK} --to {target.id} --yes`",
            )
        if not session.ask_yes(question):
            raise ConfirmationRefused("cancelled; nothing was changed", hint="run the command again when ready")
    console = session.console
    console.print(f"[bold]rollback[/] to {target.id} ({target.image}): started beside the live version, checked, then")
    console.print("switched; the schema stays as it is (no down-migration)")
    with stack.locked():
        target, release = release_flow.rollback(stack, target.id)
        supervisor.start(stack.root, project_dir)  # it watches the version now live
    console.print(f"[bold green]release {release.id} promoted[/]: {release.image} (rollback to {target.id})")
    console.print("[dim]the project's sources are unchanged: the next `infra up --stack local` releases them again[/]")
    return {"ok": True, "stack": STACK, "release": release.to_json(), "rollback_of": target.id}


def status(project_dir: Path, console: Console) -> dict[str, Any]:
    stack = stack_for(project_dir)
    states = stack.status(health=True)
    if not states:
        console.print("the local stack does not exist; `infra up --stack local` creates it")
    else:
        _table(console, "local stack", states, "state")
    healthy = bool(states) and all(state.state == "running" for state in states)
    healthy = healthy and all(state.health in (None, "healthy") for state in states)
    looping = [state.name for state in states if state.state == "crash-loop"]
    if looping:
        console.print(
            f"[bold red]crash loop:[/] {', '.join(looping)} left down after repeated crashes; see `infra logs`, "
            "then `infra up --stack local` starts them again"
        )
    services = [s.to_json() for s in states]
    schedules = stack.schedules() if states else []
    if schedules:
        _schedule_table(console, schedules)
    alerts = _alerts(console, stack, states)
    from cli.local import supervisor

    return {
        "ok": True,
        "stack": STACK,
        "exists": bool(states),
        "healthy": healthy,
        "supervisor": "running" if states and supervisor.running(stack.root) else "stopped",
        "crash_loop": looping,
        "services": services,
        "schedules": schedules,
        "alerts": alerts,
    }


def _alerts(console: Console, stack: Any, states: list[ServiceState]) -> list[dict[str, Any]] | None:
    """The alarms' rules that fire (or wait out their periods) in the local Prometheus; None when it is not up."""
    from cli.local import prometheus

    if not any(state.name == "prometheus" and state.state == "running" for state in states):
        return None
    try:
        alerts = prometheus.alerts(stack.outputs()["prometheus_url"][0])
    except (OSError, ValueError) as error:
        console.print(f"[yellow]alerts unknown:[/] Prometheus did not answer ({error})")
        return None
    for alert in alerts:
        style = "bold red" if alert["state"] == "firing" else "yellow"
        console.print(f"[{style}]alarm {alert['state']}:[/] {alert['alarm']} since {alert['since']}")
    if not alerts:
        console.print("[dim]no alarm fires (the alarms' rules in Prometheus are all inactive)[/]")
    return alerts


def _schedule_table(console: Console, schedules: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="schedules (run by the scheduler)", title_justify="left", show_edge=False, pad_edge=False)
    for name in ("schedule", "expression", "time zone", "next run (UTC)", "last run", "exit", "command"):
        table.add_column(name)
    for job in schedules:
        table.add_row(
            job["name"],
            job["expression"],
            job["time_zone"],
            job["next_run"] or ("disabled" if not job["enabled"] else "never"),
            job["last_run"] or "",
            "" if job["last_exit"] is None else str(job["last_exit"]),
            " ".join(job["command"] or ["(the image's command)"]),
        )
    console.print(table)


def outputs(project_dir: Path) -> dict[str, Any]:
    """Outputs in the engine's shape (value and secret flag), so the cloud renderer masks them the same way."""
    from cli.core.outputs import StackOutput

    raw = stack_for(project_dir).outputs()
    if not raw:
        raise ConfigError("the local stack does not exist", hint="run `infra up --stack local` first")
    return {name: StackOutput(value=value, secret=secret) for name, (value, secret) in raw.items()}


def destroy(project_dir: Path, console: Console, *, approve: Callable[[], str]) -> dict[str, Any]:
    stack = stack_for(project_dir)
    if not stack.root.exists():
        console.print("the local stack does not exist; nothing to destroy")
        return {"ok": True, "stack": STACK, "destroyed": False, "services": []}
    try:
        _table(console, "destroying the local stack stops", stack.status(), "state")
    except DamagedState as damaged:
        console.print(f"[yellow]{damaged.message}[/]; the processes its pid files name will be stopped")
    console.print(f"[bold red]and deletes[/] {stack.root}: the database's data, the buckets, certificates and secrets")
    how = approve()
    states = stack.destroy()
    console.print(f"[bold]destroyed[/] the local stack ({len(states)} service(s) stopped, data removed)")
    services = [s.to_json() for s in states]
    return {"ok": True, "stack": STACK, "destroyed": True, "confirmed_by": how, "services": services}


def logs(project_dir: Path, service: str | None, lines: int) -> dict[str, list[str]]:
    return {name: _tail(path, lines) for name, path in _log_files(project_dir, service).items()}


def _log_files(project_dir: Path, service: str | None) -> dict[str, Path]:
    files = stack_for(project_dir).log_files()
    if not files:
        raise ConfigError("the local stack does not exist", hint="run `infra up --stack local` first")
    if service is not None and service not in files:
        raise ConfigError(f"no service {service!r} in the local stack", hint=f"choose one of: {', '.join(files)}")
    return {service: files[service]} if service else files


def follow_logs(project_dir: Path, service: str | None) -> Iterator[tuple[str, str]]:
    """(service, line) for each line the local stack's services write from now on; runs until interrupted."""
    return follow(_log_files(project_dir, service))


def follow(
    files: dict[str, Path], *, pause: Callable[[], None] = lambda: time.sleep(0.25)
) -> Iterator[tuple[str, str]]:
    """Lines appended to the files after the call, as (name, line); a file that is truncated is read from its start.

    A line is yielded once it is complete (ends in a newline); `pause` runs whenever no file has a new one.
    """
    # Taken now, not at the first next(): the lines are those written after the call.
    offsets = {name: path.stat().st_size if path.exists() else 0 for name, path in files.items()}
    return _lines_after(files, offsets, pause)


def _lines_after(
    files: dict[str, Path], offsets: dict[str, int], pause: Callable[[], None]
) -> Iterator[tuple[str, str]]:
    partial = dict.fromkeys(files, b"")
    while True:
        found = False
        for name, path in files.items():
            size = path.stat().st_size if path.exists() else 0
            if size < offsets[name]:
                offsets[name], partial[name] = 0, b""
            if size == offsets[name]:
                continue
            with path.open("rb") as handle:
                handle.seek(offsets[name])
                data = partial[name] + handle.read(size - offsets[name])
            offsets[name] = size
            *complete, partial[name] = data.split(b"\n")
            for line in complete:
                found = True
                yield name, line.decode(errors="replace")
        if not found:
            pause()


def _tail(path: Path, lines: int) -> list[str]:
    if not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 256 * 1024))
        return handle.read().decode(errors="replace").splitlines()[-lines:]


def identity(project_dir: Path):
    """The local user pool's token source; the stack must be up and its program must declare a pool."""
    from cli.core.errors import NotAvailable
    from cli.local.identity import LocalIdentity
    from stacks import outputs as names

    stack = stack_for(project_dir)
    if not stack.exists():
        raise ConfigError("the local stack is not up", hint="run `infra up --stack local` first")
    spec = stack.spec().get("identity")
    if spec is None:
        raise NotAvailable(
            "the local stack's program declares no user pool (it trusts oidcIssuer)", hint="get tokens from that issuer"
        )
    values = {name: item.value for name, item in outputs(project_dir).items()}
    return LocalIdentity(spec, values[names.S3_ENDPOINT], Path(values[names.CA_CERTIFICATE]), stack.token_password)


def token(project_dir: Path, *, user: str | None, client: bool, scopes: tuple[str, ...]) -> dict[str, Any]:
    """A user's access token (the user created in the local pool if need be) or the machine client's."""
    source = identity(project_dir)
    return source.machine_token(scopes) if client else source.user_token(user or "")


def smoke_target(
    project_dir: Path, token: str | None = None, ca_file: str | None = None, *, access: bool = True
) -> ServiceEndpoint:
    """The smoke check's target on the local stack: its HTTPS URL, its CA, its redirect port, tokens of its user pool
    (the machine client's with every scope for the writes; a user's and a read-only one for the access checks),
    and the outputs that describe its edge's per-client limit."""
    from urllib.parse import urlsplit

    from cli.core.tokens import READ_SCOPE, SMOKE_USER
    from cli.smoke.access import AccessTokens
    from cli.smoke.burst import edge_outputs
    from cli.smoke.endpoint import ServiceEndpoint
    from stacks import outputs as names

    values = {name: item.value for name, item in outputs(project_dir).items()}
    checks = None
    if token is None:
        source = identity(project_dir)
        token = source.machine_token()["access_token"]
        if access:
            user = source.user_token(SMOKE_USER)
            limited = source.machine_token((READ_SCOPE,))
            checks = AccessTokens(user["access_token"], user["sub"], limited["access_token"], limited["sub"])
    return ServiceEndpoint(
        base_url=values[names.SERVICE_URL],
        token=token,
        source=f"stack {STACK}",
        redirect_port=urlsplit(values[names.HTTP_URL]).port,
        ca_file=ca_file or values[names.CA_CERTIFICATE],
        edge_outputs=edge_outputs(values),
        access=checks,
    )


def smoke_after_up(project_dir: Path, console: Console, document: dict[str, Any]) -> None:
    """`infra up --stack local --smoke`: the default check after the start, added to `document`; a breach raises."""
    from cli.smoke.check import SmokeOptions
    from cli.smoke.flow import judge, run_and_report

    console.print("[bold]smoke check[/] of the local stack")
    report = run_and_report(smoke_target(project_dir), SmokeOptions(), console)
    document["smoke"] = report.to_json()
    judge(report, **{key: value for key, value in document.items() if key != "ok"})
