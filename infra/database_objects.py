"""DatabaseObjects: the application database, its login and read-only roles, grants and default privileges."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_postgresql as postgresql

from infra import require, type_token
from infra.limits import IDENTIFIER, IDENTIFIER_TEXT

TYPE = type_token("database_objects", "DatabaseObjects")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseObjectsArgs:
    """Inputs of DatabaseObjects; the postgresql provider is passed in through `opts.providers`."""

    database_name: str = "app"
    """Database the service uses."""
    owner: str
    """Role that owns the database (the RDS master user)."""
    app_username: str = "app"
    """Login role of the service: connect, use and create in its schema, nothing else."""
    app_password: pulumi.Input[str]
    """First password of the login role (a secret output), as in the credentials secret; rotation owns it after."""
    readonly_role: str = "app_readonly"
    """Group role with read-only access, granted to people and reporting tools."""
    schema: str = "public"
    """Schema the service's tables live in."""
    app_connection_limit: int = 200
    """Connections the login role may hold."""
    statement_timeout_ms: int = 30000
    """Default statement timeout of the login role."""
    retain_on_delete: bool = True
    """Removing these resources from the program forgets them instead of dropping roles and grants."""


class DatabaseObjects(pulumi.ComponentResource):
    """Least-privilege roles and grants inside the private database; applied in a separate, explicit step."""

    def __init__(self, name: str, args: DatabaseObjectsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        for field in ("database_name", "owner", "app_username", "readonly_role", "schema"):
            value = getattr(args, field)
            require(IDENTIFIER.fullmatch(value) is not None, field, value, IDENTIFIER_TEXT)
        require(
            len({args.owner, args.app_username, args.readonly_role}) == 3,
            "readonly_role",
            args.readonly_role,
            "a role different from owner and app_username",
        )
        require(1 <= args.app_connection_limit <= 5000, "app_connection_limit", args.app_connection_limit, "1 to 5000")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, retain_on_delete=args.retain_on_delete)

        # The service's login role: no superuser, no role or database creation.
        app = postgresql.Role(
            f"{name}-app-role",
            name=args.app_username,
            login=True,
            password=pulumi.Output.secret(args.app_password),
            superuser=False,
            create_database=False,
            create_role=False,
            inherit=True,
            connection_limit=args.app_connection_limit,
            statement_timeout=args.statement_timeout_ms,
            # The first password only: rotation changes it afterwards, and this step must not set it back.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["password"])),
        )
        # A group role for read-only access; people get it granted, it cannot log in itself.
        readonly = postgresql.Role(
            f"{name}-readonly-role",
            name=args.readonly_role,
            login=False,
            superuser=False,
            create_database=False,
            create_role=False,
            opts=child,
        )
        # The application database, owned by the administrator rather than by the service.
        database = postgresql.Database(
            f"{name}-database",
            name=args.database_name,
            owner=args.owner,
            encoding="UTF8",
            allow_connections=True,
            opts=child,
        )
        after_database = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[database, app, readonly])
        )
        # Nobody connects to the database by default (PUBLIC loses CONNECT and TEMPORARY).
        postgresql.Grant(
            f"{name}-revoke-public",
            database=database.name,
            role="public",
            object_type="database",
            privileges=[],
            opts=after_database,
        )
        # The service may connect and use temporary tables.
        postgresql.Grant(
            f"{name}-app-connect",
            database=database.name,
            role=app.name,
            object_type="database",
            privileges=["CONNECT", "TEMPORARY"],
            opts=after_database,
        )
        # The service owns its tables, so it may create them in its schema.
        postgresql.Grant(
            f"{name}-app-schema",
            database=database.name,
            schema=args.schema,
            role=app.name,
            object_type="schema",
            privileges=["USAGE", "CREATE"],
            opts=after_database,
        )
        # Read-only users may connect.
        postgresql.Grant(
            f"{name}-readonly-connect",
            database=database.name,
            role=readonly.name,
            object_type="database",
            privileges=["CONNECT"],
            opts=after_database,
        )
        # Read-only users may see the schema.
        postgresql.Grant(
            f"{name}-readonly-schema",
            database=database.name,
            schema=args.schema,
            role=readonly.name,
            object_type="schema",
            privileges=["USAGE"],
            opts=after_database,
        )
        # Read-only users may read the tables that already exist.
        postgresql.Grant(
            f"{name}-readonly-tables",
            database=database.name,
            schema=args.schema,
            role=readonly.name,
            object_type="table",
            objects=[],
            privileges=["SELECT"],
            opts=after_database,
        )
        for object_type in ("table", "sequence"):
            # Tables and sequences the service creates later are readable by read-only users too.
            postgresql.DefaultPrivileges(
                f"{name}-readonly-default-{object_type}s",
                database=database.name,
                schema=args.schema,
                owner=app.name,
                role=readonly.name,
                object_type=object_type,
                privileges=["SELECT"],
                opts=after_database,
            )

        self.database_name = database.name
        self.app_role = app.name
        self.readonly_role = readonly.name
        self.register_outputs(
            {"database_name": self.database_name, "app_role": self.app_role, "readonly_role": self.readonly_role}
        )
