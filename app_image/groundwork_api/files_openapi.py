"""The file routes' part of the OpenAPI document, with the limits the settings give them."""

from __future__ import annotations

from .access import ADMIN, READ, WRITE
from .file_settings import FileSettings
from .files import NAME_FORBIDDEN, NAME_MAX


def _error(description: str) -> dict:
    schema = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"]}},
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def paths(settings: FileSettings, scope_prefix: str) -> dict:
    """/files and /files/{file_id}, naming the allowed types, the caps and the URL lifetime."""
    read, write, admin = (scope_prefix + name for name in (READ, WRITE, ADMIN))
    ttl = settings.url_ttl_seconds
    create = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "content_type", "size"],
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": NAME_MAX,
                "not": {"pattern": NAME_FORBIDDEN},
                "description": "Shown and downloaded as; no / or \\, control characters, whitespace but the space, "
                "bidirectional or zero-width marks (FILES_* settings do not change this).",
            },
            "content_type": {
                "type": "string",
                "enum": list(settings.content_types),
                "description": "From FILES_CONTENT_TYPES; the upload must carry exactly this Content-Type.",
            },
            "size": {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.max_bytes,
                "description": f"Exact bytes of the upload (FILES_MAX_BYTES: {settings.max_bytes}); an owner's "
                f"files together at most FILES_OWNER_MAX_BYTES ({settings.owner_max_bytes}).",
            },
        },
    }
    upload = {
        "type": "object",
        "required": ["id", "upload"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "upload": {
                "type": "object",
                "required": ["url", "fields"],
                "description": f"An HTML-form POST to url with these fields and then the file (field `file`); S3 "
                f"refuses another key, size or Content-Type, and any upload after {ttl} s (FILES_URL_TTL_SECONDS).",
                "properties": {
                    "url": {"type": "string", "format": "uri"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    }
    described = {
        "type": "object",
        "required": ["id", "name", "size", "content_type", "download_url"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string"},
            "size": {"type": "integer"},
            "content_type": {"type": "string"},
            "download_url": {
                "type": "string",
                "format": "uri",
                "description": f"A presigned GET valid for {ttl} s, served as an attachment",
            },
        },
    }
    file_id = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    unavailable = _error("database, storage or the token issuer's keys unavailable")
    return {
        "/files": {
            "post": {
                "summary": "Reserve a file and get a presigned upload for it, under the token subject's prefix",
                "description": f"Needs the scope {write}. The file belongs to the token's subject.",
                "security": [{"bearer": [write]}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": create}}},
                "responses": {
                    "201": {"description": "reserved", "content": {"application/json": {"schema": upload}}},
                    "400": _error("malformed JSON"),
                    "401": _error("missing or invalid token"),
                    "403": _error(f"the token lacks {write}"),
                    "413": _error("the body is too large, or the owner's files would exceed FILES_OWNER_MAX_BYTES"),
                    "415": _error("not JSON"),
                    "422": _error("a field breaks the rules above"),
                    "503": unavailable,
                },
            }
        },
        "/files/{file_id}": {
            "get": {
                "summary": "A file's metadata and a presigned download URL; for its owner only",
                "description": f"Needs the scope {read}. Another owner's file is a 404 (a token with {admin} reads "
                "any, each access logged).",
                "security": [{"bearer": [read]}],
                "parameters": [file_id],
                "responses": {
                    "200": {"description": "the file", "content": {"application/json": {"schema": described}}},
                    "401": _error("missing or invalid token"),
                    "403": _error(f"the token lacks {read}"),
                    "404": _error("no file of this token's subject has this id"),
                    "503": unavailable,
                },
            },
            "delete": {
                "summary": "Delete a file (object and metadata); for its owner only",
                "description": f"Needs the scope {write}. Another owner's file is a 404.",
                "security": [{"bearer": [write]}],
                "parameters": [file_id],
                "responses": {
                    "204": {"description": "deleted"},
                    "401": _error("missing or invalid token"),
                    "403": _error(f"the token lacks {write}"),
                    "404": _error("no file of this token's subject has this id"),
                    "503": unavailable,
                },
            },
        },
    }
