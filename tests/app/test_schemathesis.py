"""The OpenAPI document says exactly what the app accepts: schemathesis, every check on, against the running app."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import mint_token
from tests.harness import APP_DIR, ROOT

EXAMPLES_PER_OPERATION = 100
# The coverage phase enumerates boundary cases for every keyword of every nested schema; the practice schema spells
# out its 16 nesting levels one by one (JSON Schema has no depth limit), and that enumeration grows exponentially
# with them (depth 3 takes 17 s, 16 does not finish). The other phases generate from the same document.
PHASES = "examples,fuzzing,stateful"
CONFIG = """
[auth.openapi.bearer]
bearer = "${GROUNDWORK_CONTRACT_TOKEN}"
"""


@pytest.fixture(scope="module")
def api_behind_pgbouncer(pgbouncer, start_app):
    return start_app(pgbouncer.url(), WORKERS="2")


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
        "GROUNDWORK_CONTRACT_TOKEN": mint_token(ttl=900),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(APP_DIR)]),
        "SCHEMATHESIS_HOOKS": "tests.app.schemathesis_hooks",
        # Hypothesis keeps its example database out of the repository.
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),
        "NO_COLOR": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert "No issues found" in result.stdout
