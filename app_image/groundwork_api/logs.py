"""Structured JSON log lines on stdout: one object per line, never a secret or a token."""

from __future__ import annotations

import asyncio
import atexit
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


_WARNING = LEVELS["warning"]
_pid = os.getpid()


def _forked() -> None:
    global _pid, _flush_timer
    _pid, _flush_timer = os.getpid(), None
    _pending.clear()  # the parent writes what it buffered; a child must not write it again


os.register_at_fork(after_in_child=_forked)

FLUSH_AFTER_S = 0.1
FLUSH_AT_BYTES = 64 * 1024
_pending = bytearray()
_flush_timer: asyncio.TimerHandle | None = None


def flush() -> None:
    """Write what is buffered to stdout now."""
    global _flush_timer
    _flush_timer = None
    if not _pending:
        return
    # A closed or full stdout must never fail a request.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.buffer.write(_pending)
        sys.stdout.buffer.flush()
    _pending.clear()


def emit(level: str, event: str, *, always: bool = False, **fields: object) -> None:
    """Write one event as a JSON line; `always` writes it whatever LOG_LEVEL says (audit lines).

    Inside the event loop, info and debug lines are buffered for at most FLUSH_AFTER_S (one write for many
    requests instead of one each); warnings and errors, and anything outside the loop, are written at once.
    """
    global _flush_timer
    severity = LEVELS[level]
    if severity < _threshold and not always:
        return
    record = {"ts": time.time(), "level": level, "event": event, "pid": _pid, **fields}
    _pending.extend(_json_line(record))
    if severity >= _WARNING or len(_pending) >= FLUSH_AT_BYTES:
        flush()
    elif _flush_timer is None:
        try:
            _flush_timer = asyncio.get_running_loop().call_later(FLUSH_AFTER_S, flush)
        except RuntimeError:
            flush()


atexit.register(flush)


def _json_line(record: dict) -> bytes:
    """The record as one JSON line; a string orjson refuses (an unpaired surrogate a client sent) is written with
    the surrogate as the text `\\udXXX`, which every JSON reader takes."""
    try:
        return orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return orjson.dumps(encodable(record), default=str, option=orjson.OPT_APPEND_NEWLINE)


def encodable(value: object) -> object:
    """The value with every unpaired surrogate in its strings (a JSON escape can hold one, UTF-8 cannot) written as
    the text `\\udXXX`."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(key): encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value


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
        return _json_line(fields)[:-1].decode()


def uvicorn_log_config(level: str) -> dict:
    """Route uvicorn's and psycopg's loggers through JsonFormatter; uvicorn's access log is replaced by ours."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            # The pool reports failed connection attempts; without this they reach stderr as plain text.
            "psycopg": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        },
    }
