#!/usr/bin/env bash
# Create bench/.venv-vbt: the project (editable, its pinned requirements) plus vectorbt 1.2.0 and
# numba, for bench/vs_vectorbt.py only. The project's own .venv and CI never get vectorbt.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if [ ! -x bench/.venv-vbt/bin/python ]; then
  "$py" -m venv bench/.venv-vbt
fi
pip=(bench/.venv-vbt/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -r requirements.txt -r bench/requirements-vectorbt.txt
"${pip[@]}" install --no-deps -e .
