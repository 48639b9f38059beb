"""Smoke-check engine benchmark: 200 requests at concurrency 10 against nginx `return 200`, beside wrk.

Run with `.venv/bin/python -m bench.smoke [--rounds N] [--parser-only]`. The check's engine and wrk run
interleaved (A B A B ...) against the same nginx; medians are reported, since other work on the machine moves
single runs a lot. Goals: the 200 requests in under 0.2 s, and the engine's p50 within 2x wrk's.

First it measures the response parser alone: answers parsed per second by the llhttp-based parser the check uses
and by the hand-written one it replaced (kept below as the reference), interleaved in the same run.
Goal: the new parser at least as fast as the old one on every workload.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.dataplane import _start_nginx, wrk
from cli.smoke.http import MAX_HEAD, Endpoint, Parser, ProtocolError, ResetError, Response, build_request
from cli.smoke.load import Call, run_requests
from cli.smoke.stats import percentile
from tests.harness import scratch_dir

REQUESTS = 200
CONCURRENCY = 10
WALL_GOAL_S = 0.2
P50_RATIO_GOAL = 2.0
PARSE_RESPONSES = 20_000
"""Answers parsed per measurement (one parser, keep-alive: the same answer again and again)."""

_BODY = (
    b'{"service":"groundwork-api","version":"0.1.0","status":"ok",'
    b'"database":{"ok":true,"latency_ms":0.412},"pool":{"size":10,"available":9}}'
)
_HEAD = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 30 Nov 2026 17:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nConnection: keep-alive\r\nX-Request-ID: 9f1c2a7e5b3d4c6f\r\n"
    b"Strict-Transport-Security: max-age=63072000\r\n"
)
_HEARTBEAT = _HEAD + b"Content-Length: %d\r\n\r\n" % len(_BODY) + _BODY
_CHUNKED = (
    _HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n%s\r\n" % (60, _BODY[:60])
    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(_BODY) - 60, _BODY[60:])
)
PARSE_WORKLOADS = {
    "heartbeat, one read": [_HEARTBEAT],
    "heartbeat, three reads": [_HEARTBEAT[:40], _HEARTBEAT[40:250], _HEARTBEAT[250:]],
    "chunked, one read": [_CHUNKED],
}


class _Plain:
    """GET / and accept any 200: what the engine costs, without the API's body checks."""

    def __init__(self, host: str) -> None:
        self.payload = build_request("GET", "/", host, {})

    def call(self, worker: int, n: int) -> Call:
        return Call("GET /", self.payload, _judge)


def _judge(status: int, body: bytes) -> tuple[str | None, str, float | None]:
    return (None if status == 200 else f"http_{status}"), "", None


@dataclass
class HandWrittenParser:
    """The hand-written parser `cli/smoke/http.py` had before llhttp, its code unchanged: the parser bench's reference.

    It misreads hostile answers (negative chunk sizes, `Connection: close, x`, chunks without their CRLF, bare-LF
    heads); it is here only to be measured against.
    """

    buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.length: int | None = None
        self.chunked = False
        self.chunks: list[bytes] = []
        self.keep_alive = True

    def feed(self, data: bytes) -> Response | None:
        """Add bytes; the answer once it is complete."""
        self.buffer += data
        return self._parse(eof=False)

    def finish(self) -> Response | None:
        """The connection ended: the answer it completed, or ResetError when it cut one short."""
        return self._parse(eof=True)

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise ProtocolError("answer head larger than 64 KiB")
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
        status = int(code)
        if 100 <= status < 200:
            return True
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.chunked = True
        elif "content-length" in headers:
            text = headers["content-length"]
            if not text.isdigit():
                raise ProtocolError(f"bad Content-Length {text[:20]!r}")
            self.length = int(text)
        elif status in (204, 304):
            self.length = 0
        else:
            self.keep_alive = False
        return True

    def _chunks(self) -> bool:
        """Consume chunks; True once the last chunk and the trailers are in."""
        while True:
            line_end = self.buffer.find(b"\r\n")
            if line_end < 0:
                return False
            size_text = bytes(self.buffer[:line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return False
                del self.buffer[: trailer_end + 4]
                return True
            start = line_end + 2
            if len(self.buffer) < start + size + 2:
                return False
            self.chunks.append(bytes(self.buffer[start : start + size]))
            del self.buffer[: start + size + 2]

    def _parse(self, eof: bool) -> Response | None:
        while self.status is None:
            if not self._head():
                if eof:
                    raise ResetError("the connection closed before an answer")
                return None
        if self.chunked:
            if not self._chunks():
                if eof:
                    raise ResetError("the connection closed in the middle of a chunked body")
                return None
            body = b"".join(self.chunks)
        elif self.length is not None:
            if len(self.buffer) < self.length:
                if eof:
                    raise ResetError(f"the connection closed after {len(self.buffer)} of {self.length} body bytes")
                return None
            body = bytes(self.buffer[: self.length])
            del self.buffer[: self.length]
        else:
            if not eof:
                return None
            body = bytes(self.buffer)
            self.buffer.clear()
        response = Response(self.status, self.headers, body, self.keep_alive)
        self._reset()
        return response


def _parse_rate(make_parser, pieces: list[bytes]) -> float:
    """Answers per second one parser turns `pieces` (one answer's reads) into, over PARSE_RESPONSES answers."""
    parser = make_parser()
    last = pieces[-1]
    clock = time.perf_counter
    start = clock()
    for _ in range(PARSE_RESPONSES):
        for piece in pieces:
            response = parser.feed(piece)
        if response is None or response.status != 200 or piece is not last:
            raise RuntimeError("the parser did not complete the answer")
    return PARSE_RESPONSES / (clock() - start)


def parser_bench(rounds: int) -> dict:
    """Medians of interleaved rounds per workload: answers per second, old parser and new, and their ratio."""
    figures = {}
    for name, pieces in PARSE_WORKLOADS.items():
        old, new = [], []
        for _ in range(rounds):
            old.append(_parse_rate(HandWrittenParser, pieces))
            new.append(_parse_rate(Parser, pieces))
        figures[name] = {"old_per_s": statistics.median(old), "new_per_s": statistics.median(new)}
        figures[name]["ratio"] = figures[name]["new_per_s"] / figures[name]["old_per_s"]
    return figures


def _print_parser(figures: dict, rounds: int) -> None:
    print(f"response parser: answers parsed per second, medians of {rounds} interleaved rounds of {PARSE_RESPONSES}")
    print(f"{'workload':24} {'hand-written':>13} {'llhttp':>13} {'new/old':>8}")
    for name, row in figures.items():
        print(f"{name:24} {row['old_per_s']:13,.0f} {row['new_per_s']:13,.0f} {row['ratio']:8.2f}")
    slower = [name for name, row in figures.items() if row["ratio"] < 1]
    print(f"goal: llhttp at least as fast on every workload: {'MISSED on ' + ', '.join(slower) if slower else 'met'}")


async def _engine_once(port: int) -> dict:
    where = Endpoint("127.0.0.1", port, f"127.0.0.1:{port}")
    plan = _Plain(where.host_header)
    samples, wall = await run_requests(where, plan, total=REQUESTS, concurrency=CONCURRENCY, timeout_s=5)
    latencies = sorted(s.latency_ms for s in samples)
    failed = sum(1 for s in samples if not s.ok)
    return {"wall_ms": wall * 1000, "p50_ms": percentile(latencies, 50), "failed": failed}


def _wrk_once(url: str, seconds: int) -> dict:
    result = wrk(url + "/", CONCURRENCY, seconds)
    # wrk runs for a duration, not a count: the time it needs for 200 requests at the rate it sustained.
    return {"wall_ms": REQUESTS / result["rps"] * 1000, "p50_ms": result["p50_ms"], "failed": result["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved repeats; medians are reported")
    parser.add_argument("--wrk-seconds", type=int, default=1, help="duration of each wrk run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--parser-only", action="store_true", help="only the parser bench (needs no nginx or wrk)")
    args = parser.parse_args()

    parsing = parser_bench(args.rounds)
    _print_parser(parsing, args.rounds)
    if args.parser_only:
        if args.json:
            args.json.write_text(json.dumps({"parser": parsing}, indent=2) + "\n")
        return
    print()

    base = scratch_dir("groundwork-bench-smoke-")
    port, pid_file = _start_nginx(base)
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, list[dict]] = {"engine": [], "wrk": []}
    try:
        asyncio.run(_engine_once(port))  # warm-up: imports, nginx workers
        for number in range(1, args.rounds + 1):
            engine = asyncio.run(_engine_once(port))
            reference = _wrk_once(url, args.wrk_seconds)
            runs["engine"].append(engine)
            runs["wrk"].append(reference)
            print(
                f"  round {number}: engine {engine['wall_ms']:6.1f} ms wall, p50 {engine['p50_ms']:.3f} ms | "
                f"wrk {reference['wall_ms']:6.1f} ms for 200, p50 {reference['p50_ms']:.3f} ms",
                file=sys.stderr,
            )
    finally:
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        shutil.rmtree(base, ignore_errors=True)

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    figures = {
        "requests": REQUESTS,
        "concurrency": CONCURRENCY,
        "rounds": args.rounds,
        "engine_wall_ms": median("engine", "wall_ms"),
        "engine_p50_ms": median("engine", "p50_ms"),
        "wrk_wall_ms": median("wrk", "wall_ms"),
        "wrk_p50_ms": median("wrk", "p50_ms"),
        "failed": sum(run["failed"] for runs_ in runs.values() for run in runs_),
        "parser": parsing,
    }
    figures["wall_ratio"] = figures["engine_wall_ms"] / figures["wrk_wall_ms"]
    figures["p50_ratio"] = figures["engine_p50_ms"] / figures["wrk_p50_ms"]
    wall_ok = figures["engine_wall_ms"] / 1000 < WALL_GOAL_S
    p50_ok = figures["p50_ratio"] <= P50_RATIO_GOAL
    print(f"200 requests at concurrency 10 against nginx return 200; medians of {args.rounds} interleaved rounds")
    print(f"{'':8} {'wall ms':>9} {'p50 ms':>8}")
    print(f"{'engine':8} {figures['engine_wall_ms']:9.1f} {figures['engine_p50_ms']:8.3f}")
    print(f"{'wrk':8} {figures['wrk_wall_ms']:9.1f} {figures['wrk_p50_ms']:8.3f}")
    print(f"{'ratio':8} {figures['wall_ratio']:9.2f} {figures['p50_ratio']:8.2f}")
    print(f"goal: 200 requests under {WALL_GOAL_S * 1000:.0f} ms: {'met' if wall_ok else 'MISSED'}")
    print(f"goal: engine p50 within {P50_RATIO_GOAL:g}x wrk's: {'met' if p50_ok else 'MISSED'}")
    if figures["failed"]:
        print(f"warning: {figures['failed']} requests failed during the benchmark", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
