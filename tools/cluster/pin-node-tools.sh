#!/usr/bin/env bash
# Puts CoreDNS and crictl into k8s-binaries/, the module the cluster's binaries are built from,
# at the given versions, with every module they would raise replaced by the version Kubernetes
# and etcd are released with. One module and one `go build` for Kubernetes, CoreDNS and crictl:
# the packages they share (client-go, apimachinery, grpc, protobuf, x/net: 679 of CoreDNS's 786
# packages, 554 of crictl's 636) compile once on a cold machine, not once per module beside each
# other (decision 0052). Kubernetes' and etcd's packages build from exactly the sources they did
# without the two; CoreDNS (its main package, k8s-binaries/coredns/, imports the plugins
# kubeadm's Corefile uses) and crictl build on them. The pins come from Kubernetes' and etcd's
# own go.mod files: run this again after a bump of either, or to move CoreDNS or crictl;
# tools/cluster/nodeToolsPinning.unit.test.ts fails until then.
#
#   tools/cluster/pin-node-tools.sh v1.14.7 v1.36.0     # CoreDNS, crictl
set -euo pipefail

coredns=${1:?usage: pin-node-tools.sh <CoreDNS version> <crictl version>, e.g. v1.14.7 v1.36.0}
crictl=${2:?usage: pin-node-tools.sh <CoreDNS version> <crictl version>, e.g. v1.14.7 v1.36.0}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module="$here/k8s-binaries"
# shellcheck source=goModVersion.sh
source "$here/goModVersion.sh"
cd "$module"
k8s_version=$(module_version go.mod k8s.io/kubernetes)
etcd_version=$(module_version go.mod go.etcd.io/etcd/server/v3)
marker='// CoreDNS and crictl on the versions of'

# What Kubernetes' release requires, then what etcd's adds: `path version` lines. Kubernetes'
# staging modules (v0.0.0 there, replaced by its ./staging) are pinned to the tag already.
requires() { go mod download -json "$1@$2" | jq -r .GoMod | xargs awk '
  /^require \($/ { block = 1; next } block && /^\)/ { block = 0 }
  block && NF >= 2 && $2 ~ /^v/ { print $1, $2 } $1 == "require" && $3 ~ /^v/ { print $2, $3 }'; }
declare -A wanted=()
while read -r path v; do [[ "$v" != v0.0.0 ]] && wanted[$path]=$v; done < <(requires k8s.io/kubernetes "$k8s_version")
while read -r path v; do [[ -z "${wanted[$path]:-}" ]] && wanted[$path]=$v; done < <(requires go.etcd.io/etcd/server/v3 "$etcd_version")

# The block of pins an earlier run wrote, dropped.
drop_pins() {
  awk -v marker="$marker" 'index($0, marker) == 1 { skip = 1; next } skip && /^\)/ { skip = 0; next } !skip' go.mod >go.mod.new
  mv go.mod.new go.mod
}
# Start again from the staging pins alone.
drop_pins
go get "github.com/coredns/coredns@$coredns"
go get -tool "sigs.k8s.io/cri-tools/cmd/crictl@$crictl"
go mod tidy
# Pin what they raised; a pin can change what else is selected, so again until nothing moves.
declare -A pinned=()
for _ in 1 2 3 4 5; do
  moved=0
  while read -r path selected; do
    want=${wanted[$path]:-}
    if [[ -n "$want" && "$selected" != "$want" && -z "${pinned[$path]:-}" ]]; then
      pinned[$path]=$want
      moved=1
    fi
  done < <(go list -m -f '{{.Path}} {{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' all)
  ((moved)) || break
  drop_pins
  {
    printf '\n%s k8s.io/kubernetes %s and go.etcd.io/etcd/server/v3 %s,\n' "$marker" "$k8s_version" "$etcd_version"
    echo '// written by tools/cluster/pin-node-tools.sh'
    echo 'replace ('
    for path in $(printf '%s\n' "${!pinned[@]}" | sort); do printf '\t%s => %s %s\n' "$path" "$path" "${pinned[$path]}"; done
    echo ')'
  } >>go.mod
  go mod tidy
done
echo ">> CoreDNS $coredns and crictl $crictl in k8s-binaries, ${#pinned[@]} modules pinned to Kubernetes $k8s_version's and etcd $etcd_version's versions" >&2
