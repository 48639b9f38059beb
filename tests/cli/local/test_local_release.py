"""Local releases for real: blue/green under continuous requests, a failing release kept from traffic, rollback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from stacks.content_tag import content_tag
from tests.continuous_requests import ContinuousRequests
from tests.harness import cli_failure, scratch_dir

REPO = Path(__file__).resolve().parents[3]
INFRA = [sys.executable, "-m", "cli"]
HEARTBEAT = "app_image/groundwork_api/app.py"
FAILING = (
    '        headers = {"Retry-After": "1"} if status == 503 else None\n',
    "        status = 500  # a release that answers wrongly\n"
    '        headers = {"Retry-After": "1"} if status == 503 else None\n',
)
RATE_LIMIT = "groundwork:firewallRateLimit: 600\n"
"""The local stack's per-client limit (600 a minute): the loop of requests would meet it within seconds."""


class Project:
    """A copy of the project (its sources change from one release to the next) and its local stack."""

    def __init__(self, base: Path) -> None:
        self.dir, self.stack = base / "project", base / "stack"
        shutil.copytree(
            REPO,
            self.dir,
            ignore=shutil.ignore_patterns(".git", ".venv", ".infra", "__pycache__", "*.whl", "node_modules"),
        )
        settings = self.dir / "Pulumi.local.yaml"
        text = settings.read_text()
        assert RATE_LIMIT in text, "Pulumi.local.yaml's firewallRateLimit moved; update RATE_LIMIT"
        # The firewall is not what these tests measure: every 429 would be an error of the release otherwise.
        settings.write_text(text.replace(RATE_LIMIT, "groundwork:firewallRateLimit: 1000000\n"))

    def infra(self, *args: str, code: int | None = 0) -> dict:
        env = {**os.environ, "INFRA_LOCAL_DIR": str(self.stack), "INFRA_PROJECT_DIR": str(self.dir)}
        result = subprocess.run(
            [*INFRA, *args, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert code is None or result.returncode == code, f"infra {' '.join(args)} {cli_failure(result)}"
        return json.loads(result.stdout)

    def live_sources(self) -> Path:
        """Where the live API process runs from (its working directory: the kept sources of its release)."""
        api = next(s for s in self.infra("status")["services"] if s["name"] == "api")
        return Path(os.readlink(f"/proc/{api['pid']}/cwd"))

    def live_version(self) -> str:
        """The version the live API process reports (its APP_VERSION)."""
        api = next(s for s in self.infra("status")["services"] if s["name"] == "api")
        environ = Path(f"/proc/{api['pid']}/environ").read_bytes().split(b"\0")
        return dict(item.decode().split("=", 1) for item in environ if b"=" in item)["APP_VERSION"]

    def new_version(self, marker: str) -> str:
        """A change to the app's sources; their new content tag."""
        (self.dir / "app_image" / "groundwork_api" / "release_marker.py").write_text(f'"""Release {marker}."""\n')
        return content_tag(self.dir / "app_image")


@pytest.fixture(scope="module")
def project():
    base = scratch_dir("groundwork-release-")
    made = Project(base)
    yield made
    made.infra("destroy", "--stack", "local", "--yes", code=None)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def first(project):
    """The first release: the stack made from nothing."""
    document = project.infra("up", "--stack", "local")
    return {"up": document, "sources": project.live_sources(), "tag": content_tag(project.dir / "app_image")}


@pytest.fixture(scope="module")
def second(project, first):
    """The second release, made while a client sends GET /heartbeat without pause."""
    outputs = first["up"]["outputs"]
    tag = project.new_version("two")
    with ContinuousRequests(outputs["service_url"], outputs["ca_certificate"]) as load:
        document = project.infra("up", "--stack", "local")
    print(f"release under continuous requests: {load.summary()}")
    for line in load.retried:
        print(f"  sent again: {line}")
    return {"up": document, "load": load, "sources": project.live_sources(), "tag": tag}


def test_first_up_releases_from_kept_sources(project, first):
    assert first["up"]["release"]["outcome"] == "promoted"
    assert first["up"]["release"]["image"] == first["tag"]
    assert first["sources"] == project.stack / "releases" / first["tag"] / "app_image"


def test_release_under_continuous_requests_sees_no_error(project, first, second):
    load = second["load"]
    assert load.answered > 0, "the client sent requests through the release"
    assert load.errors == [], f"{load.summary()}: {load.errors[:10]}"
    assert second["up"]["release"]["image"] == second["tag"]
    assert second["sources"] == project.stack / "releases" / second["tag"] / "app_image"
    assert second["sources"] != first["sources"]
    assert project.live_version() == second["tag"]
    actions = {s["name"]: s["action"] for s in second["up"]["services"]}
    assert actions["api"] == "update"
    # nginx switched to the new version; Prometheus's target and the scheduler's tasks followed it
    assert {name: actions[name] for name in ("tls", "prometheus", "scheduler")} == dict.fromkeys(
        ("tls", "prometheus", "scheduler"), "update"
    )
    old_slot = project.stack / "run" / "api.pid"
    assert not old_slot.exists(), "the previous version stopped once nginx no longer sent it anything"


def test_release_whose_heartbeat_answers_500_is_not_promoted(project, second):
    url, ca = second["up"]["outputs"]["service_url"], second["up"]["outputs"]["ca_certificate"]
    source = project.dir / HEARTBEAT
    good = source.read_text()
    assert FAILING[0] in good, "the heartbeat's status line moved; update FAILING"
    source.write_text(good.replace(*FAILING))
    try:
        with ContinuousRequests(url, ca) as load:
            failed = project.infra("up", "--stack", "local", code=1)
    finally:
        source.write_text(good)
    print(f"failed release under continuous requests: {load.summary()}")
    message = failed["error"]["message"]
    assert "not promoted" in message, message
    assert "heartbeat" in message, message
    assert load.errors == [], f"{load.summary()}: {load.errors[:10]}"
    assert project.live_sources() == second["sources"], "the previous version keeps serving"
    assert httpx.get(f"{url}/heartbeat", verify=ssl.create_default_context(cafile=ca)).status_code == 200
    last = project.infra("releases", "--stack", "local")["releases"][-1]
    assert last["outcome"] == "failed before traffic"
    assert "heartbeat" in last["failed_checks"]


def test_rollback_brings_back_the_previous_version(project, first, second):
    url, ca = second["up"]["outputs"]["service_url"], second["up"]["outputs"]["ca_certificate"]
    rolled = project.infra("rollback", "--stack", "local", "--yes")
    assert rolled["rollback_of"] == first["up"]["release"]["id"]
    assert rolled["release"]["image"] == first["tag"]
    assert project.live_sources() == first["sources"], "the first version is back, from its kept sources"
    assert project.live_version() == first["tag"], "and reports its own version, not the project's"
    assert httpx.get(f"{url}/heartbeat", verify=ssl.create_default_context(cafile=ca)).status_code == 200
    history = project.infra("releases", "--stack", "local")["releases"]
    for release in history:
        assert {"id", "outcome", "image"} <= release.keys()
    by_id = {r["id"]: r for r in history}
    assert by_id[second["up"]["release"]["id"]]["outcome"] == "rolled back"
    assert history[-1] == rolled["release"]
    assert history[-1]["outcome"] == "promoted"
    assert history[-1]["rollback_of"] == first["up"]["release"]["id"]


def test_rollback_needs_an_earlier_promoted_release_and_names_the_choices(project, first, second):
    failed = project.infra("rollback", "--stack", "local", "--to", "r999", "--yes", code=2)
    assert "r999" in failed["error"]["message"]


def test_a_release_whose_idle_port_another_program_took_moves_to_a_free_one(project, first, second):
    state = json.loads((project.stack / "state.json").read_text())
    live = (state["applied"].get("api_release") or {}).get("slot", "api")
    idle = next(slot for slot in ("api", "api_green") if slot != live)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the previous version's closed connections
        squatter.bind(("127.0.0.1", state["ports"][idle]))
        squatter.listen()
        project.new_version("squatted")
        released = project.infra("up", "--stack", "local")
    assert released["release"]["outcome"] == "promoted"
    moved = json.loads((project.stack / "state.json").read_text())["ports"][idle]
    assert moved != state["ports"][idle], "the idle slot got a new port, kept in the stack's state"
    api = next(s for s in project.infra("status")["services"] if s["name"] == "api")
    assert moved in api["ports"], api
    url, ca = released["outputs"]["service_url"], released["outputs"]["ca_certificate"]
    assert httpx.get(f"{url}/heartbeat", verify=ssl.create_default_context(cafile=ca)).status_code == 200
    again = project.infra("up", "--stack", "local")["services"]
    assert [s["name"] for s in again if s["action"] != "same"] == [], "a later up agrees with the moved port"
