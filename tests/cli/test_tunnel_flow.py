"""`infra up/preview/refresh/destroy` on the committed stack files: the tunnel, the phases, the run-only values."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pulumi.automation import errors as auto_errors
from pulumi.automation._cmd import CommandResult
from pulumi.automation.events import OpType

from cli.cloud import database_path
from cli.cloud import engine as engine_module
from cli.cloud import tunnel as tunnel_module
from cli.cloud.database_path import ADMIN_HOST, ADMIN_PORT, OBJECTS
from cli.cloud.tunnel import Timing
from cli.core.outputs import StackOutput
from tests.cli import events
from tests.cli.conftest import REPO
from tests.cli.fakes import OUTPUTS, FakeEngine, Script, state
from tests.cli.ssm import (
    BASTION,
    DATABASE_HOST,
    REGION,
    Ssm,
    install_plugin,
    path_without_plugin,
    port_closed,
    process_gone,
)

TUNNEL_OUTPUTS = {
    **OUTPUTS,
    "bastion_instance_id": StackOutput(BASTION, False),
    "database_endpoint": StackOutput(DATABASE_HOST, False),
    "region": StackOutput(REGION, False),
    "database_objects": StackOutput(True, False),
}


class TunnelEngine(FakeEngine):
    """The scripted engine; an update with run values connects through them, as the postgresql provider would."""

    def __init__(self, project_dir: Path, postgres: Any) -> None:
        super().__init__(project_dir)
        self.postgres = postgres
        self.queue: dict[str, list[Script]] = {}
        self.reached: list[tuple[str, int, str]] = []

    def then(self, name: str, **kwargs: Any) -> None:
        """Script the next call of `name` (a queue, for the two updates of a first deploy)."""
        self.queue.setdefault(name, []).append(Script(**kwargs))

    def _play(self, name, stack, on_event, **kwargs):
        queued = self.queue.get(name)
        if queued:
            self.scripts[name] = queued.pop(0)
        config = kwargs.get("config") or {}
        if ADMIN_HOST in config:
            url = self.postgres.url(superuser=True, port=int(config[ADMIN_PORT])).replace("localhost", "127.0.0.1")
            with psycopg.connect(url, connect_timeout=5) as conn:
                (user,) = conn.execute("select current_user").fetchone()
            self.reached.append((name, int(config[ADMIN_PORT]), user))
        return super()._play(name, stack, on_event, **kwargs)


@pytest.fixture
def committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed Pulumi.yaml and stack files, database objects and bastion included."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(REPO / name, root / name)
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(root))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-passphrase")
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("INFRA_SECRETS_PROVIDER", raising=False)
    return root


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Ssm:
    stubbed = Ssm()
    monkeypatch.setattr(tunnel_module, "ssm_client", lambda region: stubbed.client)
    return stubbed


@pytest.fixture
def plugin(tmp_path, monkeypatch, postgres):
    return install_plugin(tmp_path, monkeypatch, postgres.port)


@pytest.fixture
def engine(committed, postgres, monkeypatch) -> TunnelEngine:
    fake = TunnelEngine(committed, postgres)
    monkeypatch.setattr(engine_module, "create_engine", lambda project_dir: fake)
    return fake


def deployed(stack: str = "dev", *, objects: bool = True) -> dict[str, Any]:
    """The state of a stack whose database and bastion exist (and, when asked, its database objects)."""
    document = state(stack, protect_data=False)

    def res(type_: str, name: str, custom: bool = True) -> dict[str, Any]:
        urn = f"urn:pulumi:{stack}::groundwork::{type_}::{name}"
        return {"urn": urn, "type": type_, "id": f"{name}-id" if custom else "", "custom": custom, "outputs": {}}

    document["resources"] += [
        res("groundwork:bastion:Bastion", f"gw-{stack}-bastion", custom=False),
        res("aws:ec2/instance:Instance", f"gw-{stack}-bastion-host"),
    ]
    if objects:
        document["resources"] += [
            res("pulumi:providers:postgresql", f"gw-{stack}-postgresql"),
            res("postgresql:index/role:Role", f"gw-{stack}-dbobjects-app-role"),
        ]
    return document


def objects_created(stack: str = "dev") -> list[Any]:
    """The second update of a first deploy: the rest unchanged, the database objects created."""
    stream = [events.prelude(), *events.stack_step(stack, OpType.SAME)]
    for type_, name in ((events.VPC, "main-vpc"), (events.DB, "main-db"), (events.PROXY, "main-proxy")):
        stream += events.step(OpType.SAME, events.urn(stack, type_, name), type_)
    for type_, name in (
        ("postgresql:index/role:Role", "app-role"),
        ("postgresql:index/role:Role", "readonly-role"),
        ("postgresql:index/database:Database", "database"),
        ("postgresql:index/grant:Grant", "app-connect"),
        ("postgresql:index/defaultPrivileges:DefaultPrivileges", "readonly-default-tables"),
    ):
        stream += events.step(OpType.CREATE, events.urn(stack, type_, f"gw-{stack}-dbobjects-{name}"), type_)
    stream.append(events.summary({OpType.SAME: 5, OpType.CREATE: 5}, seconds=9))
    return stream


def calls(engine: FakeEngine) -> list[tuple[str, dict[str, Any]]]:
    return [(name, kwargs.get("config")) for name, _, kwargs in engine.calls]


def update_failure() -> auto_errors.CommandError:
    return auto_errors.CommandError(
        CommandResult("", "error: update failed\nerror: postgresql:index/role:Role: connection refused", 255)
    )


def test_a_first_deploy_applies_everything_then_the_objects_through_the_tunnel(infra, engine, ssm, plugin, committed):
    stack_file = (committed / "Pulumi.dev.yaml").read_bytes()
    engine.script("export_state", result={"resources": []})
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.then("up", events=events.first_deploy("dev", planning=False), result=TUNNEL_OUTPUTS)
    engine.then("up", events=objects_created(), result=TUNNEL_OUTPUTS)
    ssm.starts(reason="infra up --stack dev")
    ssm.terminates()

    result = infra("up", "--stack", "dev", "--yes", code=0)

    sequence = calls(engine)
    assert [name for name, _ in sequence] == ["export_state", "preview", "up", "up"]
    assert sequence[1][1] is None, "the preview shows the whole stack, objects included"
    assert sequence[2][1] == {OBJECTS: False}
    port = sequence[3][1][ADMIN_PORT]
    assert sequence[3][1] == {ADMIN_HOST: "127.0.0.1", ADMIN_PORT: port}
    assert engine.reached == [("up", port, "postgres")], "the second update reached the real database"
    assert (committed / "Pulumi.dev.yaml").read_bytes() == stack_file, "the run values never reach the stack file"
    err = result.stderr
    assert err.index("phase 1 of 2") < err.index("phase 1 of 2 done") < err.index("phase 2 of 2")
    assert err.index("phase 2 of 2") < err.index("tunnel open") < err.index("tunnel closed")
    assert err.index("tunnel closed") < err.index("phase 2 of 2 done")
    assert "created  gw-dev-dbobjects-app-role" in err
    assert "phase 2 of 2 done: 5 created" in err
    assert "applied dev: 10 created" in err
    [start] = plugin.starts()
    assert (start["target"], start["host"], start["local_port"]) == (BASTION, DATABASE_HOST, port)
    assert process_gone(start["pid"])
    assert port_closed(port)
    ssm.done()
    print(err)  # the first-deploy output, shown with -s


def test_first_deploy_json_lists_both_phases(infra, engine, ssm, plugin):
    engine.script("export_state", result={"resources": []})
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.then("up", events=events.first_deploy("dev", planning=False), result=TUNNEL_OUTPUTS)
    engine.then("up", events=events.nothing_to_do("dev", planning=False), result=TUNNEL_OUTPUTS)
    ssm.starts()
    ssm.terminates()
    doc = infra.json("up", "--stack", "dev", "--yes")
    assert [p["phase"] for p in doc["phases"]] == ["infrastructure", "database objects"]
    assert doc["phases"][0]["applied"]["counts"]["create"] == 5
    assert doc["outputs"]["bastion_instance_id"] == BASTION


def test_an_existing_stack_opens_the_tunnel_first_and_applies_once(infra, engine, ssm, plugin):
    engine.script("export_state", result=deployed())
    engine.script("outputs", result=TUNNEL_OUTPUTS)
    engine.script("preview", events=events.image_update("dev", planning=True))
    engine.script("up", events=events.image_update("dev", planning=False), result=TUNNEL_OUTPUTS)
    ssm.starts()
    ssm.terminates()
    result = infra("up", "--stack", "dev", "--yes", code=0)
    sequence = calls(engine)
    assert [name for name, _ in sequence] == ["export_state", "outputs", "preview", "up"]
    values = sequence[2][1]
    assert values[ADMIN_HOST] == "127.0.0.1"
    assert sequence[3][1] == values, "the preview and the update use the same tunnel"
    assert [name for name, _, _ in engine.reached] == ["preview", "up"]
    assert "phase" not in result.stderr
    assert len(plugin.starts()) == 1
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()


def test_a_stack_with_database_and_bastion_but_no_objects_yet_gets_them_in_one_update(infra, engine, ssm, plugin):
    engine.script("export_state", result=deployed(objects=False))
    engine.script("outputs", result=TUNNEL_OUTPUTS)
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.script("up", events=events.first_deploy("dev", planning=False), result=TUNNEL_OUTPUTS)
    ssm.starts()
    ssm.terminates()
    infra("up", "--stack", "dev", "--yes", code=0)
    assert [name for name, config in calls(engine) if config] == ["preview", "up"]
    ssm.done()


def test_a_failed_second_update_closes_the_tunnel_and_says_how_to_apply_again(infra, engine, ssm, plugin):
    engine.script("export_state", result={"resources": []})
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.then("up", events=events.first_deploy("dev", planning=False), result=TUNNEL_OUTPUTS)
    engine.then("up", error=update_failure())
    ssm.starts()
    ssm.terminates()
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    assert "the database objects were not applied" in doc["error"]["message"]
    assert "run `infra up --stack dev` again to apply them" in doc["error"]["hint"]
    assert process_gone(plugin.starts()[0]["pid"])
    assert port_closed(plugin.starts()[0]["local_port"])
    ssm.done()


def test_an_interrupt_during_the_update_closes_the_tunnel(infra, engine, ssm, plugin):
    engine.script("export_state", result=deployed())
    engine.script("outputs", result=TUNNEL_OUTPUTS)
    engine.script("preview", events=events.image_update("dev", planning=True))
    engine.script("up", error=KeyboardInterrupt())
    ssm.starts()
    ssm.terminates()
    result = infra("up", "--stack", "dev", "--yes", code=1)
    assert "interrupted" in result.stderr
    assert "tunnel closed" in result.stderr
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()


def _fresh_until_the_tunnel(engine: TunnelEngine) -> None:
    engine.script("export_state", result={"resources": []})
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.script("up", events=events.first_deploy("dev", planning=False), result=TUNNEL_OUTPUTS)


def _assert_not_applied(doc: dict[str, Any], engine: TunnelEngine) -> None:
    assert "the database objects were not applied" in doc["error"]["message"]
    assert "infra up --stack dev` again to apply them" in doc["error"]["hint"]
    assert [name for name, _ in calls(engine)] == ["export_state", "preview", "up"], "phase 2 never ran"


def test_a_missing_plugin_stops_before_the_objects(infra, engine, ssm, monkeypatch):
    path_without_plugin(monkeypatch)
    _fresh_until_the_tunnel(engine)
    doc = infra.json("up", "--stack", "dev", "--yes", code=2)
    assert doc["error"]["kind"] == "PluginMissing"
    assert "Session Manager plugin is not installed" in doc["error"]["message"]
    assert "session-manager-plugin" in doc["error"]["hint"]
    _assert_not_applied(doc, engine)
    ssm.done()


def test_a_refused_session_stops_before_the_objects(infra, engine, ssm, plugin):
    _fresh_until_the_tunnel(engine)
    ssm.refuses("AccessDeniedException", "not authorized to perform ssm:StartSession")
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    assert doc["error"]["kind"] == "SessionRefused"
    assert "ssm:StartSession" in doc["error"]["hint"]
    _assert_not_applied(doc, engine)
    assert plugin.starts() == []
    ssm.done()


def test_a_bastion_that_does_not_register_stops_before_the_objects(infra, engine, ssm, plugin, monkeypatch):
    monkeypatch.setattr(database_path, "TIMING", Timing(register_timeout=0))
    _fresh_until_the_tunnel(engine)
    ssm.refuses("TargetNotConnected", f"{BASTION} is not connected.")
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    assert doc["error"]["kind"] == "BastionNotRegistered"
    assert "did not register with Session Manager" in doc["error"]["message"]
    assert "(NAT gateway); then run `infra up --stack dev` again to apply them" in doc["error"]["hint"]
    assert "try again" not in doc["error"]["hint"]
    _assert_not_applied(doc, engine)
    ssm.done()


def test_a_port_that_does_not_open_stops_before_the_objects(infra, engine, ssm, plugin, monkeypatch):
    monkeypatch.setenv("FAKE_SSM_MODE", "exit")
    _fresh_until_the_tunnel(engine)
    ssm.starts()
    ssm.terminates()
    doc = infra.json("up", "--stack", "dev", "--yes", code=1)
    assert doc["error"]["kind"] == "PortNotOpen"
    assert "before 127.0.0.1:" in doc["error"]["message"]
    _assert_not_applied(doc, engine)
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()


def test_preview_uses_the_tunnel_once_the_objects_are_in_the_state(infra, engine, ssm, plugin):
    engine.script("export_state", result=deployed())
    engine.script("outputs", result=TUNNEL_OUTPUTS)
    engine.script("preview", events=events.nothing_to_do("dev", planning=True))
    ssm.starts(reason="infra preview --stack dev")
    ssm.terminates()
    infra("preview", "--stack", "dev", code=0)
    [(_, config)] = [c for c in calls(engine) if c[0] == "preview"]
    assert config[ADMIN_HOST] == "127.0.0.1"
    assert [name for name, _, _ in engine.reached] == ["preview"]
    ssm.done()


def test_preview_of_a_new_stack_needs_no_tunnel(infra, engine, ssm):
    engine.script("export_state", error=auto_errors.StackNotFoundError(CommandResult("", "no stack named 'dev'", 255)))
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    infra("preview", "--stack", "dev", code=0)
    assert calls(engine)[-1] == ("preview", None)
    ssm.done()


def test_refresh_uses_the_tunnel_once_the_objects_are_in_the_state(infra, engine, ssm, plugin):
    engine.script("export_state", result=deployed())
    engine.script("outputs", result=TUNNEL_OUTPUTS)
    engine.script("refresh", events=events.drift("dev"))
    ssm.starts(reason="infra refresh --stack dev")
    ssm.terminates()
    infra("refresh", "--stack", "dev", code=0)
    [(_, config)] = [c for c in calls(engine) if c[0] == "refresh"]
    assert config[ADMIN_HOST] == "127.0.0.1"
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()


def test_destroy_needs_no_tunnel_because_the_objects_are_retained(infra, engine, ssm):
    engine.script("export_state", result=deployed())
    engine.script("destroy", events=events.teardown("dev", [(events.DB, "main-db")]))
    infra("destroy", "--stack", "dev", "--yes", code=0)
    assert [name for name, _ in calls(engine)] == ["export_state", "destroy"]
    ssm.done()


def test_a_stack_without_database_objects_opens_no_tunnel(infra, engine, ssm, committed):
    path = committed / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("databaseObjects: true", "databaseObjects: false"))
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.script("up", events=events.first_deploy("dev", planning=False), result=OUTPUTS)
    infra("up", "--stack", "dev", "--yes", code=0)
    assert calls(engine) == [("preview", None), ("up", None)]
    ssm.done()


def test_an_admin_host_of_ones_own_turns_the_tunnel_off(infra, engine, ssm, committed):
    path = committed / "Pulumi.dev.yaml"
    path.write_text(path.read_text() + "  groundwork:databaseAdminHost: db-admin.internal.example.com\n")
    engine.script("preview", events=events.first_deploy("dev", planning=True))
    engine.script("up", events=events.first_deploy("dev", planning=False), result=OUTPUTS)
    infra("up", "--stack", "dev", "--yes", code=0)
    assert calls(engine) == [("preview", None), ("up", None)]
    ssm.done()


def test_prod_takes_the_same_path_in_two_phases(infra, engine, ssm, plugin):
    engine.script("export_state", result={"resources": []})
    engine.script("preview", events=events.first_deploy("prod", planning=True))
    engine.then("up", events=events.first_deploy("prod", planning=False), result=TUNNEL_OUTPUTS)
    engine.then("up", events=objects_created("prod"), result=TUNNEL_OUTPUTS)
    ssm.starts(reason="infra up --stack prod")
    ssm.terminates()
    doc = infra.json("up", "--stack", "prod", "--yes")
    assert [p["phase"] for p in doc["phases"]] == ["infrastructure", "database objects"]
    assert [name for name, _, _ in engine.reached] == ["up"]
    assert process_gone(plugin.starts()[0]["pid"])
    ssm.done()
