"""The uniform JSON error body and the API's error type."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from .logs import encodable


class JSONResponse(Response):
    """JSON rendered with orjson: datetimes as ISO 8601, several times faster than the standard library."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """A request the API refuses, with its HTTP status, a stable code and the offending field if any."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None):
        # A message or field quoting a client's key must not stop its own error from being sent.
        message, field = str(encodable(message)), None if field is None else str(encodable(field))
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse({"error": body}, status_code=self.status, headers=self.headers)


STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def from_status(status: int, message: str, headers=None) -> ApiError:
    """An ApiError for a status the framework raised (unknown route, wrong method)."""
    return ApiError(status, STATUS_CODES.get(status, "error"), message, headers=headers)
