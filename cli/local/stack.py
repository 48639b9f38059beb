"""The local stack as a whole: its directory, ports and secrets, and the verbs up, preview, status, outputs, destroy."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.errors import ConfigError
from cli.local import tls
from cli.local.api import environment
from cli.local.nginx import nginx_bin
from cli.local.postgres import Cluster, Pooler, pgbouncer_bin, postgres_bin
from cli.local.processes import (
    free_port,
    ours,
    read_pid,
    run,
    service_user_can_reach,
    stop_pid,
    write_private,
)
from cli.local.services import (
    ApiService,
    BucketService,
    DatabaseService,
    PoolerService,
    Service,
    TlsService,
    check_ports,
    moto_server_bin,
)

STACK = "local"
LOCAL_DIR_ENV = "INFRA_LOCAL_DIR"
REGION = "us-east-1"
ISSUER = "groundwork-local"
AUDIENCE = "groundwork-api"
HOST = "localhost"
BUCKETS = ("groundwork-local-app", "groundwork-local-logs")
PORT_NAMES = ("postgres", "pgbouncer", "api", "http", "https", "s3")
SERVICE_NAMES = ("postgres", "pgbouncer", "api", "tls", "s3")


@dataclass(frozen=True)
class ServiceState:
    """What `status` and `preview` say about one service."""

    name: str
    state: str
    """running, stopped, crashed (a pid file left by a process that is gone) or absent (never created)."""
    pid: int | None
    ports: list[int]
    log: str

    @property
    def action(self) -> str:
        """What `up` would do: nothing, create it, start it, or restart it after a crash."""
        return {"running": "same", "absent": "create", "stopped": "start", "crashed": "restart"}[self.state]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "action": self.action,
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


class DamagedState(ConfigError):
    """A file of the local stack's state is missing keys or is not JSON."""


DAMAGED_HINT = "run `infra destroy --stack local` (it copes with damaged state) and `infra up --stack local` again"


def ensure_private_dir(path: Path) -> None:
    """Create the stack's directory (others may only traverse it), or accept an existing one only when it is ours:
    a predictable path such as /var/tmp/groundwork-local-* could have been prepared by someone else."""
    if not path.exists() and not path.is_symlink():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o711)
        return
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"{path} is not a directory (or is a symbolic link)", hint=f"remove it, or set {LOCAL_DIR_ENV}"
        )
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise ConfigError(
            f"{path} belongs to another user or others may write to it; the local stack keeps secrets there",
            hint=f"remove it, or set {LOCAL_DIR_ENV} to a directory of your own",
        )


class LocalStack:
    """Everything lives under `<project>/.infra/local/`; ports and secrets are chosen once and kept there."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self.root = project_dir / ".infra" / "local"

    def exists(self) -> bool:
        return (self.root / "state.json").is_file()

    def _state(self) -> dict:
        state = _load_or_create(
            self.root / "state.json", lambda: {"ports": {n: free_port() for n in PORT_NAMES}}, ("ports",)
        )
        if not isinstance(state["ports"], dict) or any(
            not isinstance(state["ports"].get(name), int) for name in PORT_NAMES
        ):
            raise DamagedState(
                f"{self.root / 'state.json'} needs a port for each of {', '.join(PORT_NAMES)}", hint=DAMAGED_HINT
            )
        return state

    def _secrets(self) -> dict:
        return _load_or_create(
            self.root / "secrets.json",
            lambda: {
                "jwt_secret": secrets.token_urlsafe(48),
                "postgres_password": secrets.token_urlsafe(24),
                "app_password": secrets.token_urlsafe(24),
            },
            ("jwt_secret", "postgres_password", "app_password"),
        )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One `up` or `destroy` at a time: a second waits for the first instead of racing it."""
        ensure_private_dir(self.root)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def services(self) -> list[Service]:
        """The services in start order (the bucket endpoint is independent of the rest)."""
        ports = self._state()["ports"]
        keys = self._secrets()
        logs = self.root / "logs"
        cluster = Cluster(
            base=self.root / "postgres",
            port=ports["postgres"],
            superuser_password=keys["postgres_password"],
            app_user="app",
            app_password=keys["app_password"],
            app_database="app",
        )
        pooler = Pooler(base=self.root / "pgbouncer", port=ports["pgbouncer"], cluster=cluster)
        api_env = environment(
            database_url=pooler.url(),
            port=ports["api"],
            jwt_secret=keys["jwt_secret"],
            issuer=ISSUER,
            audience=AUDIENCE,
            APP_VERSION="0.0.0-local",
        )
        return [
            DatabaseService("postgres", [ports["postgres"]], cluster.log, cluster=cluster),
            PoolerService("pgbouncer", [ports["pgbouncer"]], pooler.log, pooler=pooler),
            ApiService(
                "api",
                [ports["api"]],
                logs / "api.log",
                pidfile=self.root / "run" / "api.pid",
                marker="groundwork_api",
                app_dir=self.project_dir / "app_image",
                env=api_env,
            ),
            TlsService(
                "tls",
                [ports["http"], ports["https"]],
                logs / "nginx-error.log",
                base=self.root / "nginx",
                files=tls.TlsFiles(self.root / "tls"),
                upstream_port=ports["api"],
            ),
            BucketService(
                "s3",
                [ports["s3"]],
                logs / "s3.log",
                pidfile=self.root / "run" / "s3.pid",
                marker=f"moto_server -H 127.0.0.1 -p {ports['s3']}",
                buckets=BUCKETS,
                region=REGION,
            ),
        ]

    def status(self) -> list[ServiceState]:
        if not self.exists():
            return []
        states = []
        for service in self.services():
            pid = service.pid()
            if pid is not None:
                state = "running"
            elif service.crashed():
                state = "crashed"
            elif not service.created():
                state = "absent"
            else:
                state = "stopped"
            states.append(ServiceState(service.name, state, pid, service.ports, str(service.log)))
        return states

    def preview(self) -> list[ServiceState]:
        """What `up` would do to each service; from nothing, every service is created."""
        if not self.exists():
            return [ServiceState(name, "absent", None, [], "") for name in SERVICE_NAMES]
        return self.status()

    def check_prerequisites(self) -> None:
        """Name the first missing program before anything starts."""
        postgres_bin()
        pgbouncer_bin()
        nginx_bin()
        moto_server_bin()

    def up(self) -> list[ServiceState]:
        """Start whatever is not running; return what each service needed (its state before)."""
        self.check_prerequisites()
        with self.locked():
            return self._up()

    def _up(self) -> list[ServiceState]:
        before = {state.name: state for state in self.preview()}
        services = self.services()
        # Every port is checked before anything starts, so a conflict leaves nothing half started.
        for service in services:
            if service.pid() is None:
                check_ports(service.name, service.ports)
        chain = [s for s in services if s.name != "s3"]
        bucket = next(s for s in services if s.name == "s3")
        bucket_error: list[BaseException] = []

        def start_bucket() -> None:
            try:
                if bucket.pid() is None:
                    bucket.start()
            except BaseException as exc:  # handed to the main thread, which raises it
                bucket_error.append(exc)

        # moto's server takes a second or two to import; it starts beside the database chain.
        side = threading.Thread(target=start_bucket, daemon=True)
        side.start()
        try:
            for service in chain:
                if service.pid() is None:
                    service.stop()  # clears a stale pid file left by a crash
                    service.start()
        finally:
            side.join()
        if bucket_error:
            raise bucket_error[0]
        return [before[name] for name in SERVICE_NAMES]

    def stop_all(self) -> None:
        for service in reversed(self.services()):
            service.stop()

    def destroy(self) -> list[ServiceState]:
        """Stop every service and delete the stack's directory: data, certificates, secrets and logs."""
        if not self.root.exists():
            return []
        with self.locked():
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
        for pidfile, marker in (
            (self.root / "pgbouncer" / "pgbouncer.pid", str(self.root / "pgbouncer" / "pgbouncer.ini")),
            (self.root / "run" / "api.pid", "groundwork_api"),
            (self.root / "nginx" / "nginx.pid", str(self.root / "nginx" / "nginx.conf")),
            (self.root / "run" / "s3.pid", "moto_server"),
        ):
            pid = ours(read_pid(pidfile), marker)
            if pid is not None:
                stop_pid(pid, timeout=15)

    def outputs(self) -> dict[str, tuple[Any, bool]]:
        """Output values by the cloud stacks' names (stacks/outputs.py), each with whether it is secret."""
        from stacks import outputs as names

        if not self.exists():
            return {}
        ports = self._state()["ports"]
        keys = self._secrets()
        files = tls.TlsFiles(self.root / "tls")
        pooled = f"postgresql://app:{keys['app_password']}@127.0.0.1:{ports['pgbouncer']}/app"
        return {
            names.SERVICE_URL: (f"https://{HOST}:{ports['https']}", False),
            names.HTTP_URL: (f"http://{HOST}:{ports['http']}", False),
            names.SERVICE_HOST: (HOST, False),
            names.LOAD_BALANCER_DNS: (HOST, False),
            names.CA_CERTIFICATE: (str(files.ca_cert), False),
            names.PROXY_ENDPOINT: (f"127.0.0.1:{ports['pgbouncer']}", False),
            names.DATABASE_ENDPOINT: (f"127.0.0.1:{ports['postgres']}", False),
            names.DATABASE_NAME: ("app", False),
            names.DATABASE_URL: (pooled, True),
            names.JWT_SECRET: (keys["jwt_secret"], True),
            names.JWT_ISSUER: (ISSUER, False),
            names.JWT_AUDIENCE: (AUDIENCE, False),
            names.APP_BUCKET: (BUCKETS[0], False),
            names.LOG_BUCKET: (BUCKETS[1], False),
            names.S3_ENDPOINT: (f"http://127.0.0.1:{ports['s3']}", False),
            names.METRICS_URL: (f"http://127.0.0.1:{ports['api']}/metrics", False),
            names.REGION: (REGION, False),
            names.DATA_RESOURCES: (
                [
                    {"kind": "database", "name": str(self.root / "postgres"), "protected": False},
                    *({"kind": "bucket", "name": bucket, "protected": False} for bucket in BUCKETS),
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
