"""Migrations as a release step on a real PostgreSQL: the command, the service's check, and the expand rule."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys

import psycopg
import pytest

from tests.harness import APP_DIR, Postgres, app_environment, free_port, run_migration

sys.path.insert(0, str(APP_DIR))
from groundwork_api import migrations
from groundwork_api.migrations import MIGRATIONS, REQUIRED_VERSION, Migration, SchemaBehind

VALUES = {
    "text": "'x'",
    "jsonb": "'{}'::jsonb",
    "bigint": "1",
    "integer": "1",
    "smallint": "1",
    "boolean": "false",
    "numeric": "1",
    "bytea": "'\\x00'::bytea",
    "timestamp with time zone": "now()",
    "uuid": "gen_random_uuid()",
}
"""A value for a column of each type a migration may add, for the previous release's insert."""


@pytest.fixture(scope="module")
def server(scratch):
    cluster = Postgres(scratch / "migrations-pg").init()
    yield cluster
    cluster.destroy()


@pytest.fixture
def fresh(server):
    """A new, empty database owned by the app's role; its URL."""
    name = f"m_{secrets.token_hex(4)}"
    with server.connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{server.app_user}"')
    return f"postgresql://{server.app_user}:{server.app_password}@127.0.0.1:{server.port}/{name}"


def _columns(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[str, bool, bool]]:
    """(table, column) -> (type, nullable, has a default) for the public schema's tables."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES', column_default IS NOT NULL "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'schema_migrations'"
    ).fetchall()
    return {(t, c): (kind, nullable, default) for t, c, kind, nullable, default in rows}


def expand_problems(url: str, before: tuple[Migration, ...], step: Migration) -> list[str]:
    """What in `step` would break the release that ran on the schema of `before`: a dropped or retyped column, a
    required column it does not write, a column made required; and its own writes, tried on the new schema."""
    problems = []
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in before:
            conn.execute(migration.statement)
        old = _columns(conn)
        old_tables = {table for table, _ in old}
        # The previous release's insert (its required columns only), judged only where the old schema accepts it: a
        # table whose own checks refuse these placeholder values says nothing about the step.
        accepted = {table for table in old_tables if _trial_insert(conn, old, table) is None}
        conn.execute(step.statement)
        new = _columns(conn)
        for (table, column), (kind, nullable, _) in old.items():
            if (table, column) not in new:
                problems.append(f"{table}.{column} is gone")
            elif new[(table, column)][0] != kind:
                problems.append(f"{table}.{column} changed type {kind} -> {new[(table, column)][0]}")
            elif nullable and not new[(table, column)][1]:
                problems.append(f"{table}.{column} became NOT NULL")
        for (table, column), (_, nullable, default) in new.items():
            if table in old_tables and (table, column) not in old and not nullable and not default:
                problems.append(f"{table}.{column} is new, NOT NULL and without a default")
        for table in sorted(accepted & {table for table, _ in new}):
            failure = _trial_insert(conn, old, table)
            if failure is not None:
                problems.append(f"the previous release's insert into {table} fails: {failure}")
    return problems


class _Undo(Exception):
    """Rolls the trial insert back."""


def _trial_insert(conn: psycopg.Connection, columns: dict, table: str) -> str | None:
    """Insert a row with the table's required columns (as `columns` describes them), rolled back; the error's first
    line if it is refused."""
    required = [c for (t, c), (_, nullable, default) in columns.items() if t == table and not nullable and not default]
    values = [VALUES[columns[(table, c)][0]] for c in required]
    try:
        with conn.transaction():
            conn.execute(f'INSERT INTO "{table}" ({", ".join(required)}) VALUES ({", ".join(values)})')  # noqa: S608 - names from the catalogue, values from VALUES
            raise _Undo
    except _Undo:
        return None
    except psycopg.Error as exc:
        return str(exc).splitlines()[0]


def test_every_shipped_migration_is_an_expand_step_the_previous_release_survives(server):
    assert [m.version for m in MIGRATIONS] == sorted({m.version for m in MIGRATIONS}), "versions ascend, once each"
    for index, step in enumerate(MIGRATIONS):
        assert step.phase in ("expand", "contract"), f"migration {step.version}: phase {step.phase!r}"
        if step.phase == "contract":
            continue  # removes only what no running release uses; see docs/migrations.md
        name = f"x_{secrets.token_hex(4)}"
        with server.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{server.app_user}"')
        url = f"postgresql://{server.app_user}:{server.app_password}@127.0.0.1:{server.port}/{name}"
        assert expand_problems(url, MIGRATIONS[:index], step) == [], f"migration {step.version}"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("ALTER TABLE user_practice DROP COLUMN updated_at", "user_practice.updated_at is gone"),
        ("ALTER TABLE user_practice ADD COLUMN owner text NOT NULL", "user_practice.owner is new, NOT NULL"),
        ("ALTER TABLE user_practice ALTER COLUMN version TYPE integer", "user_practice.version changed type"),
    ],
)
def test_the_rule_catches_a_step_that_breaks_the_previous_release(fresh, statement, expected):
    problems = expand_problems(fresh, MIGRATIONS[:1], Migration(99, "expand", statement))
    assert any(expected in problem for problem in problems), problems


def test_the_command_migrates_once_and_the_second_run_finds_the_work_done(fresh):
    env = app_environment(fresh, free_port())
    first = run_migration(env)
    assert first.returncode == 0, first.stdout
    line = json.loads(first.stdout.decode().splitlines()[-1])
    assert line["event"] == "schema migrated"
    assert line["applied"] == [m.version for m in MIGRATIONS]
    second = run_migration(env)
    assert second.returncode == 0
    assert json.loads(second.stdout.decode().splitlines()[-1])["applied"] == []


def test_the_command_fails_with_one_line_and_keeps_the_password_out(server):
    url = f"postgresql://{server.app_user}:wrong-secret-value@127.0.0.1:{server.port}/{server.app_database}"
    done = run_migration(app_environment(url, free_port()))
    assert done.returncode == 1
    output = (done.stdout + done.stderr).decode()
    assert "migration failed" in output
    assert "wrong-secret-value" not in output
    assert "Traceback" not in output


def test_the_check_refuses_an_older_schema_and_serves_a_newer_one(fresh):
    async def check(url: str) -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await migrations.check(conn)

    with pytest.raises(SchemaBehind, match=f"version 0, this release needs {REQUIRED_VERSION}"):
        asyncio.run(check(fresh))
    with psycopg.connect(fresh, autocommit=True) as conn:
        assert migrations.migrate(conn, up_to=REQUIRED_VERSION - 1) == list(range(1, REQUIRED_VERSION))
    with pytest.raises(SchemaBehind, match=f"version {REQUIRED_VERSION - 1}"):
        asyncio.run(check(fresh))
    with psycopg.connect(fresh, autocommit=True) as conn:
        migrations.migrate(conn)
        # A newer release migrated ahead (its expand step): this release still serves.
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (REQUIRED_VERSION + 1,))
    assert asyncio.run(check(fresh)) == REQUIRED_VERSION + 1


def test_a_check_waits_for_a_migration_in_progress(fresh):
    """The migration holds the lock exclusively; the check takes it shared, so it never sees half a migration."""

    async def blocked_check(url: str) -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("SET lock_timeout = '200ms'")
            try:
                await migrations.check(conn)
            except psycopg.errors.LockNotAvailable:
                return "waited"
            except SchemaBehind:
                return "saw the schema"
        return "passed"

    with psycopg.connect(fresh) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (migrations.MIGRATION_LOCK_ID,))
        assert asyncio.run(blocked_check(fresh)) == "waited"
        holder.rollback()
    assert asyncio.run(blocked_check(fresh)) == "saw the schema"
