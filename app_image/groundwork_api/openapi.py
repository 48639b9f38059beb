"""The OpenAPI document of the service and a self-contained page that renders it (no external assets)."""

from __future__ import annotations

import html
from functools import cache

import orjson

from .settings import Settings
from .validation import MAX_DEPTH, MAX_NODES, USER_ID_MAX

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


@cache
def _document(title: str, version: str, max_body: int) -> dict:
    heartbeat = {
        "type": "object",
        "required": ["service", "version", "uptime_s", "status", "database", "pool"],
        "properties": {
            "service": {"type": "string"},
            "version": {"type": "string"},
            "uptime_s": {"type": "number"},
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "reason": {"type": "string"},
            "database": {
                "type": "object",
                "properties": {
                    "ok": {"type": "boolean"},
                    "latency_ms": {"type": ["number", "null"]},
                    "server_version": {"type": ["string", "null"]},
                },
            },
            "pool": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("size", "idle", "waiting", "max")},
            },
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
    map_request = {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "practice"],
        "properties": {
            "user_id": {"type": "string", "minLength": 1, "maxLength": USER_ID_MAX},
            "practice": {
                "type": "object",
                "description": f"Any JSON object: at most {MAX_DEPTH} levels deep, {MAX_NODES} values, "
                f"no NUL characters; the whole body at most {max_body} bytes.",
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "paths": {
            "/livez": {
                "get": {
                    "summary": "Liveness: answers without any I/O",
                    "responses": {"200": {"description": "alive"}},
                }
            },
            "/heartbeat": {
                "get": {
                    "summary": "Service state and a timed database round trip through the pool",
                    "responses": {
                        "200": {
                            "description": "database reachable",
                            "content": {"application/json": {"schema": heartbeat}},
                        },
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
                    "security": [{"bearer": []}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": map_request}}},
                    "responses": {
                        "201": {"description": "first write", "content": {"application/json": {"schema": record}}},
                        "200": {"description": "update", "content": {"application/json": {"schema": record}}},
                        "400": _error("malformed request"),
                        "401": _error("missing or invalid token"),
                        "413": _error("body too large"),
                        "415": _error("not JSON"),
                        "422": _error("fails the schema"),
                        "503": _error("database unavailable; nothing was written"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text exposition format"}},
                }
            },
        },
    }


def document(settings: Settings) -> dict:
    return _document(settings.service_name, settings.version, settings.max_body_bytes)


def docs_page(settings: Settings) -> str:
    """A readable page listing each operation and embedding the document; it loads nothing from elsewhere."""
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
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} API</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
        "pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head><body>"
        f"<h1>{title} <small>{html.escape(settings.version)}</small></h1><ul>{''.join(items)}</ul>"
        f"<h2>OpenAPI document</h2><p><a href=/openapi.json>/openapi.json</a></p><pre>{pretty}</pre>"
        "</body></html>"
    )
