#!/usr/bin/env bash
# Build trading-ai-agent:latest from the Dockerfile without an image registry (Debian bookworm,
# root): podman/buildah build on a local Python 3.11 base made from Debian packages with
# mmdebstrap. With Docker and a registry, `docker build -t trading-ai-agent:latest .` does the same
# on python:3.11-slim.
#
#   bash scripts/build_image.sh            # installs buildah/podman/mmdebstrap/runc if missing
#   REBUILD_BASE=1 bash scripts/build_image.sh   # make the local base again
#
# The base (localhost/adaptive-agent-base:bookworm) is made once and reused: Debian minbase with
# python3, python3-venv and ca-certificates from the Debian mirror and apt options this host's apt
# uses, a venv at /opt/venv first on PATH (Debian's pip refuses system installs, PEP 668), no
# docs/man pages/locales. pip inside the build reaches the package index as pip on this host does
# and trusts this host's CA bundle; both come in as read-only mounts, nothing of them is in the
# image. Prints the build time and the image size.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-trading-ai-agent:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/adaptive-agent-base:bookworm}
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}

say() { printf 'build_image: %s\n' "$*" >&2; }
tmp=()
trap 'rm -rf "${tmp[@]}"' EXIT

# --- Debian packages ---------------------------------------------------------------------------
need=()
for tool in podman buildah mmdebstrap runc; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${need[*]} -- run: sudo apt-get install ${need[*]}"
    exit 1
  fi
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
    >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
  say "run as root (rootful podman; mmdebstrap needs root here)"
  exit 1
fi

# --- the local base ----------------------------------------------------------------------------
# The Debian archive sources apt on this host uses (deb822 or one-line; .../debian and
# .../debian-security), pasted into the chroot.
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list
  do
    if [ -s "$f" ] && grep -qE '^(deb|URIs:)[^#]*/debian(-security)?/?( |$)' "$f"; then
      echo "$f"
    fi
  done
  return 0
}

make_base() {
  local work sources=() opts=() changes=() f
  work=$(mktemp -d /tmp/adaptive-agent-base.XXXXXX)
  tmp+=("$work")
  mapfile -t sources < <(apt_sources)
  if [ ${#sources[@]} -eq 0 ]; then
    say "no Debian source found in /etc/apt/sources.list*; using the default mirror"
  fi
  # apt's Acquire options on this host (proxy, snapshot date checks, retries), for the download
  # only: mmdebstrap writes them to 99mmdebstrap, which the hook below removes from the base.
  apt-config dump Acquire | grep -E '^Acquire::(https?|Check-Valid-Until|Check-Date|Retries)' \
    | grep -v '^Acquire::https\?::\(Verify\|SslCert\|CaInfo\)' >"$work/apt.conf" || true
  [ -s "$work/apt.conf" ] && opts+=(--aptopt="$work/apt.conf")
  say "making the base with mmdebstrap (${sources[*]:-default mirror})"
  # shellcheck disable=SC2016  # the hooks expand $1 (the chroot) themselves
  mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    "${opts[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='chroot "$1" python3 -m venv /opt/venv' \
    --customize-hook='rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap' \
    --customize-hook='find "$1"/opt/venv -name __pycache__ -prune -exec rm -rf {} +' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    bookworm "$work/rootfs.tar" "${sources[@]}" >"$work/mmdebstrap.log" 2>&1 \
    || { tail -n 40 "$work/mmdebstrap.log" >&2; say "mmdebstrap failed"; return 1; }
  for f in 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV VIRTUAL_ENV=/opt/venv' 'ENV LANG=C.UTF-8' 'CMD ["python3"]'; do
    changes+=(--change "$f")
  done
  podman import --quiet "${changes[@]}" "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
}

t0=$(date +%s)
if [ "${REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  make_base
  say "base $BASE_IMAGE made in $(($(date +%s) - t0)) s"
else
  say "reusing base $BASE_IMAGE (REBUILD_BASE=1 to make it again)"
fi

# --- pip configuration for the build only ------------------------------------------------------
# The index settings of this host's pip (file:// locations are not visible in the build) and the
# host's CA bundle, as root's home for each RUN step: ~/.config/pip/pip.conf is read by pip in
# both bases. /root exists in both, so the read-only mount creates no file in any layer.
build_home=$(mktemp -d /tmp/adaptive-agent-pip.XXXXXX)
tmp+=("$build_home")
mkdir -p "$build_home/.config/pip"
host_pip=(python3 -m pip)
[ -x .venv/bin/python ] && host_pip=(.venv/bin/python -m pip)
{
  echo "[global]"
  echo "cert = /root/host-ca.crt"
  "${host_pip[@]}" config list 2>/dev/null | sed -nE \
    "s/^[^.]+\.(index-url|extra-index-url|trusted-host|timeout|default-timeout|retries|proxy)='(.*)'$/\1 \2/p" \
    | while read -r key value; do
      kept=()
      for v in $value; do
        case $v in file:* | /*) ;; *) kept+=("$v") ;; esac
      done
      if [ ${#kept[@]} -gt 0 ]; then echo "${key/default-timeout/timeout} = ${kept[*]}"; fi
    done | sort -u -t= -k1,1
} >"$build_home/.config/pip/pip.conf"
cp "$HOST_CA" "$build_home/host-ca.crt"
chmod -R a+rX "$build_home"

# --- the image ---------------------------------------------------------------------------------
old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
t1=$(date +%s)
podman build --format docker --network host --pull=never ${NO_CACHE:+--no-cache} \
  --build-arg BASE="$BASE_IMAGE" \
  --volume "$build_home:/root:ro" \
  -t "$IMAGE" .
t2=$(date +%s)
new_id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  # the previous build of this tag, now untagged (kept if a container still uses it)
  podman rmi "$old_id" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
store=$(du -sm "$(podman info --format '{{.Store.GraphRoot}}')" | cut -f1)
printf 'build_image: %s built in %d s (base step %d s, total %d s); size %d MB; storage %d MB\n' \
  "$IMAGE" $((t2 - t1)) $((t1 - t0)) $((t2 - t0)) $((size / 1000000)) "$store"
