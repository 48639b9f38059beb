"""A stack by name: its validated settings and what the CLI reads from them, before any backend is involved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.errors import StackNotFound, StackSettingsInvalid
from cli.core.options import LOCAL_STACK
from cli.core.project import configured_stacks, stack_config_path

if TYPE_CHECKING:
    from stacks.settings import StackSettings

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class StackRef:
    """A configured stack: its name, the project, whether it is protected, its region and its validated settings."""

    stack: str
    project_dir: Path
    protect: bool
    region: str | None
    settings: StackSettings


def cloud_stack_hint(project_dir: Path) -> str:
    """Which cloud stacks this project has files for, as a next step."""
    names = [n for n in configured_stacks(project_dir) if n != LOCAL_STACK]
    return "use " + " or ".join(f"--stack {n}" for n in names) if names else "add a Pulumi.<stack>.yaml"


def check_stack_name(stack: str) -> None:
    """Refuse a name no stack file can have before it is used in a path."""
    if not STACK_NAME.match(stack):
        raise StackNotFound(
            f"{stack!r} is not a valid stack name",
            hint="stack names use letters, digits, '-', '_' and '.'",
        )


def missing_stack_file(stack: str, project_dir: Path, *, serves_only: str | None = None) -> StackNotFound:
    """The one message for a stack without its Pulumi.<stack>.yaml; `serves_only` names the one stack a verb serves."""
    config = stack_config_path(project_dir, stack)
    hint = (
        f"this command serves only --stack {serves_only}"
        if serves_only
        else cloud_stack_hint(project_dir) + f", or create {config.name}"
    )
    return StackNotFound(f"stack {stack!r} has no configuration file ({config.name})", hint=hint)


def load_settings(stack: str, project_dir: Path) -> StackSettings:
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


def resolve_stack_ref(stack: str, project_dir: Path) -> StackRef:
    """Check the stack name, require its configuration file, and load its settings."""
    check_stack_name(stack)
    if not stack_config_path(project_dir, stack).is_file():
        raise missing_stack_file(stack, project_dir)
    settings = load_settings(stack, project_dir)
    return StackRef(
        stack=stack,
        project_dir=project_dir,
        protect=bool(settings.protect),
        region=settings.region,
        settings=settings,
    )
