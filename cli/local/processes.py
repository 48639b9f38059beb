"""Background processes on loopback: free ports, pid files, the service user, and stopping cleanly."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

from cli.core.errors import ConfigError, OperationFailed

SERVICE_USER = "postgres"
"""PostgreSQL and PgBouncer refuse to run as root; as root they (and nginx) run as the packages' own user."""


class PortTaken(ConfigError):
    """A port the local stack needs is used by another program."""


class ServiceFailed(OperationFailed):
    """A local service did not start; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """Distinct free ports: each socket stays bound until all are chosen, so no port is handed out twice."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now; connections in TIME_WAIT do not count, as for servers."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def is_listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def log_tail(log: Path | None, size: int = 2000) -> str:
    """The log's last whole lines, about `size` characters at most; the last line is kept whole whatever its length."""
    if not log or not log.exists():
        return ""
    kept: list[str] = []
    total = 0
    for line in reversed(log.read_text(errors="replace").rstrip("\n").splitlines()):
        if kept and total + len(line) + 1 > size:
            break
        kept.append(line)
        total += len(line) + 1
    return "\n".join(reversed(kept))


def wait_for_port(port: int, timeout: float, what: str, log: Path | None = None, pid: int | None = None) -> None:
    """Wait until something listens on the port; fail with the log's tail if it does not (or its process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port):
            return
        if pid is not None and not pid_alive(pid):
            raise ServiceFailed(f"{what} exited while starting:\n{log_tail(log)}", hint=f"see {log}")
        time.sleep(0.02)
    raise ServiceFailed(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s\n{log_tail(log)}")


def wait_until(ready, timeout: float, what: str, log: Path | None = None, pid: int | None = None) -> None:
    """Wait until `ready()` is true; fail with the log's tail if it is not in time (or the process dies)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if pid is not None and not pid_alive(pid):
            raise ServiceFailed(f"{what} exited while starting:\n{log_tail(log)}", hint=f"see {log}")
        time.sleep(0.02)
    raise ServiceFailed(f"{what} did not start within {timeout} s\n{log_tail(log)}", hint=f"see {log}")


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_service_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *cmd] if running_as_root() else cmd


def service_user_can_reach(path: Path) -> bool:
    """Whether the service user may enter this directory (always true when we are not root)."""
    if not running_as_root():
        return True
    probe = subprocess.run(as_service_user(["test", "-x", str(path)]), capture_output=True, check=False)
    return probe.returncode == 0


def give_to_service_user(path: Path) -> None:
    if running_as_root():
        user = pwd.getpwnam(SERVICE_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def run(cmd: list[str], *, as_service: bool = False) -> str:
    """Run a command to completion; a failure raises ServiceFailed with its output."""
    full = as_service_user(cmd) if as_service else cmd
    result = subprocess.run(full, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceFailed(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    return True


def read_pid(pidfile: Path) -> int | None:
    """The pid a pid file names; None when it is absent, or empty as a daemon leaves it between creating and
    writing it (services start in parallel, so another step may read it in that instant)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(pidfile.read_text().split()[0])
    return None


def write_pid(pidfile: Path, pid: int) -> None:
    """Write a pid file whole: a reader finds the old file, no file, or the new pid, never an empty one."""
    partial = pidfile.with_name(f".{pidfile.name}.{os.getpid()}.partial")
    partial.write_text(f"{pid}\n")
    os.replace(partial, pidfile)


def ours(pid: int | None, marker: str) -> int | None:
    """The pid when it is alive and its command line contains the marker; a pid file naming a process that
    reused the number (after a crash or a reboot) is not ours, and nothing of ours ever signals it."""
    if pid is None or not pid_alive(pid) or marker not in command_line(pid):
        return None
    return pid


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def stop_pid(pid: int, timeout: float = 10, sig: int = signal.SIGTERM) -> None:
    """Ask a process (and its group when it leads one) to stop; kill it if it is still there after the timeout."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def group_members(pgid: int, marker: str) -> list[int]:
    """Live (not zombie) processes of a process group whose command line contains the marker, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            if int(fields[2]) == pgid and fields[0] != "Z" and marker in command_line(pid):
                members.append(pid)
    return members


def stop_group(pgid: int, marker: str, timeout: float = 10) -> None:
    """Stop what is left of one of our process groups (workers of a killed supervisor): only members whose
    command line carries the marker are signalled, SIGTERM first and SIGKILL after the timeout."""
    members = group_members(pgid, marker)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while members and time.monotonic() < deadline:
        time.sleep(0.02)
        members = group_members(pgid, marker)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
