"""Scheduled jobs of the image, run as `python -m groundwork_api.jobs <job> [options]`: one command each."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping

import psycopg

from . import events, logs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groundwork_api.jobs", description=__doc__)
    jobs = parser.add_subparsers(dest="job", required=True)
    prune = jobs.add_parser("prune-events", help="delete processed-event records and relayed outbox rows")
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


async def prune_events(database_url: str, days: int, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Deletes what the event path no longer needs after `days`; returns (ledger rows, outbox rows)."""
    options = await connection_options(os.environ if env is None else env)
    async with await psycopg.AsyncConnection.connect(database_url, **options) as conn:
        return await events.prune(conn, days)


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
    ledger, outbox = asyncio.run(prune_events(database_url, args.days))
    logs.emit("info", "prune-events done", days=args.days, ledger_rows=ledger, outbox_rows=outbox)
    logs.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
