"""nginx as the local load balancer: TLS 1.2+ on the HTTPS port, HTTP redirected to it, /metrics kept private."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from cli.local.binaries import PrerequisiteMissing

GROUP_MARK = "nginx: "
"""What the command line of every process of an nginx (its master and workers) starts with."""
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
    429: ("rate_limited", "Too Many Requests"),
    494: ("request_header_too_large", "Request Header Or Cookie Too Large"),
    500: ("internal_error", "Internal Server Error"),
    501: ("not_implemented", "Not Implemented"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
    505: ("http_version_not_supported", "HTTP Version Not Supported"),
}
"""Errors nginx itself answers, in the API's error format ({"error": {"code", "message"}}) instead of HTML."""
WORKER_SHUTDOWN_S = 10
"""How long a worker of a replaced configuration (after a graceful reload) may finish the requests it holds before
nginx closes their connections; a release waits for those workers before it stops the old version."""
UPSTREAM_IDLE_S = 4
"""How long nginx keeps an idle connection to the API: below the API's own keep-alive (KEEPALIVE_SECONDS: 5 by
default, 65 as the program sets it), so nginx never sends a request on a connection the API is closing (nginx
retries that for GET, not for POST)."""
ANSWERED_AS = {494: 400}
"""nginx's own status codes that are not HTTP's, and the status the client is told (494 is a 400 with a reason)."""
ALLOWED_METHODS = "GET, HEAD, POST"
"""What a 405 from nginx (TRACE, for one) names in `Allow`: the methods the API serves."""
ERROR_PREFIX = "/.groundwork-error/"
"""Internal locations of the error documents. They are reached by URI, never by a named location: a request whose
URI nginx could not parse (a 9,000-character path, a NUL) has no URI, and a redirect to a named location needs one."""
MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)
"""TLS 1.2 suites of Mozilla's "intermediate" profile (v5.7); TLS 1.3 keeps OpenSSL's three, the profile's too."""
MOZILLA_INTERMEDIATE_CURVES = "X25519:prime256v1:secp384r1"
"""Key exchange groups of Mozilla's "intermediate" profile."""


def header_lines(headers: dict[str, str]) -> str:
    """`add_header ... always` for each header a listener adds: on answers of every status, as the ALB adds them."""
    return "".join(f"add_header {name} {_quoted(value)} always; " for name, value in headers.items())


def error_pages(headers: dict[str, str], rate: dict[str, Any] | None = None) -> str:
    """`error_page` for every status nginx produces, each answered by an internal location with the JSON body.

    The rate rule's status, when it has one, answers with the rule's own body and headers (the WAF's custom
    response) instead of the generic document.
    """
    lines = [f"    error_page {status} {ERROR_PREFIX}{status};" for status in NGINX_ERRORS]
    answers = {
        status: (code, message, {}, "application/json", None) for status, (code, message) in NGINX_ERRORS.items()
    }
    if rate:
        if rate["status"] not in NGINX_ERRORS:
            lines.append(f"    error_page {rate['status']} {ERROR_PREFIX}{rate['status']};")
        answers[rate["status"]] = ("", "", rate["headers"], rate["content_type"], rate["body"])
    for status, (code, message, extra, content_type, body) in answers.items():
        if body is None:
            body = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
        added = dict(headers)
        if status == 405:
            added["Allow"] = ALLOWED_METHODS
        added.update(extra)
        lines.append(
            f"    location = {ERROR_PREFIX}{status} {{ internal; {header_lines(added)}"
            f"default_type {_quoted(content_type)}; return {ANSWERED_AS.get(status, status)} {_quoted(body)}; }}"
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


def rate_limiting(rate: dict[str, Any] | None) -> tuple[str, str]:
    """The web ACL's rate rule as nginx `limit_req` per client address: (the zone, the limit).

    WAF lets one address send `limit` requests in a window, then answers until its rate falls; nginx's leaky bucket
    is the same average rate with a burst of the window's allowance, so a fresh client gets `limit` at once too.
    A rule that only counts becomes a dry run: nginx logs what it would refuse and refuses nothing. The answer
    itself is one of the error pages (see error_pages).
    """
    if not rate:
        return "", ""
    rpm = per_minute(rate["limit"], rate["window"])
    zone = f"  limit_req_zone $binary_remote_addr zone=per_client:10m rate={rpm}r/m;\n"
    zone += f"  limit_req_status {rate['status']};\n"
    limit = f"    limit_req zone=per_client burst={max(rate['limit'] - 1, 0)} nodelay;\n"
    if rate["mode"] == "count":
        limit += "    limit_req_dry_run on;\n"
    return zone, limit


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
    redirect_host: str,
    rate_limit: dict[str, Any] | None = None,
    test_port: int,
    test_upstream_port: int,
) -> str:
    """The whole nginx.conf for the local stack's load balancer, from the program's listeners, rules and target,
    the web ACL's per-client rate rule (`rate_limit`, see rate_limiting), and the release's test listener.

    `redirect_host` and the HTTPS port are where port 80 sends clients (see adapters.redirect_target); a request's
    own Host header never is.
    """
    user = f"user {run_as};\n" if run_as else ""
    scratch = base / "tmp"
    temp = "\n".join(
        f"  {kind}_temp_path {scratch / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    redirect = load_balancer.get("redirect")
    https = load_balancer["https"]
    if redirect:
        scheme = "https" if redirect["protocol"] in ("HTTPS", "#{protocol}") else "http"
        port = https_port if scheme == "https" else http_port
        http_server = f"      return {redirect['status']} {scheme}://{redirect_host}:{port}$request_uri;"
        http_headers = redirect["headers"]
    else:
        http_server = "      return 404;"
        http_headers = {}
    headers = https["headers"]
    protocols = " ".join(https["protocols"])
    added = header_lines(headers)
    rules = []
    for rule in load_balancer.get("rules", []):
        body = _quoted(rule["body"])
        for path in rule["paths"]:
            rules.append(
                f"    location ~ {_path_regex(path)} {{ {added}default_type {_quoted(rule['content_type'])}; "
                f"return {rule['status']} {body}; }}"
            )
    target = load_balancer["target"]
    # nginx (open source) checks targets passively: the unhealthy threshold in failures, over one interval.
    upstream = (
        f"server 127.0.0.1:{upstream_port} max_fails={target['unhealthy_threshold']} "
        f"fail_timeout={target['interval']}s;"
    )
    # The listener's headers replace the target's own, as the ALB's do.
    hidden = "".join(f"      proxy_hide_header {name};\n" for name in headers)
    rules_text = "\n".join(rules)
    zone, limit = rate_limiting(rate_limit)
    # The release's test listener: the same TLS endpoint on its own port, proxying to the other slot, where the
    # next release starts (nothing answers there between releases).
    test_upstream = f"  upstream api_test {{ server 127.0.0.1:{test_upstream_port}; keepalive 8; }}\n"
    test_server = f"""  server {{
    listen 127.0.0.1:{test_port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    client_max_body_size 1m;
{error_pages(headers)}
    location / {{
      {added}
{hidden}      proxy_pass http://api_test;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Request-ID $forwarded_request_id;
    }}
  }}
"""
    return f"""{user}worker_processes 1;
worker_shutdown_timeout {WORKER_SHUTDOWN_S}s;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {base}/access.log;
{temp}
  # nginx without extra modules always sends `Server: nginx`; without its version is as close as it gets.
  server_tokens off;
  ssl_protocols {protocols};
  ssl_ciphers {MOZILLA_INTERMEDIATE_CIPHERS};
  ssl_ecdh_curve {MOZILLA_INTERMEDIATE_CURVES};
  ssl_prefer_server_ciphers off;
  ssl_session_cache shared:tls:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets off;
  geo $dollar {{ default "$"; }}
  upstream api {{ {upstream} keepalive 32; keepalive_timeout {UPSTREAM_IDLE_S}s; }}
{test_upstream}  map $http_x_request_id $forwarded_request_id {{ default $http_x_request_id; "" $request_id; }}
{zone}  server {{
    listen 127.0.0.1:{http_port};
{limit}{error_pages(http_headers, rate_limit)}
    location / {{
      {header_lines(http_headers)}
{http_server}
    }}
  }}
  server {{
    listen 127.0.0.1:{https_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    client_max_body_size 1m;
    # TRACE echoes the request (headers and cookies included); refused before any location, with Allow.
    if ($request_method = TRACE) {{ return 405; }}
{limit}{error_pages(headers, rate_limit)}
{rules_text}
    location / {{
      {added}
{hidden}      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Request-ID $forwarded_request_id;
    }}
  }}
{test_server}}}
"""
