"""The OpenAPI document of the service and a self-contained page that renders it (no external assets)."""

from __future__ import annotations

import html
from functools import cache

import orjson

from . import files_openapi, idempotency
from .access import ADMIN, READ, WRITE
from .settings import Settings
from .validation import (
    MAX_DEPTH,
    MAX_KEY_CHARS,
    MAX_NODES,
    MAX_NUMBER_DIGITS,
    MAX_STRING_CHARS,
    TEXT_FORBIDDEN,
    USER_ID_FORBIDDEN,
    USER_ID_MAX,
)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


def _no(forbidden: str) -> str:
    # A whole-string pattern rather than a search for the forbidden characters, so generators build valid text
    # directly; the only characters it leaves out are the forbidden ones.
    return f"^[^{forbidden.strip('[]')}]*$"


def _practice_schemas() -> dict[str, dict]:
    """The practice document, one schema per nesting level, since JSON Schema has no depth limit of its own.

    Each level is one schema listing every JSON type (a keyword such as maxLength applies only to its own type),
    which keeps generators and validators fast where nested alternatives would multiply.
    """
    text = {"maxLength": MAX_STRING_CHARS, "pattern": _no(TEXT_FORBIDDEN)}
    keys = {"maxLength": MAX_KEY_CHARS, "pattern": _no(TEXT_FORBIDDEN)}
    scalars = ["null", "boolean", "number", "string"]
    schemas: dict[str, dict] = {f"Value{MAX_DEPTH + 1}": {"type": scalars, **text}}
    for depth in range(MAX_DEPTH, 0, -1):
        child = {"$ref": f"#/components/schemas/Value{depth + 1}"}
        containers = {"propertyNames": keys, "additionalProperties": child, "items": child}
        if depth == 1:
            schemas["Practice"] = {"type": "object", **containers}
        else:
            schemas[f"Value{depth}"] = {"type": [*scalars, "object", "array"], **text, **containers}
    return schemas


@cache
def _document(title: str, version: str, max_body: int, ttl: float, scope_prefix: str, max_document: int) -> dict:
    read, write, admin = (scope_prefix + name for name in (READ, WRITE, ADMIN))
    heartbeat = {
        "type": "object",
        "required": ["status"],
        "description": "status only without a token; with a token carrying the admin scope, every field",
        "properties": {
            "service": {"type": "string"},
            "version": {"type": "string"},
            "uptime_s": {"type": "number"},
            "status": {
                "type": "string",
                "enum": ["ok", "degraded", "unavailable"],
                "description": "unavailable (503): the database is down; degraded (200): the cache is down, reads go "
                "to the database and events wait in the outbox",
            },
            "reason": {"type": "string"},
            "database": {
                "type": "object",
                "properties": {
                    "ok": {"type": "boolean"},
                    "latency_ms": {"type": ["number", "null"]},
                    "server_version": {"type": ["string", "null"]},
                },
            },
            "cache": {
                "type": "object",
                "required": ["ok", "state", "latency_ms"],
                "properties": {
                    "ok": {"type": "boolean"},
                    "state": {"type": "string", "enum": ["ok", "down", "off"], "description": "off: no cache set"},
                    "latency_ms": {"type": ["number", "null"]},
                    "reason": {"type": "string"},
                },
            },
            "pool": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("size", "idle", "waiting", "max")},
            },
        },
    }
    summary = {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "writes", "last_version", "updated_at"],
        "properties": {
            "user_id": {"type": "string"},
            "writes": {"type": "integer", "minimum": 1, "description": "writes the worker has applied"},
            "last_version": {"type": "integer", "minimum": 1},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    record = {
        "type": "object",
        "required": ["user_id", "practice", "version", "created_at", "updated_at"],
        "properties": {
            "user_id": {"type": "string"},
            "practice": {"type": "object"},
            "version": {"type": "integer", "minimum": 1},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    user_id = {
        "type": "string",
        "minLength": 1,
        "maxLength": USER_ID_MAX,
        "pattern": _no(USER_ID_FORBIDDEN),
        # The same rule as a search, for dialects (Python's re) where $ also matches before a final newline.
        "not": {"pattern": USER_ID_FORBIDDEN},
        "description": "No control characters, no whitespace but the space (U+0020), and no invisible "
        "formatting characters (soft hyphen, zero-width and bidirectional marks, byte order mark).",
    }
    map_request = {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "practice"],
        "properties": {
            "user_id": user_id,
            "practice": {
                "$ref": "#/components/schemas/Practice",
                "description": f"Any JSON object: containers nest at most {MAX_DEPTH} levels (practice itself is "
                f"level 1), {MAX_NODES} values in all, keys at most {MAX_KEY_CHARS} and strings at most "
                f"{MAX_STRING_CHARS} characters, no NUL character anywhere, no key twice in one object; "
                f"numbers finite with at most {MAX_NUMBER_DIGITS} digits written out in full (1e999 has 1000), "
                "stored as their exact decimal value and returned as PostgreSQL writes it (1E2 as 100, -0 as 0, "
                f"1.50 as 1.50); the whole body at most {max_body} bytes of UTF-8.",
            },
        },
    }
    key_parameter = {
        "name": idempotency.HEADER,
        "in": "header",
        "required": False,
        "description": "Makes a retry safe: a request with a key used before (by the same token subject, within "
        f"{ttl:g} s) and the same body gets the first answer (status and body, with Idempotent-Replayed: true) "
        "and writes nothing; the same key with another body is a 422. Concurrent requests with one key write once.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": idempotency.KEY_MAX,
            "pattern": idempotency.KEY_PATTERN,
        },
    }
    user_id_parameter = {
        "name": "user_id",
        "in": "path",
        "required": True,
        "description": "The user_id as written, percent-encoded (a slash is %2F).",
        "schema": user_id,
    }
    x_cache = {
        "X-Cache": {
            "description": "hit: served from the cache; miss: read from the database (and cached); off: no cache "
            "is configured or it is unavailable",
            "schema": {"type": "string", "enum": ["hit", "miss", "off"]},
        }
    }
    retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}
    replayed = {
        "Idempotent-Replayed": {
            "description": "true when the answer replays the first answer to this Idempotency-Key",
            "schema": {"type": "string", "enum": ["true"]},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": _practice_schemas(),
        },
        "paths": {
            "/livez": {
                "get": {
                    "summary": "Liveness: answers without any I/O",
                    "responses": {"200": {"description": "alive"}},
                }
            },
            "/heartbeat": {
                "get": {
                    "summary": "Service state from a database round trip through the pool; details for the admin scope",
                    "description": "Without a token: the status only, from one probe shared by every caller within "
                    "a second. With a token carrying the admin scope: a fresh probe and every detail (version, "
                    "latencies, server version, cache, pool).",
                    "security": [{}, {"bearer": [admin]}],
                    "responses": {
                        "200": {
                            "description": "database reachable (status degraded when the cache is down)",
                            "content": {"application/json": {"schema": heartbeat}},
                        },
                        "401": _error("a token was sent and is invalid"),
                        "503": {
                            "description": "database unreachable or slower than the deadline",
                            "content": {"application/json": {"schema": heartbeat}},
                        },
                    },
                }
            },
            "/map": {
                "post": {
                    "summary": "Store a user's practice data; the version increases on every write",
                    "description": f"Needs the scope {write}. A user's token writes only the user_id equal to its "
                    f"subject (sub); a token with {admin} writes any.",
                    "security": [{"bearer": [write]}],
                    "parameters": [key_parameter],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": map_request}}},
                    "responses": {
                        "201": {
                            "description": "first write",
                            "headers": replayed,
                            "content": {"application/json": {"schema": record}},
                        },
                        "200": {
                            "description": "update",
                            "headers": replayed,
                            "content": {"application/json": {"schema": record}},
                        },
                        "400": _error("malformed JSON or Idempotency-Key"),
                        "401": _error("missing or invalid token"),
                        "403": _error(f"the token lacks {write}, or the user_id is another's and it lacks {admin}"),
                        "413": _error(
                            "payload_too_large: the body is too large; document_too_large: the practice as stored "
                            f"(numbers written out in full) would exceed {max_document} bytes. Nothing was written"
                        ),
                        "415": _error("not JSON"),
                        "422": _error("fails the schema, or the Idempotency-Key was used with another body"),
                        "429": {
                            **_error(
                                "rate_limited: this token's subject made more writes than the limit allows in the "
                                "window; idempotency_keys_exhausted: the subject holds as many live Idempotency-Key "
                                "values as it may (Retry-After says when the oldest expires). Nothing was written"
                            ),
                            "headers": retry_after,
                        },
                        "503": {
                            **_error(
                                "database_unavailable (or the token issuer's keys unavailable): nothing was written. "
                                "write_outcome_unknown: the write reached the database and then the deadline passed "
                                "or the connection was lost, so it may or may not be stored; a retry with the same "
                                "Idempotency-Key is safe (it stores the write at most once and answers what was "
                                "stored), a retry without a key may store it a second time as a new version"
                            ),
                            "headers": retry_after,
                        },
                    },
                }
            },
            "/map/{user_id}": {
                "get": {
                    "summary": "A user's stored practice, as the last write answered it; read through the cache",
                    "description": f"Needs the scope {read}. A user's token reads only the user_id equal to its "
                    f"subject (sub); a token with {admin} reads any.",
                    "security": [{"bearer": [read]}],
                    "parameters": [user_id_parameter],
                    "responses": {
                        "200": {
                            "description": "the stored record",
                            "headers": x_cache,
                            "content": {"application/json": {"schema": record}},
                        },
                        "401": _error("missing or invalid token"),
                        "403": _error(f"the token lacks {read}, or the user_id is another's and it lacks {admin}"),
                        "404": {**_error("nothing is stored for this user_id"), "headers": x_cache},
                        "422": _error("the user_id breaks the rules of POST /map"),
                        "503": _error(
                            "database unavailable and the cache does not hold the record, or the token "
                            "issuer's keys unavailable"
                        ),
                    },
                }
            },
            "/map/{user_id}/summary": {
                "get": {
                    "summary": "The worker's summary of a user's writes, from the database",
                    "description": f"Needs the scope {read}; the same ownership rule as GET /map/{{user_id}}.",
                    "security": [{"bearer": [read]}],
                    "parameters": [user_id_parameter],
                    "responses": {
                        "200": {
                            "description": "writes applied by the worker, the last version and when",
                            "content": {"application/json": {"schema": summary}},
                        },
                        "401": _error("missing or invalid token"),
                        "403": _error(f"the token lacks {read}, or the user_id is another's and it lacks {admin}"),
                        "404": _error("the worker has applied no write of this user_id yet"),
                        "422": _error("the user_id breaks the rules of POST /map"),
                        "503": _error("database or the token issuer's keys unavailable"),
                    },
                }
            },
        },
    }


def document(settings: Settings) -> dict:
    spec = _document(
        settings.service_name,
        settings.version,
        settings.max_body_bytes,
        settings.idempotency_ttl,
        settings.jwt_scope_prefix,
        settings.max_document_bytes,
    )
    if settings.files is not None:
        spec = {**spec, "paths": {**spec["paths"], **files_openapi.paths(settings.files, settings.jwt_scope_prefix)}}
    return spec


def docs_page(settings: Settings) -> str:
    """A readable page listing each operation and embedding the document; it loads nothing and runs nothing, not even
    an inline style, so the API's own Content-Security-Policy (`default-src 'none'`) holds for it too."""
    spec = document(settings)
    items = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = ", ".join(operation["responses"])
            items.append(
                f"<li><code>{method.upper()} {html.escape(path)}</code> - "
                f"{html.escape(operation['summary'])} <small>({codes})</small></li>"
            )
    pretty = html.escape(orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode())
    title = html.escape(settings.service_name)
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} API</title></head><body>"
        f"<h1>{title} <small>{html.escape(settings.version)}</small></h1><ul>{''.join(items)}</ul>"
        f"<h2>OpenAPI document</h2><p><a href=/openapi.json>/openapi.json</a></p><pre>{pretty}</pre>"
        "</body></html>"
    )
