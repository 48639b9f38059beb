"""Shared fixtures: a real PostgreSQL and PgBouncer for the session, and API processes started like the image."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import jwt
import pytest

from tests.harness import APP_DIR, AppProcess, PgBouncer, Postgres, app_environment, free_port, scratch_dir
from tests.harness import migrate as run_migration_step
from tests.redis_server import RedisServer

TOKEN_SECRET = "test-signing-secret-" + "x" * 32
TOKEN_ISSUER = "groundwork-tests"
TOKEN_AUDIENCE = "groundwork-api"


def mint_token(ttl: float = 300, secret: str = TOKEN_SECRET, **claims) -> str:
    payload = {"iss": TOKEN_ISSUER, "aud": TOKEN_AUDIENCE, "exp": int(time.time() + ttl), "sub": "tests"}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


@pytest.fixture(scope="session")
def scratch() -> Iterator:
    path = scratch_dir("groundwork-tests-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(scratch) -> Iterator[Postgres]:
    """One cluster for the session's well-behaved tests; tests that break a database start their own."""
    server = Postgres(scratch / "pg").init()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pgbouncer(postgres, scratch) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(postgres, scratch / "pgbouncer").start()
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def session_redis(scratch) -> Iterator[RedisServer]:
    """One Redis for the session's well-behaved tests; tests that stop a cache start their own."""
    server = RedisServer(scratch / "redis", password=secrets.token_urlsafe(16)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def start_app(scratch) -> Iterator[Callable[..., AppProcess]]:
    """Start API processes with the image's command; every one still running is stopped at the end."""
    started: list[AppProcess] = []

    def start(database_url: str, wait: bool = True, migrate: bool = True, **env: str) -> AppProcess:
        """`migrate`: run the release's migration first, as a release does before the service takes traffic."""
        if migrate:
            run_migration_step(database_url)
        port = free_port()
        app = AppProcess(app_environment(database_url, port, **env), scratch / "logs" / f"api-{port}.log")
        started.append(app)
        return app.start(wait=wait)

    yield start
    for app in started:
        app.stop()


@pytest.fixture(scope="session")
def start_worker(scratch) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start worker processes (`python -m groundwork_api.worker`, as the worker service runs it); stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(database_url: str, cache: RedisServer, **env: str) -> subprocess.Popen:
        environment = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": database_url,
            "CACHE_URL": cache.url,
            "CACHE_PASSWORD": cache.password,
            **env,
        }
        log = scratch / "logs" / f"worker-{secrets.token_hex(4)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "groundwork_api.worker"],
                cwd=APP_DIR,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


@pytest.fixture(scope="session", params=["direct", "pooled"])
def api(request, postgres, pgbouncer, start_app) -> AppProcess:
    """The API on the direct path and behind PgBouncer in transaction mode; contract tests run on both."""
    url = postgres.url() if request.param == "direct" else pgbouncer.url()
    app = start_app(url, WORKERS="2")
    app.path = request.param
    return app
