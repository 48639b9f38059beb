"""nginx as the local load balancer: TLS 1.2+ on the HTTPS port, HTTP redirected to it, /metrics kept private."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from cli.local.binaries import PrerequisiteMissing

NGINX_HINT = "run `make setup` (it installs Debian's nginx-light), or apt-get install nginx-light"


def nginx_bin() -> Path:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not found:
        raise PrerequisiteMissing("nginx is not installed (the local stack's TLS endpoint)", hint=NGINX_HINT)
    return Path(found)


NGINX_ERRORS = {
    400: ("bad_request", "Bad Request"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    408: ("request_timeout", "Request Timeout"),
    413: ("payload_too_large", "Payload Too Large"),
    414: ("uri_too_long", "URI Too Long"),
    500: ("internal_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
}
"""Errors nginx itself answers, in the API's error format ({"error": {"code", "message"}}) instead of HTML."""
ALLOWED_METHODS = "GET, HEAD, POST"
"""What a 405 from nginx (TRACE, for one) names in `Allow`: the methods the API serves."""


def error_pages() -> str:
    """`error_page` for every status nginx produces, each answered by a named location with the JSON body."""
    lines = [f"    error_page {status} = @error_{status};" for status in NGINX_ERRORS]
    for status, (code, message) in NGINX_ERRORS.items():
        allow = f'add_header Allow "{ALLOWED_METHODS}" always; ' if status == 405 else ""
        body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
        lines.append(
            f"    location @error_{status} {{ {allow}default_type application/json; return {status} {_quoted(body)}; }}"
        )
    return "\n".join(lines)


def _quoted(text: str) -> str:
    """A string for an nginx directive: quotes and backslashes escaped, `$` kept literal through a variable."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "${dollar}") + "'"


def _path_regex(pattern: str) -> str:
    """An ALB path pattern (case-sensitive, `*` any characters, `?` one) as an anchored nginx regex."""
    out = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return _quoted("^" + out + "$").replace("${dollar}", "$")


def per_minute(limit: int, window_seconds: int) -> int:
    """A WAF rate (requests per evaluation window) as nginx's whole requests per minute, rounded down, at least 1."""
    return max(1, limit * 60 // window_seconds)


def rate_limiting(rate: dict[str, Any] | None) -> tuple[str, str, str]:
    """The web ACL's rate rule as nginx `limit_req` per client address: (the zone, the limit, the answer).

    WAF lets one address send `limit` requests in a window, then answers until its rate falls; nginx's leaky bucket
    is the same average rate with a burst of the window's allowance, so a fresh client gets `limit` at once too.
    A rule that only counts becomes a dry run: nginx logs what it would refuse and refuses nothing.
    """
    if not rate:
        return "", "", ""
    rpm = per_minute(rate["limit"], rate["window"])
    zone = f"  limit_req_zone $binary_remote_addr zone=per_client:10m rate={rpm}r/m;\n"
    zone += f"  limit_req_status {rate['status']};\n"
    limit = f"    limit_req zone=per_client burst={max(rate['limit'] - 1, 0)} nodelay;\n"
    if rate["mode"] == "count":
        limit += "    limit_req_dry_run on;\n"
    headers = "".join(f"add_header {name} {_quoted(value)} always; " for name, value in rate["headers"].items())
    answer = (
        f"    error_page {rate['status']} = @rate_limited;\n"
        f"    location @rate_limited {{ {headers}default_type {_quoted(rate['content_type'])}; "
        f"return {rate['status']} {_quoted(rate['body'])}; }}"
    )
    return zone, limit, answer


def config(
    *,
    base: Path,
    http_port: int,
    https_port: int,
    upstream_port: int,
    cert: Path,
    key: Path,
    run_as: str | None,
    load_balancer: dict[str, Any],
    rate_limit: dict[str, Any] | None = None,
) -> str:
    """The whole nginx.conf for the local stack's load balancer, from the program's listeners, rules and target,
    and the web ACL's per-client rate rule (`rate_limit`, see rate_limiting)."""
    user = f"user {run_as};\n" if run_as else ""
    scratch = base / "tmp"
    temp = "\n".join(
        f"  {kind}_temp_path {scratch / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    redirect = load_balancer.get("redirect")
    if redirect:
        scheme = "https" if redirect["protocol"] in ("HTTPS", "#{protocol}") else "http"
        http_server = f"    return {redirect['status']} {scheme}://$host:{https_port}$request_uri;"
    else:
        http_server = "    return 404;"
    protocols = " ".join(load_balancer["https"]["protocols"])
    rules = []
    for rule in load_balancer.get("rules", []):
        body = _quoted(rule["body"])
        for path in rule["paths"]:
            rules.append(
                f"    location ~ {_path_regex(path)} {{ default_type {_quoted(rule['content_type'])}; "
                f"return {rule['status']} {body}; }}"
            )
    target = load_balancer["target"]
    # nginx (open source) checks targets passively: the unhealthy threshold in failures, over one interval.
    upstream = (
        f"server 127.0.0.1:{upstream_port} max_fails={target['unhealthy_threshold']} "
        f"fail_timeout={target['interval']}s;"
    )
    rules_text = "\n".join(rules)
    errors = error_pages()
    zone, limit, answer = rate_limiting(rate_limit)
    return f"""{user}worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {base}/access.log;
{temp}
  server_tokens off;
  geo $dollar {{ default "$"; }}
  upstream api {{ {upstream} keepalive 32; }}
  map $http_x_request_id $forwarded_request_id {{ default $http_x_request_id; "" $request_id; }}
{zone}  server {{
    listen 127.0.0.1:{http_port};
{limit}{errors}
{answer}
    location / {{
{http_server}
    }}
  }}
  server {{
    listen 127.0.0.1:{https_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols {protocols};
    ssl_prefer_server_ciphers off;
    client_max_body_size 1m;
    # TRACE echoes the request (headers and cookies included); refused before any location, with Allow.
    if ($request_method = TRACE) {{ return 405; }}
{limit}{errors}
{answer}
{rules_text}
    location / {{
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Request-ID $forwarded_request_id;
    }}
  }}
}}
"""
