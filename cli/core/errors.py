"""The CLI's error hierarchy: each error carries an exit code and the next step to take."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes, documented in `infra --help` and docs/cli.md."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CHANGES = 3
    BUSY = 4


class InfraError(Exception):
    """An expected failure: a message, a hint for what to do next, and an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, hint: str = "", details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        """The error as the JSON document printed with `--json`."""
        doc: dict[str, Any] = {
            "ok": False,
            "error": {
                "kind": type(self).__name__,
                "message": self.message,
                "hint": self.hint,
                "exit_code": int(self.exit_code),
            },
        }
        doc.update(self.details)
        return doc


class OperationFailed(InfraError):
    """The operation ran and failed (a resource could not be created, the program raised)."""

    exit_code = ExitCode.FAILED


class ConfigError(InfraError):
    """The command cannot run as asked: bad options, bad settings, a missing prerequisite."""

    exit_code = ExitCode.USAGE


class UsageError(ConfigError):
    """The command line itself is wrong: an unknown option or command, a missing value."""


class PulumiMissing(ConfigError):
    """The Pulumi CLI is not on PATH (or too old for the Automation API)."""


class CredentialsError(ConfigError):
    """Cloud credentials are missing, expired or rejected."""


class SecretsError(ConfigError):
    """No passphrase or secrets provider to encrypt and decrypt stack secrets."""


class StackSettingsInvalid(ConfigError):
    """A `Pulumi.<stack>.yaml` has a value the settings reject."""


class StackNotFound(ConfigError):
    """The stack has no configuration file or no state in the backend."""


class NotAvailable(ConfigError):
    """A feature that belongs to a later piece of work and does not exist yet."""


class ConfirmationRefused(ConfigError):
    """A destructive action was not confirmed the way it must be."""


class StackBusy(InfraError):
    """Another update holds the stack's lock."""

    exit_code = ExitCode.BUSY


class PolicyViolation(InfraError):
    """The policy pack reported a mandatory violation."""

    exit_code = ExitCode.FAILED
