"""Settings from environment variables, validated once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_SECRET_BYTES = 32


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid; the message lists each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings: " + "; ".join(problems))


def default_workers() -> int:
    """One worker per CPU this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment."""

    database_url: str = field(repr=False)
    jwt_secret: str = field(repr=False)
    jwt_issuer: str
    jwt_audience: str
    host: str = "0.0.0.0"  # noqa: S104 - the container's port is the service's only interface
    port: int = 8000
    workers: int = 1
    database_sslmode: str = ""
    """Empty: as DATABASE_URL says (libpq's default, prefer)."""
    database_timeout: float = 2.0
    pool_min_size: int = 2
    pool_max_size: int = 10
    max_body_bytes: int = 64 * 1024
    cors_origins: tuple[str, ...] = ()
    jwt_leeway: float = 5.0
    log_level: str = "info"
    access_log: bool = True
    service_name: str = "groundwork-api"
    version: str = "0.0.0-dev"
    shutdown_timeout: float = 10.0


class _Reader:
    """Collects every problem instead of stopping at the first, so one start-up shows them all."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str:
        value = self.env.get(name, "").strip()
        if value:
            return value
        if default is None:
            self.problems.append(f"{name} is missing; it is required")
        return default or ""

    def number(self, name: str, default: float, low: float, high: float, *, integer: bool = False):
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            self.problems.append(f"{name}={raw!r} is not {kind}; allowed: {low:g} to {high:g}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={raw!r} is out of range; allowed: {low:g} to {high:g}")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.env.get(name, "").strip().lower() or default
        if value != default and value not in allowed:
            self.problems.append(f"{name}={value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={raw!r} is not a boolean; allowed: true, false, 1, 0")
        return default


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise SettingsError naming every bad or missing variable."""
    read = _Reader(os.environ if env is None else env)
    database_url = read.text("DATABASE_URL")
    if database_url and urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        read.problems.append("DATABASE_URL must be a postgresql:// URL (its value is not shown)")
    jwt_secret = read.text("JWT_SECRET")
    if jwt_secret and len(jwt_secret.encode()) < MIN_SECRET_BYTES:
        read.problems.append(f"JWT_SECRET is too short; allowed: at least {MIN_SECRET_BYTES} bytes")
    origins = tuple(o.strip() for o in read.text("CORS_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and urlsplit(origin).scheme not in ("http", "https"):
            read.problems.append(f"CORS_ORIGINS entry {origin!r} is not an origin; allowed: https://host[:port] or *")
    pool_min = read.number("POOL_MIN_SIZE", 2, 0, 100, integer=True)
    pool_max = read.number("POOL_MAX_SIZE", 10, 1, 100, integer=True)
    if pool_min > pool_max:
        read.problems.append(f"POOL_MIN_SIZE={pool_min} exceeds POOL_MAX_SIZE={pool_max}; allowed: min <= max")
    settings = Settings(
        database_url=database_url,
        jwt_secret=jwt_secret,
        jwt_issuer=read.text("JWT_ISSUER"),
        jwt_audience=read.text("JWT_AUDIENCE"),
        host=read.text("HOST", "0.0.0.0"),  # noqa: S104
        port=read.number("PORT", 8000, 1, 65535, integer=True),
        workers=read.number("WORKERS", default_workers(), 1, 64, integer=True),
        database_sslmode=read.choice("DATABASE_SSLMODE", "", SSL_MODES),
        database_timeout=read.number("DATABASE_TIMEOUT", 2.0, 0.05, 60),
        pool_min_size=pool_min,
        pool_max_size=pool_max,
        max_body_bytes=read.number("MAX_BODY_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024, integer=True),
        cors_origins=origins,
        jwt_leeway=read.number("JWT_LEEWAY", 5.0, 0, 300),
        log_level=read.choice("LOG_LEVEL", "info", LOG_LEVELS),
        access_log=read.flag("ACCESS_LOG", True),
        service_name=read.text("SERVICE_NAME", "groundwork-api"),
        version=read.text("APP_VERSION", "0.0.0-dev"),
        shutdown_timeout=read.number("SHUTDOWN_TIMEOUT", 10.0, 0, 300),
    )
    if read.problems:
        raise SettingsError(read.problems)
    return settings
