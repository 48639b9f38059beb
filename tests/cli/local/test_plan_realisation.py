"""The local stack realises the program's own plan: a change to the program reaches the running processes."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cli.local.processes import pid_alive
from tests.cli.smoke.untimed import UNTIMED_FLAGS
from tests.harness import cli_failure, copy_local_program, scratch_dir

REPO = Path(__file__).resolve().parents[3]


class Project:
    """A copy of the program that a test edits, with its own local stack."""

    def __init__(self, root: Path):
        self.root = root
        self.tree = root / "project"
        self.local_dir = root / "stack"
        copy_local_program(self.tree)

    def infra(self, *args: str, code: int = 0) -> dict:
        env = {
            **os.environ,
            "INFRA_LOCAL_DIR": str(self.local_dir),
            "INFRA_PROJECT_DIR": str(self.tree),
            "PYTHONPATH": str(REPO),
        }
        result = subprocess.run(
            [sys.executable, "-m", "cli", *args, "--json"],
            cwd=self.tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == code, f"infra {' '.join(args)} {cli_failure(result)}"
        return json.loads(result.stdout)

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.tree / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def project():
    root = scratch_dir("groundwork-plan-")
    project = Project(root)
    project.infra("up", "--stack", "local")
    yield project
    project.infra("destroy", "--stack", "local", "--yes")
    shutil.rmtree(root, ignore_errors=True)


def _actions(document: dict) -> dict[str, str]:
    return {s["name"]: s["action"] for s in document["services"]}


def _changed(document: dict) -> dict[str, str]:
    return {name: action for name, action in _actions(document).items() if action != "same"}


def _api_environment(project: Project, service: str = "api") -> dict[str, str]:
    pid = {s["name"]: s["pid"] for s in project.infra("status")["services"]}[service]
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_an_environment_variable_added_to_the_task_definition_reaches_the_api_only(project):
    before = _api_environment(project)
    # The program's issuer, naming the pool by the id moto's server gives it (the identity adapters).
    pool = project.infra("outputs", "--stack", "local")["outputs"]["user_pool_id"]
    assert before["JWT_ISSUER"] == f"https://cognito-idp.us-east-1.amazonaws.com/{pool}"
    assert before["JWT_JWKS_URL"].endswith(f"/{pool}/.well-known/jwks.json")
    assert before["DATABASE_IAM_AUTH"] == "false"  # the IAM adapter: the password from the credentials secret
    assert before["PGPASSWORD"]
    assert "PROBE" not in before
    project.edit("stacks/derived.py", '"WORKERS": str(', '"PROBE": "on", "WORKERS": str(')
    preview = project.infra("preview", "--stack", "local", "--detailed-exitcode", code=3)
    assert _actions(preview)["api"] == "update"
    # The cloud preview's shape: one target interface, one document.
    assert {"ok", "operation", "stack", "counts", "changes", "failed", "diagnostics", "changes_present"} <= set(preview)
    assert [(c["name"], c["op"]) for c in preview["changes"]] == [("api", "update"), ("scheduler", "update")]
    up = project.infra("up", "--stack", "local")
    # The scheduled jobs run the API's task definition, so they get the new variable too (a new task definition
    # revision updates the schedules in the cloud as well). The release moved the API to its other port slot: nginx
    # switched to it and Prometheus's target followed.
    assert _changed(up) == {"api": "update", "scheduler": "update", "tls": "update", "prometheus": "update"}
    assert up["database_objects"]["applied"] == []
    assert _api_environment(project)["PROBE"] == "on"
    assert project.infra("up", "--stack", "local")["changes"] == 0


def test_a_change_to_the_worker_environment_restarts_the_worker_only(project):
    before = _api_environment(project, "worker")
    assert "PROBE" not in before
    project.edit("stacks/program.py", '"CACHE_IAM_AUTH": "true",', '"CACHE_IAM_AUTH": "true", "PROBE": "worker",')
    assert _changed(project.infra("preview", "--stack", "local", "--detailed-exitcode", code=3)) == {"worker": "update"}
    up = project.infra("up", "--stack", "local")
    assert _changed(up) == {"worker": "update"}
    after = _api_environment(project, "worker")
    assert after["PROBE"] == "worker"
    assert after["CACHE_PASSWORD"] == before["CACHE_PASSWORD"]  # the stack's secret, made once


def test_a_worker_the_program_stops_declaring_is_stopped_and_comes_back_with_it(project):
    pid = {s["name"]: s["pid"] for s in project.infra("status")["services"]}["worker"]
    project.edit("Pulumi.local.yaml", "groundwork:worker: true", "groundwork:worker: false")
    # Prometheus stops scraping it and drops its backlog rule.
    removed = {"worker": "delete", "prometheus": "update"}
    assert _changed(project.infra("preview", "--stack", "local", "--detailed-exitcode", code=3)) == removed
    up = project.infra("up", "--stack", "local")
    assert _changed(up) == removed
    assert not pid_alive(pid)
    assert "worker" not in {s["name"] for s in project.infra("status")["services"]}
    assert project.infra("up", "--stack", "local")["changes"] == 0
    project.edit("Pulumi.local.yaml", "groundwork:worker: false", "groundwork:worker: true")
    assert _changed(project.infra("up", "--stack", "local")) == {"worker": "start", "prometheus": "update"}
    assert {s["name"]: s["state"] for s in project.infra("status")["services"]}["worker"] == "running"


def test_a_changed_rate_rule_reloads_nginx_only(project):
    project.edit("Pulumi.local.yaml", "groundwork:firewallRateLimit: 600", "groundwork:firewallRateLimit: 900")
    up = project.infra("up", "--stack", "local")
    assert _changed(up) == {"tls": "update"}
    out = project.infra("outputs", "--stack", "local")["outputs"]
    assert (out["edge_rate_limit"], out["edge_rate_allowance"]) == (900, 900)
    conf = (project.local_dir / "nginx" / "nginx.conf").read_text()
    assert "rate=900r/m" in conf
    assert "burst=899 nodelay" in conf


def test_a_schedule_added_to_the_program_runs_with_its_task_environment_without_a_timer_restart(project):
    import datetime as dt
    import time

    timer = {s["name"]: s["pid"] for s in project.infra("status")["services"]}["scheduler"]
    # Far enough ahead that the up below has taken the schedule before its time, even on a loaded machine.
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=40)
    probe = (
        'import os, sys; sys.exit(0 if os.environ.get("JWT_JWKS_URL", "").startswith("https://127.0.0.1:") '
        'and os.environ.get("DATABASE_IAM_AUTH") == "false" and os.environ.get("PGPASSWORD") else 3)'
    )
    project.edit(
        "Pulumi.local.yaml",
        "  groundwork:schedules:\n",
        f"  groundwork:schedules:\n    - name: probe\n      expression: at({when:%Y-%m-%dT%H:%M:%S})\n"
        f"      command: [python, -c, '{probe}']\n",
    )
    up = project.infra("up", "--stack", "local")
    assert _changed(up) == {"scheduler": "update"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = project.infra("status")
        job = next(j for j in status["schedules"] if j["name"] == "probe")
        if job["last_exit"] is not None:
            break
        time.sleep(0.5)
    assert job["last_exit"] == 0, job  # the job saw the task's secrets and the adapters' environment
    assert job["next_run"] is None  # at(...) runs once
    assert {s["name"]: s["pid"] for s in status["services"]}["scheduler"] == timer  # taken without a restart


def test_a_removed_grant_fails_writes_and_smoke_until_restored(project):
    project.edit("infra/database_objects.py", 'privileges=["CONNECT", "TEMPORARY"]', 'privileges=["TEMPORARY"]')
    up = project.infra("up", "--stack", "local")
    assert set(_actions(up).values()) == {"same"}  # SQL only
    assert [urn.rpartition("::")[2] for urn in up["database_objects"]["applied"]] == ["gw-local-dbobjects-app-connect"]
    failed = project.infra("smoke", "--stack", "local", code=1)["smoke"]
    assert failed["passed"] is False
    logs = project.infra("logs", "--lines", "400")["logs"]
    assert "permission denied for database" in "\n".join(logs["pgbouncer"] + logs["postgres"])
    project.edit("infra/database_objects.py", 'privileges=["TEMPORARY"]', 'privileges=["CONNECT", "TEMPORARY"]')
    restored = project.infra("up", "--stack", "local")
    assert len(restored["database_objects"]["applied"]) == 1
    _drain_broken_connections(project)
    assert project.infra("smoke", "--stack", "local", *UNTIMED_FLAGS)["smoke"]["passed"] is True


def _drain_broken_connections(project: Project) -> None:
    """The API's pool still holds connections the pooler closed while logins failed; each fails once, as it
    would after a database outage in the cloud, before the pool replaces it."""
    out = project.infra("outputs", "--stack", "local", "--show-secrets")["outputs"]
    streak = 0
    # The operator's heartbeat runs its own database round trip each time (the public one shares a recent probe).
    operator = project.infra("token", "--stack", "local", "--client")["access_token"]
    headers = {"Authorization": f"Bearer {operator}"}
    with httpx.Client(verify=out["ca_certificate"], timeout=10) as client:
        seen: list[int] = []
        last = ""
        for _ in range(200):
            answer = client.get(f"{out['service_url']}/heartbeat", headers=headers)
            seen.append(answer.status_code)
            last = answer.text
            streak = streak + 1 if seen[-1] == 200 else 0
            if streak == 40:
                return
    raise AssertionError(f"the API did not recover after the restored grant: {collections.Counter(seen)}, last {last}")


def test_a_new_fixed_response_rule_reaches_nginx(project):
    project.edit(
        "infra/loadbalancer.py",
        'conditions=[{"path_pattern": {"values": ["/metrics", "/metrics/*"]}}],',
        'conditions=[{"path_pattern": {"values": ["/metrics", "/metrics/*", "/teapot?"]}}],',
    )
    up = project.infra("up", "--stack", "local")
    assert _actions(up)["tls"] == "update"
    assert _actions(up)["api"] == "same"
    out = project.infra("outputs", "--stack", "local")["outputs"]
    answer = httpx.get(f"{out['service_url']}/teapotX", verify=out["ca_certificate"])
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    assert httpx.get(f"{out['service_url']}/livez", verify=out["ca_certificate"]).status_code == 200


def test_a_bucket_added_to_the_program_exists_with_its_policy(project):
    import boto3

    project.edit(
        "stacks/program.py",
        "    network = Network(",
        """    extra = aws.s3.Bucket(f"{prefix}-extra", force_destroy=True, opts=opts)
    aws.s3.BucketPolicy(
        f"{prefix}-extra-policy",
        bucket=extra.id,
        policy=extra.arn.apply(
            lambda arn: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, arn + "/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            )
        ),
        opts=opts,
    )
    network = Network(""",
    )
    up = project.infra("up", "--stack", "local")
    assert _actions(up)["s3"] == "update"
    assert _actions(up)["api"] == "same"
    out = project.infra("outputs", "--stack", "local")["outputs"]
    s3 = boto3.client(
        "s3",
        endpoint_url=out["s3_endpoint"],
        region_name=out["region"],
        aws_access_key_id="x",
        aws_secret_access_key="x",
        verify=out["ca_certificate"],
    )
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    extra = [n for n in names if n.startswith("gw-local-extra-")]
    assert len(extra) == 1, names
    policy = json.loads(s3.get_bucket_policy(Bucket=extra[0])["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"


def test_resources_without_a_local_counterpart_are_listed_as_cloud_only(project):
    preview = project.infra("preview", "--stack", "local")
    cloud_only = preview["cloud_only"]
    assert cloud_only["types"]["aws:ec2/natGateway:NatGateway"] == 1
    assert cloud_only["types"]["aws:kms/key:Key"] >= 1
    assert "aws:rds/instance:Instance" not in cloud_only["types"]
    # The web ACL's rate rule runs in nginx; its managed groups, association and logging have no local counterpart.
    for rule in ("core", "knownBadInputs", "sqlInjection", "ipReputation"):
        assert cloud_only["types"][f"aws:wafv2/webAcl:WebAcl rule {rule}"] == 1
    assert cloud_only["types"]["aws:wafv2/webAclAssociation:WebAclAssociation"] == 1
    assert cloud_only["types"]["aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"] == 1
    for realised in ("aws:elasticache/replicationGroup:ReplicationGroup", "aws:scheduler/schedule:Schedule"):
        assert realised not in cloud_only["types"]
    assert cloud_only["count"] == sum(cloud_only["types"].values()) > 0
