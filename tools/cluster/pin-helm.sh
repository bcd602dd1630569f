#!/usr/bin/env bash
# Writes helm-binary/go.mod for a helm release with every module it shares with k8s-binaries/
# replaced by the version the cluster's binaries are built from. Go's build cache keys a
# compiled package by its sources and its dependencies' keys, so helm then takes from the node
# image's build the packages whose dependencies agree in both (340 of the 548 it shares with
# it: much of apimachinery, client-go's API types, protobuf, json) instead of compiling them
# again (decision 0051). Those that depend on a module helm selects newer still compile: with
# -trimpath a file is named after the selected version, whatever the replace gives. A few
# modules helm needs newer than Kubernetes pins stay at helm's version (KEEP below).
# tools/cluster/helmPinning.unit.test.ts checks that the two go.mod files agree.
#
#   tools/cluster/pin-helm.sh v3.21.4     # after a bump of k8s-binaries, or to move helm
set -euo pipefail

version=${1:?usage: pin-helm.sh <helm version, e.g. v3.21.4>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module="$here/helm-binary"
# Modules helm's own packages need newer than the cluster's binaries pin (older ones fail to
# compile helm): OpenTelemetry's exporters, and errors.Is in github.com/pkg/errors.
KEEP='^(go\.opentelemetry\.io/|github\.com/pkg/errors$)'

list() { (cd "$1" && go list -m -f '{{.Path}} {{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' all | sort -k1,1); }

header=$(sed -n '1,/^module /p' "$module/go.mod")
printf '%s\n\ngo %s\n' "$header" "$(awk '$1 == "go" { print $2; exit }' "$here/k8s-binaries/go.mod")" >"$module/go.mod"
rm -f "$module/go.sum"
(cd "$module" && go get -tool "helm.sh/helm/v3/cmd/helm@$version" && go mod tidy)
replaces=()
while read -r path cluster helm; do
  [[ "$cluster" != "$helm" && ! "$path" =~ $KEEP ]] && replaces+=("-replace=$path=$path@$cluster")
done < <(join <(list "$here/k8s-binaries") <(list "$module"))
(cd "$module" && go mod edit "${replaces[@]}" && go mod tidy)
echo ">> helm $version pinned to k8s-binaries' versions of ${#replaces[@]} modules" >&2
