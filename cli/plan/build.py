"""The plan of a stack: settings from Pulumi.<stack>.yaml, the project's program under the recording monitor."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Any

from cli.core.errors import OperationFailed

WORKER = "cli.plan.fresh_process"
"""Module that plans a project tree other than the one this interpreter imported."""


def plan_stack(stack: str, project_dir: pathlib.Path) -> dict[str, Any]:
    """The stack's plan; in this process when `stacks` is the project's own, otherwise in a fresh interpreter."""
    from cli.core.stack_ref import check_stack_name, load_settings, missing_stack_file

    project_dir = pathlib.Path(project_dir).resolve()
    check_stack_name(stack)
    if not (project_dir / f"Pulumi.{stack}.yaml").is_file():
        raise missing_stack_file(stack, project_dir)
    # Refused here, with exit 2 and the key, whichever interpreter then runs the program.
    load_settings(stack, project_dir)
    if _imported_root() == project_dir:
        return plan_here(stack, project_dir)
    return plan_in_subprocess(stack, project_dir)


def record_program(settings: Any, *, mocks: Any = None) -> Any:
    """The project's program under the recording monitor: the one path from the CLI to the components."""
    from cli.plan.recorder import run
    from stacks.program import build

    return run(settings, build, mocks=mocks)


def plan_here(stack: str, project_dir: pathlib.Path) -> dict[str, Any]:
    """Runs the program imported in this process under the recording monitor."""
    from cli.core.stack_ref import load_settings
    from cli.plan.document import plan_document
    from cli.plan.mock_answers import UnknownInvoke

    if not (project_dir / f"Pulumi.{stack}.yaml").is_file():
        from cli.core.stack_ref import missing_stack_file

        raise missing_stack_file(stack, project_dir)
    settings = load_settings(stack, project_dir)
    try:
        recording = record_program(settings)
    except UnknownInvoke as error:
        raise OperationFailed(
            f"the program called an invoke the offline plan cannot answer: {error}",
            hint="add an answer to cli/plan/mock_answers.py or avoid the lookup",
        ) from None
    except ValueError as error:
        # A component refused its arguments (infra.require): a value the settings let through, or the program's own.
        if os.environ.get("INFRA_DEBUG"):
            raise
        raise OperationFailed(
            f"a component of the program refused its arguments: {error}",
            hint=f"fix that value in Pulumi.{stack}.yaml or in the program (INFRA_DEBUG=1 shows where it was passed)",
        ) from None
    return plan_document(recording, project_dir)


def plan_in_subprocess(stack: str, tree: pathlib.Path) -> dict[str, Any]:
    """Plans another tree in a fresh interpreter that imports that tree's infra and stacks."""
    import json

    cli_root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tree), cli_root]), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", WORKER, "--stack", stack, "--project", str(tree)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise OperationFailed(
            f"planning {stack} in {tree} failed: {tail or f'exit {done.returncode}'}",
            hint="that tree's program or settings do not run offline; plan it there to see why",
        )
    return json.loads(done.stdout)


def _imported_root() -> pathlib.Path | None:
    """The directory holding the `stacks` package this interpreter would import."""
    import importlib.util

    spec = importlib.util.find_spec("stacks")
    if spec is None or spec.origin is None:
        return None
    return pathlib.Path(spec.origin).resolve().parent.parent
