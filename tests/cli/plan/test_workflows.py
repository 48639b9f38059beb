"""The CI workflows: lint-clean under actionlint (installed by scripts/setup.sh) and wired as documented."""

from __future__ import annotations

import pathlib
import re
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
    offline = {name: job for name, job in jobs.items() if name != "live-preview"}
    assert "secrets." not in yaml.safe_dump(offline)
    assert "id-token" not in yaml.safe_dump(offline)
    comment = jobs["comment"]
    assert comment["needs"] == ["checks", "live-preview"]
    assert comment["permissions"] == {"pull-requests": "write"}
    assert "gh pr comment" in _runs(comment)
    for part in ("summary-dev.md", "summary-prod.md", "summary-live-dev.md"):
        assert part in _runs(comment)


def test_same_repository_pull_requests_also_run_the_real_preview_and_forks_do_not() -> None:
    jobs = _load("pull-request.yml")["jobs"]
    live = jobs["live-preview"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in live["if"]
    assert live["permissions"] == {"contents": "read", "id-token": "write"}
    credentials = next(s for s in live["steps"] if s.get("uses", "").startswith("aws-actions/"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert "aws-access-key-id" not in credentials["with"]
    runs = _runs(live)
    assert "infra preview --stack dev --diff --json > preview-dev.json" in runs
    assert "--skip-policy" not in runs
    assert "python -m cli.plan.preview_markdown preview-dev.json dev > summary-live-dev.md" in runs
    assert live["steps"][-1]["if"] == "steps.preview.outcome == 'failure'"


def _steps(name: str) -> list[dict]:
    return [step for job in _load(name)["jobs"].values() for step in job["steps"]]


def test_the_pulumi_cli_comes_from_its_action_at_one_pinned_version_and_pip_is_cached() -> None:
    pins = set()
    for name in ("main.yml", "pull-request.yml"):
        text = (WORKFLOWS / name).read_text()
        assert "curl" not in text
        assert "get.pulumi.com" not in text
        assert "setup-node" not in text
        steps = _steps(name)
        pulumi = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
        assert len(pulumi) == 1, name
        version = pulumi[0]["with"]["pulumi-version"]
        if version.startswith("${{ env."):
            version = _load(name)["env"][version.removeprefix("${{ env.").removesuffix(" }}")]
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(version)), version
        pins.add(version)
        for step in steps:
            if step.get("uses", "").startswith("actions/setup-python@"):
                assert step["with"]["cache"] == "pip", name
    assert len(pins) == 1, pins


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
