"""Where this machine's PostgreSQL and PgBouncer binaries are (Debian's packages)."""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

from cli.core.errors import ConfigError

SETUP_HINT = "run `make setup` (it installs Debian's postgresql and pgbouncer), or apt-get install postgresql pgbouncer"


class PrerequisiteMissing(ConfigError):
    """A program the local stack needs is not installed."""


def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries installed from Debian's packages."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise PrerequisiteMissing("PostgreSQL server binaries (initdb, pg_ctl) are not installed", hint=SETUP_HINT)
    return Path(found[-1]).parent


def pgbouncer_bin() -> Path:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    if not found:
        raise PrerequisiteMissing("pgbouncer is not installed", hint=SETUP_HINT)
    return Path(found)
