"""The bundled API run exactly as its image runs it: the Dockerfile's CMD from app_image/, with its settings."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cli.core.errors import ConfigError


def image_command(app_dir: Path) -> list[str]:
    """The Dockerfile's exec-form CMD: the one way the service is started, in the image, locally and in tests."""
    dockerfile = app_dir / "Dockerfile"
    for line in reversed(dockerfile.read_text().splitlines()):
        if line.startswith("CMD "):
            return json.loads(line[4:])
    raise ConfigError(f"{dockerfile} has no exec-form CMD", hint="restore the CMD line of app_image/Dockerfile")


INHERITED = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "SYSTEMROOT"})


def environment(*, database_url: str, port: int, jwt_secret: str, issuer: str, audience: str, **extra: str) -> dict:
    """The settings surface the cloud task definition gives the image, for a loopback run."""
    # Only what a process needs to run: cloud credentials, the state passphrase and stray API settings in the
    # caller's shell stay out, as they stay out of the container.
    inherited = {k: v for k, v in os.environ.items() if k in INHERITED or k.startswith("LC_")}
    return {
        **inherited,
        # The image's `python` is this interpreter, which has the image's requirements installed.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "JWT_SECRET": jwt_secret,
        "JWT_ISSUER": issuer,
        "JWT_AUDIENCE": audience,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
