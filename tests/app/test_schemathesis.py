"""The OpenAPI document says exactly what the app accepts: schemathesis, every check on, against the running app."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.app.tokens import admin_token
from tests.harness import APP_DIR, ROOT

EXAMPLES_PER_OPERATION = 100
# The coverage phase enumerates boundary cases for every keyword of every nested schema; the practice schema spells
# out its 16 nesting levels one by one (JSON Schema has no depth limit), and that enumeration grows exponentially
# with them (depth 3 takes 17 s, 16 does not finish). The other phases generate from the same document.
PHASES = "examples,fuzzing,stateful"
SEEDED_USER = "contract-seeded-user"
# The summary exists only once the worker has applied a write: a seeded user (written and summarised before the run)
# is used for a share of the generated reads, so they reach the 200 answers too.
CONFIG = f"""
[auth.openapi.bearer]
bearer = "${{GROUNDWORK_CONTRACT_TOKEN}}"

[dictionaries.seeded]
values = ["{SEEDED_USER}"]

[parameters]
"path.user_id" = {{ dictionary = "seeded", probability = 0.3 }}
"""


@pytest.fixture(scope="module")
def api_behind_pgbouncer(pgbouncer, session_redis, start_app, start_worker):
    """The whole backend: the API behind PgBouncer with the cache, and a worker keeping the summaries."""
    app = start_app(pgbouncer.url(), WORKERS="2", CACHE_URL=session_redis.url, CACHE_PASSWORD=session_redis.password)
    start_worker(pgbouncer.url(), session_redis)
    headers = {"Authorization": f"Bearer {admin_token()}"}
    seeded = httpx.post(f"{app.base_url}/map", json={"user_id": SEEDED_USER, "practice": {}}, headers=headers)
    assert seeded.status_code in (200, 201), seeded.text
    deadline = time.monotonic() + 20
    while httpx.get(f"{app.base_url}/map/{SEEDED_USER}/summary", headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "the worker did not summarise the seeded write within 20 s"
        time.sleep(0.05)
    return app


def test_schemathesis_finds_no_disagreement_between_the_document_and_the_app(api_behind_pgbouncer, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{api_behind_pgbouncer.base_url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--request-timeout",
        "10",
        "--workers",
        "2",
    ]
    env = {
        **os.environ,
        "GROUNDWORK_CONTRACT_TOKEN": admin_token(ttl=900),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(APP_DIR)]),
        "SCHEMATHESIS_HOOKS": "tests.app.schemathesis_hooks",
        # Hypothesis keeps its example database out of the repository.
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),
        "NO_COLOR": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "No issues found" in result.stdout, result.stdout[-12000:]
