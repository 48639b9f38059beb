"""redis-server as the local ElastiCache replication group: TLS with the local CA, the declared users and parameters."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cli.core.files import write_private
from cli.local import tls
from cli.local.binaries import PrerequisiteMissing
from cli.local.processes import (
    give_to_service_user,
    ours,
    read_pid,
    run,
    stop_group,
    stop_pid,
    wait_for_port,
    wait_until,
)
from cli.local.services import Service, check_ports, digest

REDIS_HINT = "run `make setup` (it installs Debian's redis-server), or apt-get install redis-server"


def redis_bin() -> Path:
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if not found:
        raise PrerequisiteMissing("redis-server is not installed (the local cache)", hint=REDIS_HINT)
    return Path(found)


def _quoted(path: Path) -> str:
    """A path as one argument of redis.conf: double-quoted, with quotes and backslashes escaped (spaces allowed)."""
    return json.dumps(str(path), ensure_ascii=False)


@dataclass
class CacheService(Service):
    """One redis-server: loopback only, TLS when the group declares transit encryption, no persistence."""

    base: Path = field(kw_only=True)
    cache: dict = field(kw_only=True, repr=False)
    """The replication group from the plan: port, TLS, parameters, users."""
    passwords: dict[str, str] = field(kw_only=True, repr=False)
    """Each user's local password, by user name (see adapters.cache_user_password)."""
    files: tls.TlsFiles = field(kw_only=True)

    @property
    def conf_path(self) -> Path:
        return self.base / "redis.conf"

    @property
    def pidfile(self) -> Path:
        return self.base / "redis.pid"

    def conf(self) -> str:
        """redis.conf: loopback, the declared TLS, users with hashed passwords and access strings, parameters."""
        port = self.ports[0]
        lines = ["bind 127.0.0.1", "protected-mode yes", f"dir {_quoted(self.base)}", 'save ""', "appendonly no"]
        lines += [f"pidfile {_quoted(self.pidfile)}", f"logfile {_quoted(self.log)}", "daemonize yes"]
        # The configuration file in the process title tells our server apart from a stranger that reused its pid.
        lines.append('proc-title-template "{title} {listen-addr} {server-mode} {config-file}"')
        if self.cache["tls"]:
            lines += ["port 0", f"tls-port {port}", f"tls-cert-file {_quoted(self.base / 'server.pem')}"]
            lines += [f"tls-key-file {_quoted(self.base / 'server-key.pem')}", "tls-auth-clients no"]
            lines.append('tls-protocols "TLSv1.2 TLSv1.3"')
        else:
            lines.append(f"port {port}")
        for name, value in sorted(self.cache["parameters"].items()):
            lines.append(f'{name} "{value}"')
        for user in self.cache["users"]:
            password = self.passwords.get(user["name"])
            # `reset` leaves a user without a password unable to sign in at all (never `nopass`).
            secret = f" #{hashlib.sha256(password.encode()).hexdigest()}" if password else ""
            lines.append(f"user {user['name']} reset{secret} {user['access']}")
        if not self.cache["users"] and self.passwords.get("default"):
            # An AUTH token without users: the default user with that password, as ElastiCache's AUTH.
            token = hashlib.sha256(self.passwords["default"].encode()).hexdigest()
            lines.append(f"user default on #{token} ~* &* +@all")
        return "\n".join(lines) + "\n"

    def fingerprint(self) -> str:
        return digest(self.conf())

    def pid(self) -> int | None:
        return ours(read_pid(self.pidfile), str(self.conf_path))

    def crashed(self) -> bool:
        return self.pidfile.exists() and self.pid() is None

    def stop_record(self) -> dict[str, str] | None:
        return {"pidfile": str(self.pidfile), "marker": str(self.conf_path)}

    def created(self) -> bool:
        return self.conf_path.exists()

    def start(self) -> None:
        executable = redis_bin()
        check_ports(self.name, self.ports)
        self.base.mkdir(parents=True, exist_ok=True)
        give_to_service_user(self.base)
        if self.cache["tls"]:
            for source, name in ((self.files.server_cert, "server.pem"), (self.files.server_key, "server-key.pem")):
                write_private(self.base / name, source.read_text())
                give_to_service_user(self.base / name)
        write_private(self.conf_path, self.conf())
        give_to_service_user(self.conf_path)
        self.pidfile.unlink(missing_ok=True)
        run([str(executable), str(self.conf_path)], as_service=True)
        wait_for_port(self.ports[0], 10, self.name, self.log)
        # redis listens before it daemonises and writes its pid file after: started means both.
        wait_until(lambda: self.pid() is not None, 10, f"{self.name} (its pid file)", self.log)

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout=10)
        recorded = read_pid(self.pidfile)
        if recorded is not None:
            # redis-server daemonises into its own group; a snapshot child of a killed server goes with it.
            stop_group(recorded, "redis", timeout=10)
        self.pidfile.unlink(missing_ok=True)
