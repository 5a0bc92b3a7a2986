#!/usr/bin/env bash
# Debian packages the test suite needs: a real InfluxDB 1.x server (influxd) for the monitoring
# tests, docker-compose to validate docker-compose.yml (no Docker engine is needed) and headless
# Chromium to open equity.html in a real browser (tests/acceptance/test_equity_html_browser.py).
set -euo pipefail
need=()
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]} -- run: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
