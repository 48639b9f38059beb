"""The release's migration step: `python -m groundwork_api.migrate` applies the schema and exits (0 done, 1 not)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import psycopg

from . import logs
from .migrations import REQUIRED_VERSION, migrate
from .settings import connection_params

CONNECT_TIMEOUT_S = 10


def connection_options(env: Mapping[str, str]) -> dict:
    """How the task's own settings reach the database: its URL, TLS mode and (with IAM auth) a fresh token."""
    options: dict = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "application_name": "migrate"}
    if env.get("DATABASE_SSLMODE"):
        options["sslmode"] = env["DATABASE_SSLMODE"]
    if env.get("DATABASE_IAM_AUTH", "false").lower() in ("1", "true"):
        import botocore.session

        params = connection_params(env["DATABASE_URL"])
        client = botocore.session.Session().create_client("rds", region_name=env.get("AWS_REGION") or None)
        options["password"] = client.generate_db_auth_token(
            DBHostname=params["host"], Port=int(params["port"]), DBUsername=params["user"]
        )
    return options


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL", "")
    if not url:
        logs.emit("error", "migration refused", reason="DATABASE_URL is required", always=True)
        logs.flush()
        return 1
    try:
        with psycopg.connect(url, **connection_options(env)) as conn:
            applied = migrate(conn)
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        logs.emit("error", "migration failed", reason=first_line[:300], always=True)
        logs.flush()
        return 1
    logs.emit("info", "schema migrated", applied=applied, version=REQUIRED_VERSION, always=True)
    logs.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
