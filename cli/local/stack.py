"""The local stack as a whole: its directory, ports and secrets, and the verbs up, preview, status, outputs, destroy."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.core.errors import ConfigError
from cli.core.files import ensure_private_dir, write_private
from cli.local import adapters, converge, nginx, object_sync, planner, realisers, scheduler, supervisor, tls
from cli.local.api import image_command
from cli.local.binaries import pgbouncer_bin, postgres_bin
from cli.local.cache import redis_bin
from cli.local.identity import identity_outputs
from cli.local.postgres import Cluster
from cli.local.processes import (
    free_ports,
    ours,
    read_pid,
    run,
    service_user_can_reach,
    stop_group,
    stop_pid,
)
from cli.local.prometheus import prometheus_bin
from cli.local.services import (
    Service,
    TlsService,
    check_ports,
    moto_server_bin,
)

STACK = "local"
LOCAL_DIR_ENV = "INFRA_LOCAL_DIR"
HOST = "localhost"
DEFAULT_MAX_CONNECTIONS = 100
"""PostgreSQL's own max_connections, used when the parameter group does not set it."""
PORT_NAMES = ("postgres", "pgbouncer", "api", "http", "https", "s3", "cache", "prometheus", "api_green", "release_test")
"""Ports chosen once per stack; a stack made before a name was added gets a port for it on its next use."""


@dataclass(frozen=True)
class ServiceState:
    """What `status` and `preview` say about one service."""

    name: str
    state: str
    """running, stopped, crashed (a pid file left by a process that is gone) or absent (never created)."""
    pid: int | None
    ports: list[int]
    log: str
    changed: bool = False
    """Running, but its configuration differs from what the plan now derives."""
    health: str | None = None
    restarts: int = 0
    """Times the supervisor restarted it after a crash."""
    removed: bool = False
    """Started by an earlier `up` for something the program no longer declares."""

    @property
    def action(self) -> str:
        """What `up` would do: nothing, create it, start it, restart it after a crash, update it, or stop it."""
        if self.removed:
            return "delete"
        if self.state == "running" and self.changed:
            return "update"
        actions = {"running": "same", "absent": "create", "stopped": "start", "crashed": "restart"}
        return actions.get(self.state, "restart")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "action": self.action,
            "health": self.health,
            "restarts": self.restarts,
            "pid": self.pid,
            "ports": self.ports,
            "log": self.log,
        }


def _load_or_create(path: Path, make, required: tuple[str, ...]) -> dict:
    """A JSON file of the stack, created once; a damaged one is named with what to do about it."""
    if not path.is_file():
        value = make()
        write_private(path, json.dumps(value, indent=2))
        return value
    try:
        value = json.loads(path.read_text())
        missing = [key for key in required if key not in value]
    except (ValueError, TypeError, OSError) as exc:
        raise DamagedState(f"{path} is not readable JSON ({exc})", hint=DAMAGED_HINT) from None
    if missing:
        raise DamagedState(f"{path} lacks {', '.join(missing)}", hint=DAMAGED_HINT)
    return value


def _new_state() -> dict:
    return {"ports": dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))}


class DamagedState(ConfigError):
    """A file of the local stack's state is missing keys or is not JSON."""


DAMAGED_HINT = "run `infra destroy --stack local` (it copes with damaged state) and `infra up --stack local` again"


class LocalStack:
    """Everything lives under `<project>/.infra/local/`; ports and secrets are chosen once and kept there."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self.root = project_dir / ".infra" / "local"
        self._state_lock = threading.RLock()
        """Services start in parallel; what they record in state.json is written one at a time."""

    def exists(self) -> bool:
        return (self.root / "state.json").is_file()

    def _state(self) -> dict:
        state = _load_or_create(self.root / "state.json", _new_state, ("ports",))
        ports = state["ports"]
        if not isinstance(ports, dict) or any(not isinstance(v, int) for v in ports.values()):
            raise DamagedState(
                f"{self.root / 'state.json'} needs a port for each of {', '.join(PORT_NAMES)}", hint=DAMAGED_HINT
            )
        names = (*PORT_NAMES, *(realisers.metrics_port_name(w["service"]) for w in self.spec()["workers"]))
        added = [name for name in names if name not in ports]
        if added:  # a service this stack did not have yet: a port for it, kept from now on
            taken = set(ports.values())
            fresh = [port for port in free_ports(len(added) + len(taken)) if port not in taken]
            ports.update(zip(added, fresh, strict=False))
            self._save_state(state)
        if any(not isinstance(ports.get(name), int) for name in PORT_NAMES):
            raise DamagedState(
                f"{self.root / 'state.json'} needs a port for each of {', '.join(PORT_NAMES)}", hint=DAMAGED_HINT
            )
        return state

    def _secrets(self) -> dict:
        """The stack's secret store: the bootstrap and master passwords, and a value for each generated one."""
        path = self.root / "secrets.json"
        keys = _load_or_create(
            path,
            lambda: {
                "postgres_password": secrets.token_urlsafe(24),
                "master_password": secrets.token_urlsafe(24),
                "randoms": {},
                "cache_passwords": {},
            },
            ("postgres_password", "master_password", "randoms"),
        )
        spec = self.spec()
        missing = {urn: n for urn, n in spec["randoms"].items() if urn not in keys["randoms"]}
        for urn, length in missing.items():
            keys["randoms"][urn] = secrets.token_urlsafe(length)[:length]
        # A password for each cache user that signs in with IAM (see adapters.iam_cache_auth).
        iam_users = [u["id"] for u in (spec["cache"] or {}).get("users", []) if u["auth"] == "iam"]
        stored = keys.setdefault("cache_passwords", {})
        fresh = [user for user in iam_users if user not in stored]
        for user in fresh:
            stored[user] = secrets.token_urlsafe(32)
        if missing or fresh:
            write_private(path, json.dumps(keys, indent=2))
        return keys

    def token_password(self, user: str) -> str:
        """The password the stack keeps for a user `infra token` created, made the first time it is asked for."""
        from cli.core.tokens import new_password

        with self.locked():
            path = self.root / "secrets.json"
            keys = self._secrets()
            passwords = keys.setdefault("token_users", {})
            if user not in passwords:
                passwords[user] = new_password()
                write_private(path, json.dumps(keys, indent=2))
            return passwords[user]

    def spec(self) -> dict:
        """What the program declares for the local stack (its offline plan, cached by what it derives from)."""
        if getattr(self, "_spec", None) is None:
            ensure_private_dir(self.root, LOCAL_DIR_ENV)
            self.plan = planner.local_spec(self.project_dir)
            self._spec = self.plan.spec
        return self._spec

    def adopt(self, spec: dict) -> None:
        """Use this spec without planning (`--watch`: the applied plan with an edited app's new image tag)."""
        self._spec, self.plan = spec, planner.LocalPlan(spec, reused=False, key="", seconds=0.0)

    def record(self, service: Service) -> None:
        with self._state_lock:  # a service replaced outside `up` (`--watch`) now runs with this configuration
            self._record(service)

    def _save_state(self, state: dict) -> None:
        write_private(self.root / "state.json", json.dumps(state, indent=2))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `up` or `destroy` at a time: a second waits for the first instead of racing it."""
        ensure_private_dir(self.root, LOCAL_DIR_ENV)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def services(self) -> list[Service]:
        """The services in start order, each realised from the plan by its concern's realiser."""
        state = self._state()
        return realisers.realise(
            realisers.Realisation(
                root=self.root,
                project_dir=self.project_dir,
                spec=self.spec(),
                ports=state["ports"],
                keys=self._secrets(),
                applied=state.get("applied", {}),
            )
        )

    def service_names(self) -> list[str]:
        """The services the plan asks for, in start order."""
        spec = self.spec()
        return [
            "postgres",
            "pgbouncer",
            *(["cache"] if spec["cache"] else []),
            "api",
            *(worker["service"] for worker in spec["workers"]),
            *(["scheduler"] if spec["schedules"] else []),
            "tls",
            "s3",
            "prometheus",
        ]

    def schedules(self) -> list[dict[str, Any]]:
        """Each schedule with its next run (the timer's, or computed from its expression when it is not running)."""
        return scheduler.describe(self.root, self.spec()["schedules"])

    def status(self, *, health: bool = False) -> list[ServiceState]:
        if not self.exists():
            return []
        applied = self._state().get("applied", {})
        restarts = supervisor.read_records(self.root)
        states = []
        for service in self.services():
            pid = service.pid()
            record = restarts.get(service.name, {})
            if pid is not None:
                state = "running"
            elif record.get("crash_loop"):
                state = "crash-loop"
            elif service.crashed() or record.get("failures"):
                state = "crashed"
            elif not service.created():
                state = "absent"
            else:
                state = "stopped"
            changed = applied.get(service.name) != service.fingerprint()
            checked = None
            if health and state == "running":
                # The supervisor's periodic result when it has one; the check run now otherwise.
                checked = record.get("health") or self._health(service)
            states.append(
                ServiceState(
                    service.name, state, pid, service.ports, str(service.log), changed, checked, record.get("count", 0)
                )
            )
        current = {state.name for state in states}
        for name, stop in applied.get("processes", {}).items():
            if name not in current:
                pid = ours(read_pid(Path(stop["pidfile"])), stop["marker"])
                states.append(ServiceState(name, "running" if pid else "stopped", pid, [], "", removed=True))
        return states

    def _health(self, service: Service) -> str | None:
        """The task definition's health check, run now against the local API (healthy or unhealthy)."""
        check = self.spec()["api"].get("health_check")
        if service.name != "api" or not check:
            return None
        command = adapters.health_check_command(check, self.spec()["api"]["port"], service.ports[0])
        env = getattr(service, "env", None)
        try:
            done = subprocess.run(command, env=env, capture_output=True, timeout=float(check.get("timeout", 5)))
        except subprocess.TimeoutExpired:
            return "unhealthy"
        return "healthy" if done.returncode == 0 else "unhealthy"

    def preview(self) -> list[ServiceState]:
        """What `up` would do to each service; from nothing, every service is created."""
        if not self.exists():
            return [ServiceState(name, "absent", None, [], "") for name in self.service_names()]
        return self.status()

    def object_changes(self) -> dict[str, list[str]]:
        """Database objects to apply (new or changed declarations) and to forget or remove, by URN."""
        applied = self._state().get("applied", {}).get("objects", {}) if self.exists() else {}
        declared = {o["urn"]: object_sync.fingerprint(o) for o in self.spec()["objects"]}
        return {
            "apply": [urn for urn, fp in declared.items() if applied.get(urn, {}).get("fp") != fp],
            "remove": [urn for urn in applied if urn not in declared],
        }

    def cloud_only(self) -> dict[str, int]:
        return self.spec()["cloud_only"]

    def engine_note(self) -> str | None:
        """The declared engine major against the installed one: newer installed is an error, older a note."""
        declared = self.spec()["database"]["engine_version"]
        installed = postgres_bin().parent.name
        if not declared or declared == installed:
            return None
        if int(installed) > int(declared):
            raise ConfigError(
                f"the program declares PostgreSQL {declared} but PostgreSQL {installed} is installed; a newer local "
                "server would accept what the declared version refuses",
                hint=f"install postgresql-{declared} (apt-get install postgresql-{declared}), "
                f"or declare dbEngineVersion {installed} in Pulumi.local.yaml",
            )
        return f"the program declares PostgreSQL {declared}; this machine runs PostgreSQL {installed}"

    def check_prerequisites(self) -> None:
        """Name the first missing program before anything starts."""
        postgres_bin()
        pgbouncer_bin()
        nginx.nginx_bin()
        moto_server_bin()
        prometheus_bin()
        if self.spec()["cache"]:
            redis_bin()

    def up(self) -> tuple[list[ServiceState], dict[str, Any]]:
        """Make every service what the plan says; return what each needed (its state before) and the SQL run."""
        self.check_prerequisites()
        with self.locked():
            self.spec()
            self.engine_note()
            states, sql = self._up()
            started = [state.name for state in states if state.action != "same"]
            supervisor.forget(self.root, started)
            if started or sql["applied"] or sql["removed"] or supervisor.running(self.root) is None:
                supervisor.start(self.root, self.project_dir)  # with the services as they are now
            return states, sql

    def _up(self) -> tuple[list[ServiceState], dict[str, Any]]:
        before = {state.name: state for state in self.preview()}
        services = self.services()
        # The certificate first: the database, the pooler, the cache, the S3 endpoint and nginx use it too. A new one
        # (renewed before it expires, or for new names) comes with a new CA, so whatever runs starts again with it.
        edge = next(s for s in services if isinstance(s, TlsService))
        renewing = edge.files.exist()
        if edge.ensure_certificate() and renewing:
            self.stop_all()
            before = {state.name: state for state in self.preview()}
        # Every port is checked before anything starts, so a conflict leaves nothing half started.
        for service in services:
            if service.pid() is None:
                check_ports(service.name, service.ports)
        sql: dict[str, Any] = {"applied": [], "forgotten": [], "removed": []}
        removed = [state for state in before.values() if state.removed]
        for state in removed:
            self._stop_removed(state.name)
        converge.converge_all(self, services, before, sql)
        return [*(before[name] for name in self.service_names()), *removed], sql

    def _stop_removed(self, name: str) -> None:
        """Stop a process the program no longer declares (a worker, the cache, the scheduler) and forget it."""
        state = self._state()
        applied = state.setdefault("applied", {})
        stop = applied.setdefault("processes", {}).pop(name)
        pidfile = Path(stop["pidfile"])
        pid = ours(read_pid(pidfile), stop["marker"])
        if pid is not None:
            stop_pid(pid, timeout=15)
            stop_group(pid, stop["marker"], timeout=15)
        pidfile.unlink(missing_ok=True)
        applied.pop(name, None)
        self._save_state(state)

    def _forget_objects(self) -> None:
        state = self._state()
        state.setdefault("applied", {}).pop("objects", None)
        self._save_state(state)

    def _record(self, service: Service, **extra: Any) -> None:
        """What the service now runs with, and how to stop it should the program stop declaring it."""
        state = self._state()
        applied = state.setdefault("applied", {})
        applied[service.name] = service.fingerprint()
        stop = service.stop_record()
        if stop is not None:
            applied.setdefault("processes", {})[service.name] = stop
        applied.update(extra)
        self._save_state(state)

    def _apply_objects(self, cluster: Cluster) -> dict[str, Any]:
        """The program's roles, databases, grants and default privileges as SQL, as the master user."""
        changes = self.object_changes()
        if not changes["apply"] and not changes["remove"]:
            return {"applied": [], "forgotten": [], "removed": []}  # nothing to connect for
        state = self._state()
        return object_sync.apply(
            cluster, self.spec(), self._secrets(), state, changes, save=lambda: self._save_state(state)
        )

    def stop_all(self) -> None:
        for service in reversed(self.services()):
            service.stop()

    def destroy(self) -> list[ServiceState]:
        """Stop every service and delete the stack's directory: data, certificates, secrets and logs."""
        if not self.root.exists():
            return []
        with self.locked():
            supervisor.stop(self.root)
            try:
                states = self.status()
                if self.exists():
                    self.stop_all()
                else:
                    self._stop_from_pid_files()
            except DamagedState:
                states = []
                self._stop_from_pid_files()
            shutil.rmtree(self.root, ignore_errors=True)
        return states

    def _stop_from_pid_files(self) -> None:
        """With the state unreadable, stop what the pid files name, each still checked to be ours."""
        cluster_data = self.root / "postgres" / "pgdata"
        if ours(read_pid(cluster_data / "postmaster.pid"), str(cluster_data)) is not None:
            run([str(postgres_bin() / "pg_ctl"), "-D", str(cluster_data), "-m", "fast", "-w", "stop"], as_service=True)
        for pidfile, marker, group_mark in (
            (self.root / "pgbouncer" / "pgbouncer.pid", str(self.root / "pgbouncer" / "pgbouncer.ini"), None),
            *((self.root / "run" / f"{slot}.pid", "groundwork_api", "groundwork_api") for slot in realisers.API_SLOTS),
            (self.root / "nginx" / "nginx.pid", str(self.root / "nginx" / "nginx.conf"), nginx.GROUP_MARK),
            (self.root / "run" / "s3.pid", "cli.local.s3server", "cli.local.s3server"),
            (self.root / "run" / "prometheus.pid", str(self.root / "prometheus" / "prometheus.yml"), None),
            (self.root / "cache" / "redis.pid", str(self.root / "cache" / "redis.conf"), "redis"),
            (self.root / "run" / "scheduler.pid", f"{scheduler.MARKER} --root {self.root}", scheduler.MARKER),
            *((pidfile, marker, marker) for pidfile, marker in self._worker_pid_files()),
            (supervisor.pidfile(self.root), supervisor.MARKER, supervisor.MARKER),
        ):
            pid = ours(read_pid(pidfile), marker)
            if pid is not None:
                stop_pid(pid, timeout=15)
            recorded = read_pid(pidfile)
            if recorded is not None and group_mark is not None:
                # Each led its own process group: children a killed leader left behind go too.
                stop_group(recorded, group_mark, timeout=15)

    def _worker_pid_files(self) -> list[tuple[Path, str]]:
        """The workers' pid files and command lines, from the plan (when even that is unreadable, none)."""
        try:
            workers = self.spec()["workers"]
        except ConfigError:
            return []
        app_dir = self.project_dir / "app_image"
        return [
            (
                self.root / "run" / f"{w['service']}.pid",
                " ".join([*(w["entry_point"] or []), *(w["command"] or [])] or image_command(app_dir)),
            )
            for w in workers
        ]

    def outputs(self) -> dict[str, tuple[Any, bool]]:
        """The program's outputs (stacks/outputs.py names) for what runs here, each with whether it is secret.

        Only outputs with a local counterpart are given: an ARN, a dashboard or a repository of the cloud is not
        made up; `cloud_only` in `up` names what has none.
        """
        from stacks import outputs as names

        if not self.exists():
            return {}
        spec = self.spec()
        exports = spec["exports"]
        ports, applied = self._state()["ports"], self._state().get("applied", {})
        keys = self._secrets()
        files = tls.TlsFiles(self.root / "tls")
        pool = spec["pooler"]
        credentials = json.loads(adapters.fill(spec["secrets"][pool["credentials_secret"]], keys["randoms"]))
        database = credentials.get("dbname") or exports.get(names.DATABASE_NAME)
        pooled = (
            f"postgresql://{credentials['username']}:{credentials['password']}@127.0.0.1:{ports['pgbouncer']}/"
            f"{database}?sslmode=verify-full&sslrootcert={files.ca_cert}"
        )
        buckets = [b["name"] for b in spec["buckets"]]
        rate = (spec["firewall"] or {}).get("rate")
        rate = rate if rate and rate["mode"] == "block" else None  # a rule that only counts refuses nothing
        cache_url = None
        if spec["cache"]:
            scheme = "rediss" if spec["cache"]["tls"] else "redis"
            cache_url = f"{scheme}://127.0.0.1:{ports['cache']}/0"
        return {
            names.SERVICE_URL: (f"https://{HOST}:{ports['https']}", False),
            names.HTTP_URL: (f"http://{HOST}:{ports['http']}", False),
            # The declared host name is on the certificate too; `localhost` resolves everywhere.
            names.SERVICE_HOST: (exports.get(names.SERVICE_HOST, HOST), False),
            names.LOAD_BALANCER_DNS: (HOST, False),
            names.CA_CERTIFICATE: (str(files.ca_cert), False),
            names.PROXY_ENDPOINT: (f"127.0.0.1:{ports['pgbouncer']}", False),
            names.DATABASE_ENDPOINT: (f"127.0.0.1:{ports['postgres']}", False),
            names.DATABASE_NAME: (database, False),
            names.DATABASE_URL: (pooled, True),
            **identity_outputs(spec.get("identity"), exports, f"https://127.0.0.1:{ports['s3']}"),
            names.APP_BUCKET: (exports.get(names.APP_BUCKET), False),
            names.LOG_BUCKET: (exports.get(names.LOG_BUCKET), False),
            names.S3_ENDPOINT: (f"https://127.0.0.1:{ports['s3']}", False),
            names.METRICS_URL: (f"http://127.0.0.1:{ports[realisers.live_slot(applied)]}/metrics", False),
            names.PROMETHEUS_URL: (f"http://127.0.0.1:{ports['prometheus']}", False),
            names.CACHE_URL: (cache_url, False),
            names.CACHE_REPLICATION_GROUP: (spec["cache"]["id"] if spec["cache"] else None, False),
            # What nginx enforces for the web ACL's rate rule: its rate per minute, and the requests a client with a
            # clean slate may send at once (burst + 1); read by `infra smoke --burst`.
            names.EDGE_RATE_LIMIT: (nginx.per_minute(rate["limit"], rate["window"]) if rate else None, False),
            names.EDGE_RATE_WINDOW_SECONDS: (60 if rate else None, False),
            names.EDGE_RATE_ALLOWANCE: (rate["limit"] if rate else None, False),
            names.REGION: (exports.get(names.REGION), False),
            names.DATABASE_OBJECTS: (exports.get(names.DATABASE_OBJECTS), False),
            names.DATA_RESOURCES: (
                [
                    {"kind": "database", "name": str(self.root / "postgres"), "protected": False},
                    *({"kind": "bucket", "name": bucket, "protected": False} for bucket in buckets),
                ],
                False,
            ),
        }

    def log_files(self) -> dict[str, Path]:
        return {service.name: service.log for service in self.services()} if self.exists() else {}


def stack_for(project_dir: Path) -> LocalStack:
    """The local stack of a project: under .infra/local/, or $INFRA_LOCAL_DIR.

    Run as root, PostgreSQL runs as the `postgres` user, which must be able to reach its data directory; when the
    project sits somewhere it cannot (a home directory of mode 700), the stack lives under /var/tmp instead.
    """
    stack = LocalStack(project_dir)
    override = os.environ.get(LOCAL_DIR_ENV)
    if override:
        stack.root = Path(override).resolve()
    elif not service_user_can_reach(project_dir):
        digest = hashlib.sha256(str(project_dir.resolve()).encode()).hexdigest()[:10]
        stack.root = Path("/var/tmp") / f"groundwork-local-{digest}"  # noqa: S108 - a fixed, per-project place
    return stack
