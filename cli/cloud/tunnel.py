"""An SSM port-forwarding session from a free local port, through the bastion, to the private database."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.core.errors import ConfigError, OperationFailed

PLUGIN = "session-manager-plugin"
"""The executable the AWS CLI starts after `ssm start-session`; it carries the forwarded connections."""
DOCUMENT = "AWS-StartPortForwardingSessionToRemoteHost"
"""AWS's Session Manager document that forwards a local port to a host the target instance can reach."""
LOOPBACK = "127.0.0.1"
RESPONSE_ENV = "AWS_SSM_START_SESSION_RESPONSE"
"""Plugins newer than 1.2.497.0 read the StartSession response from this variable (kept out of argv and `ps`)."""
_LAST_VERSION_WITHOUT_ENV = (1, 2, 497, 0)
_PREFERRED_PORTS = (15432, 500)
"""A stack's preferred local port lies in 15432-15931, so the provider's recorded port stays the same between runs."""

PLUGIN_INSTALL_HINT = (
    "install the Session Manager plugin (macOS: brew install --cask session-manager-plugin; Debian/Ubuntu: the "
    ".deb, Amazon Linux/RHEL: the .rpm from https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html) and make sure `session-manager-plugin` is on PATH; "
    "check with `infra doctor`"
)
PERMISSION_HINT = (
    f"the caller needs ssm:StartSession on the bastion instance and on document {DOCUMENT}, and "
    "ssm:TerminateSession on its own sessions (docs/database-objects.md lists the policy)"
)


class TunnelError(OperationFailed):
    """The SSM port forward to the database could not be opened."""


class PluginMissing(ConfigError):
    """The Session Manager plugin is not on PATH."""


class SessionRefused(TunnelError):
    """Session Manager refused to start the session (permissions, credentials, a bad target)."""


class BastionNotRegistered(TunnelError):
    """The bastion did not register with Session Manager within the bounded wait."""


class PortNotOpen(TunnelError):
    """The plugin did not open the local port within the bounded wait."""


@dataclass(frozen=True)
class TunnelTarget:
    """Where the session goes: the bastion that relays it and the database host and port it reaches."""

    region: str
    bastion_id: str
    database_host: str
    database_port: int = 5432


@dataclass(frozen=True)
class Timing:
    """Bounds of each wait; a fresh instance usually registers with Session Manager within two to five minutes."""

    register_timeout: float = 600.0
    retry_interval: float = 15.0
    port_timeout: float = 30.0
    stop_timeout: float = 5.0


def ssm_client(region: str) -> Any:
    """The boto3 SSM client the tunnel uses; tests replace this function."""
    import boto3.session
    from botocore.config import Config

    return boto3.session.Session(region_name=region).client(
        "ssm", config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3})
    )


def find_plugin() -> str:
    """The path of the Session Manager plugin, or PluginMissing with how to install it."""
    path = shutil.which(PLUGIN)
    if path is None:
        raise PluginMissing(f"the Session Manager plugin is not installed (no `{PLUGIN}` on PATH)", PLUGIN_INSTALL_HINT)
    return path


def plugin_version(path: str) -> tuple[int, ...] | None:
    """The plugin's version as numbers, or None when `--version` does not print one."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.fullmatch(r"\s*(\d+(?:\.\d+){0,3})\s*", proc.stdout)
    if proc.returncode != 0 or found is None:
        return None
    return tuple(int(part) for part in found.group(1).split("."))


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the plugin's listener does: connections of an earlier run in TIME_WAIT do not make the port busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def choose_local_port(stack: str) -> int:
    """The stack's preferred loopback port when it is free, else one the kernel picks."""
    first, span = _PREFERRED_PORTS
    preferred = first + zlib.crc32(stack.encode()) % span
    if _port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _error_code(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return str(error.get("Code", type(exc).__name__)), str(error.get("Message", exc))


class Tunnel:
    """One Session Manager port forward, opened like `aws ssm start-session` does it and always closed."""

    def __init__(
        self,
        target: TunnelTarget,
        local_port: int,
        *,
        client: Any = None,
        timing: Timing | None = None,
        on_status: Callable[[str], None] = lambda text: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        reason: str = "infra: database objects",
    ) -> None:
        self.target = target
        self.local_port = local_port
        self.timing = timing or Timing()
        self._client = client
        self._status = on_status
        self._clock = clock
        self._sleep = sleep
        self._reason = reason
        self.session_id: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.plugin_pid: int | None = None
        """Process id of the last plugin started (kept after close, to check that it is gone)."""
        self._log: Path | None = None
        self._previous_handlers: dict[int, Any] = {}

    @property
    def host(self) -> str:
        return LOOPBACK

    def __enter__(self) -> Tunnel:
        self._trap_termination()
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def _trap_termination(self) -> None:
        """While the tunnel is open, SIGTERM and SIGHUP unwind like Ctrl-C, so the plugin and session are closed.

        The plugin runs in its own process group: a signal sent to this process alone would otherwise leave it behind.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[number] = signal.signal(number, _interrupt)

    def _restore_handlers(self) -> None:
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        self._previous_handlers.clear()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Find the plugin, start the session (waiting for the bastion to register), then the plugin and its port."""
        plugin = find_plugin()
        version = plugin_version(plugin)
        if self._client is None:
            self._client = ssm_client(self.target.region)
        parameters = {
            "Target": self.target.bastion_id,
            "DocumentName": DOCUMENT,
            "Reason": self._reason,
            "Parameters": {
                "host": [self.target.database_host],
                "portNumber": [str(self.target.database_port)],
                "localPortNumber": [str(self.local_port)],
            },
        }
        response = self._start_session(parameters)
        self.session_id = response["SessionId"]
        self._start_plugin(plugin, version, response, parameters)
        self._wait_for_port()
        self._status(
            f"tunnel open: {LOOPBACK}:{self.local_port} -> {self.target.database_host}:{self.target.database_port} "
            f"through {self.target.bastion_id}"
        )

    def _start_session(self, parameters: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        bastion = self.target.bastion_id
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._client.start_session(**parameters)
            except ClientError as exc:
                code, message = _error_code(exc)
                if code != "TargetNotConnected":
                    raise SessionRefused(
                        f"Session Manager refused the session to bastion {bastion} ({code}: {message})",
                        hint=PERMISSION_HINT
                        if "Denied" in code or "Unauthorized" in code
                        else f"{PERMISSION_HINT}; check that the bastion is running and the region is right",
                    ) from exc
                waited = self._clock() - started
                if waited + self.timing.retry_interval > self.timing.register_timeout:
                    raise BastionNotRegistered(
                        f"bastion {bastion} did not register with Session Manager within "
                        f"{self.timing.register_timeout:.0f} s ({attempt} attempts)",
                        hint="check in the EC2 console that the instance is running and that its subnet reaches "
                        "the SSM endpoints over HTTPS (NAT gateway), then try again",
                    ) from exc
                self._status(
                    f"waiting for bastion {bastion} to register with Session Manager: attempt {attempt}, "
                    f"{waited:.0f} s of at most {self.timing.register_timeout:.0f} s; next try in "
                    f"{self.timing.retry_interval:.0f} s"
                )
                self._sleep(self.timing.retry_interval)
            except NoCredentialsError as exc:
                raise SessionRefused(
                    "no AWS credentials to start a Session Manager session",
                    hint="sign in (aws sso login, or set AWS_PROFILE), then check with `infra doctor`",
                ) from exc
            except BotoCoreError as exc:
                raise SessionRefused(
                    f"Session Manager could not be asked to start a session: {exc}",
                    hint="check network access to AWS and the region, then try again",
                ) from exc

    def _start_plugin(
        self, plugin: str, version: tuple[int, ...] | None, response: dict[str, Any], parameters: dict[str, Any]
    ) -> None:
        session = json.dumps({key: response[key] for key in ("SessionId", "TokenValue", "StreamUrl")})
        env = dict(os.environ)
        argument = session
        if version is not None and version > _LAST_VERSION_WITHOUT_ENV:
            env[RESPONSE_ENV] = session
            argument = RESPONSE_ENV
        endpoint = str(getattr(getattr(self._client, "meta", None), "endpoint_url", "") or "")
        argv = [
            plugin,
            argument,
            self.target.region,
            "StartSession",
            os.environ.get("AWS_PROFILE", ""),
            json.dumps(parameters),
            endpoint,
        ]
        fd, log = tempfile.mkstemp(prefix="infra-ssm-", suffix=".log")
        self._log = Path(log)
        with os.fdopen(fd, "wb") as out:
            # Its own process group: Ctrl-C reaches this process, which then closes the plugin and the session.
            self.process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.plugin_pid = self.process.pid

    def _plugin_output(self) -> str:
        if self._log is None or not self._log.is_file():
            return ""
        lines = [line.strip() for line in self._log.read_text(errors="replace").splitlines() if line.strip()]
        return "; ".join(lines[-3:])

    def _wait_for_port(self) -> None:
        assert self.process is not None
        deadline = self._clock() + self.timing.port_timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise PortNotOpen(
                    f"the Session Manager plugin exited with status {code} before {LOOPBACK}:{self.local_port} "
                    f"opened: {self._plugin_output() or 'no output'}",
                    hint="run `infra doctor` to check the plugin, then try again",
                )
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.local_port), timeout=1):
                return
            if self._clock() >= deadline:
                raise PortNotOpen(
                    f"the port forward did not open {LOOPBACK}:{self.local_port} within "
                    f"{self.timing.port_timeout:.0f} s: {self._plugin_output() or 'no output from the plugin'}",
                    hint="check that the database is available and that its security group admits the bastion, "
                    "then try again",
                )
            self._sleep(0.1)

    def close(self) -> None:
        """Stop the plugin (and anything it started) and end the session; safe to call more than once."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(self.timing.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        session, self.session_id = self.session_id, None
        if session is not None and self._client is not None:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                self._client.terminate_session(SessionId=session)
            except (BotoCoreError, ClientError) as exc:
                self._status(f"could not end session {session} ({exc}); Session Manager ends it when idle")
        log, self._log = self._log, None
        if log is not None:
            log.unlink(missing_ok=True)
        self._restore_handlers()


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {number}")
