#!/usr/bin/env bash
# make e2e-node: the in-cluster suite on the real node — the upstream kubelet, containerd, runc,
# the CNI bridge, kube-proxy and CoreDNS of `BREAKWATER_NODE=kubelet make cluster-up` — the way
# `make e2e-kind` runs it on kind. Starts a cluster of its own (its own state directory and ports,
# beside the shared local cluster), builds the image with podman (make image's script), imports
# it into the node's containerd (never pulled), installs the chart, checks that the operator
# reconciles the sample agents into Ready pods of the image, runs test/inCluster/ against the
# cluster through its kubeconfig (pods at their IPs and agents through their Services'
# ClusterIPs, both routed from this machine; Services by their DNS names inside:
# test/inCluster/clusterReach.ts), and stops the cluster whatever happened, which puts the host
# back as it was.
#
#   test/realNode/e2e.sh
#
#   IMAGE              image to build and import   (default ghcr.io/breakwater-dev/breakwater:e2e)
#   E2E_TESTS          jest path patterns to run    (default test/inCluster/)
#   KEEP_CLUSTER=1     keep the cluster afterwards (its kubeconfig is printed)
#
# Needs root on Linux (containerd, iptables, mounts). One real node per host: the kubelet's
# ports are fixed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH="$root/.breakwater/node/bin:$root/node_modules/.bin:$PATH"

image=${IMAGE:-ghcr.io/breakwater-dev/breakwater:e2e}
tests=${E2E_TESTS:-test/inCluster/}
namespace=breakwater-system
samples=breakwater-samples
state="$root/.breakwater/e2e-node"
kubeconfig="$state/kubeconfig"

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux && "$(id -u)" == 0 ]] ||
  fail "make e2e-node runs a kubelet and containerd: it needs root on Linux"

# Its own cluster, clear of the shared one's state and ports (52379, 56443, ...).
export BREAKWATER_NODE=kubelet BREAKWATER_DIR="$state"
export BREAKWATER_ETCD_PORT=48379 BREAKWATER_ETCD_PEER_PORT=48380 BREAKWATER_APISERVER_PORT=48443
export BREAKWATER_CONTROLLER_MANAGER_PORT=48457 BREAKWATER_SCHEDULER_PORT=48459
cluster() { node --no-warnings=ExperimentalWarning tools/cluster/cli.ts "$@"; }

cleanup() {
  local status=$?
  if [[ "${KEEP_CLUSTER:-}" == "1" ]]; then
    say "kept the cluster (KEEP_CLUSTER=1): KUBECONFIG=$kubeconfig; BREAKWATER_DIR=$state BREAKWATER_NODE=kubelet make cluster-down stops it"
  else
    say "stopping the real-node cluster"
    cluster down || status=1
  fi
  exit "$status"
}
trap cleanup EXIT

helm=$(tools/cluster/build-helm.sh)
kubectl="$(tools/cluster/build-binaries.sh kubectl)/kubectl"

say "starting the real-node cluster in $state"
cluster up

say "building $image"
CONTAINER_TOOL=podman scripts/image/build-image.sh "$image"

say "importing $image into the node's containerd"
archive=$(mktemp --suffix=.tar)
scripts/image/podman.sh save --format docker-archive -o "$archive" "$image" >/dev/null
ctr --address "$state/realnode/containerd/containerd.sock" --namespace k8s.io images import "$archive" >&2
rm -f "$archive"

k() { "$kubectl" --kubeconfig "$kubeconfig" "$@"; }

say "installing the chart into $namespace, watching $samples"
k create namespace "$samples"
"$helm" install breakwater charts/breakwater \
  --kubeconfig "$kubeconfig" \
  --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" \
  --set image.pullPolicy=Never \
  --set watchNamespace="$samples" \
  --set replicaCount=2 --set podDisruptionBudget.enabled=true \
  --wait --timeout 3m
k -n "$namespace" rollout status deployment/breakwater --timeout=2m

say "applying the sample agents; the operator must bring them up Ready"
k -n "$samples" apply --server-side -k config/samples
if ! k -n "$samples" wait agentdeployment --all --for=condition=Ready --timeout=5m; then
  k -n "$samples" get agentdeployments,deployments,pods -o wide >&2 || true
  k -n "$namespace" logs deployment/breakwater --tail=50 >&2 || true
  fail "the sample agents did not become Ready"
fi

say "running the suite ($tests) against the real-node cluster"
# This machine routes the pod network and the Service addresses (test/inCluster/clusterReach.ts).
BREAKWATER_KUBECONFIG="$kubeconfig" \
  BREAKWATER_CLUSTER_ROUTED=1 \
  BREAKWATER_KUBECTL="$kubectl" \
  BREAKWATER_CHART_IMAGE="$image" \
  NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" \
  jest --ci --selectProjects integration --testPathPatterns "$tests"
