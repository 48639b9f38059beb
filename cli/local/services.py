"""The local stack's services, each able to say whether it runs, start, and stop: database, pooler, API, TLS, S3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cli.local import nginx, tls
from cli.local.api import image_command
from cli.local.postgres import Cluster, Pooler, PrerequisiteMissing
from cli.local.processes import (
    PortTaken,
    ours,
    port_is_free,
    read_pid,
    run,
    running_as_root,
    stop_group,
    stop_pid,
    wait_for_port,
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
            self.cluster.start()
        else:
            self.cluster.init(durable=True)

    def stop(self) -> None:
        if self.cluster.pid() is not None:
            self.cluster.stop("fast")


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

    def launch(self, cmd: list[str], *, cwd: Path | None = None, env: dict | None = None, ready_port: int) -> None:
        check_ports(self.name, self.ports)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        self.pidfile.write_text(f"{process.pid}\n")
        wait_for_port(ready_port, 30, self.name, self.log, pid=process.pid)

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

    def start(self) -> None:
        self.launch(image_command(self.app_dir), cwd=self.app_dir, env=self.env, ready_port=self.ports[0])

    def __post_init__(self) -> None:
        self.cwd = self.app_dir


@dataclass
class BucketService(ProcessService):
    """moto's S3-compatible server with the stack's buckets, created with the cloud buckets' safe defaults."""

    buckets: tuple[str, ...] = field(kw_only=True)
    region: str = field(kw_only=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def start(self) -> None:
        server = moto_server_bin()
        self.launch([str(server), "-H", "127.0.0.1", "-p", str(self.ports[0])], ready_port=self.ports[0])
        self.create_buckets()

    def create_buckets(self) -> None:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any key; nothing real is reachable
        )
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        for bucket in self.buckets:
            if bucket in existing:
                continue
            s3.create_bucket(Bucket=bucket)
            s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )
            s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@dataclass
class TlsService(Service):
    """nginx in front of the API, as the load balancer is in the cloud."""

    base: Path = field(kw_only=True)
    files: tls.TlsFiles = field(kw_only=True)
    upstream_port: int = field(kw_only=True)

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
        if not self.files.exist():
            tls.generate(self.files)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.base / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        if running_as_root():
            for path in (self.base / "tmp").rglob("*"):
                shutil.chown(path, WORKER_USER)
        conf = self.base / "nginx.conf"
        conf.write_text(
            nginx.config(
                base=self.base,
                http_port=self.ports[0],
                https_port=self.ports[1],
                upstream_port=self.upstream_port,
                cert=self.files.server_cert,
                key=self.files.server_key,
                run_as=WORKER_USER if running_as_root() else None,
            )
        )
        self.pidfile.unlink(missing_ok=True)
        run([str(executable), "-c", str(conf), "-p", str(self.base), "-e", str(self.log)])
        wait_for_port(self.ports[1], 10, self.name, self.log)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout=10)
        self.pidfile.unlink(missing_ok=True)
