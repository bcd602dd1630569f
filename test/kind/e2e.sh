#!/usr/bin/env bash
# make e2e-kind: Breakwater on a real kubelet. Creates a kind cluster, builds the image (make
# image's script, with Docker and the upstream bases) and loads it into the cluster's node
# (`kind load`), installs the chart, checks that the operator reconciles the sample agents
# into Ready pods of the same image, then runs the in-cluster suite (test/inCluster/) against
# the cluster through its kubeconfig, and deletes the cluster whatever happened. The steps from
# the chart on are test/inCluster/install-and-run.sh, which make e2e-node runs too.
#
# The in-cluster suite is the one `make test` runs on the local cluster's real node: its own
# chart release with this image (the operator under its ServiceAccount, the runtime image
# defaulting to the operator's), the simulator as a Deployment behind a Service. On kind the
# pods are reached through `kubectl port-forward` and Services by their DNS names
# (test/inCluster/clusterReach.ts), since this machine does not route kind's pod network; the
# cases that need that routing (the pod deletion through a Service, the own-agent suite with its
# two agent images) are skipped here. The other integration suites start operators, simulators
# and servers as processes on this machine, which the pods must reach: they need the local
# cluster, whose node's pods do.
#
#   test/kind/e2e.sh
#
#   KIND_CLUSTER       cluster name                 (default breakwater-e2e)
#   KIND_NODE_IMAGE    kindest/node image           (default: kind's own)
#   IMAGE              image to build and load      (default ghcr.io/breakwater-dev/breakwater:e2e)
#   E2E_TESTS          jest path patterns to run    (default test/inCluster/)
#   KEEP_CLUSTER=1     keep the cluster afterwards (its kubeconfig is printed)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH="$root/.breakwater/node/bin:$root/node_modules/.bin:$PATH"

cluster=${KIND_CLUSTER:-breakwater-e2e}
image=${IMAGE:-ghcr.io/breakwater-dev/breakwater:e2e}
work="$root/.breakwater/kind/$cluster"
kubeconfig="$work/kubeconfig"

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Fail fast, before building anything, when the host cannot run kind.
command -v docker >/dev/null 2>&1 || fail "make e2e-kind needs Docker, and there is no docker command"
docker info >/dev/null 2>&1 ||
  fail "make e2e-kind needs a running Docker engine; \`docker info\` cannot reach one (is the daemon up, may this user use its socket?)"
command -v kind >/dev/null 2>&1 ||
  fail "make e2e-kind needs kind (https://kind.sigs.k8s.io): go install sigs.k8s.io/kind@latest"

helm=$(tools/cluster/build-helm.sh)
if [[ -n "${BREAKWATER_KUBECTL:-}" ]]; then
  kubectl=$BREAKWATER_KUBECTL
else
  kubectl="$(tools/cluster/build-binaries.sh kubectl)/kubectl"
fi

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  fail "a kind cluster named $cluster exists already; delete it (kind delete cluster --name $cluster) or set KIND_CLUSTER"
fi

cleanup() {
  local status=$?
  if [[ "${KEEP_CLUSTER:-}" == "1" ]]; then
    say "kept kind cluster $cluster (KEEP_CLUSTER=1): KUBECONFIG=$kubeconfig; kind delete cluster --name $cluster removes it"
  else
    say "deleting kind cluster $cluster"
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT

mkdir -p "$work"
say "building $image"
CONTAINER_TOOL=docker IMAGE_BASES=upstream scripts/image/build-image.sh "$image"

say "creating kind cluster $cluster"
kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 120s \
  ${KIND_NODE_IMAGE:+--image "$KIND_NODE_IMAGE"}

say "loading $image into the cluster's nodes"
kind load docker-image "$image" --name "$cluster"

test/inCluster/install-and-run.sh --kubectl "$kubectl" --helm "$helm" --kubeconfig "$kubeconfig" \
  --image "$image" --cluster "the kind cluster"
