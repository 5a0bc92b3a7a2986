#!/usr/bin/env bash
# README command 1: create .venv from the pinned files and run the main job, a backtest on the
# bundled real BTC data with the baseline signals and the bundled funding history.
# Extra arguments go to `adaptive-agent backtest` (e.g. --out DIR, --start 2024-01-01).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh requirements.txt
exec .venv/bin/adaptive-agent backtest "$@"
