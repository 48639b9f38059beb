"""A one-off process on the local stack with a task's environment (the API's by default), as ECS RunTask is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import ConfigError
from cli.local.stack import STACK, stack_for
from cli.local.task_run import run_process

if TYPE_CHECKING:
    from rich.console import Console

    from cli.local.stack import LocalStack


def task_of(stack: LocalStack, service: str | None) -> Any:
    """The realised task (its env and app directory) of the API, or of the named worker."""
    if not stack.exists():
        raise ConfigError("the local stack does not exist", hint="run `infra up --stack local` first")
    tasks = {s.name: s for s in stack.services() if hasattr(s, "env") and hasattr(s, "app_dir")}
    chosen = service or "api"
    if chosen not in tasks:
        raise ConfigError(f"no task {chosen!r} in the local stack", hint=f"choose one of: {', '.join(tasks)}")
    return tasks[chosen]


def run_local(
    project_dir: Path,
    command: Sequence[str],
    *,
    service: str | None,
    on_line: Callable[[str], None],
    console: Console,
) -> dict[str, Any]:
    """`infra run --stack local`: the command in the task's environment and directory, from this process."""
    task = task_of(stack_for(project_dir), service)
    console.print(f"[bold]run[/] {' '.join(command)} with the environment of {task.name}")
    code = run_process(task.env, task.app_dir, command, on_line)
    console.print(f"exit {code}")
    return {"ok": code == 0, "stack": STACK, "service": task.name, "command": list(command), "exit_code": code}
