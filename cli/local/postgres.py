"""PostgreSQL clusters and PgBouncer poolers from Debian's packages, on loopback ports in a directory of their own."""

from __future__ import annotations

import contextlib
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cli.core.files import write_private
from cli.local.binaries import pgbouncer_bin, postgres_bin
from cli.local.processes import (
    give_to_service_user,
    ours,
    read_pid,
    run,
    stop_pid,
    wait_for_port,
)


@dataclass
class Cluster:
    """A PostgreSQL cluster listening on 127.0.0.1 only, with a login role and database for the application."""

    base: Path
    port: int
    superuser_password: str
    app_user: str = ""
    """Login role created with the cluster; empty when the caller creates its roles itself (the local stack)."""
    app_password: str = ""
    app_database: str = ""
    prepare: Callable[[Cluster], None] | None = field(default=None, repr=False)
    """Called with the cluster after initdb and before the first start (configuration files of the caller)."""

    @property
    def data(self) -> Path:
        return self.base / "pgdata"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    def exists(self) -> bool:
        """Created completely: the role and database exist too (a half-made cluster is made again)."""
        return (self.base / "initialised").is_file()

    def init(self, *, durable: bool = True, archive: bool = True, first_backup: bool = True) -> None:
        """Create the cluster and the application's role and database; `durable=False` trades safety for speed;
        `archive` keeps a WAL archive and a first base backup, for point-in-time restores (cli/local/wal_archive.py);
        `first_backup=False` leaves that backup to the caller, who takes it while other work goes on."""
        bin_dir = postgres_bin()
        if self.data.exists():  # left half made by an earlier attempt
            if self.pid() is not None:
                self.stop("immediate")
            shutil.rmtree(self.data)
        self.base.mkdir(parents=True, exist_ok=True)
        give_to_service_user(self.base)
        pwfile = self.base / "pwfile"
        write_private(pwfile, self.superuser_password)
        give_to_service_user(pwfile)
        try:
            run(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(self.data),
                    "-U", "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    # Skips only initdb's final flush of a still-empty cluster (seconds on a small machine);
                    # the running server keeps fsync on unless durable=False.
                    "--no-sync",
                ],
                as_service=True,
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.base}'\n"
            "max_connections = 200\n"
            "password_encryption = 'scram-sha-256'\n"
            # Settings a caller derives (the local stack's parameter group), replaced without touching this file.
            "include_if_exists = 'groundwork.conf'\n"
        )
        if not durable:
            settings += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        if archive:
            from cli.local import wal_archive

            settings += wal_archive.prepare(self.base)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(settings)
        if self.prepare is not None:
            self.prepare(self)
        self.start()
        from psycopg import sql

        if self.app_user:
            with self.connect() as conn:
                user, database = sql.Identifier(self.app_user), sql.Identifier(self.app_database)
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(user, sql.Literal(self.app_password)))
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, user))
        if archive and first_backup:
            wal_archive.base_backup(self.base, self.port, self.superuser_password)
        (self.base / "initialised").touch()

    def start(self) -> None:
        run(
            [str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start"],
            as_service=True,
        )

    def stop(self, mode: str = "fast") -> None:
        run([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], as_service=True)

    def reload(self) -> None:
        """Read the configuration files again (the settings PostgreSQL applies without a restart)."""
        run([str(postgres_bin() / "pg_ctl"), "-D", str(self.data), "reload"], as_service=True)

    def pid(self) -> int | None:
        """The postmaster's pid when it runs; a stale postmaster.pid counts as not running."""
        return ours(read_pid(self.data / "postmaster.pid"), str(self.data))

    def url(self, *, superuser: bool = False, port: int | None = None, database: str | None = None) -> str:
        user, password = ("postgres", self.superuser_password) if superuser else (self.app_user, self.app_password)
        database = database or ("postgres" if superuser else self.app_database)
        return f"postgresql://{user}:{password}@127.0.0.1:{port or self.port}/{database}"

    def connect(self, database: str | None = None):
        """A superuser connection, straight to the server."""
        import psycopg

        return psycopg.connect(self.url(superuser=True, database=database), autocommit=True, connect_timeout=5)


@dataclass
class Pooler:
    """PgBouncer in transaction mode in front of a Cluster, for its application role."""

    base: Path
    port: int
    cluster: Cluster
    pool_size: int = 20
    query_wait_timeout: int = 3
    user: str = ""
    """Role the clients sign in as, and its password and database; the cluster's app role when empty."""
    password: str = field(default="", repr=False)
    database: str = ""
    client_idle_timeout: int = 0
    tls: tuple[Path, Path, Path] | None = None
    """Certificate, key and CA: TLS required from clients and verified towards the server."""

    @property
    def pidfile(self) -> Path:
        return self.base / "pgbouncer.pid"

    @property
    def log(self) -> Path:
        return self.base / "pgbouncer.log"

    def pid(self) -> int | None:
        return ours(read_pid(self.pidfile), str(self.base / "pgbouncer.ini"))

    def start(self) -> None:
        executable = pgbouncer_bin()
        self.base.mkdir(parents=True, exist_ok=True)
        give_to_service_user(self.base)
        cluster = self.cluster
        user, password = self.user or cluster.app_user, self.password or cluster.app_password
        database = self.database or cluster.app_database
        users = self.base / "userlist.txt"
        write_private(users, f'"{user}" "{password}"\n')
        give_to_service_user(users)
        tls = ""
        if self.tls is not None:
            for source in self.tls:
                copy = self.base / source.name
                write_private(copy, source.read_text())
                give_to_service_user(copy)
            cert, key, ca = (self.base / source.name for source in self.tls)
            tls = (
                f"client_tls_sslmode = require\nclient_tls_cert_file = {cert}\nclient_tls_key_file = {key}\n"
                f"client_tls_protocols = secure\nserver_tls_sslmode = verify-full\nserver_tls_ca_file = {ca}\n"
            )
        ini = self.base / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{database} = host=127.0.0.1 port={cluster.port} dbname={database}\n"
            "[pgbouncer]\n"
            f"{tls}client_idle_timeout = {self.client_idle_timeout}\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {users}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 2000\n"
            # Fail fast when the server is gone instead of queueing clients for the default 120 s.
            f"query_wait_timeout = {self.query_wait_timeout}\nserver_connect_timeout = 2\nserver_login_retry = 1\n"
            f"logfile = {self.log}\npidfile = {self.pidfile}\n"
            "log_connections = 0\nlog_disconnections = 0\n"
        )
        give_to_service_user(ini)
        self.pidfile.unlink(missing_ok=True)
        run([str(executable), "-d", str(ini)], as_service=True)
        wait_for_port(self.port, 10, "pgbouncer", self.log)

    def url(self) -> str:
        return self.cluster.url(port=self.port)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            # SIGINT: PgBouncer's immediate shutdown; SIGTERM would wait for every client to leave.
            stop_pid(pid, timeout=5, sig=signal.SIGINT)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
