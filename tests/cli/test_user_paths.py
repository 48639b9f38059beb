"""Files the user names on the command line: a path that cannot be written or read is exit 2 naming the option (or
the file's role), the path and why, never an internal error."""

from __future__ import annotations

import pytest

from tests.cli.plan.programs import PROJECT_DIR


@pytest.fixture
def repository(monkeypatch):
    """The CLI pointed at the repository's own program and stack files."""
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("plan", "--out", "{tmp}"), "--out {tmp}: cannot write it (Is a directory)"),
        (("plan", "--out", "{tmp}/missing/plan.json"), "--out {tmp}/missing/plan.json: cannot write it (No such file"),
        (("plan", "--out", "/dev/full"), "--out /dev/full: cannot write it (No space left on device)"),
        (("plan", "--grafana-dashboard", "{tmp}"), "--grafana-dashboard {tmp}: cannot write it (Is a directory)"),
        (("policy", "--markdown", "{tmp}/missing/pr.md"), "--markdown {tmp}/missing/pr.md: cannot write it"),
    ],
    ids=["out-a-directory", "out-no-parent", "out-a-full-disk", "dashboard-a-directory", "markdown-no-parent"],
)
def test_an_output_path_that_cannot_be_written_is_a_usage_error(infra, repository, tmp_path, args, expected):
    tmp = str(tmp_path)
    refused = infra(*[a.replace("{tmp}", tmp) for a in args], "--stack", "dev", code=2).stderr
    assert expected.replace("{tmp}", tmp) in " ".join(refused.split())
    assert "internal error" not in refused


def test_a_saved_plan_nested_too_deeply_is_refused(infra, repository, tmp_path):
    saved = tmp_path / "deep.json"
    saved.write_text("[" * 100_000 + "]" * 100_000)
    refused = infra("diff", "--stack", "dev", "--base", str(saved), code=2).stderr
    assert f"the plan {saved} is nested too deeply" in " ".join(refused.split())


@pytest.mark.parametrize(
    ("path", "problem"), [("/dev/zero", "is larger than"), ("/nonexistent.json", "cannot be read")]
)
def test_a_saved_plan_that_is_no_small_file_is_refused(infra, repository, path, problem):
    refused = infra("policy", "--stack", "dev", "--plan", path, code=2).stderr
    assert f"the plan {path} {problem}" in " ".join(refused.split())
