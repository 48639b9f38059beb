"""The CrossGuard runner of the controls: each control as stack validations over the engine's resources."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
    proxy,
)

from cli.plan.policy.evaluate import evaluate
from cli.plan.policy.loader import load_controls
from cli.plan.policy.model import Control
from cli.plan.policy.pack_levels import PACK_NAME, enforcement, levels_of, policy_name, route
from cli.plan.policy.view import PRODUCTION_STACKS
from cli.plan.recorder import PROJECT  # components are typed `<project>:<module>:<Type>`

UNKNOWN = "[unknown]"
"""What a control sees for a value the engine cannot know during a preview (an id or ARN still to be made)."""

Production = Callable[[], bool]
_SENTINELS = frozenset(
    getattr(proxy, name) for name in dir(proxy) if name.startswith("UNKNOWN_") and name.endswith("_VALUE")
)


def stack_of(urn: str) -> str:
    """The stack named in a URN (`urn:pulumi:<stack>::<project>::...`)."""
    parts = urn.split(":", 3)
    return parts[2] if len(parts) > 3 and parts[0] == "urn" else ""


def production_from_environment() -> bool:
    """Whether the stack the engine runs is production, by name as `infra policy` decides; unknown means yes."""
    stack = os.environ.get("PULUMI_STACK", "")
    return stack in PRODUCTION_STACKS if stack else True


def _plain(value: Any) -> Any:
    """A property value read through pulumi-policy's unknown-checking proxies, each unknown as UNKNOWN."""
    if isinstance(value, Mapping):
        return {str(key): _item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_item(value, index) for index in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value in _SENTINELS:
        return UNKNOWN
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return _plain(container[key])
    except proxy.UnknownValueError:
        return UNKNOWN


def _is_custom(resource_type: str) -> bool:
    return not resource_type.startswith("pulumi:pulumi:") and not resource_type.startswith(f"{PROJECT}:")


def plan_from_stack(resources: Iterable[PolicyResource]) -> dict[str, Any]:
    """The engine's view of the stack as the plan document the controls read (`cli/plan/document.py`)."""
    items = []
    stack = ""
    for r in resources:
        props = _plain(r.props)
        stack = stack or stack_of(r.urn)
        opts = r.opts
        items.append(
            {
                "urn": r.urn,
                "type": r.resource_type,
                "name": r.name,
                "custom": _is_custom(r.resource_type),
                "id": props.get("id") if isinstance(props.get("id"), str) else "",
                "parent": r.parent.urn if r.parent is not None else None,
                "provider": r.provider.urn if r.provider is not None else None,
                "dependencies": sorted(d.urn for d in r.dependencies),
                "property_dependencies": {k: sorted(d.urn for d in v) for k, v in r.property_dependencies.items()},
                "options": {
                    "protect": bool(opts.protect),
                    "delete_before_replace": bool(opts.delete_before_replace),
                    "ignore_changes": list(opts.ignore_changes or []),
                    "additional_secret_outputs": list(opts.additional_secret_outputs or []),
                },
                "inputs": props,
            }
        )
    return {"stack": stack, "resources": sorted(items, key=lambda r: r["urn"])}


def fix_hint(control: Control, stack: str) -> str:
    """The next step printed with every violation."""
    where = f" --stack {stack}" if stack else ""
    return (
        f"fix: make '{control.title}' hold for this resource (control {control.id} in docs/plan-and-policy.md), "
        f"then check offline with `infra policy{where}`"
    )


class ControlPolicy(StackValidationPolicy):
    """One control at one level as a CrossGuard stack validation; the level follows the stack, as in `infra policy`."""

    def __init__(self, control: Control, level: str, production: Production) -> None:
        self.control = control
        self.level = level
        self._production = production
        super().__init__(
            name=policy_name(control, level),
            description=f"{control.id}. {control.title} ({', '.join(control.sources)}; level {control.level})",
            validate=self.check,
            config_schema=PolicyConfigSchema(properties={"production": {"type": "boolean"}}),
            remediation_steps=fix_hint(control, ""),
        )

    @property
    def enforcement_level(self) -> EnforcementLevel:
        """Mandatory or advisory for the stack being checked; a `--policy-pack-config` entry overrides it."""
        return EnforcementLevel(enforcement(self.level, self._production()))

    @enforcement_level.setter
    def enforcement_level(self, _: Any) -> None:
        """The level comes from the control and the stack, never from the constructor."""

    def check(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        """Runs the control over the engine's resources and reports the findings at this policy's level."""
        configured = args.get_config().get("production")
        production = configured if isinstance(configured, bool) else self._production()
        plan = plan_from_stack(args.resources)
        for finding in evaluate(plan, [self.control], production=production).results[0].findings:
            if route(self.control, finding.level) == self.level:
                report_violation(f"{finding.message}\n{fix_hint(self.control, plan['stack'])}", finding.urn or None)


def pack_policies(
    controls: Iterable[Control] | None = None, production: Production = production_from_environment
) -> list[ControlPolicy]:
    """Every control of `infra policy` (built-in and the project's `policies/`) at each of its levels."""
    if controls is None:
        controls = load_controls()
    return [ControlPolicy(c, level, production) for c in controls for level in levels_of(c)]


def serve(project_dir: pathlib.Path) -> None:
    """Starts the pack for the Pulumi CLI (blocks until the engine stops it)."""
    PolicyPack(
        name=PACK_NAME,
        policies=list(pack_policies(load_controls(project_dir))),
        description="groundwork's policy controls (docs/plan-and-policy.md), the same code as `infra policy`",
    )
