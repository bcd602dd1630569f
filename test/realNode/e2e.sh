#!/usr/bin/env bash
# make e2e-node: the in-cluster suite on the real node — the upstream kubelet, containerd, runc,
# the CNI bridge, kube-proxy and CoreDNS of `make cluster-up` — after a chart install, the way
# `make e2e-kind` runs it on kind. Starts a cluster of its own (its own state directory and
# ports), whose `up` builds IMAGE with podman (make image's script) and imports it into the
# node's containerd (never pulled), installs the chart, checks that the operator
# reconciles the sample agents into Ready pods of the image, runs test/inCluster/ against the
# cluster through its kubeconfig (pods at their IPs and agents through their Services'
# ClusterIPs, both routed from this machine; Services by their DNS names inside:
# test/inCluster/clusterReach.ts), and stops the cluster whatever happened, which puts the host
# back as it was. The steps from the chart on are test/inCluster/install-and-run.sh, which make
# e2e-kind runs too.
#
#   test/realNode/e2e.sh
#   test/realNode/e2e.sh <command> [args...]   # instead of the chart and the suite, run a command
#                                              # against the cluster (make bench-sidecar)
#
# A command gets the cluster as the suite does: BREAKWATER_KUBECONFIG, BREAKWATER_KUBECTL,
# BREAKWATER_CHART_IMAGE (the image the node has), BREAKWATER_CLUSTER_ROUTED=1 and
# BREAKWATER_CONTAINERD_ADDRESS (where images it builds go).
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
state="$root/.breakwater/e2e-node"
kubeconfig="$state/kubeconfig"

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

[[ "$(uname -s)" == Linux && "$(id -u)" == 0 ]] ||
  fail "make e2e-node runs a kubelet and containerd: it needs root on Linux"

# Its own cluster, clear of the shared one's state and ports (52379, 56443, ...).
export BREAKWATER_NODE=kubelet BREAKWATER_DIR="$state" BREAKWATER_IMAGE="$image"
export BREAKWATER_ETCD_PORT=48379 BREAKWATER_ETCD_PEER_PORT=48380 BREAKWATER_APISERVER_PORT=48443
export BREAKWATER_CONTROLLER_MANAGER_PORT=48457 BREAKWATER_SCHEDULER_PORT=48459
cluster() { node --no-warnings=ExperimentalWarning tools/cluster/cli.ts "$@"; }

# After a failure: what the suite's messages cannot show, from the host and the node's logs.
diagnose() {
  say "the suite failed; the host's network and the node's last complaints follow"
  ip -4 -br addr >&2 || true
  ip -4 route >&2 || true
  local log
  for log in kube-proxy kubelet containerd; do
    if [[ -f "$state/logs/$log.log" ]]; then
      say "$log: its last warnings and errors"
      grep -E '^[EW][0-9]{4} |level=(error|warning)' "$state/logs/$log.log" | tail -n 25 | cut -c1-400 >&2 || true
    fi
  done
}

cleanup() {
  local status=$?
  if ((status != 0)); then diagnose; fi
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

say "starting the real-node cluster in $state (it builds and imports $image)"
cluster up

# The agents the suite builds (test/inCluster/agentImages.ts) go into the node's containerd too.
export BREAKWATER_CONTAINERD_ADDRESS="$state/realnode/containerd/containerd.sock"
if (($# > 0)); then
  say "running $* against the real-node cluster"
  BREAKWATER_KUBECONFIG="$kubeconfig" BREAKWATER_KUBECTL="$kubectl" BREAKWATER_CHART_IMAGE="$image" \
    BREAKWATER_CLUSTER_ROUTED=1 "$@"
  exit
fi
test/inCluster/install-and-run.sh --kubectl "$kubectl" --helm "$helm" --kubeconfig "$kubeconfig" \
  --image "$image" --cluster "the real-node cluster" --routed
