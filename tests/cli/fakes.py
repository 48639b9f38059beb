"""A stand-in for the Automation API engine that replays recorded engine events and records its calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cli.cloud.engine import PolicyPacks, StackInfo, translate_errors
from cli.cloud.state_backend import Backend, resolve_backend
from cli.core.outputs import StackOutput


@dataclass
class Script:
    """What one engine call does: replay events, then return a value or raise."""

    events: list[Any] = field(default_factory=list)
    result: Any = None
    error: BaseException | None = None


@dataclass
class FakeEngine:
    project_dir: Path
    scripts: dict[str, Script] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    policies: list[tuple[str, PolicyPacks | None]] = field(default_factory=list)
    """The policy packs each preview and up was given, by call."""
    backend: Backend = field(init=False)

    def __post_init__(self) -> None:
        self.backend = resolve_backend(self.project_dir, {})

    def script(self, name: str, **kwargs: Any) -> Script:
        self.scripts[name] = Script(**kwargs)
        return self.scripts[name]

    def called(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for call, _, kwargs in self.calls if call == name]

    def _play(self, name: str, stack: str, on_event: Callable[[Any], None] | None, **kwargs: Any) -> Any:
        self.calls.append((name, stack, kwargs))
        script = self.scripts.get(name)
        if script is None:
            raise AssertionError(f"the test did not script engine.{name}()")
        for event in script.events:
            if on_event is not None:
                on_event(event)
        if script.error is not None:
            with translate_errors(stack):
                raise script.error
        return script.result

    def preview(
        self,
        stack: str,
        on_event: Callable[[Any], None],
        *,
        diff: bool = False,
        policy: PolicyPacks | None = None,
        config=None,
    ) -> None:
        self.policies.append(("preview", policy))
        self._play("preview", stack, on_event, diff=diff, **({"config": dict(config)} if config else {}))

    def up(
        self, stack: str, on_event: Callable[[Any], None], *, policy: PolicyPacks | None = None, config=None
    ) -> dict[str, StackOutput]:
        self.policies.append(("up", policy))
        return self._play("up", stack, on_event, **({"config": dict(config)} if config else {})) or {}

    def refresh(self, stack: str, on_event: Callable[[Any], None], *, config=None) -> None:
        self._play("refresh", stack, on_event, **({"config": dict(config)} if config else {}))

    def destroy(self, stack: str, on_event: Callable[[Any], None], *, exclude_protected: bool) -> None:
        self._play("destroy", stack, on_event, exclude_protected=exclude_protected)

    def outputs(self, stack: str) -> dict[str, StackOutput]:
        return self._play("outputs", stack, None) or {}

    def export_state(self, stack: str) -> dict[str, Any]:
        return self._play("export_state", stack, None) or {}

    def list_stacks(self) -> list[StackInfo]:
        return self._play("list_stacks", "*", None) or []


OUTPUTS = {
    "service_url": StackOutput("https://api.dev.example.com", False),
    "database_endpoint": StackOutput("main-db.abc.eu-west-1.rds.amazonaws.com:5432", False),
    "database_secret_arn": StackOutput("arn:aws:secretsmanager:eu-west-1:123:secret:db-AbCd", True),
    "user_pool_id": StackOutput("eu-west-1_AbCdEfGhI", False),
}


def state(stack: str, *, protect_data: bool, snapshot: str | None = "main-db-final", skip: bool = False) -> dict:
    """An exported deployment like `pulumi stack export` gives: stack, provider, component and cloud resources."""

    def res(type_: str, name: str, *, custom: bool = True, protect: bool = False, outputs: dict | None = None):
        return {
            "urn": f"urn:pulumi:{stack}::groundwork::{type_}::{name}",
            "type": type_,
            "id": f"{name}-id" if custom else "",
            "custom": custom,
            "protect": protect,
            "outputs": outputs or {},
        }

    db_outputs: dict[str, Any] = {"skipFinalSnapshot": skip}
    if snapshot:
        db_outputs["finalSnapshotIdentifier"] = snapshot
    return {
        "manifest": {"time": datetime(2026, 11, 1).isoformat()},
        "resources": [
            res("pulumi:pulumi:Stack", f"groundwork-{stack}", custom=False),
            res("pulumi:providers:aws", "default", custom=True),
            res("groundwork:database:Database", "main", custom=False),
            res("aws:ec2/vpc:Vpc", "main-vpc"),
            res("aws:rds/instance:Instance", "main-db", protect=protect_data, outputs=db_outputs),
            res("aws:rds/proxy:Proxy", "main-proxy"),
            res("aws:s3/bucketV2:BucketV2", "main-app-bucket", protect=protect_data),
            res("aws:ecs/service:Service", "main-service"),
        ],
    }
