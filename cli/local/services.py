"""The local stack's services, each able to say whether it runs, start, and stop: database, pooler, tasks, TLS, S3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.local import nginx, tls
from cli.local.api import image_command
from cli.local.binaries import PrerequisiteMissing
from cli.local.postgres import Cluster, Pooler
from cli.local.processes import (
    PortTaken,
    ServiceFailed,
    log_tail,
    ours,
    pid_alive,
    port_is_free,
    read_pid,
    run,
    running_as_root,
    stop_group,
    stop_pid,
    wait_for_port,
    wait_until,
    write_pid,
)

WORKER_USER = "www-data"
"""nginx's worker processes drop to this user when the stack runs as root."""


def _cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:
        return None


def moto_server_bin() -> Path:
    server = Path(sys.executable).parent / "moto_server"
    if not server.exists():
        raise PrerequisiteMissing("moto_server is not installed (the local S3 endpoint)", hint="run `make setup`")
    return server


def check_ports(name: str, ports: list[int]) -> None:
    for port in ports:
        if not port_is_free(port):
            raise PortTaken(
                f"{name} needs 127.0.0.1:{port}, which another program is using",
                hint=f"stop that program (`ss -ltnp 'sport = :{port}'` names it), "
                "or run `infra destroy --stack local` to pick new ports on the next `up`",
            )


@dataclass
class Service:
    """Common shape: a name, the ports it listens on, a pid file (or equivalent) and a log."""

    name: str
    ports: list[int]
    log: Path

    def pid(self) -> int | None:
        raise NotImplementedError

    def crashed(self) -> bool:
        """A pid file is left behind by a process that is gone."""
        raise NotImplementedError

    def created(self) -> bool:
        return True

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A digest of the configuration derived from the plan; a change means `up` must update the service."""
        return ""

    def stop_record(self) -> dict[str, str] | None:
        """Its pid file and the mark of its command line, for a service the program may stop declaring."""
        return None

    def update(self) -> None:
        """Apply a changed configuration to the running service (a restart unless the service can reload)."""
        self.stop()
        self.start()

    deferred: bool = field(default=False, kw_only=True)
    """Set by `up`: start() and update() leave their slow follow-up work to finish(), which `up` runs beside the
    services that do not wait for it."""

    def finish(self) -> None:
        """The follow-up work of a start or an update that no other service waits for (none for most)."""


def digest(*parts: object) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class DatabaseService(Service):
    cluster: Cluster = field(kw_only=True)

    def pid(self) -> int | None:
        return self.cluster.pid()

    def crashed(self) -> bool:
        return (self.cluster.data / "postmaster.pid").exists() and self.cluster.pid() is None

    def created(self) -> bool:
        return self.cluster.exists()

    def start(self) -> None:
        check_ports(self.name, self.ports)
        if self.cluster.exists():
            self.configure()
            self._clear_dead_lock()
            self.cluster.start()
        else:
            self.cluster.init(durable=True, first_backup=False)
        if not self.deferred:
            self.finish()

    def finish(self) -> None:
        """The first base backup of the WAL archive (a restore starts from one), unless there is one already."""
        from cli.local import wal_archive

        cluster = self.cluster
        if wal_archive.archive_dir(cluster.base).is_dir() and not wal_archive.base_backups(cluster.base):
            wal_archive.base_backup(cluster.base, cluster.port, cluster.superuser_password)

    def stop(self) -> None:
        if self.cluster.pid() is not None:
            self.cluster.stop("fast")

    def fingerprint(self) -> str:
        return digest(self.conf, self.hba)

    conf: str = field(default="", kw_only=True)
    """groundwork.conf: the parameter group's values and TLS."""
    hba: str = field(default="", kw_only=True)
    """pg_hba.conf: TLS required when the parameter group forces it."""
    tls: tuple[Path, Path] | None = field(default=None, kw_only=True)

    def configure(self, cluster: Cluster | None = None) -> None:
        """Write the derived configuration files into the data directory (before a start, or for a reload)."""
        from cli.core.files import write_private
        from cli.local.processes import give_to_service_user

        data = (cluster or self.cluster).data
        if self.tls is not None:
            for source, name in zip(self.tls, ("server.crt", "server.key"), strict=True):
                write_private(data / name, source.read_text())
                give_to_service_user(data / name)
        for name, text in (("groundwork.conf", self.conf), ("pg_hba.conf", self.hba)):
            write_private(data / name, text)
            give_to_service_user(data / name)

    def update(self) -> None:
        self.configure()
        self.cluster.reload()

    def _clear_dead_lock(self) -> None:
        """A killed postmaster stays a zombie until its new parent reaps it, and PostgreSQL's own check counts a
        zombie as running; its lock file goes once the process has exited (the shared-memory interlock still
        refuses a start while any of its backends lives)."""
        for lock in (self.cluster.data / "postmaster.pid", self.cluster.base / f".s.PGSQL.{self.cluster.port}.lock"):
            pid = read_pid(lock)
            if pid is not None and not pid_alive(pid):
                lock.unlink(missing_ok=True)


@dataclass
class PoolerService(Service):
    pooler: Pooler = field(kw_only=True)

    def pid(self) -> int | None:
        return self.pooler.pid()

    def crashed(self) -> bool:
        return self.pooler.pidfile.exists() and self.pooler.pid() is None

    def start(self) -> None:
        check_ports(self.name, self.ports)
        self.pooler.start()

    def stop(self) -> None:
        self.pooler.stop()

    def fingerprint(self) -> str:
        p = self.pooler
        return digest(p.pool_size, p.query_wait_timeout, p.user, p.password, p.database, p.client_idle_timeout, p.tls)


@dataclass
class ProcessService(Service):
    """A foreground program we start detached and track by a pid file we write."""

    pidfile: Path = field(kw_only=True)
    marker: str = field(kw_only=True)
    """Part of the command line that tells our process apart from a stranger that reused the pid."""
    cwd: Path | None = field(default=None, kw_only=True)
    """Where our process runs, when the command line alone cannot tell it apart."""

    def pid(self) -> int | None:
        pid = ours(read_pid(self.pidfile), self.marker)
        if pid is not None and self.cwd is not None and _cwd(pid) != self.cwd.resolve():
            return None
        return pid

    def crashed(self) -> bool:
        return self.pidfile.exists() and self.pid() is None

    def stop_record(self) -> dict[str, str] | None:
        return {"pidfile": str(self.pidfile), "marker": self.marker}

    def launch(
        self,
        cmd: list[str],
        *,
        cwd: Path | None = None,
        env: dict | None = None,
        ready_port: int | None = None,
        ready: Callable[[int], bool] | None = None,
    ) -> None:
        """Start the program detached; wait for its port, or for `ready(pid)` when it has none."""
        check_ports(self.name, self.ports)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        write_pid(self.pidfile, process.pid)
        if ready_port is not None:
            wait_for_port(ready_port, 30, self.name, self.log, pid=process.pid)
        elif ready is not None:
            wait_until(lambda: ready(process.pid), 30, self.name, self.log, pid=process.pid)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout=15)
        recorded = read_pid(self.pidfile)
        if recorded is not None:
            # The process led its own session: what it left behind (workers of a killed supervisor) goes too.
            stop_group(recorded, self.marker, timeout=15)
        self.pidfile.unlink(missing_ok=True)


@dataclass
class ApiService(ProcessService):
    app_dir: Path = field(kw_only=True)
    env: dict = field(kw_only=True, repr=False)

    command: list[str] | None = field(default=None, kw_only=True)
    """The task definition's command; the image's CMD when it declares none."""
    release: str = field(default="", kw_only=True)
    """The content tag of the sources this version is released from (a new tag is a new release)."""

    def start(self) -> None:
        self.launch(self.argv(), cwd=self.app_dir, env=self.env, ready_port=self.ports[0])

    def argv(self) -> list[str]:
        return self.command or image_command(self.app_dir)

    def fingerprint(self) -> str:
        return digest(self.argv(), self.env, self.release)

    def __post_init__(self) -> None:
        self.cwd = self.app_dir


@dataclass
class TaskService(ProcessService):
    """A task without a port (the worker): the task definition's command, ready once it has logged its start."""

    app_dir: Path = field(kw_only=True)
    env: dict = field(kw_only=True, repr=False)
    command: list[str] = field(kw_only=True)

    def __post_init__(self) -> None:
        self.cwd = self.app_dir

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.launch(self.argv(), cwd=self.app_dir, env=self.env, ready=lambda pid: self._started(pid, offset))

    def argv(self) -> list[str]:
        return self.command

    def _started(self, pid: int, offset: int) -> bool:
        """Its first log line is out; an error line (its settings refused) fails the start with the log's tail."""
        with self.log.open("rb") as handle:
            handle.seek(offset)
            written = handle.read(64 * 1024)
        if b"\n" not in written:
            return False
        if b'"level":"error"' in written:
            stop_pid(pid, timeout=5)
            raise ServiceFailed(f"{self.name} refused to start:\n{log_tail(self.log)}", hint=f"see {self.log}")
        return True

    def fingerprint(self) -> str:
        return digest(self.command, self.env)


@dataclass
class SchedulerService(ProcessService):
    """The local timer of the program's schedules (cli/local/scheduler.py)."""

    root: Path = field(kw_only=True)
    schedules: list[dict] = field(kw_only=True)
    tasks: dict = field(kw_only=True, repr=False)
    """Each task the schedules run: its environment (with the adapters), the app's directory, its command."""

    def configuration(self) -> dict:
        return {"schedules": self.schedules, "tasks": self.tasks}

    def start(self) -> None:
        from cli.local import scheduler

        config = scheduler.write_config(self.root, self.configuration())
        command = [sys.executable, "-m", scheduler.MARKER, "--root", str(self.root)]
        self.launch(command, ready=lambda pid: self._taken(pid, config))

    def update(self) -> None:
        """A new configuration is written and the running timer takes it within a poll, as nginx reloads."""
        from cli.local import scheduler

        pid = self.pid()
        if pid is None:
            self.start()
            return
        config = scheduler.write_config(self.root, self.configuration())
        wait_until(lambda: self._taken(pid, config), 10, self.name, self.log, pid=pid)

    def _taken(self, pid: int, config: str) -> bool:
        from cli.local import scheduler

        state = scheduler.read_state(self.root)
        return state.get("timer_pid") == pid and state.get("config") == config

    def fingerprint(self) -> str:
        return digest(self.configuration())


@dataclass
class BucketService(ProcessService):
    """moto's S3-compatible server with the stack's buckets, created with the cloud buckets' safe defaults."""

    buckets: list[dict] = field(kw_only=True)
    """The program's buckets with their configuration (versioning, encryption, public access, lifecycle, policy)."""
    region: str = field(kw_only=True)

    tls: tls.TlsFiles = field(kw_only=True)
    """S3 is reached over HTTPS (the program's bucket policies deny anything else): the local CA's certificate."""

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.ports[0]}"

    def start(self) -> None:
        moto_server_bin()
        files = self.tls
        command = [sys.executable, "-m", "cli.local.s3server", "-H", "127.0.0.1", "-p", str(self.ports[0]), "-s"]
        command += ["-c", str(files.server_cert), "-k", str(files.server_key)]
        self.launch(command, ready_port=self.ports[0])
        self.create_identity()  # first: the API reads the pool's keys when it starts
        self._fresh = True
        if not self.deferred:
            self.finish()

    def update(self) -> None:
        """Only the buckets whose declaration changed; the rest are left as they are. The pool is brought up to date."""
        self.create_identity()
        if not self.deferred:
            self.finish()

    _fresh: bool = field(default=False, init=False, repr=False)
    """Started by this process: moto's server keeps nothing, so every bucket is made."""

    def finish(self) -> None:
        """The buckets: all of them on a server just started, else those whose declaration changed."""
        if self._fresh or self.changed:
            self.create_buckets(None if self._fresh else self.changed)

    changed: set[str] | None = field(default=None, kw_only=True)
    identity: dict | None = field(default=None, kw_only=True)
    """The program's user pool with its resource servers and clients (cli/local/identity_mapping.py), if any."""

    def create_identity(self) -> None:
        """The user pool, its scopes and clients through the Cognito API, as the provider would."""
        if self.identity:
            from cli.local.identity import apply, cognito_client

            apply(cognito_client(self.endpoint, self.tls.ca_cert, self.identity["region"]), self.identity)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            verify=str(self.tls.ca_cert),
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any key; nothing real is reachable
        )

    def create_buckets(self, only: set[str] | None = None) -> list[str]:
        """Create the buckets (or only the named ones) and apply their declared configuration through boto3."""
        s3 = self.client()
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        done = []
        for bucket in self.buckets:
            name = bucket["name"]
            if only is not None and name not in only:
                continue
            if name not in existing:
                s3.create_bucket(Bucket=name)
            apply_bucket(s3, bucket)
            done.append(name)
        return done

    def fingerprints(self) -> dict[str, str]:
        return {bucket["name"]: digest(bucket) for bucket in self.buckets}

    def fingerprint(self) -> str:
        if self.identity:
            return digest(self.fingerprints(), self.identity)
        return digest(self.fingerprints())


def _aws_shape(value: Any) -> Any:
    """Pulumi's camelCase inputs as the S3 API's PascalCase shapes (sseAlgorithm -> SSEAlgorithm)."""
    special = {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID", "id": "ID"}
    if isinstance(value, dict):
        return {special.get(k, k[:1].upper() + k[1:]): _aws_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_aws_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def apply_bucket(s3, bucket: dict) -> None:
    """One bucket's configuration, put through the S3 API as the provider would; moto validates what AWS does."""
    name = bucket["name"]
    if "ownership" in bucket:
        controls = _aws_shape(bucket["ownership"]["rule"])
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [controls]})
    if "public_access_block" in bucket:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=_aws_shape(bucket["public_access_block"])
        )
    if "encryption" in bucket:
        rules = _aws_shape(bucket["encryption"]["rules"])
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "versioning" in bucket:
        status = bucket["versioning"]["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    if "lifecycle" in bucket:
        rules = _aws_shape(bucket["lifecycle"]["rules"])
        for rule in rules:
            if rule.get("Filter") == {}:
                rule["Filter"] = {"Prefix": ""}
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if "policy" in bucket:
        s3.put_bucket_policy(Bucket=name, Policy=bucket["policy"]["policy"])


@dataclass
class TlsService(Service):
    """nginx in front of the API, as the load balancer is in the cloud."""

    base: Path = field(kw_only=True)
    files: tls.TlsFiles = field(kw_only=True)
    upstream_port: int = field(kw_only=True)
    load_balancer: dict = field(kw_only=True)
    names: tuple[str, ...] = field(default=(), kw_only=True)
    """Host names of the program's certificate and DNS records."""
    rate_limit: dict | None = field(default=None, kw_only=True)
    """The web ACL's per-client rate rule, when the program declares one."""
    test_port: int = field(kw_only=True)
    """The release's test listener, proxying to `test_upstream_port`: the slot the next release starts on."""
    test_upstream_port: int = field(kw_only=True)
    redirect_host: str = field(default="localhost", kw_only=True)
    """Where port 80 redirects to (see adapters.redirect_host)."""

    def conf(self) -> str:
        return nginx.config(
            base=self.base,
            http_port=self.ports[0],
            https_port=self.ports[1],
            upstream_port=self.upstream_port,
            cert=self.files.server_cert,
            key=self.files.server_key,
            run_as=WORKER_USER if running_as_root() else None,
            load_balancer=self.load_balancer,
            redirect_host=self.redirect_host,
            rate_limit=self.rate_limit,
            test_port=self.test_port,
            test_upstream_port=self.test_upstream_port,
        )

    def fingerprint(self) -> str:
        return digest(self.conf(), sorted(self.names))

    def ensure_certificate(self) -> bool:
        """A certificate for the declared names; made again when the names change or it nears its expiry (see
        tls.renewal_due). Whether it was made."""
        same_names = sorted(self.names) == self.files.declared_names()
        if self.files.exist() and same_names and not tls.renewal_due(self.files):
            return False
        tls.generate(self.files, self.names)
        return True

    def update(self) -> None:
        self.ensure_certificate()
        conf = self.base / "nginx.conf"
        conf.write_text(self.conf())
        run([str(nginx.nginx_bin()), "-c", str(conf), "-p", str(self.base), "-e", str(self.log), "-s", "reload"])

    @property
    def pidfile(self) -> Path:
        return self.base / "nginx.pid"

    def pid(self) -> int | None:
        return ours(read_pid(self.pidfile), str(self.base / "nginx.conf"))

    def crashed(self) -> bool:
        return self.pidfile.exists() and self.pid() is None

    def created(self) -> bool:
        return self.files.exist()

    def start(self) -> None:
        executable = nginx.nginx_bin()
        check_ports(self.name, self.ports)
        self.ensure_certificate()
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.base / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        if running_as_root():
            for path in (self.base / "tmp").rglob("*"):
                shutil.chown(path, WORKER_USER)
        conf = self.base / "nginx.conf"
        conf.write_text(self.conf())
        self.pidfile.unlink(missing_ok=True)
        run([str(executable), "-c", str(conf), "-p", str(self.base), "-e", str(self.log)])
        wait_for_port(self.ports[1], 10, self.name, self.log)
        # nginx listens before it daemonises and writes its pid file after: started means both.
        wait_until(lambda: self.pid() is not None, 10, f"{self.name} (its pid file)", self.log)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout=10)
        recorded = read_pid(self.pidfile)
        if recorded is not None:
            # nginx's master leads its own process group (it daemonises): workers a killed master left behind
            # still hold both ports, and go with it.
            stop_group(recorded, nginx.GROUP_MARK, timeout=10)
        self.pidfile.unlink(missing_ok=True)
