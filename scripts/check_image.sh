#!/usr/bin/env bash
# Checks inside trading-ai-agent:latest (after scripts/build_image.sh; run by .ci/run). Any
# failure exits non-zero. Every container runs without network, with all capabilities dropped:
#   1. the image runs as uid/gid 10001, and `adaptive-agent --help` works;
#   2. a backtest on the bundled data: trades.csv has the sha256 the tests pin
#      (TRADES_SHA256 in tests/, read from there); with REPORTS=<dir of a backtest run outside the
#      image> its CSV reports must be byte-identical;
#   3. a paper run writes /data/live.sqlite, after which `podman healthcheck run` reports healthy
#      (and unhealthy before it), while the container's process runs as the non-root user;
#   4. no secret, .git, .venv, test, state file, build-time pip configuration or CA bundle copy is
#      in the image.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-trading-ai-agent:latest}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}
UID_EXPECTED=10001

t0=$(date +%s)
say() { printf 'check_image: %s\n' "$*"; }
fail() {
  printf 'check_image: FAIL: %s\n' "$*" >&2
  exit 1
}

pinned=$(grep -rhoE 'TRADES_SHA256 = "[0-9a-f]{64}"' tests | grep -oE '[0-9a-f]{64}' | sort -u)
if [ -z "$pinned" ] || [ "$(wc -l <<<"$pinned")" != 1 ]; then
  fail "no single TRADES_SHA256 in tests/"
fi

tag=adaptive-agent-check-$$
volume=$tag-data
box=$tag-box
cleanup() {
  podman rm -f -t 0 "$box" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
podman volume create "$volume" >/dev/null

secure=(--network none --cap-drop ALL --security-opt no-new-privileges)
# one-off containers: no health timer (podman would log that it cannot reach systemd)
run() { podman run --rm --no-healthcheck "${secure[@]}" -v "$volume:/data" "$IMAGE" "$@"; }

# --- 1. user and CLI ---------------------------------------------------------------------------
podman image exists "$IMAGE" || fail "$IMAGE not built (bash scripts/build_image.sh)"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ "$user" = "$UID_EXPECTED:$UID_EXPECTED" ] || fail "image user is '$user'"
ids=$(run sh -c 'echo "$(id -u):$(id -g)"')
[ "$ids" = "$UID_EXPECTED:$UID_EXPECTED" ] || fail "container runs as $ids"
run adaptive-agent --help >/dev/null || fail "adaptive-agent --help"
say "runs as $ids; adaptive-agent --help ok"

# --- 2. backtest on the bundled data -----------------------------------------------------------
run adaptive-agent backtest --no-html --out /data/backtest
digest=$(run sha256sum /data/backtest/trades.csv | cut -d' ' -f1)
[ "$digest" = "$pinned" ] || fail "trades.csv sha256 $digest, the tests pin $pinned"
say "backtest trades.csv sha256 $digest = the pinned one"
if [ -n "${REPORTS:-}" ]; then
  for f in summary.csv trades.csv blocked_trades_log.csv skipped_orders.csv; do
    [ -f "$REPORTS/$f" ] || fail "$REPORTS/$f missing"
    run cat "/data/backtest/$f" | cmp -s - "$REPORTS/$f" || fail "$f differs from $REPORTS/$f"
  done
  say "backtest reports identical to those in $REPORTS"
fi

# --- 3. paper run, then the HEALTHCHECK ---------------------------------------------------------
# The image's HEALTHCHECK, run by hand (no timer: podman would use systemd, which this host lacks;
# it logs a harmless error about that, filtered out here).
quiet() { "$@" 2> >(grep -v '/run/systemd/private' >&2); }
quiet podman run -d --name "$box" --health-interval disable "${secure[@]}" -v "$volume:/data" "$IMAGE" sleep 600 >/dev/null
if quiet podman healthcheck run "$box" >/dev/null; then
  fail "healthy before any bar was processed"
fi
proc_user=$(podman top "$box" user | tail -n +2 | sort -u)
[ "$proc_user" = "$UID_EXPECTED" ] || [ "$proc_user" = agent ] || fail "process user '$proc_user'"
podman run --rm -i --no-healthcheck "${secure[@]}" -v "$volume:/data" "$IMAGE" \
  python - /data/recent.csv 600 <scripts/recent_candles.py
run adaptive-agent paper --candles /data/recent.csv --bars 600 --state /data/live.sqlite \
  2>/dev/null | tail -n 1
quiet podman healthcheck run "$box" || fail "unhealthy after the paper run"
status=$(podman inspect --format '{{.State.Health.Status}}' "$box")
said=$(podman inspect --format '{{range .State.Health.Log}}{{println .Output}}{{end}}' "$box" \
  | grep . | tail -n 1)
[ "$status" = healthy ] || fail "health status '$status'"
say "healthcheck unhealthy before the paper run, then $said; process user $proc_user"

# --- 4. what the image must not hold -----------------------------------------------------------
# the project's own test files by name, wherever they would be
test_names=()
while IFS= read -r f; do test_names+=(-o -name "$f"); done \
  < <(find tests -type f -name '*.py' ! -name __init__.py -printf '%f\n' | sort -u)
found=$(podman run --rm --no-healthcheck --network none --user 0 "$IMAGE" \
  find / -xdev -path "*/lib/python3.*/test" -prune -o \( \
  -name .git -o -name .venv -o -name .env -o -name "*.env" -o -name secrets \
  -o -name "*.sqlite" -o -name "*.sqlite-*" -o -name "*.db" -o -name "audit*.jsonl" \
  -o -name .pytest_cache -o -name .coverage -o -name coverage.json -o -name conftest.py \
  -o -path "*-packages/*/tests" -o -path "*-packages/adaptive_agent*/test*" \
  -o \( -name "test_*.py" ! -path "*-packages/*" \) "${test_names[@]}" \
  -o \( -path "/app/*" ! -path "/app/config*" \) -o -path "/data/*" -o -path "/tmp/*" \
  -o -name pip.conf -o -name host-ca.crt -o -path /tmp/build \) -print 2>&1)
[ -z "$found" ] || fail "unwanted files in the image: $found"
env_names=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" \
  | cut -d= -f1 | grep -iE 'key|secret|token|password|passwd|credential' || true)
[ -z "$env_names" ] || fail "secret-like variables in the image config: $env_names"
say "no secret, .git, .venv, test, state or build-time pip/CA file in the image"

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "all checks passed in $(($(date +%s) - t0)) s; image $IMAGE $((size / 1000000)) MB"
