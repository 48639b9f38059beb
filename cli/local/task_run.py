"""A command run to completion in a task's environment and directory, its output handed over line by line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from cli.core.errors import ConfigError


def run_process(env: dict[str, str], cwd: Path, command: Sequence[str], on_line: Callable[[str], None]) -> int:
    """Run the command with the environment, each output line handed over as it comes; its exit code."""
    try:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        raise ConfigError(f"cannot start {command[0]!r}: {exc.strerror}", hint="check the command's name") from None
    assert process.stdout is not None
    for raw in process.stdout:
        on_line(raw.decode(errors="replace").rstrip("\n"))
    return process.wait()


def migrate(task) -> None:
    """The image's migration step with the task's environment; a failure stops the release before traffic."""
    from cli.core.releases import MIGRATION_COMMAND
    from cli.local.processes import ServiceFailed

    lines: list[str] = []
    code = run_process(task.env, task.app_dir, MIGRATION_COMMAND, lines.append)
    if code != 0:
        raise ServiceFailed(
            f"the migration ({' '.join(MIGRATION_COMMAND)}) failed with exit {code}:\n" + "\n".join(lines[-20:]),
            hint="fix the migration; the running version keeps serving",
        )
