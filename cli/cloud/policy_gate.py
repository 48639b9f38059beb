"""The policy pack on real previews and updates: what the engine is given, and what its verdict means for the CLI."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.core.changes import clean_message, urn_name
from cli.core.errors import ConfigError, ConfirmationRefused, InfraError, PolicyViolation
from cli.plan.policy.pack_levels import MANDATORY, PACK_DIR, PACK_NAME, pack_config, policies_by_name
from cli.plan.policy.view import PRODUCTION_STACKS

if TYPE_CHECKING:
    from rich.console import Console

    from cli.cloud.engine import PolicyPacks
    from cli.core.stack_ref import StackRef

MAX_LISTED = 10
"""Blocking violations spelled out in the error message; all of them are in the JSON document."""
SKIP_BANNER = (
    "POLICY CHECKS SKIPPED (--skip-policy): the engine evaluates none of the policy controls for {stack!r}; "
    "nothing stops a non-compliant change. Run `infra policy --stack {stack}` before you rely on it."
)


@dataclass(frozen=True)
class Violation:
    """A policy event from the engine, with the control it comes from."""

    policy: str
    control: str
    title: str
    enforcement: str
    urn: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "control": self.control,
            "title": self.title,
            "enforcement": self.enforcement,
            "urn": self.urn,
            "message": self.message,
        }

    def line(self) -> str:
        """`control 1 (title) on name (type): message`."""
        parts = self.urn.split("::")
        kind = parts[-2].split("$")[-1] if len(parts) >= 4 else ""
        where = f"{urn_name(self.urn)} ({kind})" if kind else self.urn or "the stack"
        return f"control {self.control} ({self.title}) on {where}: {self.message}"


@dataclass
class PolicyGate:
    """The pack given to the engine for one stack, and the violations the engine reported back."""

    stack: str
    production: bool
    packs: PolicyPacks
    titles: dict[str, tuple[str, str]]
    violations: list[Violation] = field(default_factory=list)

    def watch(self, on_event: Callable[[Any], None]) -> Callable[[Any], None]:
        """An `on_event` that also keeps the pack's policy events."""

        def observe(event: Any) -> None:
            found = getattr(event, "policy_event", None)
            if found is not None and found.policy_pack_name == PACK_NAME:
                self._keep(found)
            on_event(event)

        return observe

    def _keep(self, event: Any) -> None:
        control, title = self.titles.get(event.policy_name, ("?", event.policy_name))
        text = clean_message(event.message or "")
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].startswith(f"{control}. "):
            lines = lines[1:]  # the policy's description repeats the control's title
        level = MANDATORY if str(event.enforcement_level).lower() == MANDATORY else "advisory"
        self.violations.append(
            Violation(event.policy_name, control, title, level, event.resource_urn or "", "\n".join(lines))
        )

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == MANDATORY]

    @contextmanager
    def enforcing(self, *, before_changes: bool) -> Iterator[None]:
        """Turns mandatory violations into one error naming the control, the resource and the fix."""
        try:
            yield
        except InfraError as error:
            if self.blocking:
                raise self.error(before_changes=before_changes) from error
            raise
        if self.blocking:
            raise self.error(before_changes=before_changes)

    def error(self, *, before_changes: bool) -> PolicyViolation:
        """The error for the blocking violations: each control, resource and finding, and the fix."""
        blocking = self.blocking
        when = "nothing was changed" if before_changes else "the engine checks the whole stack after applying"
        findings = [v.line().partition("\nfix: ") for v in blocking]
        if len(findings) == 1:
            body, _, fix = findings[0]
            message = f"the policy pack stopped {self.stack!r} ({when}): {body}"
        else:
            shown = [f"  {body}" for body, _, _ in findings[:MAX_LISTED]]
            if len(findings) > MAX_LISTED:
                shown.append(f"  and {len(findings) - MAX_LISTED} more (see --json)")
            message = f"the policy pack stopped {self.stack!r} ({when}): {len(findings)} violations\n" + "\n".join(
                shown
            )
            fix = ""
        return PolicyViolation(
            message,
            hint=fix
            or f"make each control hold for its resource (docs/plan-and-policy.md), then check offline with "
            f"`infra policy --stack {self.stack}`",
            details={"policy": self.to_json()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pack": PACK_NAME,
            "skipped": False,
            "production": self.production,
            "ok": not self.blocking,
            "violations": [v.to_json() for v in self.violations],
        }

    def render(self, console: Console) -> None:
        """The verdict on stderr: each violation with its level, or that every control passed."""
        from rich.markup import escape

        if not self.violations:
            console.print(f"[green]policy pack:[/] every control passed on {self.stack}")
            return
        for v in self.violations:
            style = "red" if v.enforcement == MANDATORY else "yellow"
            console.print(f"[{style}]policy {v.enforcement}:[/] {escape(v.line().partition(chr(10) + 'fix: ')[0])}")


def skipped_json() -> dict[str, Any]:
    """The `policy` entry of a JSON document when the pack was skipped."""
    return {"pack": PACK_NAME, "skipped": True, "ok": None, "violations": []}


def pack_directory(project_dir: Path) -> Path:
    """The project's pack, or the one beside the installed CLI; a missing pack is a configuration error."""
    for candidate in (project_dir / PACK_DIR, Path(__file__).resolve().parents[2] / PACK_DIR):
        if (candidate / "PulumiPolicy.yaml").is_file():
            return candidate
    raise ConfigError(
        f"the policy pack is missing: no {PACK_DIR}/PulumiPolicy.yaml in {project_dir}",
        hint=f"restore {PACK_DIR}/ from the repository",
    )


@contextmanager
def open_gate(target: StackRef, *, skip: bool, console: Console) -> Iterator[PolicyGate | None]:
    """The gate for one command on a cloud stack; None when skipped, which protected stacks refuse."""
    if skip:
        if target.protect:
            raise ConfirmationRefused(
                f"--skip-policy is refused on the protected stack {target.stack!r}: its changes are always checked",
                hint="fix what the policy pack reports; `infra policy --stack "
                f"{target.stack}` shows every control offline",
            )
        console.print(f"[bold red]{SKIP_BANNER.format(stack=target.stack)}[/]")
        yield None
        return
    from cli.cloud.engine import PolicyPacks
    from cli.plan.policy.loader import load_controls

    controls = load_controls(target.project_dir)
    production = target.protect or target.stack in PRODUCTION_STACKS
    try:
        names = policies_by_name(controls)
    except ValueError as error:
        raise ConfigError(f"the policy pack cannot be built: {error}", hint="give the controls distinct ids") from None
    titles = {name: (c.id, c.title) for name, (c, _) in names.items()}
    pack = pack_directory(target.project_dir)
    with tempfile.TemporaryDirectory(prefix="infra-policy-") as scratch:
        config = Path(scratch) / f"{target.stack}.json"
        config.write_text(json.dumps(pack_config(controls, production=production), indent=2), encoding="utf-8")
        yield PolicyGate(
            stack=target.stack,
            production=production,
            packs=PolicyPacks(packs=(str(pack),), configs=(str(config),)),
            titles=titles,
        )
