"""Throwaway PostgreSQL clusters, PgBouncer poolers and API processes on free loopback ports, for tests and benches."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app_image"
SERVICE_USER = "postgres"


class HarnessError(RuntimeError):
    """A prerequisite is missing or a server did not start; the message says how to fix it."""


def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries installed from Debian's packages."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise HarnessError("PostgreSQL server binaries not found; run scripts/setup.sh (installs postgresql)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    tail = log.read_text()[-2000:] if log and log.exists() else ""
    raise HarnessError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s\n{tail}")


def _as_service_user(cmd: list[str]) -> list[str]:
    """PostgreSQL and PgBouncer refuse to run as root; drop to the packages' own user when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SERVICE_USER, "--", *cmd]


def _give_to_service_user(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVICE_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def _run(cmd: list[str]) -> None:
    result = subprocess.run(_as_service_user(cmd), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


@dataclass
class Postgres:
    """A PostgreSQL cluster in its own directory, listening on loopback only, with an application role."""

    base: Path
    port: int = field(default_factory=free_port)
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_user: str = "app"
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_database: str = "app"

    @property
    def data(self) -> Path:
        return self.base / "pgdata"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    def init(self) -> Postgres:
        self.base.mkdir(parents=True, exist_ok=True)
        _give_to_service_user(self.base)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.superuser_password)
        _give_to_service_user(pwfile)
        bin_dir = postgres_bin()
        _run(
            [
                str(bin_dir / "initdb"),
                "-D", str(self.data),
                "-U", "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )  # fmt: skip
        pwfile.unlink()
        with (self.data / "postgresql.conf").open("a") as conf:
            # Throwaway clusters trade durability for speed; nothing here must survive a crash.
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.base}'\n"
                "max_connections = 200\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 128MB\n"
            )
        self.start()
        with self.connect() as conn:
            conn.execute(f"CREATE ROLE {self.app_user} LOGIN PASSWORD '{self.app_password}'")
            conn.execute(f"CREATE DATABASE {self.app_database} OWNER {self.app_user}")
        return self

    def start(self) -> None:
        _run([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start"])

    def stop(self, mode: str = "fast") -> None:
        _run([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def is_running(self) -> bool:
        result = subprocess.run(
            _as_service_user([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "status"]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def url(self, *, superuser: bool = False, port: int | None = None) -> str:
        user, password = ("postgres", self.superuser_password) if superuser else (self.app_user, self.app_password)
        database = "postgres" if superuser else self.app_database
        return f"postgresql://{user}:{password}@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str | None = None) -> psycopg.Connection:
        """A superuser connection, straight to the server."""
        url = self.url(superuser=True)
        if database:
            url = url.rsplit("/", 1)[0] + "/" + database
        return psycopg.connect(url, autocommit=True, connect_timeout=5)

    def query(self, sql: str, params=None, database: str | None = None) -> list[tuple]:
        with self.connect(database or self.app_database) as conn:
            return conn.execute(sql, params).fetchall()

    def destroy(self) -> None:
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass
class PgBouncer:
    """PgBouncer in transaction mode in front of a Postgres, for the application's role."""

    postgres: Postgres
    base: Path
    port: int = field(default_factory=free_port)
    pool_size: int = 20
    query_wait_timeout: int = 3

    @property
    def pidfile(self) -> Path:
        return self.base / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.base / "pgbouncer.log"

    def start(self) -> PgBouncer:
        executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(executable).exists():
            raise HarnessError("pgbouncer not found; run scripts/setup.sh (installs pgbouncer)")
        self.base.mkdir(parents=True, exist_ok=True)
        _give_to_service_user(self.base)
        pg = self.postgres
        users = self.base / "userlist.txt"
        users.write_text(f'"{pg.app_user}" "{pg.app_password}"\n')
        users.chmod(0o600)
        _give_to_service_user(users)
        ini = self.base / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{pg.app_database} = host=127.0.0.1 port={pg.port} dbname={pg.app_database}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {users}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 2000\n"
            # Fail fast when the server is gone instead of queueing clients for the default 120 s.
            f"query_wait_timeout = {self.query_wait_timeout}\nserver_connect_timeout = 2\nserver_login_retry = 1\n"
            f"logfile = {self.log}\npidfile = {self.pidfile}\n"
            "log_connections = 0\nlog_disconnections = 0\n"
        )
        _give_to_service_user(ini)
        _run([executable, "-d", str(ini)])
        wait_for_port(self.port, 10, "pgbouncer", self.log)
        return self

    def url(self) -> str:
        return self.postgres.url(port=self.port)

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.02)


def image_command() -> list[str]:
    """The Dockerfile's CMD: the one way the service is started, in the image, in tests and in benches."""
    for line in reversed((APP_DIR / "Dockerfile").read_text().splitlines()):
        if line.startswith("CMD "):
            return json.loads(line[4:])
    raise HarnessError("app_image/Dockerfile has no exec-form CMD")


def app_environment(database_url: str, port: int, **overrides: str) -> dict[str, str]:
    """The settings surface the task definition gives the image, for a loopback run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "JWT_", "DATABASE_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        DATABASE_URL=database_url,
        JWT_SECRET=overrides.pop("JWT_SECRET", "test-signing-secret-" + "x" * 32),
        JWT_ISSUER="groundwork-tests",
        JWT_AUDIENCE="groundwork-api",
        HOST="127.0.0.1",
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@dataclass
class AppProcess:
    """The API started exactly as the image starts it, from app_image/ with the Dockerfile's CMD."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    @property
    def port(self) -> int:
        return int(self.env["PORT"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> AppProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                image_command(), cwd=APP_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"the API exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        raise HarnessError(f"the API did not listen within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM, as a container runtime sends it; return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise HarnessError(f"the API ignored SIGTERM for {timeout} s") from None


def scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
