#!/usr/bin/env bash
# Installs the command-line tools the checks in `make test` run, when they are missing:
#   promtool (Debian package prometheus)  checks and unit-tests the alert rules, lints scrapes
#   lua5.1   (Debian package lua5.1)      runs the Argo CD health checks (Argo CD runs Lua 5.1)
#                                         and unit-tests the rate-limit store's Lua scripts
#   redis-server (Debian package redis-server)  the rate-limit store's tests start their own
#   redis-sentinel (Debian package redis-sentinel)  the store's failover test starts three
#   podman, runc, debootstrap (and buildah) build the image without Docker (make image) and run
#            the container-mode suite's pods as containers; debootstrap makes the base images
#   mmdebstrap makes the kind node's Debian root (make kind-node-smoke)
# Quiet when everything is there; installs with apt-get otherwise (as root, or through sudo).
set -euo pipefail

tools=(promtool lua5.1 redis-server redis-sentinel podman buildah runc debootstrap mmdebstrap)
declare -A package_for=([promtool]=prometheus [lua5.1]=lua5.1 [redis-server]=redis-server
  [redis-sentinel]=redis-sentinel [podman]=podman [buildah]=buildah [runc]=runc [debootstrap]=debootstrap [mmdebstrap]=mmdebstrap)
missing=()
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_for[$tool]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tools: missing ${missing[*]} and there is no apt-get here." >&2
  echo "  Install them with your package manager: promtool comes with Prometheus" >&2
  echo "  (https://prometheus.io/download/), lua5.1 with Lua 5.1 (any 5.1 interpreter named lua5.1)," >&2
  echo "  redis-server and redis-sentinel with Redis 7 or Valkey 7 (https://redis.io/downloads/)," >&2
  echo "  podman, buildah, runc and debootstrap with your distribution's packages." >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "ensure-tools: missing ${missing[*]}; run as root or install sudo: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

echo ">> apt-get install ${missing[*]} (for the alert-rule, Argo CD health-check, rate-limit store and container-mode tests, and make image)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The package lists may be absent or stale on a fresh machine: refresh them first.
if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-tools: apt-get could not install ${missing[*]}" >&2
  exit 1
fi
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ensure-tools: $tool is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
