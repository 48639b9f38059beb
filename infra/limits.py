"""AWS's limits and PostgreSQL's naming rules, written once; standard library only, so the CLI may import it."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from functools import cache

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
RESERVED_DATABASES = ("postgres", "rdsadmin", "template0", "template1")
"""Databases every RDS PostgreSQL instance already has: the application's database cannot be one of them."""
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


CACHE_ENGINE_VERSIONS = {"7.2": "valkey7", "8.0": "valkey8"}
"""Valkey versions ElastiCache offers that the project accepts, and the parameter-group family of each."""
CACHE_NODE_TYPE = re.compile(r"cache\.[a-z0-9]+\.[a-z0-9]+")
"""An ElastiCache node type such as cache.t4g.micro."""
CACHE_NODE_MEMORY_MIB = {
    "cache.t3.micro": 512,
    "cache.t3.small": 1403,
    "cache.t3.medium": 3164,
    "cache.t4g.micro": 512,
    "cache.t4g.small": 1403,
    "cache.t4g.medium": 3164,
    "cache.m6g.large": 6533,
    "cache.m7g.large": 6533,
    "cache.r6g.large": 13384,
    "cache.r7g.large": 13384,
}
"""Memory of an ElastiCache node (AWS's table of node types, in MiB), of the types the local stack can size."""
CACHE_RESERVED_MEMORY_PERCENT = 25
"""Share of a node's memory ElastiCache keeps outside the data set (backups, replication buffers)."""
CACHE_EVICTION_POLICIES = ("allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "volatile-ttl")
"""Eviction policies fit for a cache (noeviction would turn a full cache into failed writes)."""
CACHE_MAX_REPLICAS = 5
"""Replicas ElastiCache allows beside a primary (cluster mode off)."""
CACHE_MAX_SNAPSHOT_DAYS = 35
"""Longest snapshot retention ElastiCache allows."""

WAF_RATE_WINDOWS_SECONDS = (60, 120, 300, 600)
"""Evaluation windows WAF's rate-based rules accept."""
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
"""Smallest and largest request count a rate-based rule accepts per window."""
WAF_MODES = ("block", "count", "off")
"""What a managed rule group does: block its matches, only count them (a first rollout), or not run."""

BACKUP_MAX_RETENTION_DAYS = 36500
"""The longest retention AWS Backup accepts (100 years)."""
BACKUP_MIN_LOCK_GRACE_DAYS = 3
"""Fewest days AWS Backup allows before a compliance-mode vault lock becomes immutable."""
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
"""An AWS region name such as eu-west-1."""

FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120
"""Longest stop timeout Fargate allows a container after SIGTERM."""
BAKE_TIME_MAX_MINUTES = 1440
"""Longest bake time of an ECS blue/green deployment (bakeTimeInMinutes, 0 to 1440)."""


SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""Schedule names EventBridge Scheduler accepts."""
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT = re.compile(r"at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# The six fields of an AWS cron expression (EventBridge, Backup): name, lowest and highest value, names for values.
_CRON_FIELDS = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, ()),
)
EXPRESSION_HELP = (
    "rate(N minutes|hours|days), cron(min hour day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
)
"""What an expression may look like, for error messages."""


def expression_problem(expression: str) -> str | None:
    """Why EventBridge Scheduler would refuse the expression, or None when it is well formed."""
    if not isinstance(expression, str):
        return "not text"
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate needs a value of 1 or more"
        if (value == 1) != (not unit.endswith("s")):
            return f"write rate({value} {unit.rstrip('s') if value == 1 else unit.rstrip('s') + 's'})"
        return None
    if _AT.fullmatch(expression):
        return None
    if expression.startswith("cron("):
        return cron_problem(expression)
    return "not a rate, cron or at expression"


def cron_problem(expression: str) -> str | None:
    """Why AWS would refuse `cron(minutes hours day-of-month month day-of-week year)`, or None when it is valid."""
    if not isinstance(expression, str) or not (expression.startswith("cron(") and expression.endswith(")")):
        return "not a cron(...) expression"
    fields = expression[5:-1].split(" ")
    if len(fields) != len(_CRON_FIELDS):
        return f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), not {len(fields)}"
    for position, field in enumerate(fields):
        if not _cron_field_valid(position, field):
            name, low, high, names = _CRON_FIELDS[position]
            values = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
            return (
                f"the {name} field {field[:32]!r} is not valid ({values}, with * , - /"
                + (" ?" if position in (2, 4) else "")
                + ")"
            )
    if (fields[2] == "?") == (fields[4] == "?"):
        return "exactly one of day-of-month and day-of-week must be ?"
    return None


def backup_schedule_problem(expression: str) -> str | None:
    """Why AWS Backup would refuse the rule's schedule: a cron expression that runs at most once an hour."""
    problem = cron_problem(expression)
    if problem is None and not expression[5:].split(" ")[0].isdigit():
        return "AWS Backup runs a rule at most once an hour: the minutes field is one number"
    return problem


def _cron_value(position: int, text: str) -> bool:
    _, low, high, names = _CRON_FIELDS[position]
    # ASCII first: str.upper() maps some non-ASCII letters (the long s, the dotless i) onto SUN or FRI.
    return text.isascii() and (text.upper() in names or (text.isdigit() and low <= int(text) <= high))


def _cron_field_valid(position: int, field: str) -> bool:
    if field == "?":
        return position in (2, 4)
    if position == 2 and field in ("L", "LW"):
        return True
    for item in field.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isascii() and step.isdigit() and 1 <= int(step) <= _CRON_FIELDS[position][2]):
            return False
        if base == "*":
            continue
        if position == 2 and base.endswith("W") and not slash and _cron_value(2, base[:-1]):
            continue  # the weekday nearest to that day
        if position == 4 and not slash and base.endswith("L") and (base == "L" or _cron_value(4, base[:-1])):
            continue  # the last such weekday of the month
        if position == 4 and not slash and "#" in base:
            day, _, nth = base.partition("#")
            if _cron_value(4, day) and nth in ("1", "2", "3", "4", "5") and item == field:
                continue  # the nth such weekday: AWS takes it as the field's only item
            return False
        start, dash, end = base.partition("-")
        if not _cron_value(position, start) or (dash and not _cron_value(position, end)):
            return False
    return True


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_known(name: str) -> bool:
    """Whether the IANA time-zone database has the name (as EventBridge Scheduler expects)."""
    return isinstance(name, str) and name in _zones()


def command_problem(command: Sequence[str]) -> str | None:
    """Why a container command override is unusable, or None."""
    if isinstance(command, str) or not command:
        return "a non-empty list of strings"
    if not all(isinstance(part, str) and part and "\x00" not in part for part in command):
        return "a list of non-empty strings without NUL characters"
    return None


COGNITO_MFA_MODES = ("OFF", "OPTIONAL", "ON")
"""What a user pool asks of its users: no second factor, one for those who enrol, or one for everyone."""
COGNITO_PASSWORD_LENGTH = (8, 99)
"""Shortest minimum password length the project accepts (Cognito's own floor is 6) and Cognito's ceiling."""
COGNITO_TOKEN_MINUTES = (5, 1440)
"""Shortest and longest life Cognito allows an access or ID token, in minutes (5 minutes to a day)."""
COGNITO_REFRESH_DAYS = (1, 3650)
"""Life of a refresh token in days: Cognito allows 60 minutes to 10 years; the project counts whole days."""
COGNITO_DOMAIN_PREFIX = re.compile(r"(?!.*(aws|amazon|cognito))[a-z0-9](?:[a-z0-9-]{0,52}[a-z0-9])?")
"""A prefix of a Cognito domain (`<prefix>.auth.<region>.amazoncognito.com`): lowercase letters, digits and hyphens,
not naming aws, amazon or cognito; short enough for the random suffix the component adds."""
COGNITO_DOMAIN_PREFIX_TEXT = "lowercase letters, digits and inner hyphens (at most 54), without aws, amazon or cognito"
COGNITO_SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"
"""The one scope Cognito writes into access tokens of its own sign-in flows (SRP, password, refresh)."""
SECRET_WORDS = frozenset({"SECRET", "SECRETS", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL", "CREDENTIALS"})
"""Words of an environment variable's name that say it holds a secret."""
_SWITCH_WORDS = frozenset({"ALLOW", "ENABLE", "DISABLE", "REQUIRE", "USE"})
"""Words before a secret word that make the name a switch about secrets (`CORS_ALLOW_CREDENTIALS`)."""
_ABOUT_WORDS = frozenset({"ARN", "NAME", "TTL", "SECONDS", "MINUTES", "HOURS", "DAYS", "LENGTH", "HEADER", "PREFIX"})
"""Words after a secret word that make the name describe a secret without holding it (`TOKEN_TTL_SECONDS`)."""
SECRET_NAME_TEXT = "a name that does not hold a secret (SECRET, PASSWORD, TOKEN, KEY, CREDENTIALS, DATABASE_URL)"  # noqa: S105 - what is allowed, not a password


def holds_secret(name: str) -> bool:
    """Whether an environment variable's name says its value is a secret, not merely that it mentions one.

    `DB_PASSWORD` and `API_KEY` hold one; `CORS_ALLOW_CREDENTIALS` (a switch) and `TOKEN_TTL_SECONDS` (a duration)
    only mention one. The name is split into words on anything but letters and digits, so `MONKEY` is no `KEY`.
    """
    words = [word for word in re.split(r"[^A-Z0-9]+", name.upper()) if word]
    if words[-2:] == ["DATABASE", "URL"]:
        return True
    positions = [i for i, word in enumerate(words) if word in SECRET_WORDS]
    if not positions:
        return False
    first, last = positions[0], positions[-1]
    if any(word in _SWITCH_WORDS for word in words[:first]):
        return False
    return not any(word in _ABOUT_WORDS for word in words[last + 1 :])
