"""Settings from environment variables, validated once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, overload
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .file_settings import FileSettings, read_file_settings
from .token_settings import is_loopback, read_token_settings

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("debug", "info", "warning", "error")
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
CORS_DEFAULT_METHODS = ("GET", "POST")
CORS_DEFAULT_HEADERS = ("Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")


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
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    """Accepted client ids and audiences: a token's `client_id` and `aud`, where set, must be among them."""
    jwt_jwks_url: str = ""
    """The issuer's key set (RS256/ES256); empty: HS256 tokens signed with the secrets below."""
    jwt_secret: str = field(default="", repr=False)
    jwt_secret_next: str = field(default="", repr=False)
    jwt_secret_previous: str = field(default="", repr=False)
    jwt_scope_prefix: str = ""
    jwt_user_scope: str = ""
    jwt_max_lifetime: float = 86400.0
    host: str = "0.0.0.0"  # noqa: S104 - the container's port is the service's only interface
    port: int = 8000
    workers: int = 1
    database_sslmode: str = ""
    """Empty: as DATABASE_URL says (libpq's default, prefer)."""
    database_iam_auth: bool = False
    aws_region: str = ""
    database_timeout: float = 2.0
    pool_min_size: int = 2
    pool_max_size: int = 10
    max_body_bytes: int = 64 * 1024
    cors_origins: tuple[str, ...] = ()
    cors_methods: tuple[str, ...] = CORS_DEFAULT_METHODS
    cors_headers: tuple[str, ...] = CORS_DEFAULT_HEADERS
    cors_allow_credentials: bool = False
    cache_url: str = field(default="", repr=False)
    """Empty: no cache (reads go to the database, X-Cache: off)."""
    cache_username: str = ""
    cache_password: str = field(default="", repr=False)
    cache_iam_auth: bool = False
    cache_ca_file: str = ""
    cache_ttl_seconds: int = 300
    cache_max_entry_bytes: int = 64 * 1024
    """Largest record the cache keeps; larger ones are always read from the database."""
    subject_rate_limit: int = 0
    """Writes one token subject may make per window; 0 turns the limit off."""
    subject_rate_window_seconds: int = 60
    jwt_leeway: float = 5.0
    log_level: str = "info"
    access_log: bool = True
    service_name: str = "groundwork-api"
    version: str = "0.0.0-dev"
    shutdown_timeout: float = 10.0
    keepalive_seconds: int = 5
    """Seconds an idle client connection stays open; behind a proxy, longer than the proxy's own idle timeout."""
    idempotency_ttl: float = 86400.0
    """Seconds an Idempotency-Key and its answer are kept for retries."""
    idempotency_keys_per_subject: int = 1000
    """Live Idempotency-Keys one token subject may hold; one more is refused with 429 until the oldest expires."""
    max_document_bytes: int = 256 * 1024
    """Largest practice as stored (numbers written out in full), and so the largest answer of a read."""
    files: FileSettings | None = None
    """The file routes' bucket and limits; None (no file routes) without FILES_BUCKET."""


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


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

    @overload
    def number(self, name: str, default: int, low: float, high: float, *, integer: Literal[True]) -> int: ...
    @overload
    def number(self, name: str, default: float, low: float, high: float, *, integer: bool = False) -> float: ...
    def number(self, name: str, default: float, low: float, high: float, *, integer: bool = False) -> float:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            self.problems.append(f"{name}={raw!r} is not {kind}; allowed: {_plain(low)} to {_plain(high)}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}={raw!r} is out of range; allowed: {_plain(low)} to {_plain(high)}")
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


def connection_params(database_url: str) -> dict[str, str]:
    """The URL's connection parameters as libpq reads them, with the port defaulted."""
    params = {key: str(value) for key, value in conninfo_to_dict(database_url).items()}
    params.setdefault("port", "5432")
    return params


def _check_iam_url(database_url: str, problems: list[str]) -> None:
    try:
        params = connection_params(database_url)
    except psycopg.Error:  # libpq's message may quote part of the URL
        problems.append("DATABASE_URL could not be parsed (its value is not shown)")
        return
    if params.get("password"):
        problems.append("DATABASE_URL must not contain a password with DATABASE_IAM_AUTH on (its value is not shown)")
    host = params.get("host", "")
    if not params.get("user") or not host or "," in host or host.startswith("/") or not params["port"].isdigit():
        problems.append(
            "DATABASE_URL must name a user, one host and at most one port with DATABASE_IAM_AUTH on"
            " (its value is not shown)"
        )


def _items(read: _Reader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = read.env.get(name, "").strip()
    return tuple(item.strip() for item in raw.split(",") if item.strip()) if raw else default


def _origin(entry: str) -> str | None:
    """The entry as browsers send it in Origin (lower-case scheme and host), or None when it is not an origin."""
    try:
        parts = urlsplit(entry)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    if parts.path or parts.query or parts.fragment or entry.endswith(("?", "#")):
        return None
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}" + (f":{port}" if port is not None else "")


def _read_cors(read: _Reader) -> dict:
    origins: list[str] = []
    for entry in _items(read, "CORS_ORIGINS", ()):
        origin = "*" if entry == "*" else _origin(entry)
        if origin is None:
            read.problems.append(
                f"CORS_ORIGINS entry {entry[:100]!r} is not an origin; allowed: scheme://host[:port] (http or https,"
                " no path) or *"
            )
        else:
            origins.append(origin)
    if "*" in origins and len(origins) > 1:
        read.problems.append("CORS_ORIGINS mixes * with origins; allowed: * alone or a list of origins")
    methods = tuple(m.upper() for m in _items(read, "CORS_METHODS", CORS_DEFAULT_METHODS))
    for method in methods:
        if method not in CORS_METHODS:
            allowed = ", ".join(CORS_METHODS)
            read.problems.append(f"CORS_METHODS entry {method[:40]!r} is not allowed; allowed: {allowed}")
    headers = _items(read, "CORS_HEADERS", CORS_DEFAULT_HEADERS)
    for header in headers:
        if header != "*" and not _HEADER_NAME.fullmatch(header):
            read.problems.append(
                f"CORS_HEADERS entry {header[:70]!r} is not a header name; allowed: * or names such as Content-Type"
            )
    credentials = read.flag("CORS_ALLOW_CREDENTIALS", False)
    if credentials and "*" in origins:
        read.problems.append(
            "CORS_ORIGINS='*' with CORS_ALLOW_CREDENTIALS=true is not allowed (browsers refuse a wildcard with"
            " credentials, and it would let any site act as a signed-in user); allowed: listed origins with"
            " credentials, or * without"
        )
    if credentials and "*" in headers:
        read.problems.append(
            "CORS_HEADERS='*' with CORS_ALLOW_CREDENTIALS=true is not allowed; allowed: header names with credentials"
        )
    return {
        "cors_origins": tuple(dict.fromkeys(origins)),
        "cors_methods": tuple(dict.fromkeys(methods)),
        "cors_headers": tuple(dict.fromkeys(headers)),
        "cors_allow_credentials": credentials,
    }


def _read_cache(read: _Reader, region: str) -> dict:
    url = read.text("CACHE_URL", "")
    password = read.env.get("CACHE_PASSWORD", "")
    username = read.text("CACHE_USERNAME", "")
    iam_auth = read.flag("CACHE_IAM_AUTH", False)
    ca_file = read.text("CACHE_CA_FILE", "")
    if url:
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("rediss", "redis") and bool(parts.hostname) and parts.port != 0
            valid = valid and (parts.path.strip("/") or "0").isdigit()
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            read.problems.append(
                "CACHE_URL is not a cache address (its value is not shown); allowed: rediss://host[:port][/db]"
            )
        elif parts.scheme == "redis" and not is_loopback(parts.hostname or ""):
            read.problems.append(
                "CACHE_URL uses redis:// (no TLS) for a host that is not loopback (its value is not shown);"
                " allowed: rediss://, or redis:// for 127.0.0.1, ::1 or localhost only"
            )
        elif iam_auth and (parts.password or password):
            read.problems.append("CACHE_PASSWORD and a password in CACHE_URL are not allowed with CACHE_IAM_AUTH on")
    if iam_auth:
        if not url:
            read.problems.append("CACHE_IAM_AUTH=true needs CACHE_URL; allowed: true with a rediss:// CACHE_URL")
        if not username:
            read.problems.append("CACHE_USERNAME is missing; CACHE_IAM_AUTH needs the cache user to sign in as")
        if not region:
            read.problems.append("AWS_REGION and AWS_DEFAULT_REGION are both missing; CACHE_IAM_AUTH needs one")
    if ca_file and not os.path.isfile(ca_file):
        read.problems.append(f"CACHE_CA_FILE={ca_file[:200]!r} is not a readable file; allowed: a PEM CA bundle path")
    return {
        "cache_url": url,
        "cache_username": username,
        "cache_password": password,
        "cache_iam_auth": iam_auth,
        "cache_ca_file": ca_file,
        "cache_ttl_seconds": read.number("CACHE_TTL_SECONDS", 300, 1, 7 * 86400, integer=True),
        "cache_max_entry_bytes": read.number("CACHE_MAX_ENTRY_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024, integer=True),
    }


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise SettingsError naming every bad or missing variable."""
    read = _Reader(os.environ if env is None else env)
    database_url = read.text("DATABASE_URL")
    is_postgres_url = urlsplit(database_url).scheme in ("postgres", "postgresql")
    if database_url and not is_postgres_url:
        read.problems.append("DATABASE_URL must be a postgresql:// URL (its value is not shown)")
    iam_auth = read.flag("DATABASE_IAM_AUTH", False)
    region = read.text("AWS_REGION", "") or read.text("AWS_DEFAULT_REGION", "")
    if iam_auth:
        if is_postgres_url:
            _check_iam_url(database_url, read.problems)
        if not region:
            read.problems.append("AWS_REGION and AWS_DEFAULT_REGION are both missing; DATABASE_IAM_AUTH needs one")
    cors = _read_cors(read)
    cache = _read_cache(read, region)
    pool_min = read.number("POOL_MIN_SIZE", 2, 0, 100, integer=True)
    pool_max = read.number("POOL_MAX_SIZE", 10, 1, 100, integer=True)
    if pool_min > pool_max:
        read.problems.append(f"POOL_MIN_SIZE={pool_min} exceeds POOL_MAX_SIZE={pool_max}; allowed: min <= max")
    settings = Settings(
        database_url=database_url,
        **read_token_settings(read),
        host=read.text("HOST", "0.0.0.0"),  # noqa: S104
        port=read.number("PORT", 8000, 1, 65535, integer=True),
        workers=read.number("WORKERS", default_workers(), 1, 64, integer=True),
        database_sslmode=read.choice("DATABASE_SSLMODE", "", SSL_MODES),
        database_iam_auth=iam_auth,
        aws_region=region,
        database_timeout=read.number("DATABASE_TIMEOUT", 2.0, 0.05, 60),
        pool_min_size=pool_min,
        pool_max_size=pool_max,
        max_body_bytes=read.number("MAX_BODY_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024, integer=True),
        **cors,
        **cache,
        subject_rate_limit=read.number("SUBJECT_RATE_LIMIT", 0, 0, 1_000_000, integer=True),
        subject_rate_window_seconds=read.number("SUBJECT_RATE_WINDOW_SECONDS", 60, 1, 86400, integer=True),
        log_level=read.choice("LOG_LEVEL", "info", LOG_LEVELS),
        access_log=read.flag("ACCESS_LOG", True),
        service_name=read.text("SERVICE_NAME", "groundwork-api"),
        version=read.text("APP_VERSION", "0.0.0-dev"),
        shutdown_timeout=read.number("SHUTDOWN_TIMEOUT", 10.0, 0, 300),
        keepalive_seconds=read.number("KEEPALIVE_SECONDS", 5, 1, 4000, integer=True),
        idempotency_ttl=read.number("IDEMPOTENCY_TTL", 86400.0, 60, 7 * 86400),
        idempotency_keys_per_subject=read.number("IDEMPOTENCY_KEYS_PER_SUBJECT", 1000, 1, 1_000_000, integer=True),
        max_document_bytes=read.number("MAX_DOCUMENT_BYTES", 256 * 1024, 1024, 16 * 1024 * 1024, integer=True),
        files=read_file_settings(read, region),
    )
    if read.problems:
        raise SettingsError(read.problems)
    return settings
