#!/usr/bin/env bash
# Create (or update) .venv from a pinned requirements file and install the package into it.
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements.txt}
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -r "$req"
"${pip[@]}" install --no-deps -e .
# The backtest's loop compiled once, here: just in time into numba's cache, and ahead of time into
# a module that spares every backtest the import of numba (~1 s); without a C compiler only the
# first (backtest/loop.py).
.venv/bin/python -m adaptive_agent.backtest.rebalance_backtester
