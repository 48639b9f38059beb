"""A recording mock monitor: runs a Pulumi program offline and keeps every resource with its options."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from cli.core import resource_types
from cli.plan.mock_answers import StrictMocks

PROJECT = "groundwork"
"""Project name the program runs under (Pulumi.yaml)."""
SECRET_SIG = rpc._special_secret_sig
"""Pulumi's signature of a secret value in serialized properties."""
_SIG_KEY = rpc._special_sig_key


@dataclasses.dataclass
class Recorded:
    """One registered resource: what the program asked for, the options it gave, and what the mock answered."""

    type: str
    name: str
    urn: str
    id: str
    raw: Any
    state_raw: dict[str, Any]
    custom: bool
    protect: bool
    parent: str
    provider: str
    dependencies: list[str]
    ignore_changes: list[str]
    retain_on_delete: bool
    property_dependencies: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    delete_before_replace: bool = False
    replace_on_changes: list[str] = dataclasses.field(default_factory=list)
    additional_secret_outputs: list[str] = dataclasses.field(default_factory=list)

    @functools.cached_property
    def inputs(self) -> dict[str, Any]:
        """Inputs as the mock received them: camelCase keys, numbers as floats, secrets unwrapped."""
        return plain(self.wrapped_inputs)

    @functools.cached_property
    def wrapped_inputs(self) -> dict[str, Any]:
        """Inputs with secrets still in Pulumi's secret wrapper."""
        return runtime_mocks.rpc.deserialize_properties(self.raw)

    @functools.cached_property
    def state(self) -> dict[str, Any]:
        """What the mock answered: the inputs plus computed attributes."""
        return plain(self.state_raw)

    @functools.cached_property
    def secret_inputs(self) -> frozenset[str]:
        """Top-level input names whose value is, or contains, a secret."""
        raw = json_format.MessageToDict(self.raw)
        return frozenset(k for k, v in raw.items() if has_secret(v))

    def __getitem__(self, key: str) -> Any:
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


@dataclasses.dataclass
class Recording:
    """Everything a program run declared."""

    settings: Any
    resources: list[Recorded] = dataclasses.field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    exports: dict[str, Any] = dataclasses.field(default_factory=dict)
    component_outputs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """What each component registered as its outputs, by URN."""

    def of_type(self, token: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, suffix: str | None = None) -> Recorded:
        found = [r for r in self.of_type(token) if suffix is None or r.name.endswith(suffix)]
        assert len(found) == 1, f"expected one {token} ending {suffix!r}, found {[r.urn for r in found]}"
        return found[0]

    def by_name(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def counts(self) -> dict[str, int]:
        """Resources by type token, providers and components included."""
        return dict(sorted(collections.Counter(r.type for r in self.resources).items()))

    def children(self, parent: Recorded) -> Iterator[Recorded]:
        return (r for r in self.resources if r.parent == parent.urn)


class RecordingMonitor(runtime_mocks.MockMonitor):
    """Pulumi's mock monitor, also keeping the parent, dependencies and options each request carries."""

    def __init__(self, mocks: pulumi.runtime.Mocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == resource_types.PULUMI_STACK:
            return response
        self.recording.resources.append(_recorded(request, response, self.resources[response.urn].state))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.recording.component_outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


def _recorded(request: Any, response: Any, state: dict[str, Any]) -> Recorded:
    """The request and the mock's answer as one record."""
    return Recorded(
        type=request.type,
        name=request.name,
        urn=response.urn,
        id=response.id,
        raw=request.object,
        state_raw=state,
        custom=bool(request.custom),
        protect=bool(request.protect),
        parent=request.parent,
        provider=request.provider,
        dependencies=list(request.dependencies),
        ignore_changes=list(request.ignoreChanges),
        retain_on_delete=bool(request.retainOnDelete),
        property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        delete_before_replace=bool(request.deleteBeforeReplace),
        replace_on_changes=list(request.replaceOnChanges),
        additional_secret_outputs=list(request.additionalSecretOutputs),
    )


def has_secret(value: Any) -> bool:
    """Whether a serialized value is, or contains, a secret."""
    if isinstance(value, dict):
        return value.get(_SIG_KEY) == SECRET_SIG or any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def is_secret(value: Any) -> bool:
    """Whether a deserialized value is Pulumi's secret wrapper."""
    return isinstance(value, dict) and value.get(_SIG_KEY) == SECRET_SIG


def asset_data(value: Any) -> Any:
    """A Pulumi asset or archive as plain data (its path and a digest of its content); any other value unchanged."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: asset_data(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        path = pathlib.Path(value.path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {"file": str(value.path), "sha256": digest}
    if isinstance(value, pulumi.StringAsset):
        return {"text_sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"uri": value.uri}
    return value


def plain(value: Any) -> Any:
    """Inputs without Pulumi wrappers: secrets unwrapped, resources as their URNs, assets as data."""
    value = asset_data(value)
    if isinstance(value, dict):
        if is_secret(value):
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _closing_thread_loop(call: Callable[..., Any], *args: Any) -> Any:
    """Runs one monitor call, then closes the event loop Pulumi's mock monitor opened on this worker thread."""
    try:
        return call(*args)
    finally:
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = None
        if loop is not None and not loop.is_running():
            loop.close()
            asyncio.set_event_loop(None)


class _LoopClosingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The run's default executor: no worker thread is left holding an open loop for the garbage collector."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return super().submit(_closing_thread_loop, functools.partial(fn, **kwargs), *args)


def run(
    settings: Any,
    build: Callable[[Any], dict[str, Any]],
    *,
    region: str | None = None,
    mocks: StrictMocks | None = None,
) -> Recording:
    """Runs `build(settings)` under fresh mocks (or the given ones) and returns what it declared and exported."""
    recording = Recording(settings=settings)
    mocks = mocks or StrictMocks(region or settings.region)
    mocks.invokes = recording.invokes
    exported: dict[str, Any] = {}

    def program() -> Any:
        values = build(settings)
        return pulumi.Output.from_input(values).apply(exported.update).future()

    # A loop of its own: a caller may have closed or unset the thread's loop, and none is left open after.
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_LoopClosingExecutor(thread_name_prefix="plan-monitor"))
    asyncio.set_event_loop(loop)
    try:
        runtime_settings.ROOT.set(None)
        monitor = RecordingMonitor(mocks, recording)
        pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=settings.stack, preview=False, monitor=monitor)
        # Leftovers of an earlier run that failed belong to a closed loop; start from nothing.
        runtime_settings.SETTINGS.rpc_manager.clear()
        runtime_settings.SETTINGS.outputs.clear()
        _sync_await(run_pulumi_func(program))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()
    recording.exports = exported
    return recording
