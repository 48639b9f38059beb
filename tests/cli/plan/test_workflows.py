"""The CI workflows: lint-clean under actionlint (installed by scripts/setup.sh) and wired as documented."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import yaml

from stacks.settings import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
ACTIONLINT = pathlib.Path(sys.prefix) / "bin" / "actionlint"


def _actionlint(*paths: pathlib.Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: run scripts/setup.sh"
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)], capture_output=True, text=True, check=False)


def _load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))
    return document


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflows_are_lint_clean() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["main.yml", "pull-request.yml"]
    done = _actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: missing\n"
        "    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    done = _actionlint(broken)
    assert done.returncode == 1
    assert "potentially untrusted" in done.stdout
    assert '"missing"' in done.stdout


def test_pull_requests_run_the_tests_then_plan_diff_and_policy_for_dev_and_prod() -> None:
    workflow = _load("pull-request.yml")
    assert list(workflow["on"]) == ["pull_request"]
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert "make test" in _runs(jobs["test"])
    checks = jobs["checks"]
    assert checks["needs"] == "test"
    assert checks["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    runs = _runs(checks)
    assert 'infra plan --stack "$STACK" --out' in runs
    assert 'infra diff --stack "$STACK" --base origin/main' in runs
    assert "infra policy" in runs
    assert "--markdown" in runs
    assert checks["steps"][0]["with"]["fetch-depth"] == 0
    assert "secrets." not in (WORKFLOWS / "pull-request.yml").read_text()
    comment = jobs["comment"]
    assert comment["needs"] == "checks"
    assert comment["permissions"] == {"pull-requests": "write"}
    assert "gh pr comment" in _runs(comment)


def test_main_previews_dev_with_oidc_credentials() -> None:
    workflow = _load("main.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    (job,) = workflow["jobs"].values()
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses)
    credentials = next(s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/"))
    assert "role-to-assume" in credentials["with"]
    assert "aws-access-key-id" not in credentials["with"]
    assert "infra preview --stack dev" in _runs(job)
