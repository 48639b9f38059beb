"""The API's former pre-fork supervisor, kept so bench/dataplane.py can compare it with gunicorn in the same run.

Run from the repository root with app_image on PYTHONPATH: `python -m bench.prefork`. It validates the settings,
imports the app once, forks WORKERS uvicorn workers sharing one socket, replaces a crashed worker and, on SIGTERM,
closes the socket and lets the workers finish their requests. The image runs gunicorn instead (docs/dataplane.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import tempfile
import time

import uvicorn
from groundwork_api import logs  # metrics is imported after PROMETHEUS_MULTIPROC_DIR is set

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_PR_SET_PDEATHSIG = 1


def _stop_with_parent(parent: int) -> None:
    """Ask Linux to send SIGTERM when the supervisor dies, so a killed supervisor leaves no orphan serving."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(0)


def _run_worker(config: uvicorn.Config, sock, parent: int) -> None:
    # uvicorn re-raises the stop signal after a graceful shutdown; here that must not kill the worker.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, lambda *_: None)
    _stop_with_parent(parent)
    code = 0
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def serve(config: uvicorn.Config, workers: int, shutdown_timeout: float) -> int:
    """Serve with one process, or fork `workers` processes sharing one socket; return the exit code."""
    if workers == 1:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, lambda *_: None)  # uvicorn re-raises the stop signal after its graceful shutdown
        uvicorn.Server(config).run()
        return 0
    from groundwork_api import metrics

    __import__("groundwork_api.app")  # paid once here, inherited by every worker
    sock = config.bind_socket()
    stopping = False

    def request_stop(*_):
        nonlocal stopping
        stopping = True

    for sig in _STOP_SIGNALS:
        signal.signal(sig, request_stop)

    supervisor = os.getpid()

    def spawn() -> int:
        pid = os.fork()
        if pid == 0:
            _run_worker(config, sock, supervisor)
        return pid

    children = {spawn() for _ in range(workers)}
    logs.emit("info", "serving", workers=workers, port=config.port)
    while not stopping:
        with contextlib.suppress(ChildProcessError, InterruptedError):
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid in children:
                children.discard(pid)
                metrics.worker_exited(pid)
                if not stopping:
                    logs.emit("error", "worker exited; starting another", pid=pid, status=status)
                    children.add(spawn())
        time.sleep(0.1)

    sock.close()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + shutdown_timeout + 5
    failed = False
    while children and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid in children:
                children.discard(pid)
                failed |= os.waitstatus_to_exitcode(status) != 0
                continue
        time.sleep(0.02)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return 1 if failed or children else 0


def main() -> int:
    from groundwork_api.settings import SettingsError, load

    try:
        settings = load()
    except SettingsError as exc:
        logs.emit("error", "invalid settings", problems=exc.problems)
        return 2
    created = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        created = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="groundwork-metrics-")
    config = uvicorn.Config(
        "groundwork_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=logs.uvicorn_log_config(settings.log_level),
        server_header=False,
        # uvicorn annotates this int, yet hands it to asyncio.wait_for, which takes the float the settings hold
        timeout_graceful_shutdown=settings.shutdown_timeout,  # pyright: ignore[reportArgumentType]
    )
    try:
        return serve(config, settings.workers, settings.shutdown_timeout)
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
