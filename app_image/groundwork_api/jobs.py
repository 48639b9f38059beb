"""Scheduled jobs of the image, run as `python -m groundwork_api.jobs <job> [options]`: one command each."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping

import psycopg

from . import events, idempotency, logs

DEFAULT_IDEMPOTENCY_TTL = 86400.0
"""Seconds a key lives when IDEMPOTENCY_TTL is not set (the service's own default)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groundwork_api.jobs", description=__doc__)
    jobs = parser.add_subparsers(dest="job", required=True)
    prune = jobs.add_parser(
        "prune-events",
        help="delete processed-event records, relayed outbox rows and expired idempotency keys (IDEMPOTENCY_TTL)",
    )
    prune.add_argument("--days", type=int, default=7, help="keep this many days (1 to 3650; default 7)")
    return parser


async def connection_options(env: Mapping[str, str]) -> dict:
    """How a job connects: as the service does, with TLS as configured and an IAM token where the service uses one."""
    options: dict = {"autocommit": True, "prepare_threshold": None, "application_name": "groundwork-jobs"}
    if env.get("DATABASE_SSLMODE"):
        options["sslmode"] = env["DATABASE_SSLMODE"]
    if env.get("DATABASE_IAM_AUTH", "false").lower() in ("1", "true"):
        from .db import _with_iam_token

        options = await _with_iam_token(env["DATABASE_URL"], env.get("AWS_REGION", ""), options)()
    return options


async def prune_events(
    database_url: str, days: int, env: Mapping[str, str] | None = None, key_ttl: float = DEFAULT_IDEMPOTENCY_TTL
) -> tuple[int, int, int]:
    """Deletes what the event path no longer needs after `days` and the idempotency keys older than `key_ttl`
    seconds; returns (ledger rows, outbox rows, keys)."""
    options = await connection_options(os.environ if env is None else env)
    async with await psycopg.AsyncConnection.connect(database_url, **options) as conn:
        ledger, outbox = await events.prune(conn, days)
        keys = 0
        exists = await (await conn.execute("SELECT to_regclass('idempotency_keys') IS NOT NULL")).fetchone()
        deleted = idempotency.PRUNE_BATCH if exists and exists[0] else 0  # none before the service's first migration
        while deleted >= idempotency.PRUNE_BATCH:
            deleted = await idempotency.prune(conn, key_ttl)
            keys += deleted
        return ledger, outbox, keys


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.days <= 3650:
        logs.emit("error", "prune-events refused", reason=f"--days={args.days} is not allowed; allowed: 1 to 3650")
        logs.flush()
        return 2
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url:
        logs.emit("error", "prune-events refused", reason="DATABASE_URL is required")
        logs.flush()
        return 2
    try:
        key_ttl = float(os.environ.get("IDEMPOTENCY_TTL") or DEFAULT_IDEMPOTENCY_TTL)
    except ValueError:
        key_ttl = -1.0
    if not 60 <= key_ttl <= 7 * 86400:
        logs.emit("error", "prune-events refused", reason="IDEMPOTENCY_TTL is not allowed; allowed: 60 to 604800")
        logs.flush()
        return 2
    ledger, outbox, keys = asyncio.run(prune_events(database_url, args.days, key_ttl=key_ttl))
    logs.emit(
        "info", "prune-events done", days=args.days, ledger_rows=ledger, outbox_rows=outbox, idempotency_keys=keys
    )
    logs.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
