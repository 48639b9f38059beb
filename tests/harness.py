"""Throwaway PostgreSQL clusters, PgBouncer poolers and API processes on free loopback ports, for tests and benches."""

from __future__ import annotations

import json
import os
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

from cli.local import api as local_api
from cli.local.postgres import Cluster, Pooler
from cli.local.processes import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app_image"

__all__ = ["APP_DIR", "AppProcess", "PgBouncer", "Postgres", "app_environment", "free_port", "wait_for_port"]


class HarnessError(RuntimeError):
    """A server did not start; the message says why."""


def cli_failure(result: subprocess.CompletedProcess) -> str:
    """Why a CLI run failed, for an assertion message: its stderr and, from a --json document on stdout, the
    checks and gates that did not pass (the reason a smoke run failed is there, not on stderr)."""
    shown = [f"exited {result.returncode}:", result.stderr.strip()]
    try:
        document = json.loads(result.stdout)
    except (TypeError, ValueError):
        return "\n".join(shown)
    reports = [value for value in document.values() if isinstance(value, dict)] if isinstance(document, dict) else []
    for report in reports:
        for key in ("preflight", "checks", "gates"):
            for row in report.get(key) or ():
                if isinstance(row, dict) and (row.get("status") == "fail" or row.get("passed") is False):
                    shown.append(f"{key} {row.get('name')}: {row.get('summary') or row.get('detail') or row}")
    return "\n".join(shown)


LOCAL_PROGRAM = ("stacks", "infra", "app_image", "Pulumi.yaml", "Pulumi.local.yaml")
"""What the local stack is planned and run from: the program, its local settings and the app."""


def copy_local_program(tree: Path) -> Path:
    """A copy of LOCAL_PROGRAM in `tree` (created), for a test that edits it; `tree`."""
    tree.mkdir()
    return copy_from_repository(LOCAL_PROGRAM, tree)


def copy_from_repository(names: tuple[str, ...], tree: Path) -> Path:
    """Copies the repository's files and directories `names` (without bytecode) into the existing `tree`; `tree`."""
    for name in names:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tree / name)
    return tree


def scratch_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@dataclass
class Postgres(Cluster):
    """A throwaway cluster (no fsync) with generated passwords and a query helper for assertions."""

    port: int = field(default_factory=free_port)
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_user: str = "app"
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_database: str = "app"

    def init(self, archive: bool = False) -> Postgres:
        super().init(durable=False, archive=archive)
        return self

    def is_running(self) -> bool:
        return self.pid() is not None

    def query(self, sql: str, params=None, database: str | None = None) -> list[tuple]:
        with self.connect(database or self.app_database) as conn:
            return conn.execute(sql, params).fetchall()

    def destroy(self) -> None:
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


class PgBouncer(Pooler):
    """PgBouncer for a Postgres, on a free port in its own directory."""

    def __init__(self, postgres: Postgres, base: Path, query_wait_timeout: int = 3, pool_size: int = 20):
        super().__init__(
            base=base, port=free_port(), cluster=postgres, pool_size=pool_size, query_wait_timeout=query_wait_timeout
        )

    def start(self) -> PgBouncer:
        super().start()
        return self


def image_command() -> list[str]:
    """The Dockerfile's CMD: the one way the service is started, in the image, locally, in tests and in benches."""
    return local_api.image_command(APP_DIR)


def app_environment(database_url: str, port: int, **overrides: str) -> dict[str, str]:
    """The settings surface the task definition gives the image, as the local stack builds it."""
    secret = overrides.pop("JWT_SECRET", "test-signing-secret-" + "x" * 32)
    return local_api.environment(
        database_url=database_url,
        port=port,
        jwt_secret=secret,
        issuer="groundwork-tests",
        audience="groundwork-api",
        **overrides,
    )


def run_migration(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The release's migration step, `python -m groundwork_api.migrate`, run from app_image/ with a task's env."""
    return subprocess.run(
        [sys.executable, "-m", "groundwork_api.migrate"], cwd=APP_DIR, env=env, capture_output=True, timeout=120
    )


def migrate(database_url: str) -> None:
    """Bring a database's schema to this release, as `infra up` does before traffic moves."""
    done = run_migration(app_environment(database_url, free_port()))
    if done.returncode != 0:
        raise HarnessError(f"the migration failed ({done.returncode}): {done.stdout.decode()}{done.stderr.decode()}")


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
            # gunicorn listens before it forks the workers: ready is a worker answering /livez.
            if self._status("/livez", timeout=1) == b"HTTP/1.1 200":
                return
            time.sleep(0.02)
        raise HarnessError(f"the API did not answer /livez within {timeout} s:\n{self.log.read_text()[-3000:]}")

    def _status(self, path: str, timeout: float) -> bytes | None:
        """The status line's start of a GET of `path` (b"HTTP/1.1 200"), or None when it could not be sent."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as conn:
                conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                return conn.recv(64)[:12]
        except OSError:
            return None

    def wait_for_database(self, timeout: float = 20) -> None:
        """Until the public /heartbeat answers 200: the pool holds a connection and the schema check has run, so a
        test with a short DATABASE_TIMEOUT does not spend it on the first connection."""
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self._status("/heartbeat", timeout=5)
            if status == b"HTTP/1.1 200":
                return
            time.sleep(0.05)
        raise HarnessError(f"/heartbeat did not answer 200 within {timeout} s (last: {status!r})")

    def log_entry(self, request_id: str, timeout: float = 5) -> dict:
        """The access-log line of a request, once the service has flushed it (it buffers up to 0.1 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_bytes().splitlines():
                if line.startswith(b"{") and request_id.encode() in line:
                    entry = json.loads(line)
                    if entry.get("request_id") == request_id:
                        return entry
            time.sleep(0.02)
        raise HarnessError(f"no log line for request {request_id} within {timeout} s")

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
