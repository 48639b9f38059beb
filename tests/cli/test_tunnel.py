"""The SSM tunnel on its own: Stubber-checked SSM calls, the fake plugin forwarding to a real PostgreSQL, cleanup."""

from __future__ import annotations

import os
import signal
import socket

import psycopg
import pytest

from cli.cloud import tunnel as tunnel_module
from cli.cloud.tunnel import (
    BastionNotRegistered,
    PluginMissing,
    PortNotOpen,
    SessionRefused,
    Timing,
    Tunnel,
    TunnelTarget,
    choose_local_port,
)
from tests.cli.ssm import (
    BASTION,
    DATABASE_HOST,
    REGION,
    FakeClock,
    Ssm,
    install_plugin,
    path_without_plugin,
    port_closed,
    process_gone,
)

TARGET = TunnelTarget(region=REGION, bastion_id=BASTION, database_host=DATABASE_HOST)


@pytest.fixture
def ssm() -> Ssm:
    return Ssm()


@pytest.fixture
def plugin(tmp_path, monkeypatch, postgres):
    return install_plugin(tmp_path, monkeypatch, postgres.port)


def _tunnel(ssm: Ssm, *, clock: FakeClock | None = None, timing: Timing | None = None, statuses=None) -> Tunnel:
    """A tunnel on real time unless a fake clock is given (only for the waits that are about time)."""
    timed = {"clock": clock, "sleep": clock.sleep} if clock is not None else {}
    return Tunnel(
        TARGET,
        choose_local_port("dev"),
        client=ssm.client,
        timing=timing or Timing(),
        on_status=(statuses.append if statuses is not None else lambda text: None),
        reason="infra up --stack dev",
        **timed,
    )


def test_the_tunnel_reaches_the_database_and_leaves_nothing_behind(ssm, plugin, postgres):
    ssm.starts(reason="infra up --stack dev")
    ssm.terminates()
    statuses: list[str] = []
    with _tunnel(ssm, statuses=statuses) as tunnel:
        url = postgres.url(superuser=True, port=tunnel.local_port).replace("localhost", tunnel.host)
        with psycopg.connect(url, connect_timeout=5) as conn:
            assert conn.execute("select 1 + 1").fetchone() == (2,)
        port = tunnel.local_port
    [start] = plugin.starts()
    assert start["operation"] == "StartSession"
    assert start["region"] == REGION
    assert start["target"] == BASTION
    assert start["document"] == "AWS-StartPortForwardingSessionToRemoteHost"
    assert (start["host"], start["port"], start["local_port"]) == (DATABASE_HOST, "5432", port)
    assert start["response_from_env"] is True, "a current plugin gets the token through the environment, not argv"
    assert start["endpoint"] == f"https://ssm.{REGION}.amazonaws.com"
    assert process_gone(start["pid"])
    assert port_closed(port)
    assert any("tunnel open" in s for s in statuses)
    ssm.done()


def test_an_old_plugin_gets_the_session_as_an_argument(ssm, tmp_path, monkeypatch, postgres):
    plugin = install_plugin(tmp_path, monkeypatch, postgres.port, version="1.2.463.0")
    ssm.starts()
    ssm.terminates()
    with _tunnel(ssm):
        pass
    assert plugin.starts()[0]["response_from_env"] is False
    ssm.done()


def test_a_missing_plugin_is_reported_before_any_session_starts(ssm, monkeypatch):
    path_without_plugin(monkeypatch)
    with pytest.raises(PluginMissing) as error:
        _tunnel(ssm).open()
    assert "session-manager-plugin" in error.value.message
    assert "install" in error.value.hint
    ssm.done()


def test_a_refused_session_names_the_permission(ssm, plugin):
    ssm.refuses("AccessDeniedException", "User is not authorized to perform: ssm:StartSession")
    with pytest.raises(SessionRefused) as error:
        _tunnel(ssm).open()
    assert "AccessDeniedException" in error.value.message
    assert "ssm:StartSession" in error.value.hint
    assert plugin.starts() == []
    ssm.done()


def test_a_fresh_bastion_is_waited_for_with_visible_bounded_retries(ssm, plugin):
    ssm.refuses("TargetNotConnected", f"{BASTION} is not connected.", times=2)
    ssm.starts()
    ssm.terminates()
    clock = FakeClock()
    statuses: list[str] = []
    # The port wait is not under test here: its bound is out of the way of the fake clock.
    timing = Timing(register_timeout=60, retry_interval=15, port_timeout=1e6)
    with _tunnel(ssm, clock=clock, statuses=statuses, timing=timing):
        pass
    waits = [s for s in statuses if s.startswith("waiting for bastion")]
    assert len(waits) == 2
    assert "attempt 1" in waits[0]
    assert "at most 60 s" in waits[1]
    assert [s for s in clock.sleeps if s >= 1] == [15, 15]
    ssm.done()


def test_a_bastion_that_never_registers_gives_up_within_the_bound(ssm, plugin):
    ssm.refuses("TargetNotConnected", f"{BASTION} is not connected.", times=5)
    clock = FakeClock()
    with pytest.raises(BastionNotRegistered) as error:
        _tunnel(ssm, clock=clock, timing=Timing(register_timeout=60, retry_interval=15)).open()
    assert "did not register with Session Manager within 60 s (5 attempts)" in error.value.message
    assert "NAT" in error.value.hint
    assert sum(clock.sleeps) <= 60
    assert plugin.starts() == []
    ssm.done()


def test_a_plugin_that_exits_is_reported_with_its_output_and_the_session_ended(ssm, plugin, monkeypatch):
    monkeypatch.setenv("FAKE_SSM_MODE", "exit")
    ssm.starts()
    ssm.terminates()
    with pytest.raises(PortNotOpen) as error, _tunnel(ssm):
        pass
    assert "exited with status 1" in error.value.message
    assert "data channel was refused" in error.value.message
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()


def test_a_port_that_never_opens_times_out_and_the_plugin_is_stopped(ssm, plugin, monkeypatch):
    monkeypatch.setenv("FAKE_SSM_MODE", "silent")
    ssm.starts()
    ssm.terminates()
    clock = FakeClock()
    tunnel = _tunnel(ssm, clock=clock, timing=Timing(port_timeout=3))
    with pytest.raises(PortNotOpen) as error, tunnel:
        pass
    assert "did not open" in error.value.message
    assert "within 3 s" in error.value.message
    assert sum(clock.sleeps) == pytest.approx(3, abs=0.2)
    assert process_gone(tunnel.plugin_pid)
    ssm.done()


def test_an_interrupt_closes_the_plugin_and_the_session(ssm, plugin):
    ssm.starts()
    ssm.terminates()
    tunnel = _tunnel(ssm)

    def interrupted() -> None:
        with tunnel:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert process_gone(tunnel.plugin_pid)
    assert port_closed(tunnel.local_port)
    ssm.done()


def test_the_preferred_port_is_stable_and_a_busy_one_is_avoided(monkeypatch):
    monkeypatch.setattr(tunnel_module, "_port_is_free", lambda port: True)
    preferred = choose_local_port("dev")
    assert preferred == choose_local_port("dev")
    assert 15432 <= preferred < 15932
    monkeypatch.setattr(tunnel_module, "_port_is_free", lambda port: False)
    fallback = choose_local_port("dev")
    assert fallback != preferred
    assert port_closed(fallback)


def test_a_port_with_a_listener_is_busy_and_free_again_once_it_closes():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    assert tunnel_module._port_is_free(port) is False
    for end in (accepted, client, listener):
        end.close()
    assert tunnel_module._port_is_free(port) is True, "connections in TIME_WAIT do not make the port busy"


def test_a_termination_signal_closes_the_plugin_and_the_session_too(ssm, plugin):
    ssm.starts()
    ssm.terminates()
    before = signal.getsignal(signal.SIGTERM)
    tunnel = _tunnel(ssm)

    def terminated() -> None:
        with tunnel:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt):
        terminated()
    assert process_gone(tunnel.plugin_pid)
    assert signal.getsignal(signal.SIGTERM) is before
    ssm.done()
