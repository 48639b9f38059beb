"""Keeps the check's secrets (its bearer token) out of everything it reports, whatever a server echoes back."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cli.smoke.report import SmokeReport

MASK = "[redacted]"
MIN_PART = 16
"""Dot-separated parts of a token at least this long (a JWT's claims and signature) are secret on their own."""
MIN_SECRET = 8
"""Shorter strings cannot be told apart from ordinary text (and are no credential worth the name): left as they are."""


class Redactor:
    """Replaces a token, and each long part of it, wherever it appears in text."""

    def __init__(self, *secrets: str | None) -> None:
        pieces: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET:
                pieces.add(secret)
                pieces.update(part for part in secret.split(".") if len(part) >= MIN_PART)
        self._pieces = sorted(pieces, key=len, reverse=True)

    def text(self, value: str) -> str:
        for piece in self._pieces:
            if piece in value:
                value = value.replace(piece, MASK)
        return value

    def body(self, value: bytes) -> bytes:
        """Bytes with the secrets masked, before any of them are cut short for display."""
        for piece in self._pieces:
            encoded = piece.encode("latin-1")
            if encoded in value:
                value = value.replace(encoded, MASK.encode())
        return value

    def value(self, value: Any) -> Any:
        """Strings anywhere inside JSON-like data masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def report(self, report: SmokeReport) -> None:
        """Mask every text of the report that came from the network: details, check summaries and data, service."""
        if not self._pieces:
            return
        for sample in report.samples:
            sample.detail = self.text(sample.detail)
        report.preflight = [
            replace(check, summary=self.text(check.summary), data=self.value(check.data)) for check in report.preflight
        ]
        report.checks = [
            replace(check, summary=self.text(check.summary), data=self.value(check.data)) for check in report.checks
        ]
        report.service = self.value(report.service)
