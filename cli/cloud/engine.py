"""The one seam between the CLI and Pulumi: an Engine protocol and its Automation API implementation."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cli.cloud.state_backend import (
    BACKEND_ENV,
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    SECRETS_PROVIDER_ENV,
    Backend,
    needs_passphrase,
    resolve_backend,
    resolve_secrets,
    stack_secrets_provider,
)
from cli.core.errors import (
    ConfigError,
    CredentialsError,
    InfraError,
    OperationFailed,
    PulumiMissing,
    SecretsError,
    StackBusy,
    StackNotFound,
)
from cli.core.outputs import StackOutput
from cli.core.project import stack_config_path

if TYPE_CHECKING:
    from pulumi.automation import EngineEvent, Stack

OnEvent = Callable[["EngineEvent"], None]
RunConfig = Mapping[str, Any] | None
"""Config values layered over Pulumi.<stack>.yaml for one run only (e.g. the tunnel's host and port)."""

INSTALL_HINT = (
    "install the Pulumi CLI (curl -fsSL https://get.pulumi.com | sh, or brew install pulumi/tap/pulumi) "
    "and make sure `pulumi` is on PATH; see https://www.pulumi.com/docs/install/"
)


@dataclass(frozen=True)
class StackInfo:
    """A stack known to the state backend."""

    name: str
    last_update: datetime | None
    resource_count: int | None
    update_in_progress: bool | None
    url: str | None


@dataclass(frozen=True)
class PolicyPacks:
    """Policy pack directories for a preview or update, each with its `--policy-pack-config` file."""

    packs: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()

    def options(self) -> dict[str, Any]:
        """The Automation API's keyword arguments for them."""
        return {"policy_packs": list(self.packs) or None, "policy_pack_configs": list(self.configs) or None}


class Engine(Protocol):
    """What the commands need from Pulumi. Tests replace it with a recorded-event fake."""

    backend: Backend

    def preview(
        self,
        stack: str,
        on_event: OnEvent,
        *,
        diff: bool = False,
        policy: PolicyPacks | None = None,
        config: RunConfig = None,
    ) -> None: ...

    def up(
        self, stack: str, on_event: OnEvent, *, policy: PolicyPacks | None = None, config: RunConfig = None
    ) -> dict[str, StackOutput]: ...

    def refresh(self, stack: str, on_event: OnEvent, *, config: RunConfig = None) -> None: ...

    def destroy(self, stack: str, on_event: OnEvent, *, exclude_protected: bool) -> None: ...

    def outputs(self, stack: str) -> dict[str, StackOutput]: ...

    def export_state(self, stack: str) -> dict[str, Any]: ...

    def list_stacks(self) -> list[StackInfo]: ...


def require_pulumi_cli() -> str:
    """The path of the `pulumi` executable, or a PulumiMissing error that says how to install it."""
    path = shutil.which("pulumi")
    if path is None:
        raise PulumiMissing("the Pulumi CLI is not installed (no `pulumi` on PATH)", hint=INSTALL_HINT)
    return path


_CREDENTIAL_PATTERNS = re.compile(
    r"NoCredentialProviders|no valid credential sources|failed to refresh cached credentials|"
    r"ExpiredToken|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|"
    r"unable to (?:load|find) (?:AWS )?credentials|could not find default credentials|"
    r"The security token included in the request is (?:invalid|expired)|"
    r"(?:SSO|sso) session .*(?:expired|invalid)|Unable to locate credentials",
    re.IGNORECASE,
)
_PASSPHRASE_PATTERNS = re.compile(
    r"incorrect passphrase|passphrase must be set|PULUMI_CONFIG_PASSPHRASE|"
    r"failed to decrypt|unable to decrypt|constructing secrets manager",
    re.IGNORECASE,
)
_ERROR_LINE = re.compile(r"^\s*(?:std(?:out|err):\s*)?(?:error|panic):\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _error_lines(text: str, limit: int = 5) -> list[str]:
    lines: list[str] = []
    for match in _ERROR_LINE.finditer(text):
        line = match.group(1).strip()
        if line and line not in lines:
            lines.append(line)
    return lines[-limit:]


def classify_command_error(text: str, stack: str) -> InfraError:
    """Turn the output of a failed Pulumi command into the error a user can act on."""
    lines = _error_lines(text)
    summary = "; ".join(lines) if lines else "the Pulumi engine reported a failure"
    if _CREDENTIAL_PATTERNS.search(text):
        return CredentialsError(
            f"AWS rejected or could not find credentials for stack {stack!r}: {summary}",
            hint="sign in (aws sso login, or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
            "then check with `infra doctor`",
        )
    if _PASSPHRASE_PATTERNS.search(text):
        return SecretsError(
            f"stack {stack!r} secrets cannot be decrypted: {summary}",
            hint=f"set {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV}) to the stack's passphrase, "
            f"or use a KMS key via {SECRETS_PROVIDER_ENV}; see docs/state-backends.md",
        )
    return OperationFailed(
        f"{stack}: {summary}",
        hint="read the engine messages above, fix the cause, and run the command again",
    )


@contextmanager
def translate_errors(stack: str) -> Iterator[None]:
    """Map Automation API exceptions onto the CLI's error hierarchy."""
    from pulumi.automation import errors as auto_errors

    try:
        yield
    except auto_errors.ConcurrentUpdateError as exc:
        raise StackBusy(
            f"stack {stack!r} is busy: another update holds its lock",
            hint="wait for the other update to finish; if it crashed, remove the stale lock "
            "(`pulumi cancel` on Pulumi Cloud, or the file under .pulumi/locks in a self-managed backend)",
        ) from exc
    except auto_errors.StackNotFoundError as exc:
        raise StackNotFound(
            f"stack {stack!r} does not exist in the state backend yet",
            hint=f"create it with `infra up --stack {stack}`, or check PULUMI_BACKEND_URL",
        ) from exc
    except auto_errors.CommandError as exc:
        raise classify_command_error(str(exc), stack) from exc
    except auto_errors.InvalidVersionError as exc:
        raise PulumiMissing(f"the installed Pulumi CLI cannot be used: {exc}", hint=INSTALL_HINT) from exc
    except FileNotFoundError as exc:
        if exc.filename in (None, "pulumi") or str(exc.filename).endswith("/pulumi"):
            raise PulumiMissing("the Pulumi CLI could not be started", hint=INSTALL_HINT) from exc
        raise


@contextmanager
def run_config_file(project_dir: Path, stack: str, values: RunConfig) -> Iterator[str | None]:
    """A private temporary copy of Pulumi.<stack>.yaml with `values` set, for `--config-file`; None without values.

    The stack file itself is never written: the values exist for one run only and the copy is deleted after it.
    """
    if not values:
        yield None
        return
    import tempfile

    import yaml

    source = stack_config_path(project_dir, stack)
    document = yaml.safe_load(source.read_text(encoding="utf-8")) if source.is_file() else None
    document = document if isinstance(document, dict) else {}
    config = document.get("config")
    document["config"] = {**(config if isinstance(config, dict) else {}), **dict(values)}
    with tempfile.TemporaryDirectory(prefix="infra-run-config-") as directory:
        path = Path(directory) / source.name
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        yield str(path)


def _outputs(raw: Any) -> dict[str, StackOutput]:
    return {name: StackOutput(value=item.value, secret=bool(item.secret)) for name, item in raw.items()}


class AutomationEngine:
    """Runs the repository's Pulumi program through `LocalWorkspace` and the Pulumi CLI."""

    def __init__(self, project_dir: Path, env: dict[str, str] | None = None) -> None:
        self.project_dir = project_dir
        self._env = dict(os.environ) if env is None else env
        self.backend = resolve_backend(project_dir, self._env)
        self.secrets = resolve_secrets(self._env)

    def _prepare(self, stack: str | None) -> None:
        require_pulumi_cli()
        path = self.backend.local_path
        if path is not None:
            if not path.is_absolute():
                path = self.project_dir / path
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the state directory {path}: {exc.strerror}",
                    hint=f"make it writable, or point {BACKEND_ENV} at another backend",
                ) from exc
        if stack is None:
            return
        provider = self.secrets.provider or stack_secrets_provider(stack_config_path(self.project_dir, stack))
        if needs_passphrase(self.backend, provider) and self.secrets.passphrase_source is None:
            raise SecretsError(
                f"stack {stack!r} encrypts its secrets with a passphrase, and none is set",
                hint=f"export {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV}), or use a KMS key via "
                f"{SECRETS_PROVIDER_ENV}=awskms://alias/<name>; see docs/state-backends.md",
            )

    def _options(self) -> Any:
        from pulumi import automation as auto

        env_vars = {BACKEND_ENV: self.backend.url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        return auto.LocalWorkspaceOptions(
            work_dir=str(self.project_dir),
            env_vars=env_vars,
            secrets_provider=self.secrets.provider,
        )

    def _stack(self, stack: str, *, create: bool) -> Stack:
        from pulumi import automation as auto

        opener = auto.create_or_select_stack if create else auto.select_stack
        return opener(stack_name=stack, work_dir=str(self.project_dir), opts=self._options())

    def preview(
        self,
        stack: str,
        on_event: OnEvent,
        *,
        diff: bool = False,
        policy: PolicyPacks | None = None,
        config: RunConfig = None,
    ) -> None:
        self._prepare(stack)
        packs = (policy or PolicyPacks()).options()
        with translate_errors(stack):
            selected = self._stack(stack, create=True)
            with run_config_file(self.project_dir, stack, config) as config_file:
                selected.preview(on_event=on_event, diff=diff, color="never", config_file=config_file, **packs)

    def up(
        self, stack: str, on_event: OnEvent, *, policy: PolicyPacks | None = None, config: RunConfig = None
    ) -> dict[str, StackOutput]:
        self._prepare(stack)
        packs = (policy or PolicyPacks()).options()
        with translate_errors(stack):
            selected = self._stack(stack, create=True)
            with run_config_file(self.project_dir, stack, config) as config_file:
                result = selected.up(on_event=on_event, color="never", config_file=config_file, **packs)
        return _outputs(result.outputs)

    def refresh(self, stack: str, on_event: OnEvent, *, config: RunConfig = None) -> None:
        self._prepare(stack)
        with translate_errors(stack):
            selected = self._stack(stack, create=False)
            with run_config_file(self.project_dir, stack, config) as config_file:
                # With run values the program runs, so the providers get them (not the ones recorded in the state).
                selected.refresh(
                    on_event=on_event, color="never", config_file=config_file, run_program=True if config else None
                )

    def destroy(self, stack: str, on_event: OnEvent, *, exclude_protected: bool) -> None:
        self._prepare(stack)
        with translate_errors(stack):
            self._stack(stack, create=False).destroy(
                on_event=on_event, color="never", exclude_protected=exclude_protected or None
            )

    def outputs(self, stack: str) -> dict[str, StackOutput]:
        self._prepare(stack)
        with translate_errors(stack):
            return _outputs(self._stack(stack, create=False).outputs())

    def export_state(self, stack: str) -> dict[str, Any]:
        self._prepare(stack)
        with translate_errors(stack):
            deployment = self._stack(stack, create=False).export_stack()
        return dict(deployment.deployment or {})

    def list_stacks(self) -> list[StackInfo]:
        self._prepare(None)
        from pulumi import automation as auto

        with translate_errors("*"):
            workspace = auto.LocalWorkspace(**vars(self._options()))
            summaries = workspace.list_stacks()
        return [
            StackInfo(
                name=s.name,
                last_update=s.last_update,
                resource_count=s.resource_count,
                update_in_progress=s.update_in_progress,
                url=s.url,
            )
            for s in summaries
        ]


def create_engine(project_dir: Path) -> Engine:
    """The engine the commands use; tests replace this function."""
    return AutomationEngine(project_dir)
