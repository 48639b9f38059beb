"""The cache: Valkey or Redis over TLS, versioned read-through entries, and its round trip for /heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.credentials import CredentialProvider
from redis.exceptions import RedisError

from . import logs

# An entry is "<version> <record JSON>": the version is read without parsing the record, whose numbers may be
# beyond what Lua's numbers hold. Sets the entry only when no entry, or an older version, is there: a reader that
# fetched an old row from the database can never overwrite what a later write put in the cache.
_SET_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^(%d+) '))
  if stored and stored >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. ARGV[1], 'EX', ARGV[3])
return 1
"""
# Drops the entry when it holds a version older than the one given (the worker, for each applied event).
_DROP_IF_OLDER = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^(%d+) '))
  if not stored or stored < tonumber(ARGV[1]) then
    return redis.call('DEL', KEYS[1])
  end
end
return 0
"""
RETRY_AFTER_FAILURE_S = 1.0
"""After a failed call the cache is skipped this long: an unreachable cache costs one deadline, not one per call."""
KEY_PREFIX = "practice:"
"""Prefix of the cache keys of stored practices."""


class CacheUnavailable(Exception):
    """The cache did not answer within the deadline; the message says why, without secrets."""


@dataclass(frozen=True)
class CacheSettings:
    """Where the cache is and how to sign in; an empty URL means the service runs without one."""

    url: str = field(default="", repr=False)
    """rediss://host:port/db (TLS) or redis://... (loopback only)."""
    password: str = field(default="", repr=False)
    """Password of the user (local stacks); empty with IAM sign-in."""
    username: str = ""
    """User to sign in as (the ElastiCache user id with IAM)."""
    iam_auth: bool = False
    """Sign in with a fresh IAM token (ElastiCache) instead of a password."""
    region: str = ""
    """Region of the cache, for IAM tokens."""
    ca_file: str = ""
    """CA bundle that signs the cache's certificate; empty: the system's."""
    ttl_seconds: int = 300
    """How long an entry lives without being invalidated."""
    timeout: float = 0.5
    """Deadline of one cache call; past it the caller falls back to the database."""


class IamTokenProvider(CredentialProvider):
    """Signs in to ElastiCache as `username` with a SigV4-presigned connect request, valid 15 minutes."""

    def __init__(self, username: str, group_host: str, region: str):
        import botocore.session  # only deployments using IAM sign-in pay for the import

        self.username = username
        self.group_host = group_host
        self.region = region
        self.session = botocore.session.Session()

    def get_credentials(self) -> tuple[str, str]:
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(
            method="GET", url=f"http://{self.group_host}/", params={"Action": "connect", "User": self.username}
        )
        SigV4QueryAuth(self.session.get_credentials(), "elasticache", self.region, expires=900).add_auth(request)
        assert request.url is not None  # given above; add_auth only appends the signature
        return self.username, request.url.removeprefix("http://")


def replication_group_host(url: str) -> str:
    """The replication group id an IAM token names: the first label of the primary endpoint after `master.`."""
    host = urlsplit(url).hostname or ""
    labels = host.split(".")
    return labels[1] if labels and labels[0] == "master" and len(labels) > 1 else labels[0]


class Cache:
    """A small client: every call is bounded by the deadline, and a failure never reaches the request's answer."""

    def __init__(self, settings: CacheSettings):
        self.settings = settings
        self.enabled = bool(settings.url)
        self._last_warning = 0.0
        self._skip_until = 0.0
        self._scripts: dict[str, AsyncScript] = {}
        if not self.enabled:
            self.client = None
            return
        options: dict = {
            "socket_timeout": settings.timeout,
            "socket_connect_timeout": max(settings.timeout, 1.0),
            "health_check_interval": 30,
            "max_connections": 50,
        }
        if settings.url.startswith("rediss://"):
            options["ssl_cert_reqs"] = "required"
            if settings.ca_file:
                options["ssl_ca_certs"] = settings.ca_file
        if settings.iam_auth:
            options["credential_provider"] = IamTokenProvider(
                settings.username, replication_group_host(settings.url), settings.region
            )
        else:
            if settings.username:
                options["username"] = settings.username
            if settings.password:
                options["password"] = settings.password
        self.client = redis.Redis.from_url(settings.url, **options)

    @property
    def skipping(self) -> bool:
        """True for a moment after a failure: callers go straight to their fallback."""
        return time.monotonic() < self._skip_until

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def _bounded(self, work):
        if self.client is None or self.skipping:
            with contextlib.suppress(AttributeError):
                work.close()  # never awaited: closed so Python does not warn about it
        if self.client is None:
            raise CacheUnavailable("no cache is configured")
        if self.skipping:
            raise CacheUnavailable("cache failed less than a second ago; skipped")
        try:
            return await asyncio.wait_for(work, self.settings.timeout)
        except (TimeoutError, RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER_FAILURE_S
            raise CacheUnavailable(_describe(exc, self.settings.timeout)) from None

    def _script(self, source: str) -> AsyncScript:
        assert self.client is not None  # callers return early without a cache
        if source not in self._scripts:
            self._scripts[source] = self.client.register_script(source)
        return self._scripts[source]

    async def round_trip(self) -> float:
        """Milliseconds of one PING; CacheUnavailable when the cache does not answer (the breaker is not consulted)."""
        if self.client is None:
            raise CacheUnavailable("no cache is configured")
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self.client.ping(), self.settings.timeout)
        except (TimeoutError, RedisError, OSError) as exc:
            raise CacheUnavailable(_describe(exc, self.settings.timeout)) from None
        return (time.perf_counter() - started) * 1000

    async def read_practice(self, user_id: str) -> bytes | None:
        """The cached record's JSON as it was stored, or None on a miss; CacheUnavailable when it cannot answer."""
        if self.client is None:
            raise CacheUnavailable("no cache is configured")
        raw = await self._bounded(self.client.get(KEY_PREFIX + user_id))
        if raw is None:
            return None
        _version, separator, record = raw.partition(b" ")
        return record if separator and record else None

    async def get_practice(self, user_id: str) -> bytes | None:
        """Like read_practice, but an unavailable cache is a miss (logged at most every 10 s)."""
        try:
            return await self.read_practice(user_id)
        except CacheUnavailable as exc:
            self._warn("cache read skipped", exc)
            return None

    async def put_practice(self, user_id: str, version: int, record: bytes) -> bool:
        """Stores the record's JSON unless a newer version is cached; a cache failure is logged, never raised."""
        if self.client is None:
            return False
        try:
            stored = await self._bounded(
                self._script(_SET_IF_NEWER)(
                    keys=[KEY_PREFIX + user_id], args=[record, int(version), self.settings.ttl_seconds]
                )
            )
        except CacheUnavailable as exc:
            self._warn("cache write skipped", exc)
            return False
        return bool(stored)

    async def drop_older(self, user_id: str, version: int) -> bool:
        """Removes the user's entry if it holds a version before `version`; raises CacheUnavailable on failure."""
        if self.client is None:
            return False
        found = await self._bounded(self._script(_DROP_IF_OLDER)(keys=[KEY_PREFIX + user_id], args=[int(version)]))
        return bool(found)

    async def drop_older_many(self, entries: list[tuple[str, int]]) -> None:
        """drop_older for many users in one round trip; raises CacheUnavailable on failure."""
        if self.client is None or not entries:
            return
        script = self._script(_DROP_IF_OLDER)
        pipe = self.client.pipeline(transaction=False)
        for user_id, version in entries:
            await script(keys=[KEY_PREFIX + user_id], args=[int(version)], client=pipe)
        await self._bounded(pipe.execute())

    def _warn(self, event: str, exc: Exception) -> None:
        # At most one line every 10 s: a cache outage must not flood the log with one line per request.
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            logs.emit("warning", event, reason=str(exc))


def _describe(exc: BaseException, deadline: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"cache did not answer within the {deadline:g} s deadline"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cache error: {first_line[:200]}"
