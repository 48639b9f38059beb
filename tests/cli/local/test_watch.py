"""`infra up --stack local --watch` for real, on a copy of the project: an app edit served with no failed request, a
syntax error reported while the old code keeps serving, a program edit applied, Ctrl-C leaving the stack running."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.continuous_requests import ContinuousRequests
from tests.harness import copy_local_program, scratch_dir

LIVEZ = '_LIVEZ = b\'{"status":"ok"}\''
"""The line of app_image/groundwork_api/app.py the tests edit: what GET /livez answers."""
SETTING = "groundwork:proxyBorrowTimeoutSeconds: 3"
PACE_S = 0.01
"""Between two requests of the load: steady traffic that leaves the machine's cores to the swap."""


class Watching:
    """The watching `infra up` process, its stderr lines as they come, and the stack's endpoints."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        self.tree, self.env = tree, env
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--stack", "local", "--watch"],
            cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 300) -> str:
        """The first line from now on that holds `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; the watch said:\n" + "\n".join(self.seen[-40:]))

    def infra(self, *args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args, "--json"], cwd=self.tree, env=self.env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def edit(self, relative: str, old: str, new: str) -> float:
        path = self.tree / relative
        text = path.read_text()
        assert old in text, f"{relative} no longer holds {old!r}"
        path.write_text(text.replace(old, new, 1))
        return time.monotonic()


@pytest.fixture(scope="module")
def watching() -> Iterator[Watching]:
    base = scratch_dir("groundwork-watch-")
    tree = base / "project"
    copy_local_program(tree)
    settings = tree / "Pulumi.local.yaml"  # no edge rate rule: the tests' steady requests are not an attack
    settings.write_text(settings.read_text().replace("groundwork:firewall: true", "groundwork:firewall: false"))
    env = {**os.environ, "INFRA_LOCAL_DIR": str(base / "stack"), "INFRA_PROJECT_DIR": str(tree)}
    env.pop("INFRA_CACHE_DIR", None)
    watcher = Watching(tree, env)
    try:
        watcher.wait_for("watching")
        yield watcher
    finally:
        if watcher.process.poll() is None:
            watcher.process.kill()
        subprocess.run([sys.executable, "-m", "cli", "destroy", "--stack", "local", "--yes"], cwd=tree, env=env,
                       capture_output=True, timeout=120, check=False)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def load(watcher: Watching) -> ContinuousRequests:
    """GET /livez through nginx over and over while the API is replaced, counted as a keep-alive client sees it."""
    outputs = watcher.infra("outputs", "--stack", "local")["outputs"]
    return ContinuousRequests(outputs["service_url"], outputs["ca_certificate"], path="/livez", pause=PACE_S)


def test_an_app_edit_is_served_with_no_failed_request(watching):
    worker = {s["name"]: s["pid"] for s in watching.infra("status", "--stack", "local")["services"]}["worker"]
    with load(watching) as traffic:
        saved = watching.edit("app_image/groundwork_api/app.py", LIVEZ, LIVEZ.replace("ok", "ok-1"))
        latency = traffic.served("ok-1", saved)
        watching.wait_for("restarted on the edited app")
        time.sleep(0.5)
    print(
        f"the edited app answered {latency:.2f} s after the save"
        f" ({len(traffic.answers)} answers during the swap; {traffic.summary()})"
    )
    assert traffic.errors == [], f"{traffic.summary()}: {traffic.errors[:5]}"
    assert len(traffic.answers) > 10
    assert traffic.answers[-1][2] == '{"status":"ok-1"}'
    now = {s["name"]: s for s in watching.infra("status", "--stack", "local")["services"]}["worker"]
    assert (now["state"], now["pid"] != worker) == ("running", True), "the worker runs the edited app too"


def test_a_syntax_error_is_reported_and_the_running_code_keeps_serving(watching):
    broken = '_LIVEZ = b\'{"status":"ok-2"}\'\ndef broken(:\n'
    with load(watching) as traffic:
        watching.edit("app_image/groundwork_api/app.py", LIVEZ.replace("ok", "ok-1"), broken)
        line = watching.wait_for("error:")
        assert "app_image/groundwork_api/app.py:" in line
        watching.wait_for("keeps serving")
        time.sleep(0.3)
    assert traffic.errors == []
    assert traffic.answers[-1][2] == '{"status":"ok-1"}', "the code from before the broken edit still answers"
    with load(watching) as traffic:
        fixed = watching.edit("app_image/groundwork_api/app.py", broken, LIVEZ.replace("ok", "ok-3") + "\n")
        print(f"fixed app answered {traffic.served('ok-3', fixed):.2f} s after the save")
        watching.wait_for("restarted on the edited app")
    assert traffic.errors == []


def test_a_program_edit_is_planned_and_applied_one_line_per_change(watching):
    stack = Path(watching.env["INFRA_LOCAL_DIR"])
    before = {s["name"]: s["pid"] for s in watching.infra("status", "--stack", "local")["services"]}
    watching.edit("Pulumi.local.yaml", SETTING, SETTING.replace("3", "4"))
    line = watching.wait_for("pgbouncer: update")
    watching.wait_for("change(s) applied")
    assert "query_wait_timeout = 4" in (stack / "pgbouncer" / "pgbouncer.ini").read_text(), line
    after = {s["name"]: s["pid"] for s in watching.infra("status", "--stack", "local")["services"]}
    assert after["pgbouncer"] != before["pgbouncer"]
    assert after["postgres"] == before["postgres"], "only what the setting reaches is touched"


def test_a_program_that_does_not_plan_is_reported_and_the_stack_keeps_serving(watching):
    program = "stacks/program.py"
    text = (watching.tree / program).read_text()
    with load(watching) as traffic:
        watching.edit(program, "def build(", "def build(:")
        line = watching.wait_for("error:")
        watching.wait_for("keeps serving")
    (watching.tree / program).write_text(text)
    assert "plan failed" in line or "program.py" in line, line
    assert traffic.errors == []
    assert traffic.answers, "the stack answered while the program was broken"


def test_ctrl_c_stops_watching_and_leaves_the_stack_running(watching):
    watching.process.send_signal(signal.SIGINT)
    assert watching.process.wait(timeout=120) == 0
    watching.wait_for("stopped watching", timeout=5)
    states = {s["name"]: s["state"] for s in watching.infra("status", "--stack", "local")["services"]}
    assert set(states.values()) == {"running"}, states


def test_a_rollback_after_watched_edits_brings_back_the_last_release(watching):
    # An edit applied by --watch is no release: what serves is none of the history's, and a rollback goes back to
    # the last release (not to the one before it), which stays promoted.
    history = watching.infra("releases", "--stack", "local")["releases"]
    assert [r["outcome"] for r in history] == ["promoted"]
    rolled = watching.infra("rollback", "--stack", "local", "--yes")
    assert rolled["rollback_of"] == history[0]["id"]
    assert rolled["release"]["image"] == history[0]["image"]
    outputs = watching.infra("outputs", "--stack", "local")["outputs"]
    answer = httpx.get(f"{outputs['service_url']}/livez", verify=outputs["ca_certificate"])
    assert answer.json() == {"status": "ok"}, "the code of the first release serves again"
    after = watching.infra("releases", "--stack", "local")["releases"]
    assert [r["outcome"] for r in after] == ["promoted", "promoted"]
