"""The ASGI application: routes, error handling and the lifespan that owns the database pool."""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import files, idempotency, logs, metrics, openapi
from .access import READ, WRITE, Principal, require_owner, require_scope
from .auth import TokenPolicy, TokenVerifier
from .cache import Cache, CacheSettings, CacheUnavailable
from .db import Database, DatabaseUnavailable, Outcome, Stored, ValueRefused, WriteOutcomeUnknown
from .errors import ApiError, JSONResponse, from_status
from .jwks import KeySet
from .observe import ObserveMiddleware
from .ratelimit import SubjectLimiter
from .security_headers import SecurityHeadersMiddleware, server_error_headers
from .settings import Settings, load
from .shared_probe import SharedProbe
from .validation import MapRequest, check_stored_size, parse_map_request, parse_user_id

_JSON_TYPES = ("application/json",)
_LIVEZ = b'{"status":"ok"}'
PRUNE_EVERY_S = 300.0
HEARTBEAT_SHARED_S = 1.0
"""Unauthenticated heartbeats within this many seconds share one database and cache probe."""


class Service:
    """The endpoints, bound to one process's settings, database pool and token verifier."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.database = Database(settings)
        self.cache = Cache(cache_settings(settings))
        self.limiter = SubjectLimiter(self.cache, settings.subject_rate_limit, settings.subject_rate_window_seconds)
        self.tokens = token_verifier(settings)
        self.started = time.monotonic()
        self.probe = SharedProbe(self._state, HEARTBEAT_SHARED_S)
        self._tasks: list[asyncio.Task] = []
        self._refreshes: set[asyncio.Task] = set()

    async def livez(self, request: Request) -> Response:
        return Response(_LIVEZ, media_type="application/json")

    async def heartbeat(self, request: Request) -> Response:
        """Status only for anyone, from one probe shared within HEARTBEAT_SHARED_S; every detail for an admin."""
        authorization = request.headers.get("authorization")
        if authorization is not None and (await self.tokens.verify(authorization)).admin:
            body, status = await self._state()
        else:
            full, status = await self.probe.get()
            body = {"status": full["status"]}
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def _state(self) -> tuple[dict, int]:
        """The service's state with its details, and the status code to answer with."""
        body = {
            "service": self.settings.service_name,
            "version": self.settings.version,
            "uptime_s": round(time.monotonic() - self.started, 3),
        }
        database, cache = await asyncio.gather(self.database.round_trip(), self._cache_trip(), return_exceptions=True)
        if isinstance(database, BaseException) and not isinstance(database, DatabaseUnavailable):
            raise database
        if isinstance(cache, BaseException):
            raise cache
        if isinstance(database, DatabaseUnavailable):
            metrics.set_database_up(False)
            body["status"] = "unavailable"
            body["reason"] = str(database)
            body["database"] = {"ok": False, "latency_ms": None, "server_version": None}
            body["cache"] = cache
            body["pool"] = self.database.stats()
            return body, 503
        metrics.set_database_up(True)
        # The cache only speeds reads up and carries events, which wait in the outbox while it is down: the service
        # still answers every request, so a cache that is down is "degraded", not a reason to take the task out.
        body["status"] = "degraded" if cache["state"] == "down" else "ok"
        body["database"] = {
            "ok": True,
            "latency_ms": round(database.latency_ms, 3),
            "server_version": database.server_version,
        }
        body["cache"] = cache
        body["pool"] = self.database.stats()
        return body, 200

    async def _cache_trip(self) -> dict:
        if not self.cache.enabled:
            return {"ok": False, "state": "off", "latency_ms": None}
        try:
            latency = await self.cache.round_trip()
        except CacheUnavailable as exc:
            return {"ok": False, "state": "down", "latency_ms": None, "reason": str(exc)}
        return {"ok": True, "state": "ok", "latency_ms": round(latency, 3)}

    async def map_practice(self, request: Request) -> Response:
        principal = await self.tokens.verify(request.headers.get("authorization"))
        require_scope(principal, principal.may_write, self.settings.jwt_scope_prefix + WRITE)
        try:
            payload, key = await self._write_request(request, principal)
        except ApiError:
            await self._limit(principal)  # a refused request is counted, and a subject over its limit hears so first
            raise
        # One cache round trip: the subject's count and, if allowed, the mark that keeps the user's older entry out
        # of the cache until this write's refresh lands (read-your-write without awaiting that refresh).
        marked = await self._limit(principal, payload.user_id)
        try:
            outcome = await self._store(payload.user_id, payload.practice, key)
        except BaseException:
            self._after_write(payload.user_id, marked, None)
            raise
        self._after_write(payload.user_id, marked, outcome.stored)
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
        return Response(outcome.body, status_code=outcome.status, headers=headers, media_type="application/json")

    async def _write_request(self, request: Request, principal: Principal) -> tuple[MapRequest, idempotency.Key | None]:
        """The validated body and idempotency key of a write; an ApiError when the request is refused."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
        body = await self._read_body(request)
        payload = parse_map_request(body)
        require_owner(principal, payload.user_id, "write", _request_id(request))
        check_stored_size(payload.practice, self.settings.max_document_bytes)
        key = idempotency.from_request(
            request.headers.get(idempotency.HEADER),
            principal.subject,
            [payload.user_id, payload.practice],
            self.settings.idempotency_ttl,
            self.settings.idempotency_keys_per_subject,
        )
        return payload, key

    async def _store(self, user_id: str, practice: dict, key: idempotency.Key | None) -> Outcome:
        try:
            return await self.database.upsert_practice(user_id, practice, key)
        except WriteOutcomeUnknown as exc:
            message = _unknown_outcome(str(exc))
            raise ApiError(503, "write_outcome_unknown", message, headers={"Retry-After": "1"}) from None
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        except ValueRefused as exc:
            raise ApiError(422, "validation_error", str(exc), "practice") from None
        except idempotency.KeysExhausted as exc:
            raise ApiError(
                429,
                "idempotency_keys_exhausted",
                f"this token's subject holds {exc.cap} live {idempotency.HEADER} values, the most it may; retry "
                f"after {exc.retry_after} s (when the oldest expires), or send the write without a key",
                idempotency.HEADER,
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        except idempotency.KeyReused:
            raise ApiError(
                422,
                "idempotency_key_reused",
                f"this {idempotency.HEADER} was first used with a different request; use a new key",
                idempotency.HEADER,
            ) from None

    def _after_write(self, user_id: str, marked: bool, stored: Stored | None) -> None:
        """Refresh the cache after the write, without the request waiting for it.

        A marked write settles its mark whatever happened (one that stored nothing settles as version 0): the user's
        entry stays out of the cache until every write of it in progress has settled, then holds the newest. An
        unmarked one (the cache failed a moment ago) still offers its record, set only if newer. The worker drops
        any older entry when it applies the write's event, should this refresh not reach the cache."""
        if marked:
            version, record = (stored.version, stored.body) if stored is not None else (0, b"")
            self.cache.settle_soon(user_id, version, record)
            return
        if stored is None or not self.cache.enabled:
            return
        task = asyncio.create_task(self.cache.put_practice(stored.user_id, stored.version, stored.body))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _limit(self, principal: Principal, writing: str | None = None) -> bool:
        """Count the request against its subject's limit (429 over it); with `writing`, also mark that user's write
        in progress in the cache, in the same round trip. Whether it was marked."""
        if not self.limiter.enabled and (writing is None or not self.cache.enabled):
            return False
        # Counted per token subject, whichever user_id it writes: an admin's writes for many users share one count.
        decision = await self.limiter.check(principal.subject, writing)
        if not decision.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"more than {self.limiter.limit} writes in {self.limiter.window} s for this token's subject;"
                f" retry after {decision.retry_after} s",
                headers={"Retry-After": str(decision.retry_after)},
            )
        return decision.marked

    async def map_read(self, request: Request) -> Response:
        """GET /map/{user_id} and GET /map/{user_id}/summary, from the undecoded path: an id may hold a slash."""
        principal = await self.tokens.verify(request.headers.get("authorization"))
        require_scope(principal, principal.may_read, self.settings.jwt_scope_prefix + READ)
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        if not raw.startswith(b"/map/"):
            raise ApiError(404, "not_found", "Not Found")
        segments = raw[len(b"/map/") :].split(b"/")
        if len(segments) == 1 and segments[0]:
            user_id = parse_user_id(segments[0])
            require_owner(principal, user_id, "read", _request_id(request))
            return await self._practice(user_id)
        if len(segments) == 2 and segments[0] and segments[1] == b"summary":
            user_id = parse_user_id(segments[0])
            require_owner(principal, user_id, "read summary", _request_id(request))
            return await self._summary(user_id)
        raise ApiError(404, "not_found", "Not Found")

    async def _practice(self, user_id: str) -> Response:
        state = "off"
        if self.cache.enabled:
            try:
                cached = await self.cache.read_practice(user_id)
            except CacheUnavailable:
                cached = None
            else:
                if cached is not None:
                    return Response(cached, media_type="application/json", headers={"X-Cache": "hit"})
                state = "miss"
        try:
            stored = await self.database.read_practice(user_id)
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        if stored is None:
            raise ApiError(404, "not_found", "no practice is stored for this user_id", "user_id", {"X-Cache": state})
        if state == "miss":
            await self.cache.put_practice(stored.user_id, stored.version, stored.body)
        return Response(stored.body, media_type="application/json", headers={"X-Cache": state})

    async def _summary(self, user_id: str) -> Response:
        try:
            summary = await self.database.read_summary(user_id)
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        if summary is None:
            raise ApiError(404, "not_found", "the worker has applied no write of this user_id yet", "user_id")
        return JSONResponse(summary)

    async def _read_body(self, request: Request) -> bytes:
        """Read at most the body limit, refusing early on a declared or streamed size above it."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ApiError(400, "bad_request", "Content-Length is not a number")
            if int(declared) > limit:
                raise ApiError(413, "payload_too_large", f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "payload_too_large", f"body larger than {limit} bytes")
            chunks.append(chunk)
        if size == 0:
            raise ApiError(400, "bad_request", "body is empty; send a JSON object")
        return b"".join(chunks)

    async def metrics_text(self, request: Request) -> Response:
        # Scrapers reach the task directly; anything relayed by the load balancer (or the local TLS proxy) carries
        # X-Forwarded-For, whatever spelling of the path it used, and is told there is nothing here.
        if "x-forwarded-for" in request.headers:
            raise ApiError(404, "not_found", "Not Found")
        metrics.set_pool(self.database.stats())
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def openapi_json(self, request: Request) -> Response:
        return JSONResponse(openapi.document(self.settings))

    async def docs(self, request: Request) -> Response:
        return HTMLResponse(openapi.docs_page(self.settings))

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        logs.emit("info", "starting", service=self.settings.service_name, version=self.settings.version)
        await self.database.open()
        self._tasks = [
            asyncio.create_task(self.database.check_schema_in_background()),
            asyncio.create_task(self._publish_pool_gauges()),
            asyncio.create_task(self.database.prune_idempotency_keys(self.settings.idempotency_ttl, PRUNE_EVERY_S)),
        ]
        if self.tokens.keys is not None:
            self._tasks.append(asyncio.create_task(self.tokens.keys.keep_fresh()))
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._refreshes:  # each is bounded by the cache's deadline
                await asyncio.wait(self._refreshes)
            await self.cache.drain()
            await self.database.close(grace=min(5.0, self.settings.shutdown_timeout))
            await self.cache.close()
            metrics.worker_exited()
            logs.emit("info", "stopped")
            logs.flush()

    async def _publish_pool_gauges(self) -> None:
        while True:
            metrics.set_pool(self.database.stats())
            await asyncio.sleep(1.0)


async def _api_error(request: Request, exc: ApiError) -> Response:
    return exc.response()


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return from_status(exc.status_code, exc.detail, exc.headers).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Logged by type and request id only: messages can carry request data; the client never sees a traceback.
    logs.emit(
        "error",
        "unhandled error",
        error=type(exc).__name__,
        request_id=_request_id(request),
    )
    # Answered outside the middleware stack (Starlette's outermost layer), so the security headers are added here.
    response = ApiError(500, "internal_error", "the server could not complete the request").response()
    response.raw_headers.extend(server_error_headers())
    return response


class _AnyText(PathConvertor):
    """Like `path`, but also across a decoded newline (%0A), so such an id gets a 422 and not a 404."""

    regex = "(?s:.*)"


register_url_convertor("any", _AnyText())


def _unknown_outcome(reason: str) -> str:
    return (
        f"{reason}. Retrying with the same {idempotency.HEADER} is safe: it stores the write at most once and "
        "answers what was stored; a retry without a key may store it a second time (a new version)"
    )


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def token_verifier(settings: Settings) -> TokenVerifier:
    """The verifier the settings describe: the issuer's key set when JWT_JWKS_URL is set, else the HS256 keys."""
    oidc = bool(settings.jwt_jwks_url)
    policy = TokenPolicy(
        issuer=settings.jwt_issuer,
        audiences=settings.jwt_audience,
        leeway=settings.jwt_leeway,
        max_lifetime=settings.jwt_max_lifetime,
        scope_prefix=settings.jwt_scope_prefix,
        user_scope=settings.jwt_user_scope,
        require_scopes=oidc,
    )
    if oidc:
        return TokenVerifier(policy, keys=KeySet(settings.jwt_jwks_url))
    secrets = (settings.jwt_secret, settings.jwt_secret_next, settings.jwt_secret_previous)
    return TokenVerifier(policy, secrets=secrets)


def cache_settings(settings: Settings) -> CacheSettings:
    """The cache client's settings from the service's."""
    return CacheSettings(
        url=settings.cache_url,
        password=settings.cache_password,
        username=settings.cache_username,
        iam_auth=settings.cache_iam_auth,
        region=settings.aws_region,
        ca_file=settings.cache_ca_file,
        ttl_seconds=settings.cache_ttl_seconds,
        max_entry_bytes=settings.cache_max_entry_bytes,
        write_guard_seconds=2 * settings.database_timeout + 10,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the application; with no settings given, read them from the environment."""
    settings = settings or load()
    logs.set_level(settings.log_level)
    service = Service(settings)
    routes = [
        Route("/livez", service.livez, methods=["GET"]),
        Route("/heartbeat", service.heartbeat, methods=["GET"]),
        Route("/map", service.map_practice, methods=["POST"]),
        # Both reads go to one handler, which reads the undecoded path; two routes keep their metrics apart.
        Route("/map/{user_id:any}/summary", service.map_read, methods=["GET"]),
        Route("/map/{user_id:any}", service.map_read, methods=["GET"]),
        Route("/metrics", service.metrics_text, methods=["GET"]),
        Route("/openapi.json", service.openapi_json, methods=["GET"]),
        Route("/docs", service.docs, methods=["GET"]),
        *files.routes(settings.files, service.database, service.tokens, settings.jwt_scope_prefix),
    ]
    middleware = [Middleware(SecurityHeadersMiddleware), Middleware(ObserveMiddleware, access_log=settings.access_log)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=list(settings.cors_methods),
                allow_headers=list(settings.cors_headers),
                allow_credentials=settings.cors_allow_credentials,
                expose_headers=["X-Request-ID", "Idempotent-Replayed", "X-Cache", "Retry-After", "WWW-Authenticate"],
                max_age=600,
            )
        )
    return Starlette(
        routes=routes,
        middleware=middleware,
        # Starlette types every handler as taking Exception; it calls each only with its own class.
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},  # pyright: ignore[reportArgumentType]
        lifespan=service.lifespan,
    )
