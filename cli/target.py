"""Resolve `--stack` into a deployable target: its name, its settings and whether it is protected."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.errors import NotAvailable, StackNotFound, StackSettingsInvalid
from cli.options import LOCAL_STACK
from cli.project import configured_stacks, stack_config_path

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Target:
    """A cloud stack the CLI can drive."""

    stack: str
    project_dir: Path
    protect: bool
    region: str | None
    settings: Any


def _stack_hint(project_dir: Path) -> str:
    names = [n for n in configured_stacks(project_dir) if n != LOCAL_STACK]
    return "use " + " or ".join(f"--stack {n}" for n in names) if names else "add a Pulumi.<stack>.yaml"


def ensure_not_local(stack: str, project_dir: Path) -> None:
    """Refuse the embedded `local` target for the commands that only make sense on a cloud stack."""
    if stack == LOCAL_STACK:
        raise NotAvailable(
            "this command works on cloud stacks, not on the local stack (processes on this machine)",
            hint=_stack_hint(project_dir) + "; for the local stack use "
            "`infra up|preview|status|logs|outputs|smoke|destroy --stack local`",
        )


def ensure_local(stack: str, verb: str) -> None:
    """Refuse a cloud stack for the commands that only the local stack has."""
    if stack != LOCAL_STACK:
        raise NotAvailable(
            f"`infra {verb}` is for the local stack (processes on this machine), not {stack!r}",
            hint=f"use `infra {verb} --stack local`; for a cloud stack, `infra verify --stack {stack}` checks it",
        )


def load_settings(stack: str, project_dir: Path) -> Any:
    """Load and validate a stack's settings, turning a bad value into a configuration error."""
    from stacks.settings import SettingsError, load_stack_settings

    try:
        return load_stack_settings(stack, project_dir)
    except SettingsError as exc:
        key = getattr(exc, "key", None)
        value = getattr(exc, "value", None)
        allowed = getattr(exc, "allowed", None)
        line = getattr(exc, "line", None)
        name = stack_config_path(project_dir, stack).name
        where = name + (f" line {line}" if line else "")
        hint = f"fix {key} in {where}" if key else f"fix {where}"
        if allowed:
            hint += f"; allowed: {allowed} (docs/settings.md)"
        setting = {"key": _printable(key), "value": _printable(value), "allowed": allowed, "file": name, "line": line}
        raise StackSettingsInvalid(
            f"stack {stack!r} settings are invalid: {exc}", hint=hint, details={"setting": setting}
        ) from None


def effective_settings(stack: str, project_dir: Path) -> dict[str, Any]:
    """Every setting of a stack with its effective value and its source (`file` with a line, or `default`)."""
    from stacks.settings import REDACTED, SettingsError, effective

    load_settings(stack, project_dir)  # a bad file is the same exit-2 error as everywhere else
    try:
        rows = effective(stack, project_dir)
    except SettingsError as exc:  # pragma: no cover - load_settings refused it already
        raise StackSettingsInvalid(str(exc)) from None
    settings = []
    for row in rows:
        spec = row.setting
        hidden = spec is not None and spec.secret_ok and row.value is not None
        settings.append(
            {
                "key": row.key,
                "value": REDACTED if hidden else _printable(row.value),
                "source": row.source,
                "line": row.line,
                "allowed": spec.kind.allowed if spec else None,
                "feeds": list(spec.feeds) if spec else [],
            }
        )
    return {"stack": stack, "file": stack_config_path(project_dir, stack).name, "settings": settings}


def _printable(value: Any) -> Any:
    from stacks.stack_file import SHOWN_CHARACTERS

    if isinstance(value, str) and len(value) > SHOWN_CHARACTERS:
        return f"{value[:SHOWN_CHARACTERS]}... ({len(value)} characters)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_printable(v) for v in value]
    return str(value)


def resolve_target(stack: str, project_dir: Path) -> Target:
    """Check the stack name, refuse `local`, require a config file, and load its settings."""
    ensure_not_local(stack, project_dir)
    if not STACK_NAME.match(stack):
        raise StackNotFound(
            f"{stack!r} is not a valid stack name",
            hint="stack names use letters, digits, '-', '_' and '.'",
        )
    config = stack_config_path(project_dir, stack)
    if not config.is_file():
        raise StackNotFound(
            f"stack {stack!r} has no configuration file ({config.name})",
            hint=_stack_hint(project_dir) + f", or create {config.name}",
        )
    settings = load_settings(stack, project_dir)
    return Target(
        stack=stack,
        project_dir=project_dir,
        protect=bool(getattr(settings, "protect", False)),
        region=getattr(settings, "region", None),
        settings=settings,
    )
