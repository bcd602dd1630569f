#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the
# Kubernetes Go modules pinned in k8s-binaries/go.mod, into a cache outside the checkout.
# kubelet, kube-proxy and kubeadm, which the kind node image (tools/kindNode) needs, CoreDNS
# (k8s-binaries/coredns: the plugins kubeadm's Corefile uses) and crictl come from the same
# module when named, CoreDNS and crictl on the cluster's module versions (pin-node-tools.sh).
# Later runs find them there and return at once.
#
#   tools/cluster/build-binaries.sh                  # the control plane's five; prints the directory that holds them
#   tools/cluster/build-binaries.sh kube-scheduler   # only the ones named (the others may come from elsewhere)
#   tools/cluster/build-binaries.sh kubelet kube-proxy
#
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module="$here/k8s-binaries"
# shellcheck source=goModVersion.sh
source "$here/goModVersion.sh"
k8s_version=$(module_version "$module/go.mod" k8s.io/kubernetes)
etcd_version=$(module_version "$module/go.mod" go.etcd.io/etcd/server/v3)
coredns_version=$(module_version "$module/go.mod" github.com/coredns/coredns)
# The module's versions and CoreDNS's plugin set (its main package) name the cache: a change to
# either is a new one.
# macOS has shasum, not sha256sum (make up runs this there for kubectl).
digest() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }
sources=$(cat "$module/go.mod" "$module/coredns/main.go" | digest | cut -c1-8)
cache="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}/k8s-$k8s_version-etcd-$etcd_version-coredns-$coredns_version-$sources"
bin="$cache/bin"

declare -A packages=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [kubelet]=k8s.io/kubernetes/cmd/kubelet
  [kube-proxy]=k8s.io/kubernetes/cmd/kube-proxy
  [kubeadm]=k8s.io/kubernetes/cmd/kubeadm
  [coredns]=breakwater.dev/tools/cluster/k8s-binaries/coredns
  [crictl]=sigs.k8s.io/cri-tools/cmd/crictl
)
order=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
if (($# > 0)); then
  for name in "$@"; do
    [[ -n "${packages[$name]:-}" ]] || { echo "error: unknown binary '$name' (known: ${order[*]} kubelet kube-proxy kubeadm coredns crictl)" >&2; exit 2; }
  done
  order=("$@")
fi

missing=()
for name in "${order[@]}"; do [[ -x "$bin/$name" ]] || missing+=("$name"); done
if ((${#missing[@]} == 0)); then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
error: kind's node image and the tests need ${missing[*]} ($k8s_version), which are not cached
in $bin, and Go is not installed to build them.
Either install Go (1.26 or newer), or point KUBEBUILDER_ASSETS at a directory that holds them.
MSG
  exit 1
fi

mkdir -p "$bin"
minor=${k8s_version#v1.}
minor=${minor%%.*}
# Stamp the version the way the Kubernetes release build does, so that kubectl's version-skew
# check and /version report the real release instead of v0.0.0-master.
version_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for pkg in "${version_pkgs[@]}"; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# crictl says its own version as cri-tools' release build stamps it.
crictl_version=$(module_version "$module/go.mod" sigs.k8s.io/cri-tools)
ldflags+=" -X sigs.k8s.io/cri-tools/pkg/version.Version=${crictl_version#v}"

# One `go build` for all of them: it compiles the packages they share once and links one binary
# while it compiles the next (one build per binary left a core idle through each link).
started=$(date +%s)
echo ">> building ${missing[*]} ($k8s_version) into $bin — the first build takes several minutes" >&2
# A heartbeat, so that minutes of compiling do not look like a hang. `read -t` sleeps inside
# the subshell itself, so killing it leaves no stray `sleep` behind.
(while ! read -rt 30 <> <(:); do echo ">>       still building ${missing[*]} ($(($(date +%s) - started))s)" >&2; done) &
heartbeat=$!
out=$(mktemp -d "$cache/build.XXXXXX") # two builds at once (CI and a helper) each write their own
trap 'kill "$heartbeat" 2>/dev/null || true; rm -rf "$out"' EXIT
targets=()
for name in "${missing[@]}"; do targets+=("${packages[$name]}"); done
(cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/" "${targets[@]}")
kill "$heartbeat" 2>/dev/null || true
wait "$heartbeat" 2>/dev/null || true
for name in "${missing[@]}"; do
  # go names a binary after its package's last path element that is not a major version (v3).
  built=${packages[$name]##*/}
  [[ "$built" =~ ^v[0-9]+$ ]] && { built=${packages[$name]%/*}; built=${built##*/}; }
  mv "$out/$built" "$bin/$name"
done
echo ">> ${missing[*]} built in $(($(date +%s) - started))s" >&2
echo "$bin"
