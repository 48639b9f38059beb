"""The file routes: presigned uploads into the owner's prefix, presigned downloads and deletion, owner only."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import uuid
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import file_records, logs
from .access import READ, WRITE, Principal, require_scope
from .db import Database, DatabaseUnavailable
from .errors import ApiError, JSONResponse
from .file_settings import FileSettings
from .validation import USER_ID_FORBIDDEN

NAME_MAX = 255
"""Characters a file name may have (most file systems' limit)."""
BODY_MAX = 64 * 1024
"""Bytes a POST /files body may have: three short fields, with room to name what is wrong with an overlong name."""
FIELDS = frozenset({"name", "content_type", "size"})
SIZE_DIGITS_MAX = 20
"""Digits of a whole number read as such; a longer one is read as infinity, out of every range."""
# A name may hold neither path separators nor what user_id may not (controls, NUL, whitespace but the space,
# bidirectional and zero-width marks), nor an unpaired surrogate (from a \ud800 escape).
NAME_FORBIDDEN = USER_ID_FORBIDDEN[:-1] + r"/\\\ud800-\udfff]"
_name_forbidden = re.compile(NAME_FORBIDDEN)
_S3_TIMEOUTS = {"connect_timeout": 2, "read_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}


def _invalid(message: str, field: str) -> ApiError:
    return ApiError(422, "validation_error", message, field)


def owner_prefix(settings: FileSettings, subject: str) -> str:
    """The key prefix of one owner's objects: a hash of the subject, so no subject can name another's prefix."""
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{settings.key_prefix}{digest}/"


def check_name(name: object) -> str:
    """A file name to show and to download as: 1 to NAME_MAX characters, no separators, controls or marks."""
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        raise _invalid(f"required, a string of 1 to {NAME_MAX} characters", "name")
    if _name_forbidden.search(name) or name in (".", ".."):
        raise _invalid(
            "must not contain / or \\, control characters, whitespace other than the space, or invisible formatting"
            " characters (bidirectional and zero-width marks), and must not be . or ..",
            "name",
        )
    return name


def parse_create(body: bytes, settings: FileSettings) -> tuple[str, str, int]:
    """(name, content_type, size) from a POST /files body; 400 or 422 naming the field otherwise."""

    def unique(pairs: list[tuple[str, object]]) -> dict:
        if len({key for key, _ in pairs}) != len(pairs):
            raise _invalid("an object has a key twice; each key may appear once", "body")
        return dict(pairs)

    def no_constant(name: str):
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {name} is not a JSON number")

    def whole_number(digits: str) -> int | float:
        # Python refuses to read more than 4300 digits (a ValueError); any such size is out of range anyway.
        return int(digits) if len(digits) <= SIZE_DIGITS_MAX else math.inf

    try:
        document = json.loads(
            body.decode("utf-8"), object_pairs_hook=unique, parse_constant=no_constant, parse_int=whole_number
        )
    except ValueError:  # not UTF-8, not JSON
        raise ApiError(400, "invalid_json", "body is not valid JSON in UTF-8") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "body is nested too deeply; it is an object of three fields") from None
    if not isinstance(document, dict):
        raise _invalid("body must be a JSON object", "body")
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise _invalid(f"unknown field; allowed: {', '.join(sorted(FIELDS))}", unknown[0][:64])
    name = check_name(document.get("name"))
    content_type = document.get("content_type")
    if content_type not in settings.content_types:
        raise _invalid(f"must be one of: {', '.join(settings.content_types)}", "content_type")
    size = document.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= settings.max_bytes:
        raise _invalid(f"must be a whole number of bytes from 1 to {settings.max_bytes}", "size")
    return name, content_type, size


def _file_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["file_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no file has this id") from None


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no file has this id")


def _unavailable(message: str) -> ApiError:
    return ApiError(503, "storage_unavailable", message, headers={"Retry-After": "1"})


def s3_client(settings: FileSettings):
    """A SigV4 S3 client for the bucket's region; path-style addressing on a custom endpoint (the local server)."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.endpoint_url else "virtual"},
        **_S3_TIMEOUTS,
    )
    return boto3.Session().client(
        "s3", region_name=settings.region, endpoint_url=settings.endpoint_url or None, config=config
    )


class FileRoutes:
    """POST /files, GET /files/{id} and DELETE /files/{id}, bound to the service's verifier and database."""

    def __init__(self, settings: FileSettings, database: Database, tokens, scope_prefix: str):
        self.settings = settings
        self.database = database
        self.tokens = tokens
        self.scope_prefix = scope_prefix
        self.s3 = s3_client(settings)

    async def _principal(self, request: Request, scope: str) -> Principal:
        principal = await self.tokens.verify(request.headers.get("authorization"))
        require_scope(
            principal, principal.may_write if scope == WRITE else principal.may_read, self.scope_prefix + scope
        )
        return principal

    async def create(self, request: Request) -> Response:
        principal = await self._principal(request, WRITE)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise ApiError(415, "unsupported_media_type", "Content-Type must be application/json")
        name, content_type, size = parse_create(await _read_body(request), self.settings)
        file_id = uuid.uuid4()
        record = file_records.FileRecord(
            id=file_id,
            owner=principal.subject,
            object_key=owner_prefix(self.settings, principal.subject) + str(file_id),
            name=name,
            content_type=content_type,
            size=size,
        )
        try:
            await self.database.run(
                lambda conn: file_records.insert_within_cap(conn, record, self.settings.owner_max_bytes)
            )
        except file_records.OverQuota as over:
            raise ApiError(
                413,
                "quota_exceeded",
                f"this owner's files would take {over.used + size} bytes; the cap is {over.cap} bytes"
                f" ({over.used} in use); delete files first",
                "size",
            ) from None
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        upload = await asyncio.to_thread(self._presigned_post, record)
        return JSONResponse({"id": str(file_id), "upload": upload}, status_code=201)

    def _presigned_post(self, record: file_records.FileRecord) -> dict:
        """A POST policy S3 enforces: this key only, exactly the declared size and type, for at most the TTL."""
        return self.s3.generate_presigned_post(
            Bucket=self.settings.bucket,
            Key=record.object_key,
            Fields={"Content-Type": record.content_type},
            Conditions=[
                ["eq", "$key", record.object_key],
                ["content-length-range", record.size, record.size],
                ["eq", "$Content-Type", record.content_type],
            ],
            ExpiresIn=self.settings.url_ttl_seconds,
        )

    async def _owned(self, request: Request, principal: Principal, action: str) -> file_records.FileRecord:
        """The file when the token's subject owns it (or the token is an admin's, logged); 404 for anyone else."""
        file_id = _file_id(request)
        try:
            record = await self.database.run(lambda conn: file_records.select(conn, file_id))
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        if record is None or (record.owner != principal.subject and not principal.admin):
            raise _not_found()
        if record.owner != principal.subject:
            logs.emit(
                "info",
                "admin access",
                always=True,
                client_id=principal.client_id,
                subject=principal.subject,
                action=action,
                file_id=str(file_id),
                request_id=request.scope.get("state", {}).get("request_id"),
            )
        return record

    async def read(self, request: Request) -> Response:
        principal = await self._principal(request, READ)
        record = await self._owned(request, principal, "read file")
        url = await asyncio.to_thread(self._presigned_get, record)
        return JSONResponse(
            {
                "id": str(record.id),
                "name": record.name,
                "size": record.size,
                "content_type": record.content_type,
                "download_url": url,
            }
        )

    def _presigned_get(self, record: file_records.FileRecord) -> str:
        # Served as an attachment under its own name and type, so a browser never renders it as a page of this site.
        disposition = f"attachment; filename*=UTF-8''{quote(record.name, safe='')}"
        return self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.settings.bucket,
                "Key": record.object_key,
                "ResponseContentDisposition": disposition,
                "ResponseContentType": record.content_type,
            },
            ExpiresIn=self.settings.url_ttl_seconds,
        )

    async def delete(self, request: Request) -> Response:
        principal = await self._principal(request, WRITE)
        record = await self._owned(request, principal, "delete file")
        from botocore.exceptions import BotoCoreError, ClientError

        # The object first: should S3 fail, the record stays and a retry deletes both.
        try:
            await asyncio.to_thread(self.s3.delete_object, Bucket=self.settings.bucket, Key=record.object_key)
        except (BotoCoreError, ClientError) as exc:
            logs.emit("warning", "file object not deleted", error=type(exc).__name__, file_id=str(record.id))
            raise _unavailable("the storage did not delete the file; retry") from None
        try:
            await self.database.run(lambda conn: file_records.delete(conn, record.id))
        except DatabaseUnavailable as exc:
            raise ApiError(503, "database_unavailable", str(exc), headers={"Retry-After": "1"}) from None
        return Response(status_code=204)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > BODY_MAX):
        raise ApiError(413, "payload_too_large", f"body larger than {BODY_MAX} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_MAX:
            raise ApiError(413, "payload_too_large", f"body larger than {BODY_MAX} bytes")
        chunks.append(chunk)
    if size == 0:
        raise ApiError(400, "bad_request", "body is empty; send a JSON object")
    return b"".join(chunks)


def routes(settings: FileSettings | None, database: Database, tokens, scope_prefix: str) -> list[Route]:
    """The file routes; none when the service has no bucket (FILES_BUCKET unset)."""
    if settings is None:
        return []
    files = FileRoutes(settings, database, tokens, scope_prefix)
    return [
        Route("/files", files.create, methods=["POST"]),
        Route("/files/{file_id}", files.read, methods=["GET"]),
        Route("/files/{file_id}", files.delete, methods=["DELETE"]),
    ]
