"""gunicorn's configuration for the image: settings validated first, uvicorn workers forked after one import.

The Dockerfile's CMD is `gunicorn --config python:groundwork_api.gunicorn_conf groundwork_api.app:create_app`.
gunicorn imports this module before anything else, so a bad setting stops the start with exit 2 and the problems
named, and the metrics directory exists before any module that records metrics is imported. Operators can still
tune gunicorn's own knobs (max-requests, timeouts) through GUNICORN_CMD_ARGS, which gunicorn applies after this file.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import shutil
import signal
import sys
import tempfile

from uvicorn_worker import UvicornWorker

from . import logs
from .bounded_http import BoundedHttpToolsProtocol
from .settings import SettingsError, load

try:
    _settings = load()
except SettingsError as exc:
    logs.emit("error", "invalid settings", problems=exc.problems)
    sys.exit(2)

# Workers share one metrics directory so /metrics sums every process; a fresh one per start, removed at exit.
_created_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _created_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="groundwork-metrics-")

from . import metrics  # noqa: E402 - reads PROMETHEUS_MULTIPROC_DIR when imported

bind = [f"[{_settings.host}]:{_settings.port}" if ":" in _settings.host else f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
worker_class = "groundwork_api.gunicorn_conf.Worker"
preload_app = True  # import once in the master; workers fork with everything loaded
# Workers get SHUTDOWN_TIMEOUT for in-flight requests, then a few seconds to close the pool before SIGKILL.
graceful_timeout = math.ceil(_settings.shutdown_timeout) + 5
keepalive = _settings.keepalive_seconds
control_socket_disable = True  # an admin socket under $HOME; the container needs none, and tests run many masters
logconfig_dict = logs.uvicorn_log_config(_settings.log_level)
logconfig_dict["loggers"]["gunicorn.error"] = {"handlers": ["stdout"], "level": _settings.log_level.upper()}
logconfig_dict["loggers"]["gunicorn.access"] = {"handlers": [], "level": "CRITICAL", "propagate": False}
logconfig_dict["root"] = {"level": "WARNING", "handlers": []}

_PR_SET_PDEATHSIG = 1


class Worker(UvicornWorker):
    """uvicorn with httptools and uvloop; the app factory runs in each worker, so its pool opens after the fork."""

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "lifespan": "on",
        "factory": True,
        "access_log": False,  # the app writes its own access log
        "server_header": False,
        "timeout_graceful_shutdown": _settings.shutdown_timeout,
    }


def post_fork(server, worker) -> None:
    """Ask Linux to send SIGTERM when the master dies, so a killed master leaves no orphan serving."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != server.pid:
        os._exit(0)


def when_ready(server) -> None:
    logs.emit("info", "serving", workers=workers, port=_settings.port)


def child_exit(server, worker) -> None:
    """A worker ended (crashed, killed or stopped): drop its live gauges from the shared totals."""
    metrics.worker_exited(worker.pid)
    if server.LISTENERS:  # gunicorn empties its listeners when it stops
        # A crash or a max-requests recycle: gunicorn's own line before this one says which, at its severity.
        logs.emit("info", "worker exited; starting another", pid=worker.pid)


def on_exit(server) -> None:
    if _created_metrics_dir is not None:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
