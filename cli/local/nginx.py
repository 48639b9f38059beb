"""nginx as the local load balancer: TLS 1.2+ on the HTTPS port, HTTP redirected to it, /metrics kept private."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli.local.postgres import PrerequisiteMissing

NGINX_HINT = "run `make setup` (it installs Debian's nginx-light), or apt-get install nginx-light"


def nginx_bin() -> Path:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not found:
        raise PrerequisiteMissing("nginx is not installed (the local stack's TLS endpoint)", hint=NGINX_HINT)
    return Path(found)


def config(
    *, base: Path, http_port: int, https_port: int, upstream_port: int, cert: Path, key: Path, run_as: str | None
) -> str:
    """The whole nginx.conf for the local stack's load balancer."""
    user = f"user {run_as};\n" if run_as else ""
    scratch = base / "tmp"
    temp = "\n".join(
        f"  {kind}_temp_path {scratch / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {base}/access.log;
{temp}
  server_tokens off;
  upstream api {{ server 127.0.0.1:{upstream_port}; keepalive 32; }}
  map $http_x_request_id $forwarded_request_id {{ default $http_x_request_id; "" $request_id; }}
  server {{
    listen 127.0.0.1:{http_port};
    return 301 https://$host:{https_port}$request_uri;
  }}
  server {{
    listen 127.0.0.1:{https_port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    client_max_body_size 1m;
    location = /metrics {{ return 404; }}
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
