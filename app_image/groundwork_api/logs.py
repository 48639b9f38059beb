"""Structured JSON log lines on stdout: one object per line, never a secret or a token."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

import orjson

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_threshold = LEVELS["info"]


def set_level(name: str) -> None:
    """Drop events below this level."""
    global _threshold
    _threshold = LEVELS[name]


def emit(level: str, event: str, **fields: object) -> None:
    """Write one event as a JSON line; a direct write keeps the per-request cost to a few microseconds."""
    if LEVELS[level] < _threshold:
        return
    record = {"ts": time.time(), "level": level, "event": event, "pid": os.getpid(), **fields}
    # A closed or full stdout must never fail a request.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.buffer.write(orjson.dumps(record, default=str) + b"\n")
        sys.stdout.buffer.flush()


class JsonFormatter(logging.Formatter):
    """Formats the server's own log records (start-up, errors) as the same JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
            "pid": os.getpid(),
        }
        if record.exc_info:
            # Exception type only: a traceback can carry request data, and it is not for users.
            fields["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "unknown"
        return orjson.dumps(fields).decode()


def uvicorn_log_config(level: str) -> dict:
    """Route uvicorn's own loggers through JsonFormatter; its access log is replaced by ours."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }
