"""The image tag derived from the content Docker would send as build context."""

from __future__ import annotations

import hashlib
import pathlib

from stacks import dockerignore

_GENERATED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"})
_ALWAYS_HASHED = frozenset({"Dockerfile", ".dockerignore"})
"""Docker reads these even when .dockerignore excludes them, and they shape the image."""


def content_tag(directory: pathlib.Path) -> str:
    """A tag derived from the Dockerfile, .dockerignore and every file Docker would send as build context."""
    rules = dockerignore.read_rules(directory)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative not in _ALWAYS_HASHED and (_generated(relative) or dockerignore.excluded(relative, rules)):
            continue
        digest.update(relative.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"sha-{digest.hexdigest()[:16]}"


def _generated(relative: str) -> bool:
    """Interpreter and tool caches never count, whatever .dockerignore says."""
    parts = relative.split("/")
    return any(part in _GENERATED_DIRS for part in parts[:-1]) or parts[-1].endswith((".pyc", ".pyo"))
