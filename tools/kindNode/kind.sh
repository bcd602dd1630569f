#!/usr/bin/env bash
# kind as this project runs it (issue 37; docs/decisions/0036): the pinned release, and on a host
# without Docker the podman provider with a containers.conf of its own.
#
#   tools/kindNode/kind.sh <kind arguments...>     # e.g. tools/kindNode/kind.sh get clusters
#   tools/kindNode/kind.sh --path                  # prints the kind binary it runs
#
# kind is taken from PATH when that is the pinned version, else built once from the Go module
# proxy into ~/.cache/breakwater/kind-<version>/. Without a working `docker info` (or with
# KIND_EXPERIMENTAL_PROVIDER=podman) the provider is podman, and CONTAINERS_CONF, for kind's calls
# only, names a containers.conf with:
#   - runtime = "runc": crun refuses hybrid cgroup layouts (v1 controllers, a v2 unified mount);
#   - default_ulimits at this shell's hard limits (nofile, nproc capped at 32768): podman's
#     defaults are above them, and raising a limit needs CAP_SYS_RESOURCE, which such hosts lack
#     (scripts/image/podman.sh says the same for the project's own podman calls).
#
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache.
set -euo pipefail

kind_version=v0.33.0
cache="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}"

kind_binary() {
  local found built="$cache/kind-$kind_version/kind" work
  if found=$(command -v kind 2>/dev/null) && [[ "$("$found" version 2>/dev/null | awk '{print $2}')" == "$kind_version" ]]; then
    echo "$found"
    return
  fi
  if [[ ! -x "$built" ]]; then
    command -v go >/dev/null 2>&1 ||
      { echo "error: kind $kind_version is not on PATH and Go is not installed to build it (go install sigs.k8s.io/kind@$kind_version)" >&2; exit 1; }
    echo ">> building kind $kind_version from the Go module proxy into $(dirname "$built"), once" >&2
    work=$(mktemp -d)
    (cd "$work" && nice -n 10 env GOBIN="$work/bin" CGO_ENABLED=0 go install -trimpath -ldflags '-s -w' \
      "sigs.k8s.io/kind@$kind_version") || { rm -rf "$work"; echo "error: go install sigs.k8s.io/kind@$kind_version failed" >&2; exit 1; }
    mkdir -p "$(dirname "$built")"
    mv "$work/bin/kind" "$built"
    rm -rf "$work"
  fi
  echo "$built"
}

limit() {
  local hard=$1 cap=$2
  if [[ "$hard" == unlimited || "$hard" -gt "$cap" ]]; then echo "$cap"; else echo "$hard"; fi
}

kind=$(kind_binary)
if [[ "${1:-}" == --path ]]; then
  echo "$kind"
  exit 0
fi

if [[ -z "${KIND_EXPERIMENTAL_PROVIDER:-}" ]] && ! docker info >/dev/null 2>&1; then
  export KIND_EXPERIMENTAL_PROVIDER=podman
fi
if [[ "${KIND_EXPERIMENTAL_PROVIDER:-}" == podman && -z "${CONTAINERS_CONF:-}" ]]; then
  conf="$cache/kind-$kind_version/containers.conf"
  nofile=$(limit "$(ulimit -Hn)" 1048576)
  nproc=$(limit "$(ulimit -Hu)" 32768)
  runtime=""
  command -v runc >/dev/null 2>&1 && runtime=runc
  mkdir -p "$(dirname "$conf")"
  {
    echo "# Written by tools/kindNode/kind.sh for kind's podman calls only (CONTAINERS_CONF)."
    echo "[containers]"
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    if [[ -n "$runtime" ]]; then
      echo "[engine]"
      echo "runtime = \"$runtime\""
    fi
  } >"$conf.partial"
  mv "$conf.partial" "$conf"
  export CONTAINERS_CONF="$conf"
fi
exec "$kind" "$@"
