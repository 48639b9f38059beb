"""Test helpers for the SSM tunnel: the fake plugin on PATH, a Stubber-checked SSM client, and process checks."""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
from botocore.stub import ANY, Stubber

from cli.cloud.tunnel import DOCUMENT

REGION = "eu-west-1"
BASTION = "i-0123456789abcdef0"
DATABASE_HOST = "gw-dev-db.abcdefghijkl.eu-west-1.rds.amazonaws.com"
PLUGIN_SOURCE = Path(__file__).with_name("fake_ssm_plugin.py")


def session_response(session_id: str = "deployer-0a1b2c3d4e5f") -> dict[str, str]:
    return {
        "SessionId": session_id,
        "TokenValue": "token-" + "x" * 40,
        "StreamUrl": f"wss://ssmmessages.{REGION}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe",
    }


def start_params(reason: Any = ANY, host: str = DATABASE_HOST, bastion: str = BASTION) -> dict[str, Any]:
    """What `ssm.start_session` must be called with: the bastion, AWS's document, the database, any local port."""
    return {
        "Target": bastion,
        "DocumentName": DOCUMENT,
        "Reason": reason,
        "Parameters": {"host": [host], "portNumber": ["5432"], "localPortNumber": ANY},
    }


@dataclass
class Ssm:
    """A real botocore SSM client whose calls are checked by botocore's Stubber (moto does not model sessions)."""

    client: Any = None
    stubber: Stubber = field(init=False)

    def __post_init__(self) -> None:
        self.client = botocore.session.get_session().create_client(
            "ssm", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def starts(self, session_id: str = "deployer-0a1b2c3d4e5f", **expected: Any) -> None:
        self.stubber.add_response("start_session", session_response(session_id), start_params(**expected))

    def refuses(self, code: str, message: str, times: int = 1) -> None:
        for _ in range(times):
            self.stubber.add_client_error("start_session", service_error_code=code, service_message=message)

    def terminates(self, session_id: str = "deployer-0a1b2c3d4e5f") -> None:
        self.stubber.add_response("terminate_session", {"SessionId": session_id}, {"SessionId": session_id})

    def done(self) -> None:
        self.stubber.assert_no_pending_responses()


@dataclass
class Plugin:
    """The fake session-manager-plugin, first on PATH, forwarding to a real local PostgreSQL."""

    bin: Path
    record: Path

    def starts(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]


def install_plugin(root: Path, monkeypatch: Any, forward_port: int, *, version: str = "1.2.707.0") -> Plugin:
    bin_dir = root / "ssm-bin"
    bin_dir.mkdir()
    exe = bin_dir / "session-manager-plugin"
    exe.write_text(f"#!{sys.executable}\n" + PLUGIN_SOURCE.read_text())
    exe.chmod(0o755)
    record = root / "ssm-plugin.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    monkeypatch.setenv("FAKE_SSM_FORWARD", f"127.0.0.1:{forward_port}")
    monkeypatch.setenv("FAKE_SSM_RECORD", str(record))
    monkeypatch.setenv("FAKE_SSM_PLUGIN_VERSION", version)
    monkeypatch.delenv("FAKE_SSM_MODE", raising=False)
    return Plugin(bin=bin_dir, record=record)


def path_without_plugin(monkeypatch: Any) -> None:
    """PATH with the directories that hold the basics but no session-manager-plugin."""
    dirs = [d for d in os.environ.get("PATH", "").split(":") if d and not (Path(d) / "session-manager-plugin").exists()]
    monkeypatch.setenv("PATH", ":".join(dirs))


def process_gone(pid: int) -> bool:
    """The process no longer exists: it exited and was reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
