#!/usr/bin/env bash
# Runs the whole test suite on this machine, installing what it needs first: lint, format, import layers, types (pyright), then pytest (Dockerfile lint included).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache
.venv/bin/pyright
exec .venv/bin/python -m pytest "$@"
