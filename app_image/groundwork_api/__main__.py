"""The image's entry point: validate settings, then serve with uvicorn (the Dockerfile's CMD runs this)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from . import logs
from .settings import SettingsError, load


def main() -> int:
    try:
        settings = load()
    except SettingsError as exc:
        logs.emit("error", "invalid settings", problems=exc.problems)
        return 2
    # Workers share one metrics directory so /metrics sums every process; a fresh one per start, removed at exit.
    created = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        created = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="groundwork-metrics-")

    import uvicorn

    from .serve import serve

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
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    try:
        return serve(config, settings.workers, settings.shutdown_timeout)
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
