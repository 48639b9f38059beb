"""The plan to compare against: a saved plan file, or the stack's plan at a git ref of the project."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import tarfile
import tempfile
from typing import Any

from cli.core.errors import ConfigError, OperationFailed
from cli.core.files import read_user_text

PLAN_MAX_BYTES = 64 * 1024 * 1024
"""The largest saved plan read (a plan of the project's prod stack is about 0.5 MiB)."""
TREE_PATHS = ("Pulumi.yaml", "infra", "stacks", "app_image")
"""What a ref's program needs besides its stack file: the project, components, program and image context."""


def base_plan(base: str, stack: str, project_dir: pathlib.Path) -> tuple[dict[str, Any], str]:
    """The base plan and a label for it; a path to an existing file wins over a ref of the same name."""
    path = pathlib.Path(base)
    if path.is_file():
        return load_plan_file(path, stack), str(path)
    commit = _commit(base, project_dir)
    from cli.plan.build import plan_in_subprocess

    with tempfile.TemporaryDirectory(prefix="infra-plan-base-") as tmp:
        tree = pathlib.Path(tmp)
        materialise(commit, stack, project_dir, tree)
        return plan_in_subprocess(stack, tree), f"{base} ({commit[:12]})"


def load_plan_file(path: pathlib.Path, stack: str) -> dict[str, Any]:
    """A plan saved with `infra plan --out`, checked to be a plan of the same stack."""
    from cli.plan.document import FORMAT

    hint = "save one with `infra plan --out`"
    text = read_user_text(path, PLAN_MAX_BYTES, "the plan", hint)
    try:
        plan = json.loads(text)
    except (ValueError, RecursionError) as error:
        problem = "is nested too deeply" if isinstance(error, RecursionError) else f"is not JSON ({error})"
        raise ConfigError(f"the plan {path} {problem}", hint=hint) from None
    if not isinstance(plan, dict) or plan.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a {FORMAT} plan", hint="save one with `infra plan --stack S --out FILE`")
    if plan.get("stack") != stack:
        raise ConfigError(
            f"{path} is a plan of stack {plan.get('stack')!r}, not {stack!r}",
            hint="compare plans of the same stack",
        )
    return plan


def materialise(commit: str, stack: str, project_dir: pathlib.Path, tree: pathlib.Path) -> None:
    """Extracts the files the program needs at `commit` into `tree` with `git archive`."""
    wanted = [*TREE_PATHS, f"Pulumi.{stack}.yaml"]
    listed = _git(project_dir, "ls-tree", "--name-only", commit, "--", *wanted).decode().split()
    missing = [p for p in ("Pulumi.yaml", "stacks", f"Pulumi.{stack}.yaml") if p not in listed]
    if missing:
        raise ConfigError(
            f"{commit[:12]} has no {', '.join(missing)}",
            hint="compare against a ref where the stack exists, or a saved plan file",
        )
    archive = _git(project_dir, "archive", "--format=tar", commit, "--", *listed)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")


def _commit(ref: str, project_dir: pathlib.Path) -> str:
    """The commit a ref names, or a usage error that says neither a file nor a ref matched."""
    try:
        return _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except OperationFailed:
        raise ConfigError(
            f"--base {ref!r} is neither a plan file nor a git ref of {project_dir}",
            hint="pass a saved plan (`infra plan --out`) or a ref such as origin/main (fetch it first in CI)",
        ) from None


def _git(project_dir: pathlib.Path, *args: str) -> bytes:
    """Output of one git command in the project; a failure is OperationFailed with git's message."""
    try:
        done = subprocess.run(["git", *args], cwd=project_dir, capture_output=True, check=False)
    except FileNotFoundError:
        raise ConfigError("git is not installed", hint="install git, or compare against a saved plan file") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise OperationFailed(f"git {args[0]} failed: {message}", hint="check the ref and the repository")
    return done.stdout
