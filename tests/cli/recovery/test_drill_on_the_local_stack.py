"""`infra drill --stack local` on a fresh local stack, through the real CLI: every row back, none after the point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import scratch_dir

REPO = Path(__file__).resolve().parents[3]


def _infra(local_dir: Path, *args: str) -> dict:
    env = {**os.environ, "INFRA_LOCAL_DIR": str(local_dir), "INFRA_PROJECT_DIR": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"infra {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def local_stack() -> Iterator[Path]:
    base = scratch_dir("groundwork-drill-")
    stack = base / "stack"
    try:
        _infra(stack, "up", "--stack", "local")
        yield stack
    finally:
        _infra(stack, "destroy", "--stack", "local", "--yes")
        shutil.rmtree(base, ignore_errors=True)


def test_the_drill_restores_every_row_before_the_point_and_none_after(local_stack: Path) -> None:
    document = _infra(local_stack, "drill", "--stack", "local")
    report = document["drill"]
    assert document["ok"] is True
    assert report["ok"] is True, report.get("failure")
    checks = report["checks"]
    assert checks["rows_missing"] == []
    assert checks["rows_expected"] >= report["writes"]["before_restore_point"] > 0
    assert checks["rows_after_restore_point_present"] == []
    assert report["writes"]["after_restore_point"] > 0
    assert report["recovery_point_seconds"] >= 0
    assert report["recovery_time_seconds"] > 0
    assert report["throwaway_removed"] is True
    assert Path(report["markdown"]).is_file()
