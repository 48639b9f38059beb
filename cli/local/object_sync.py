"""The program's database objects applied to the local cluster: what changed since the last `up`, as SQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from cli.local import adapters, objects
from cli.local.postgres import Cluster
from cli.local.processes import ServiceFailed


def fingerprint(item: dict[str, Any]) -> str:
    """What decides whether a declared object must be applied again (its ignored inputs left out)."""
    inputs = {k: v for k, v in item["inputs"].items() if k not in item["ignore_changes"]}
    return hashlib.sha256(json.dumps([item["kind"], inputs], sort_keys=True).encode()).hexdigest()[:16]


def apply(
    cluster: Cluster,
    spec: dict[str, Any],
    keys: dict[str, Any],
    state: dict[str, Any],
    changes: dict[str, list[str]],
    *,
    save: Callable[[], None],
) -> dict[str, Any]:
    """Remove what the program no longer declares (or forget what it retains), apply what changed, as the master
    user; `state` records each applied object, saved after each one so a failure keeps what was done."""
    import psycopg

    report: dict[str, Any] = {"applied": [], "forgotten": [], "removed": []}
    master = spec["database"]["master_username"]
    ensure_master(cluster, master, keys["master_password"])
    applied = state.setdefault("applied", {}).setdefault("objects", {})
    declared = {o["urn"]: o for o in spec["objects"]}
    roles: set[str] = set()
    connections: dict[str | None, Any] = {}

    def connect(database: str | None) -> Any:
        if database not in connections:
            url = cluster.url(superuser=True, database=database or "postgres")
            url = url.replace("postgres:", f"{master}:", 1).replace(keys["postgres_password"], keys["master_password"])
            connections[database] = psycopg.connect(url, autocommit=True, connect_timeout=5)
        return connections[database]

    try:
        for urn in changes["remove"]:
            old = applied.pop(urn)
            if old.get("retain_on_delete"):
                report["forgotten"].append(urn)
                continue
            for database, statement in objects.removal(old["kind"], old["inputs"], master):
                connect(database).execute(statement)
            report["removed"].append(urn)
        for urn in changes["apply"]:
            item = declared[urn]
            inputs = adapters.fill(item["inputs"], keys["randoms"])
            created = urn in applied or (item["kind"] in ("Role", "Database") and _exists(connect, item))
            for database, statement in objects.statements(item["kind"], inputs, master, created=created):
                connect(database).execute(statement)
            role = objects.affected_role(item["kind"], inputs)
            if role:
                roles.add(role)
            applied[urn] = {
                "fp": fingerprint(item),
                "kind": item["kind"],
                "inputs": item["inputs"],
                "retain_on_delete": item["retain_on_delete"],
            }
            report["applied"].append(urn)
            save()
        for role in roles:
            connect(None).execute(adapters.end_sessions_sql(), (role,))
    except psycopg.Error as error:
        raise ServiceFailed(
            f"the program's database objects failed as SQL: {error}",
            hint="the same statement would fail in the cloud step; fix the declaration in the program",
        ) from None
    finally:
        for conn in connections.values():
            conn.close()
    save()
    return report


def _exists(connect: Callable[[str | None], Any], item: dict[str, Any]) -> bool:
    name = item["inputs"]["name"]
    table, column = ("pg_roles", "rolname") if item["kind"] == "Role" else ("pg_database", "datname")
    return connect(None).execute(f"SELECT 1 FROM {table} WHERE {column} = %s", (name,)).fetchone() is not None  # noqa: S608 - fixed names


def ensure_master(cluster: Cluster, master: str, password: str) -> None:
    """The RDS master user: may create databases and roles, is not a superuser."""
    from psycopg import sql

    with cluster.connect() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (master,)).fetchone() is None:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                    sql.Identifier(master), sql.Literal(password)
                )
            )
