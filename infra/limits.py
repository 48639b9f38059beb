"""AWS's limits and PostgreSQL's naming rules, written once; standard library only, so the CLI may import it."""

from __future__ import annotations

import re

FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
"""Fargate CPU units and the memory sizes (MiB) each allows."""

LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
"""Retention periods CloudWatch Logs accepts."""

PERFORMANCE_INSIGHTS_RETENTION_DAYS = (7, *range(31, 714, 31), 731)
"""Performance Insights retention periods: 7, a multiple of 31 up to 713, or 731."""
PERFORMANCE_INSIGHTS_RETENTION_TEXT = "7, a multiple of 31 up to 713, or 731"

MONITORING_INTERVALS_SECONDS = (0, 1, 5, 10, 15, 30, 60)
"""Enhanced Monitoring intervals RDS accepts (0 turns it off)."""

RESERVED_DB_USERS = ("postgres", "admin", "rdsadmin", "root", "master", "user", "public")
"""Role names RDS or PostgreSQL reserve, refused as the master user or the service's role."""

IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,62}")
"""A lowercase PostgreSQL identifier RDS accepts as a database name: a letter, then letters, digits or _."""
IDENTIFIER_TEXT = "a lowercase identifier: a letter, then up to 62 letters, digits or _"

MASTER_USERNAME = re.compile(r"[a-z][a-z0-9_]{0,15}")
"""An RDS master user name: a letter, then up to 15 letters, digits or _."""
MASTER_USERNAME_TEXT = "a lowercase name: a letter, then up to 15 letters, digits or _"

MAX_ROTATION_DAYS = 90
"""Longest interval between automatic rotations of a secret that the project accepts."""

SECRET_RECOVERY_WINDOW_DAYS = (0, *range(7, 31))
"""Recovery windows Secrets Manager accepts for a deleted secret (0 deletes at once)."""


def fargate_memory_text(cpu: int) -> str:
    """The memory sizes Fargate allows for `cpu`, as error text."""
    return f"for cpu {cpu}: one of " + ", ".join(map(str, FARGATE_SIZES[cpu]))
