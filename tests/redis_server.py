"""A throwaway Redis server (Debian's redis-server) on a free loopback port, with a password and optional TLS."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import HarnessError, free_port

REDIS_HINT = "run `make setup` (it installs Debian's redis-server)"


def redis_server_bin() -> str:
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if not found:
        raise HarnessError(f"redis-server is not installed; {REDIS_HINT}")
    return found


@dataclass
class RedisServer:
    """One server in its own directory; `stop` and `start` again keep the port (and lose the data: no persistence)."""

    base: Path
    password: str
    port: int = field(default_factory=free_port)
    tls: tuple[Path, Path] | None = None
    """Certificate and key: serve TLS only."""
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.base.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_bin(), "--bind", "127.0.0.1", "--dir", str(self.base), "--save", "", "--appendonly", "no",
            "--requirepass", self.password, "--daemonize", "no", "--logfile", str(self.base / "redis.log"),
        ]  # fmt: skip
        if self.tls:
            cert, key = self.tls
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert)]
            args += ["--tls-key-file", str(key), "--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HarnessError(f"redis-server exited: {(self.base / 'redis.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.02)
        raise HarnessError("redis-server did not listen within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
