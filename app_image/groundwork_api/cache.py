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
from redis.exceptions import NoScriptError, RedisError, ResponseError

from . import logs

# An entry is "<version> <record JSON>": the version is read without parsing the record, whose numbers may be
# beyond what Lua's numbers hold. Sets the entry only when no entry, or an older version, is there, and no write is
# in progress (KEYS[2]): a reader that fetched an old row from the database can never overwrite what a later write
# put in the cache, nor install what a write about to be acknowledged replaces.
_SET_IF_NEWER = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
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
# Before a write, in the request's one cache round trip: count the subject's request (when KEYS holds its counter
# first) and, if it is allowed, drop the user's entry and note one more write in progress (a hash: n writes, and
# the newest version and record they have settled). Until the last of them settles, nothing is cached for the user,
# so a client's read after its write's answer comes from the database or from that write's own refresh.
_BEGIN_WRITE = """
local count, ttl = 0, 0
if #KEYS == 3 then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
  ttl = redis.call('PTTL', KEYS[1])
  if count > tonumber(ARGV[2]) then return {count, ttl, 0} end
end
redis.call('DEL', KEYS[#KEYS - 1])
redis.call('HINCRBY', KEYS[#KEYS], 'n', 1)
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[3])
return {count, ttl, 1}
"""
# After a write's commit (not awaited by its request): note its version and record, and when it is the last write in
# progress, cache the newest version any of them wrote ('' is a record too large to keep: the entry is dropped).
_SETTLE = """
local version, record = ARGV[2], ARGV[1]
if redis.call('EXISTS', KEYS[2]) == 1 then
  local best = redis.call('HGET', KEYS[2], 'v')
  if best and tonumber(best) >= tonumber(version) then
    version, record = best, redis.call('HGET', KEYS[2], 'r')
  else
    redis.call('HSET', KEYS[2], 'v', version, 'r', record)
  end
  if redis.call('HINCRBY', KEYS[2], 'n', -1) > 0 then return 0 end
  redis.call('DEL', KEYS[2])
end
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^(%d+) '))
  if stored and stored >= tonumber(version) then return 0 end
end
if record == '' then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], version .. ' ' .. record, 'EX', ARGV[3])
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
SETTLE_DELAY_S = 0.005
"""How long a write's cache refresh may wait to share the next request's round trip to the cache."""
RETRY_AFTER_FAILURE_S = 1.0
"""After a failed call the cache is skipped this long: an unreachable cache costs one deadline, not one per call."""
KEY_PREFIX = "practice:"
"""Prefix of the cache keys of stored practices."""
WRITING_PREFIX = "practice-writing:"
"""Prefix of the keys that count a user's writes in progress."""


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
    max_entry_bytes: int = 64 * 1024
    """Largest record kept in the cache; a larger one is read from the database each time."""
    write_guard_seconds: float = 30.0
    """How long a write in progress keeps its user out of the cache should its refresh never come (longer than a
    write can take)."""


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
        self._queue: list[tuple[str, list, list, asyncio.Future]] = []
        self._urgent = False
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Future] = set()
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
        if len(record) > self.settings.max_entry_bytes:
            # Not kept, and no older version of it either: a read must not find what this write replaced.
            try:
                await self.drop_older(user_id, int(version) + 1)
            except CacheUnavailable as exc:
                self._warn("cache drop skipped", exc)
            return False
        try:
            stored = await self._bounded(
                self._script(_SET_IF_NEWER)(
                    keys=[KEY_PREFIX + user_id, WRITING_PREFIX + user_id],
                    args=[record, int(version), self.settings.ttl_seconds],
                )
            )
        except CacheUnavailable as exc:
            self._warn("cache write skipped", exc)
            return False
        return bool(stored)

    async def begin_write(self, user_id: str, counter: tuple[str, int, int] | None = None) -> tuple[int, int, bool]:
        """Before a write: count the request on `counter` (key, window ms, limit) if given and, unless that refuses
        it, mark the user's write in progress. Returns the count, the window's ms left and whether it was marked;
        raises CacheUnavailable (then nothing is known to be marked)."""
        if self.client is None:
            raise CacheUnavailable("no cache is configured")
        if self.skipping:
            raise CacheUnavailable("cache failed less than a second ago; skipped")
        keys = [KEY_PREFIX + user_id, WRITING_PREFIX + user_id]
        args = [0, 0, int(self.settings.write_guard_seconds * 1000)]
        if counter is not None:
            keys.insert(0, counter[0])
            args[:2] = counter[1:]
        count, ttl_ms, marked = await self._bounded(self._batched(_BEGIN_WRITE, keys, args))
        return int(count), int(ttl_ms), bool(marked)

    def settle_soon(self, user_id: str, version: int, record: bytes) -> asyncio.Future | None:
        """After a write marked by begin_write committed, without waiting: cache it, or the newest version written
        meanwhile, once no write of the user is in progress. It goes out with the next batch of commands; a failure
        is logged, never raised (the mark then expires after `write_guard_seconds`)."""
        if self.client is None or self.skipping:
            return None
        kept = record if len(record) <= self.settings.max_entry_bytes else b""
        keys = [KEY_PREFIX + user_id, WRITING_PREFIX + user_id]
        future = self._batched(_SETTLE, keys, [kept, int(version), self.settings.ttl_seconds], urgent=False)
        self._in_flight.add(future)
        future.add_done_callback(self._settled)
        return future

    def _settled(self, future: asyncio.Future) -> None:
        self._in_flight.discard(future)
        failure = None if future.cancelled() else future.exception()
        if isinstance(failure, Exception):
            self._warn("cache write skipped", failure)

    async def settle_write(self, user_id: str, version: int, record: bytes) -> bool:
        """settle_soon, waiting for the cache's answer: whether it cached a record (False on a failure)."""
        future = self.settle_soon(user_id, version, record)
        if future is None:
            return False
        await asyncio.wait([future])
        return not future.cancelled() and future.exception() is None and bool(future.result())

    async def drain(self) -> None:
        """Wait for the settles sent without waiting (at shutdown); each is bounded by the cache's deadline."""
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))

    def _batched(self, source: str, keys: list, args: list, urgent: bool = True) -> asyncio.Future:
        """Queue a script call for the next batch: every call queued by then goes to the cache in one pipeline (one
        write and one read for all of them). An urgent call (a request waits for it) goes out at the end of this turn
        of the event loop; one that is not waits up to SETTLE_DELAY_S for an urgent one to ride along with."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((source, keys, args, future))
        if urgent and not self._urgent:
            self._urgent = True
            loop.call_soon(self._send_batch)
        elif not urgent and self._timer is None and not self._urgent:
            self._timer = loop.call_later(SETTLE_DELAY_S, self._send_batch)
        return future

    def _send_batch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._urgent = False
        batch, self._queue = self._queue, []
        if not batch:
            return
        task = asyncio.ensure_future(self._run_batch(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _run_batch(self, batch: list[tuple[str, list, list, asyncio.Future]]) -> None:
        assert self.client is not None  # nothing is queued without a client
        try:
            results = await asyncio.wait_for(self._pipeline(batch), self.settings.timeout)
        except (TimeoutError, RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER_FAILURE_S
            for *_, future in batch:
                if not future.done():
                    future.set_exception(CacheUnavailable(_describe(exc, self.settings.timeout)))
            return
        for (*_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, batch: list[tuple[str, list, list, asyncio.Future]]) -> list:
        results = await self._send(batch)
        missing = [n for n, result in enumerate(results) if _no_script(result)]
        if missing:  # a restarted or flushed cache: load the scripts and send what it refused again
            assert self.client is not None  # nothing is queued without a client
            for source in {batch[n][0] for n in missing}:
                await self.client.script_load(source)
            for n, result in zip(missing, await self._send([batch[n] for n in missing]), strict=True):
                results[n] = result
        return results

    async def _send(self, batch: list[tuple[str, list, list, asyncio.Future]]) -> list:
        assert self.client is not None  # nothing is queued without a client
        pipe = self.client.pipeline(transaction=False)
        for source, keys, args, _ in batch:
            pipe.execute_command("EVALSHA", self._script(source).sha, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)

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


def _no_script(result: object) -> bool:
    return isinstance(result, NoScriptError) or (isinstance(result, ResponseError) and "NOSCRIPT" in str(result))


def _describe(exc: BaseException, deadline: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"cache did not answer within the {deadline:g} s deadline"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cache error: {first_line[:200]}"
