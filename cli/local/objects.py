"""pulumi-postgresql's roles, databases, grants and default privileges as SQL, run as the master user."""

from __future__ import annotations

from typing import Any, LiteralString

from cli.local.mapping import MappingError


def _ident(name: str):
    from psycopg import sql

    return sql.SQL("PUBLIC") if name.lower() == "public" else sql.Identifier(name)


def _privileges(privileges: list[str]):
    from psycopg import sql

    allowed: set[LiteralString] = {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
    allowed |= {"CREATE", "CONNECT", "TEMPORARY", "EXECUTE", "USAGE", "MAINTAIN"}
    for privilege in privileges:
        if privilege.upper() not in allowed:
            raise MappingError(f"privilege {privilege!r} is not one PostgreSQL knows")
    return sql.SQL(", ").join(sql.SQL(a) for p in privileges for a in allowed if a == p.upper())


_ON: dict[str, LiteralString] = {
    "table": "TABLES",
    "sequence": "SEQUENCES",
    "function": "FUNCTIONS",
    "type": "TYPES",
    "schema": "SCHEMAS",
}


def statements(kind: str, inputs: dict[str, Any], master: str, *, created: bool) -> list[tuple[str | None, Any]]:
    """(database to connect to, statement) pairs that make the object what the program declares.

    `created` says whether the object exists already (an update): a role's password is then left alone when the
    program ignores changes to it, as the provider does.
    """
    from psycopg import sql

    name = inputs.get("name", "")
    if kind == "Role":
        if inputs.get("superuser"):
            raise MappingError(f"role {name!r} is declared superuser; the RDS master user cannot create one")
        options: list[sql.Composable] = [
            sql.SQL("LOGIN" if inputs.get("login") else "NOLOGIN"),
            sql.SQL("CREATEDB" if inputs.get("createDatabase") else "NOCREATEDB"),
            sql.SQL("CREATEROLE" if inputs.get("createRole") else "NOCREATEROLE"),
            sql.SQL("INHERIT" if inputs.get("inherit", True) else "NOINHERIT"),
            sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(int(inputs.get("connectionLimit", -1)))),
        ]
        if inputs.get("password") and not created:
            options.append(sql.SQL("PASSWORD {}").format(sql.Literal(inputs["password"])))
        verb = "ALTER" if created else "CREATE"
        out: list[tuple[str | None, Any]] = [
            (None, sql.SQL(verb + " ROLE {} ").format(_ident(name)) + sql.SQL(" ").join(options))
        ]
        timeout = inputs.get("statementTimeout")
        if timeout:
            out.append((None, sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                _ident(name), sql.Literal(int(timeout)))))  # fmt: skip
        return out
    if kind == "Database":
        owner = inputs.get("owner") or master
        out = []
        if owner != master:
            out.append((None, sql.SQL("GRANT {} TO {}").format(_ident(owner), _ident(master))))
        if not created:
            out.append((None, sql.SQL("CREATE DATABASE {} OWNER {} ENCODING {} TEMPLATE template0").format(
                _ident(name), _ident(owner), sql.Literal(inputs.get("encoding", "UTF8")))))  # fmt: skip
        else:
            out.append((None, sql.SQL("ALTER DATABASE {} OWNER TO {}").format(_ident(name), _ident(owner))))
        allow = "true" if inputs.get("allowConnections", True) else "false"
        out.append((None, sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS " + allow).format(_ident(name))))
        return out
    if kind == "Grant":
        return _grant(inputs, grant=True)
    if kind == "DefaultPrivileges":
        return _default_privileges(inputs, master, grant=True)
    raise MappingError(f"no SQL for {kind}")


def removal(kind: str, inputs: dict[str, Any], master: str) -> list[tuple[str | None, Any]]:
    """What deleting the resource does (only for resources not kept by retain_on_delete)."""
    from psycopg import sql

    if kind == "Role":
        return [(None, sql.SQL("DROP ROLE IF EXISTS {}").format(_ident(inputs["name"])))]
    if kind == "Database":
        return [(None, sql.SQL("DROP DATABASE IF EXISTS {}").format(_ident(inputs["name"])))]
    if kind == "Grant":
        return _grant(inputs, grant=False)
    return _default_privileges(inputs, master, grant=False)


def _grant(inputs: dict[str, Any], *, grant: bool) -> list[tuple[str | None, Any]]:
    """The provider's semantics: revoke everything on the object from the role, then grant the listed."""
    from psycopg import sql

    database, role, kind = inputs["database"], _ident(inputs["role"]), inputs["objectType"]
    privileges = inputs.get("privileges", []) if grant else []
    if kind == "database":
        target, where = sql.SQL("DATABASE {}").format(_ident(database)), None
    elif kind == "schema":
        target, where = sql.SQL("SCHEMA {}").format(_ident(inputs["schema"])), database
    elif kind in ("table", "sequence", "function"):
        schema = _ident(inputs["schema"])
        objects = inputs.get("objects") or []
        plural = _ON[kind]
        if objects:
            names = sql.SQL(", ").join(sql.Identifier(inputs["schema"], o) for o in objects)
            target = sql.SQL(kind.upper() + " ") + names
        else:
            target = sql.SQL("ALL " + plural + " IN SCHEMA {}").format(schema)
        where = database
    else:
        raise MappingError(f"grant on {kind!r} objects has no local SQL")
    out = [(where, sql.SQL("REVOKE ALL ON {} FROM {}").format(target, role))]
    if privileges:
        out.append((where, sql.SQL("GRANT {} ON {} TO {}").format(_privileges(privileges), target, role)))
    return out


def _default_privileges(inputs: dict[str, Any], master: str, *, grant: bool) -> list[tuple[str | None, Any]]:
    from psycopg import sql

    database, owner, role = inputs["database"], inputs["owner"], _ident(inputs["role"])
    on = sql.SQL(_ON[inputs["objectType"]])
    scope = sql.SQL("FOR ROLE {}").format(_ident(owner))
    if inputs.get("schema"):
        scope += sql.SQL(" IN SCHEMA {}").format(_ident(inputs["schema"]))
    # The provider makes the master user a member of the owner, as ALTER DEFAULT PRIVILEGES FOR ROLE requires.
    out: list[tuple[str | None, Any]] = (
        [(None, sql.SQL("GRANT {} TO {}").format(_ident(owner), _ident(master)))] if owner != master else []
    )
    out.append((database, sql.SQL("ALTER DEFAULT PRIVILEGES {} REVOKE ALL ON {} FROM {}").format(scope, on, role)))
    privileges = inputs.get("privileges", []) if grant else []
    if privileges:
        out.append((database, sql.SQL("ALTER DEFAULT PRIVILEGES {} GRANT {} ON {} TO {}").format(
            scope, _privileges(privileges), on, role)))  # fmt: skip
    return out


def affected_role(kind: str, inputs: dict[str, Any]) -> str | None:
    """The role whose sessions must start again to see a change of this object."""
    if kind in ("Grant", "Role"):
        role = inputs.get("role") or inputs.get("name")
        return None if not role or role.lower() == "public" else role
    return None
