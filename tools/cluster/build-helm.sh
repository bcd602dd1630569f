#!/usr/bin/env bash
# Builds helm from the Go module pinned in helm-binary/go.mod into a cache outside the
# checkout, like build-binaries.sh does for the cluster binaries, and prints the path of
# the helm binary. Later runs find it there and return at once.
#
#   tools/cluster/build-helm.sh        # prints e.g. ~/.cache/breakwater/helm-v3.21.4/bin/helm
#
# TEST_ASSET_HELM, when set, names a helm to use instead (nothing is built).
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache.
set -euo pipefail

if [[ -n "${TEST_ASSET_HELM:-}" ]]; then
  [[ -x "$TEST_ASSET_HELM" ]] || { echo "error: TEST_ASSET_HELM=$TEST_ASSET_HELM is not an executable" >&2; exit 1; }
  echo "$TEST_ASSET_HELM"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module="$here/helm-binary"
# shellcheck source=goModVersion.sh
source "$here/goModVersion.sh"
helm_version=$(module_version "$module/go.mod" helm.sh/helm/v3)
client_go_version=$(module_version "$module/go.mod" k8s.io/client-go)
bin="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}/helm-$helm_version/bin"

if [[ -x "$bin/helm" ]]; then
  echo "$bin/helm"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
error: helm $helm_version is not cached in $bin and Go is not installed to build it.
Either install Go (1.26 or newer), or point TEST_ASSET_HELM at a helm binary.
MSG
  exit 1
fi

# Stamp what helm's own release build stamps: its version, and the Kubernetes version its
# client-go speaks (v0.36.x → 1.36), which `helm template` reports as .Capabilities.KubeVersion.
kube_minor=${client_go_version#v0.}
kube_minor=${kube_minor%%.*}
pkg=helm.sh/helm/v3
ldflags="-s -w -X $pkg/internal/version.version=$helm_version -X $pkg/internal/version.metadata="
ldflags+=" -X $pkg/internal/version.gitTreeState=clean"
ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$kube_minor"
ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$kube_minor"

mkdir -p "$bin"
# Test files that need helm may start at once: one builds, the others wait for it.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$bin/.build.lock"
  flock 9
  if [[ -x "$bin/helm" ]]; then
    echo "$bin/helm"
    exit 0
  fi
fi
started=$(date +%s)
echo ">> building helm ($helm_version) into $bin — the first build takes a few minutes" >&2
# A heartbeat, so that minutes of compiling do not look like a hang (see build-binaries.sh).
(while ! read -rt 30 <> <(:); do echo ">>       still building helm ($(($(date +%s) - started))s)" >&2; done) &
heartbeat=$!
trap 'kill "$heartbeat" 2>/dev/null || true' EXIT
(cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/helm.partial" helm.sh/helm/v3/cmd/helm)
kill "$heartbeat" 2>/dev/null || true
wait "$heartbeat" 2>/dev/null || true
mv "$bin/helm.partial" "$bin/helm"
echo ">> helm built in $(($(date +%s) - started))s" >&2
echo "$bin/helm"
