"""The local stack's releases of the API: blue/green behind nginx, gated by the connectivity check, and rollback."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cli.core import releases
from cli.core.errors import ConfigError
from cli.local import adapters, nginx
from cli.local import releases as history
from cli.local.processes import ServiceFailed, free_port, port_is_free
from cli.local.realisers import API_SLOTS, RELEASE_FOLLOWERS, release_version
from cli.local.services import ApiService, TlsService, digest
from cli.local.task_run import migrate

if TYPE_CHECKING:
    from cli.local.services import Service

LocalStack = Any
"""cli/local/stack.py's LocalStack, which drives this module (named here without importing it back)."""

DRAIN_TIMEOUT_S = nginx.WORKER_SHUTDOWN_S + 5.0
"""How long the switch waits for nginx's workers of the previous configuration to finish what they hold and exit
(nginx itself closes what they still hold after WORKER_SHUTDOWN_S)."""
SOURCES_IGNORED = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv")


def keep_sources(root: Path, app_dir: Path) -> tuple[str, Path]:
    """The release's own copy of the app's sources, under the stack directory and keyed by their content tag."""
    from stacks.content_tag import content_tag

    tag = content_tag(app_dir)
    kept = root / "releases" / tag / "app_image"
    if not kept.is_dir():
        partial = kept.with_name("app_image.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(app_dir, partial, ignore=SOURCES_IGNORED)
        partial.rename(kept)
    return tag, kept


def kept_sources(root: Path, tag: str) -> Path:
    kept = root / "releases" / tag / "app_image"
    if not kept.is_dir():
        raise ConfigError(
            f"the sources of release {tag} are not kept in {kept.parent}",
            hint="only releases made by this stack can be brought back; `infra releases --stack local` lists them",
        )
    return kept


def version_at(api: ApiService, *, root: Path, slot: str, port: int, tag: str, app_dir: Path) -> ApiService:
    """The API as it runs from the kept sources `app_dir` on the `slot` port."""
    return dataclasses.replace(
        api,
        ports=[port],
        pidfile=root / "run" / f"{slot}.pid",
        app_dir=app_dir,
        env=release_version(adapters.task_port(api.env, 0, port), tag),
        release=tag,
    )


def from_current_sources(stack: LocalStack, api: ApiService) -> ApiService:
    """The API on its own slot and port, run from a kept copy of the app's sources as they are now (`up --watch`
    after an edit: the same version `up` would release, without the release's check, which is the edit loop's)."""
    tag, kept = keep_sources(stack.root, stack.project_dir / "app_image")
    return version_at(api, root=stack.root, slot=_slot(api), port=api.ports[0], tag=tag, app_dir=kept)


def release_api(stack: LocalStack, api: Service, edge: Service, action: str) -> releases.Release | None:
    """`up` with a changed API: blue/green behind the running nginx; an API that is not running is started."""
    if not isinstance(api, ApiService) or not isinstance(edge, TlsService):
        raise TypeError(f"a release needs the realised API and edge, not {type(api).__name__}, {type(edge).__name__}")
    if action == "update" and api.pid() is not None and edge.pid() is not None:
        return release(stack, api, edge)
    return start_first(stack, api)


def start_first(stack: LocalStack, api: ApiService) -> releases.Release | None:
    """No API runs (a new stack, or one stopped or crashed): migrate, then start it from its kept sources; a release
    is recorded when it is not the one last promoted (a restart after a crash is not a release)."""
    tag, kept = keep_sources(stack.root, stack.project_dir / "app_image")
    fresh = version_at(api, root=stack.root, slot=_slot(api), port=api.ports[0], tag=tag, app_dir=kept)
    fresh.stop()  # a stale pid file left by a crash
    try:
        migrate(fresh)
    except ServiceFailed as exc:
        failed = _record(stack, fresh, releases.FAILED_BEFORE_TRAFFIC, ["migration"])
        raise ServiceFailed(f"release {failed.id} failed before traffic: {exc.message}", hint=exc.hint) from None
    fresh.start()
    save_live(stack, fresh)
    last = _last_promoted(stack.root)
    if last is not None and last.task_definition == task_definition(fresh):
        return None
    return _record(stack, fresh, releases.PROMOTED)


def release(
    stack: LocalStack, blue: ApiService, edge: TlsService, *, tag: str | None = None, rollback_of: str | None = None
) -> releases.Release:
    """Blue/green: green is migrated (expand only, so blue keeps working) and started on the other port slot, where
    nginx's test port already points; the connectivity check runs through that port. On a pass nginx switches its
    upstream to green with a graceful reload, its previous workers finish what they hold, then blue stops. On a
    failure green stops and blue keeps serving, untouched."""
    replaced = live_image(stack)
    if tag is None:
        tag, kept = keep_sources(stack.root, stack.project_dir / "app_image")
    else:
        kept = kept_sources(stack.root, tag)
    green_slot = next(s for s in API_SLOTS if s != _slot(blue))
    green_port = stack._state()["ports"][green_slot]
    if edge.test_upstream_port != green_port:
        raise ConfigError(f"nginx's test port does not point at {green_slot}", hint="run `infra up --stack local`")
    green = version_at(blue, root=stack.root, slot=green_slot, port=green_port, tag=tag, app_dir=kept)
    green.stop()  # what an interrupted release left
    if not port_is_free(green_port):
        green_port = _move_idle_slot(stack, edge, green_slot)
        green = version_at(blue, root=stack.root, slot=green_slot, port=green_port, tag=tag, app_dir=kept)
    for step, action in (("migration", lambda: migrate(green)), ("start", green.start)):
        try:
            action()
        except ServiceFailed as exc:
            green.stop()
            failed = _record(stack, green, releases.FAILED_BEFORE_TRAFFIC, [step], rollback_of=rollback_of)
            raise ServiceFailed(
                f"release {failed.id} was not promoted: its {step} failed; the running version keeps serving\n"
                f"{exc.message}",
                hint=exc.hint,
                details={"release": failed.to_json()},
            ) from None
    try:
        verdict = _gate(stack, edge)
    except BaseException:
        green.stop()
        raise
    if not verdict.ok:
        green.stop()
        failed = _record(stack, green, releases.FAILED_BEFORE_TRAFFIC, verdict.failed, rollback_of=rollback_of)
        details = "; ".join(f"{c.name}: {c.detail}" for c in verdict.checks if not c.ok)
        raise ServiceFailed(
            f"release {failed.id} was not promoted: failed checks {', '.join(verdict.failed)} ({details}); "
            f"the running version keeps serving",
            hint="fix the new version and run `infra up --stack local` again; `infra logs --stack local` shows its log",
            details={"release": failed.to_json(), "gate": verdict.to_json()},
        )
    _switch(edge, live=green_port, test=blue.ports[0], stop_on_failure=green)
    save_live(stack, green, edge=edge)
    blue.stop()  # SIGTERM: nothing routes to it any more; it finishes what it holds and exits
    if rollback_of is not None:
        _mark_rolled_back(stack.root, replaced)
    return _record(stack, green, releases.PROMOTED, rollback_of=rollback_of)


def rollback(stack: LocalStack, to: str | None) -> tuple[releases.Release, releases.Release]:
    """Bring back an earlier promoted release through the same blue/green path and checks, from its kept sources
    (the schema stays as it is: no down-migration); then the services that name the live API follow it."""
    target = releases.rollback_target(history.load(stack.root), to, live_image(stack))
    kept_sources(stack.root, target.image)
    services = {s.name: s for s in stack.services()}
    blue, edge = services["api"], services["tls"]
    if blue.pid() is None or edge.pid() is None:
        raise ConfigError("the local API is not running", hint="run `infra up --stack local` first")
    done = release(stack, blue, edge, tag=target.image, rollback_of=target.id)
    follow(stack)
    return target, done


def follow(stack: LocalStack) -> list[Service]:
    """Bring the running services that name the live API's port or sources (Prometheus's scrape target, the
    scheduler's tasks) to the live API; the ones updated."""
    applied = stack._state().get("applied", {})
    updated = []
    for service in stack.services():
        running = service.name in RELEASE_FOLLOWERS and service.pid() is not None
        if running and applied.get(service.name) != service.fingerprint():
            service.update()
            stack._record(service)
            updated.append(service)
    return updated


def task_definition(api: ApiService) -> str:
    """The local stand-in for a task definition revision: the digest of the command, the environment and the
    sources' tag, without the port slot it happens to run on."""
    environment = {name: value for name, value in api.env.items() if name != "PORT"}
    return digest(api.argv(), environment, api.release)


def _slot(api: ApiService) -> str:
    return api.pidfile.stem


def _move_idle_slot(stack: LocalStack, edge: TlsService, slot: str) -> int:
    """Another program took the idle slot's port while nothing of the stack listened there: the slot gets a new port,
    kept in the stack's state, and nginx's test port is pointed at it."""
    port = free_port()
    with stack._state_lock:
        state = stack._state()
        state["ports"][slot] = port
        stack._save_state(state)
    edge.test_upstream_port = port
    edge.update()
    return port


def _switch(edge: TlsService, *, live: int, test: int, stop_on_failure: ApiService) -> None:
    """Point nginx's upstream at `live` and its test port at `test` with a graceful reload, and return once the
    workers of the previous configuration have exited: until then they may still send requests to the old version.
    Should nginx not take the configuration, the new version stops and the old one keeps serving."""
    master = edge.pid()
    if master is None:
        raise ServiceFailed("nginx is not running", hint="run `infra up --stack local`")
    previous = set(_workers(master))
    before = (edge.upstream_port, edge.test_upstream_port)
    edge.upstream_port, edge.test_upstream_port = live, test
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        edge.update()
        while not set(_workers(master)) - previous:
            if time.monotonic() > deadline:
                raise ServiceFailed(
                    "nginx did not take the new configuration; the running version keeps serving",
                    hint=f"see {edge.log}",
                )
            time.sleep(0.05)
    except BaseException:
        edge.upstream_port, edge.test_upstream_port = before
        with contextlib.suppress(Exception):
            edge.update()  # the configuration file as it was, so nothing is left half switched
        stop_on_failure.stop()
        raise
    # nginx closes what its previous workers still hold after WORKER_SHUTDOWN_S, so this wait is bounded.
    while set(_workers(master)) & previous and time.monotonic() < deadline:
        time.sleep(0.05)


def _workers(master: int) -> list[int]:
    """The live (not zombie) children of nginx's master: its workers, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def _gate(stack: LocalStack, edge: TlsService) -> Any:
    """The connectivity check against the test port, signed in with the local pool's machine client."""
    from cli.local.identity import LocalIdentity
    from cli.smoke.connectivity import run_gate
    from stacks import outputs as names

    values = {name: value for name, (value, _) in stack.outputs().items()}
    identity = stack.spec().get("identity")
    token = None
    if identity is not None:
        source = LocalIdentity(identity, values[names.S3_ENDPOINT], Path(values[names.CA_CERTIFICATE]), _no_users)
        token = source.machine_token()["access_token"]
    host = urlsplit(values[names.SERVICE_URL]).hostname
    return run_gate(f"https://{host}:{edge.test_port}", token, verify=str(edge.files.ca_cert))


def _no_users(name: str) -> str:
    raise AssertionError(f"the release gate signs in as the machine client, never as a user ({name})")


def save_live(stack: LocalStack, api: ApiService, edge: TlsService | None = None) -> None:
    """The live version in the stack's state: its slot and sources, its fingerprint, how to stop it."""
    state = stack._state()
    applied = state.setdefault("applied", {})
    applied["api_release"] = {"slot": _slot(api), "tag": api.release}
    applied["api"] = api.fingerprint()
    applied.setdefault("processes", {})["api"] = api.stop_record()
    if edge is not None:
        applied["tls"] = edge.fingerprint()
    stack._save_state(state)


def _record(
    stack: LocalStack, api: ApiService, outcome: str, failed: list[str] | None = None, **extra: Any
) -> releases.Release:
    return history.record(
        stack.root, stack.project_dir, task_definition(api), outcome, image=api.release, failed_checks=failed, **extra
    )


def _last_promoted(root: Path) -> releases.Release | None:
    return next((r for r in reversed(history.load(root)) if r.outcome == releases.PROMOTED), None)


def _mark_rolled_back(root: Path, replaced: str | None) -> None:
    """The release a rollback replaces is recorded as rolled back (none is when what served was no release: an edit
    applied by `up --watch`)."""
    last = _last_promoted(root)
    if last is not None and last.image == replaced:
        history.replace(root, dataclasses.replace(last, outcome=releases.ROLLED_BACK))


def live_image(stack: LocalStack) -> str | None:
    """The content tag of the sources the live API runs from (an edit applied by `up --watch` is not a release)."""
    return (stack._state().get("applied", {}).get("api_release") or {}).get("tag")
