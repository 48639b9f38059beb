"""The files check: upload through the service's presigned POST, read back through its presigned GET, delete."""

from __future__ import annotations

import secrets
import ssl
import time
from typing import Any

from cli.smoke.backend_checks import BackendProbe, _json, _Stop
from cli.smoke.classify import classify_exception
from cli.smoke.preflight import FAIL, PASS, SKIP, Check

NAME = "files"
PREFERRED_TYPE = "text/plain"
CONTENT_BYTES = 64


def _storage_tls(ca_file: str | None) -> ssl.SSLContext:
    """The system's CAs, or the given bundle (the local stack's CA signs its S3 server's certificate)."""
    return ssl.create_default_context(cafile=ca_file)


def _content_type(spec: Any) -> str | None:
    """A type the service accepts, from its OpenAPI document: text/plain when allowed; None: no file routes."""
    try:
        schema = spec["paths"]["/files"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        allowed = schema["properties"]["content_type"]["enum"]
    except (KeyError, TypeError):
        return None
    if not isinstance(allowed, list) or not allowed:
        return None
    return PREFERRED_TYPE if PREFERRED_TYPE in allowed else str(allowed[0])


class _Steps:
    """Each step's status and latency, for the check's data and its summary."""

    def __init__(self) -> None:
        self.done: list[dict[str, Any]] = []

    def add(self, step: str, status: int, began: float) -> None:
        self.done.append({"step": step, "status": status, "latency_ms": round((time.perf_counter() - began) * 1000, 3)})

    def text(self) -> str:
        return ", ".join(f"{s['step']} {s['status']}" for s in self.done)


async def files_round_trip(probe: BackendProbe, writes: bool, ca_file: str | None = None) -> Check:
    """POST /files, the presigned POST of a few random bytes, GET /files/{id}, the presigned GET (the same bytes),
    DELETE /files/{id}; skipped with its reason when the service has no file routes or the run makes no writes."""
    if not writes:
        return Check(NAME, SKIP, "a read-only run makes no writes")
    try:
        response, _, _ = await probe.send(NAME, "GET", "/openapi.json")
    except _Stop as stop:
        # As for the heartbeat: a service that cannot answer has already failed the requests; here nothing is told.
        return Check(NAME, SKIP, f"cannot tell whether the service has file routes: {stop.check.summary}")
    content_type = _content_type(_json(response.body)) if response.status == 200 else None
    if content_type is None:
        return Check(NAME, SKIP, "the service has no file routes (its OpenAPI document lists no POST /files)")
    import httpx

    content = secrets.token_bytes(CONTENT_BYTES)
    steps = _Steps()
    began = time.perf_counter()
    body = {"name": f"smoke-{probe.run_id}.txt", "content_type": content_type, "size": len(content)}
    started = time.perf_counter()
    response, _, _ = await probe.send(NAME, "POST", "/files", body)
    steps.add("create", response.status, started)
    created = _json(response.body)
    if response.status != 201 or not isinstance(created, dict) or not isinstance(created.get("upload"), dict):
        return probe.outcome(NAME, FAIL, f"POST /files answered {probe.snippet(response)}", steps=steps.done)
    file_id, upload = str(created.get("id")), created["upload"]
    try:
        async with httpx.AsyncClient(verify=_storage_tls(ca_file), timeout=probe.timeout_s) as storage:
            started = time.perf_counter()
            fields = {str(k): str(v) for k, v in (upload.get("fields") or {}).items()}
            stored = await storage.post(
                str(upload.get("url")), data=fields, files={"file": ("smoke.txt", content, content_type)}
            )
            steps.add("upload", stored.status_code, started)
            if stored.status_code not in (200, 201, 204):
                return _failed(probe, steps, f"the presigned POST answered {stored.status_code}")
            started = time.perf_counter()
            response, _, _ = await probe.send(NAME, "GET", f"/files/{file_id}")
            steps.add("describe", response.status, started)
            described = _json(response.body)
            if response.status != 200 or not isinstance(described, dict) or "download_url" not in described:
                return _failed(probe, steps, f"GET /files/{{id}} answered {probe.snippet(response)}")
            started = time.perf_counter()
            fetched = await storage.get(str(described["download_url"]))
            steps.add("download", fetched.status_code, started)
            if fetched.status_code != 200 or fetched.content != content:
                detail = "other bytes" if fetched.status_code == 200 else f"status {fetched.status_code}"
                return _failed(probe, steps, f"the presigned GET gave {detail}")
    except httpx.HTTPError as exc:
        kind, _ = classify_exception(exc)
        # The message would carry the presigned URL (a credential while it lives): only its class is shown.
        return _failed(probe, steps, f"the storage request failed: {kind} ({type(exc).__name__})")
    finally:
        deleted = await _delete(probe, file_id, steps)
    if deleted != 204:
        return probe.outcome(NAME, FAIL, f"the file was not deleted: {steps.text()}", steps=steps.done)
    took = (time.perf_counter() - began) * 1000
    summary = f"{len(content)} bytes uploaded, read back identical and deleted ({steps.text()})"
    return Check(NAME, PASS, summary, took, {"steps": steps.done, "content_type": content_type})


async def _delete(probe: BackendProbe, file_id: str, steps: _Steps) -> int:
    started = time.perf_counter()
    try:
        response, _, _ = await probe.send(NAME, "DELETE", f"/files/{file_id}")
    except _Stop:
        steps.add("delete", 0, started)
        return 0
    steps.add("delete", response.status, started)
    return response.status


def _failed(probe: BackendProbe, steps: _Steps, why: str) -> Check:
    # The clean-up's status is added by the caller's finally; the list is shared, so the data shows it too.
    return probe.outcome(NAME, FAIL, why, steps=steps.done)
