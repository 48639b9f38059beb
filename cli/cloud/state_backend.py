"""Which state backend and secrets provider the CLI hands to Pulumi, and why."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from stacks.stack_file import MAX_BYTES as STACK_FILE_MAX_BYTES

BACKEND_ENV = "PULUMI_BACKEND_URL"
SECRETS_PROVIDER_ENV = "INFRA_SECRETS_PROVIDER"
"""A secrets provider URL (for example awskms://alias/groundwork) used when the CLI creates a stack."""
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"  # noqa: S105 (a variable name)
KMS_SCHEMES = ("awskms://", "gcpkms://", "azurekeyvault://", "hashivault://")


@dataclass(frozen=True)
class Backend:
    """The state backend URL and where the choice came from."""

    url: str
    source: str

    @property
    def is_file(self) -> bool:
        return self.url.startswith("file://")

    @property
    def local_path(self) -> Path | None:
        """The directory of a file:// backend, else None."""
        if not self.is_file:
            return None
        raw = self.url[len("file://") :]
        return Path(raw).expanduser()


def default_state_dir(project_dir: Path) -> Path:
    """The git-ignored directory that holds state when nothing else is configured."""
    return project_dir / ".infra" / "state"


def resolve_backend(project_dir: Path, env: dict[str, str] | None = None) -> Backend:
    """$PULUMI_BACKEND_URL when set, else a file backend inside the project."""
    env = dict(os.environ) if env is None else env
    url = env.get(BACKEND_ENV, "").strip()
    if url:
        return Backend(url=url, source=BACKEND_ENV)
    return Backend(url=f"file://{default_state_dir(project_dir)}", source="default (inside the project)")


@dataclass(frozen=True)
class SecretsSetup:
    """How stack secrets will be encrypted: a passphrase or a KMS-style provider."""

    provider: str | None
    """Secrets provider URL for new stacks (from INFRA_SECRETS_PROVIDER), or None for Pulumi's default."""
    passphrase_source: str | None
    """Which variable supplies the passphrase, if any. The passphrase itself is never kept."""


def resolve_secrets(env: dict[str, str] | None = None) -> SecretsSetup:
    """Read the secrets provider override and note where a passphrase would come from."""
    env = dict(os.environ) if env is None else env
    provider = env.get(SECRETS_PROVIDER_ENV, "").strip() or None
    source = None
    if env.get(PASSPHRASE_ENV) is not None:
        source = PASSPHRASE_ENV
    elif env.get(PASSPHRASE_FILE_ENV):
        source = PASSPHRASE_FILE_ENV
    return SecretsSetup(provider=provider, passphrase_source=source)


def stack_secrets_provider(config_path: Path) -> str | None:
    """The `secretsprovider:` recorded in a stack's configuration file, if any."""
    if not config_path.is_file():
        return None
    # A file that cannot be read here is reported, key and line, by the settings' own strict reader.
    try:
        with open(config_path, "rb") as handle:
            raw = handle.read(STACK_FILE_MAX_BYTES + 1)
        data = yaml.safe_load(raw.decode("utf-8")) if len(raw) <= STACK_FILE_MAX_BYTES else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None
    value = data.get("secretsprovider") if isinstance(data, dict) else None
    return str(value) if value else None


def uses_kms(provider: str | None) -> bool:
    """True when a secrets provider URL names a key management service rather than a passphrase."""
    return bool(provider) and provider.startswith(KMS_SCHEMES)


def is_cloud(url: str) -> bool:
    """True for the Pulumi Cloud (or a self-hosted service), which manages secrets itself."""
    return url.startswith(("https://", "http://"))


def needs_passphrase(backend: Backend, provider: str | None) -> bool:
    """Whether Pulumi will ask for a passphrase: self-managed backends without a KMS provider."""
    return not is_cloud(backend.url) and not uses_kms(provider)
