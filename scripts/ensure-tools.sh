#!/usr/bin/env bash
# The command-line tools a purpose needs, checked; installed with apt-get only where that is
# both possible and asked for. Purposes (the first argument):
#
#   test (the default; make tools, make test)  everything the checks run:
#     promtool (Debian package prometheus)  checks and unit-tests the alert rules, lints scrapes
#     lua5.1   runs the Argo CD health checks (Argo CD runs Lua 5.1) and the store's Lua scripts
#     redis-server, redis-sentinel  the rate-limit store's tests start their own
#     podman, runc, debootstrap (and buildah) build the image without Docker (make image) and run
#              the container-mode suite's pods as containers; debootstrap makes the base images
#     mmdebstrap makes the kind node's Debian root (make kind-node-smoke)
#   Missing ones are installed with apt-get, as root or through `sudo -n`.
#
#   demo (make demo, make up, make down)  only what the path taken uses:
#     with a Docker engine that answers (Docker Desktop, or Docker on Linux as a member of the
#       docker group): docker and go (kind and kubectl are built from their Go modules once).
#       No package is installed and no root is asked for.
#     without one: kind's node image and the project's image are built here with podman,
#       buildah, runc, debootstrap and mmdebstrap, which needs root on Linux. As root on
#       Debian/Ubuntu the missing packages are installed with apt-get (said first); otherwise
#       the command stops and says why.
#
#   prometheus (make up PROMETHEUS=1)  prometheus and promtool.
#
# A missing tool that is not installed here is named with how to get it on Debian/Ubuntu (apt),
# Fedora (dnf) and macOS (Homebrew). Written for bash 3.2 too (macOS's /bin/bash).
set -euo pipefail

purpose=${1:-test}
tool_purpose() {
  case "$1" in
    docker) echo "the container engine kind runs its node in" ;;
    go) echo "builds kind and kubectl (once, from their Go modules; Go 1.26 or newer, https://go.dev/dl/ where the distribution's is older)" ;;
    podman | buildah | runc) echo "builds kind's node image and the project's image without Docker" ;;
    debootstrap | mmdebstrap) echo "makes the Debian roots of those images without Docker" ;;
    promtool | prometheus) echo "Prometheus and its rule checker" ;;
    lua5.1) echo "runs the Argo CD health checks' Lua" ;;
    redis-server | redis-sentinel) echo "the rate-limit store's tests start their own" ;;
  esac
}
apt_package() {
  case "$1" in
    docker) echo docker.io ;;
    go) echo golang-go ;;
    promtool) echo prometheus ;;
    *) echo "$1" ;;
  esac
}
dnf_package() {
  case "$1" in
    docker) echo moby-engine ;;
    go) echo golang ;;
    promtool) echo prometheus ;;
    lua5.1) echo compat-lua ;;
    redis-server | redis-sentinel) echo valkey ;;
    *) echo "$1" ;;
  esac
}
brew_install() {
  case "$1" in
    docker) echo "brew install --cask docker (Docker Desktop; start it once)" ;;
    go | podman) echo "brew install $1" ;;
    promtool | prometheus) echo "brew install prometheus" ;;
    lua5.1) echo "brew install lua@5.1" ;;
    redis-server | redis-sentinel) echo "brew install redis" ;;
    *) echo "(Linux only; not needed with Docker Desktop)" ;;
  esac
}
# What to type on each platform, one tool a block.
how_to_get() {
  local tool
  for tool in "$@"; do
    echo "  $tool: $(tool_purpose "$tool")"
    echo "    Debian/Ubuntu: sudo apt-get install $(apt_package "$tool")"
    echo "    Fedora:        sudo dnf install $(dnf_package "$tool")"
    echo "    macOS:         $(brew_install "$tool")"
  done
}
missing_of() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || echo "$tool"; done
}
docker_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# apt-get install of what is missing, as root or through sudo -n; $1 says why.
apt_install() {
  local why=$1
  shift
  local packages=() tool
  for tool in "$@"; do packages+=("$(apt_package "$tool")"); done
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
      echo "ensure-tools: missing $*; this is not root and sudo asks for a password. Install them:" >&2
      how_to_get "$@" >&2
      exit 1
    fi
    sudo=(sudo -n)
  fi
  echo ">> apt-get install ${packages[*]} ($why)"
  export DEBIAN_FRONTEND=noninteractive
  local log
  log=$(mktemp)
  # The package lists may be absent or stale on a fresh machine: refresh them first.
  if ! { ${sudo[@]+"${sudo[@]}"} apt-get update -qq &&
    ${sudo[@]+"${sudo[@]}"} apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ensure-tools: apt-get could not install ${packages[*]}" >&2
    exit 1
  fi
  rm -f "$log"
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "ensure-tools: $tool is still missing after apt-get install ${packages[*]}" >&2; exit 1; }
  done
}

stop_with() {
  echo "ensure-tools: $1" >&2
  shift
  how_to_get "$@" >&2
  exit 1
}

case "$purpose" in
  test)
    # shellcheck disable=SC2207
    missing=($(missing_of promtool lua5.1 redis-server redis-sentinel podman buildah runc debootstrap mmdebstrap))
    [ "${#missing[@]}" -eq 0 ] && exit 0
    command -v apt-get >/dev/null 2>&1 || stop_with "make test needs ${missing[*]}, and there is no apt-get here to install them:" "${missing[@]}"
    apt_install "for the alert-rule, Argo CD health-check, rate-limit store and container-mode tests, and make image" "${missing[@]}"
    ;;
  prometheus)
    # shellcheck disable=SC2207
    missing=($(missing_of prometheus promtool))
    [ "${#missing[@]}" -eq 0 ] && exit 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt_install "PROMETHEUS=1: Prometheus with the alert rules" promtool
    else
      stop_with "PROMETHEUS=1 needs ${missing[*]}:" promtool
    fi
    ;;
  demo)
    # shellcheck disable=SC2207
    missing=($(missing_of go))
    if docker_answers; then
      [ "${#missing[@]}" -eq 0 ] && exit 0
      stop_with "the demo (with Docker) needs ${missing[*]}:" "${missing[@]}"
    fi
    # No Docker engine: the node image and the project's image are built here.
    # shellcheck disable=SC2207
    missing=($(missing_of podman buildah runc debootstrap mmdebstrap go))
    if [ "$(uname -s)" != Linux ]; then
      stop_with "no Docker engine answers (docker info). On macOS the demo runs on Docker Desktop:" docker
    fi
    if [ "$(id -u)" -ne 0 ]; then
      # shellcheck disable=SC2207
      missing=(docker $(missing_of go))
      stop_with "no Docker engine answers (docker info), and without one kind's node image and the project's image are built here with podman, buildah and mmdebstrap, which needs root. Either install Docker (and be in the docker group, or use rootless Docker), or run as root (sudo make demo). Missing for the Docker path:" "${missing[@]}"
    fi
    [ "${#missing[@]}" -eq 0 ] && exit 0
    command -v apt-get >/dev/null 2>&1 || stop_with "without Docker the demo builds its images with ${missing[*]}, and there is no apt-get here to install them:" "${missing[@]}"
    apt_install "no Docker engine: kind's node image and the project's image are built here" "${missing[@]}"
    ;;
  *)
    echo "usage: $0 [test | demo | prometheus]" >&2
    exit 2
    ;;
esac
