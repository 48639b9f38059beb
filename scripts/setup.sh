#!/usr/bin/env bash
# Prepares this machine for groundwork: system packages (PostgreSQL, PgBouncer, nginx, Redis, Prometheus), the
# virtual environment, and the project's Python dependencies.
# Idempotent: a second run checks and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
# Redis is the local stack's cache and event stream, and the tests' real one.
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
# nginx is the local stack's TLS endpoint and the benchmarks' reference server.
nginx_package=nginx-light  # Debian's small build; distributions without it get the plain package after apt-get update
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
# Prometheus is the local stack's time-series store: it scrapes the API and the worker and evaluates the alarms.
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need_apt+=(prometheus)
if [ "${GROUNDWORK_BENCH_TOOLS:-0}" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "setup: missing ${need_apt[*]}; install them as root: apt-get install ${need_apt[*]}" >&2
      exit 2
    }
    sudo=sudo
  fi
  echo "setup: installing ${need_apt[*]} (Debian packages)" >&2
  $sudo apt-get update -qq
  if apt-cache show "$nginx_package" >/dev/null 2>&1; then
    need_apt=("${need_apt[@]/#nginx/$nginx_package}")
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The packaged cluster and pooler are not used; groundwork starts its own on free loopback ports.
  $sudo service postgresql stop >/dev/null 2>&1 || true
  $sudo service pgbouncer stop >/dev/null 2>&1 || true
  $sudo service nginx stop >/dev/null 2>&1 || true
  $sudo service redis-server stop >/dev/null 2>&1 || true
  $sudo service prometheus stop >/dev/null 2>&1 || true
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$python" -m venv .venv
fi
stamp=.venv/.groundwork-deps
want=$(cat pyproject.toml app_image/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]' -r app_image/requirements.txt
  echo "$want" > "$stamp"
fi

