#!/usr/bin/env bash
# README command 2: create .venv from the pinned files and run every check:
# ruff lint, ruff format check, the whole pytest suite with warnings as errors and >= 90% coverage.
# Writes coverage.json and the README badge docs/coverage.svg from the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_debs.sh
bash scripts/setup_env.sh requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -W error --cov=adaptive_agent --cov-report=term \
  --cov-report=json:coverage.json --cov-fail-under=90 "$@"
.venv/bin/python scripts/coverage_badge.py coverage.json docs/coverage.svg
