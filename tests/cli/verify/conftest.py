"""Fixtures of the verify tests: AWS in moto with a healthy stack, the dev target, a fake resolver, and a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from cli.core.stack_ref import StackRef, resolve_stack_ref
from cli.verify import runner
from cli.verify.model import Check, Report, Status
from tests.cli.verify import stack as healthy


@pytest.fixture(scope="session", autouse=True)
def shared_service_models() -> Iterator[None]:
    """One botocore loader for every session of the run: moto resets boto3's default session for each test, and
    parsing the services' JSON models again cost about 0.9 s per test. The models are read-only data."""
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()
    original = botocore.session.Session._register_data_loader

    def register(session: botocore.session.Session) -> None:
        session._components.lazy_register_component("data_loader", lambda: shared)

    botocore.session.Session._register_data_loader = register
    yield
    botocore.session.Session._register_data_loader = original


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only; no profile or metadata service can be reached."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": healthy.REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "MOTO_ECS_SERVICE_RUNNING": "1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def cloud(aws_env: None) -> Iterator[healthy.Stack]:
    """A healthy dev stack in moto; Lambda functions are stored, never run (no Docker)."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield healthy.build_healthy_stack()


@pytest.fixture
def target(project: Path) -> StackRef:
    """The dev stack's target, with the settings of Pulumi.dev.yaml."""
    return resolve_stack_ref("dev", project)


@pytest.fixture
def verify(cloud: healthy.Stack, target: StackRef) -> Callable[..., Report]:
    """Run the verification against the moto stack; keyword arguments replace outputs, settings or resolver."""

    def run(*, outputs: dict[str, Any] | None = None, derived_only: bool = False, **inject: Any) -> Report:
        stack_outputs = cloud.stack_outputs(derived_only=derived_only)
        if outputs is not None:
            from cli.core.outputs import StackOutput

            for name, value in outputs.items():
                if value is None:
                    stack_outputs.pop(name, None)
                else:
                    stack_outputs[name] = StackOutput(value, secret=False)
        settings = inject.pop("settings", None)
        chosen = (
            target if settings is None else StackRef(target.stack, target.project_dir, False, "eu-west-1", settings)
        )
        inject.setdefault("resolver", healthy.resolver())
        return runner.verify_target(chosen, stack_outputs, **inject)

    return run


def find(report: Report, family: str, name: str, resource: str | None = None) -> Check:
    """The one check of `family` named `name` (on `resource` when given)."""
    found = [
        c
        for c in report.checks
        if c.family == family and c.name == name and (resource is None or c.resource == resource)
    ]
    assert len(found) == 1, (family, name, resource, [c.to_json() for c in report.checks])
    return found[0]


def find_in(checks: list[Check], name: str, resource: str | None = None) -> Check:
    """The one check named `name` (on `resource` when given) among one family's checks."""
    found = [c for c in checks if c.name == name and (resource is None or c.resource == resource)]
    assert len(found) == 1, (name, resource, [c.to_json() for c in checks])
    return found[0]


def not_passing(report: Report) -> list[tuple[str, str, str, str]]:
    """(status, family, check, observed) of every check that did not pass."""
    return [(c.status.value, c.family, c.name, c.observed) for c in report.checks if c.status is not Status.PASS]


@pytest.fixture
def stubbed(target: StackRef) -> Callable[..., Any]:
    """A context whose AWS clients are botocore Stubbers (for states moto cannot model); no call leaves the process."""
    from datetime import UTC, datetime

    import botocore.session
    from botocore.stub import Stubber

    from cli.verify.context import Context

    made: list[Stubber] = []

    def make(outputs: dict[str, Any], **stubs: Callable[[Stubber], None]) -> Any:
        session = botocore.session.Session()
        clients: dict[str, Any] = {}
        for service, script in stubs.items():
            client = session.create_client(
                service, region_name=healthy.REGION, aws_access_key_id="stub", aws_secret_access_key="stub"
            )
            stubber = Stubber(client)
            script(stubber)
            stubber.activate()
            made.append(stubber)
            clients[service] = client
        return Context(
            stack="dev",
            settings=target.settings,
            outputs=outputs,
            clients=clients.__getitem__,
            resolver=healthy.resolver(),
            now=datetime.now(UTC),
        )

    yield make
    for stubber in made:
        stubber.assert_no_pending_responses()
