#!/usr/bin/env bash
# make e2e-kind: Breakwater on kind. Brings up a one-node kind cluster with
# tools/kindNode/kind-cluster.sh (kind pinned; the provider is Docker when `docker info` works,
# else podman; the node image is KIND_NODE_IMAGE or, when unset, kind's own by digest where
# Docker can pull it, else the one built here without a registry: tools/kindNode/README.md), builds the image (make image's script) and loads it into
# the node (`kind load image-archive`), installs the chart, checks that the operator reconciles
# the sample agents into Ready pods of the same image, then runs the in-cluster suite
# (test/inCluster/) against the cluster through its kubeconfig, and takes the cluster down
# whatever happened, putting back what `up` changed on this machine (and checking that). The
# steps from the chart on are test/inCluster/install-and-run.sh.
#
# `up` routes kind's pod and Service networks through the node, as for the integration suites,
# so the suite reaches pods at their IP and runs the cases that need it (the own-agent
# suite, whose two agent images are loaded into the node the same way).
#
#   test/kind/e2e.sh
#   test/kind/e2e.sh <command> [args...]   # instead of the chart and the suite, run a command
#                                          # against the cluster (make bench-sidecar)
#
# A command gets the cluster as the suite does: BREAKWATER_KUBECONFIG, BREAKWATER_KUBECTL,
# BREAKWATER_CHART_IMAGE (the image the node has), BREAKWATER_CLUSTER_ROUTED=1,
# BREAKWATER_POD_HOST and BREAKWATER_KIND_CLUSTER (where images it builds go).
#
#   KIND_CLUSTER       cluster name                 (default breakwater-e2e)
#   KIND_NODE_IMAGE    node image                   (default: kind's, by digest, where Docker can pull it; else built here)
#   IMAGE              image to build and load      (default ghcr.io/breakwater-dev/breakwater:e2e)
#   E2E_TESTS          jest path patterns to run    (default test/inCluster/)
#   KEEP_CLUSTER=1     keep the cluster afterwards (its kubeconfig is printed; make kind-down's
#                      script, with BREAKWATER_KIND_CLUSTER=<name>, takes it down)
# One cluster per host: hold /tmp/bw-cluster.lock around it (flock /tmp/bw-cluster.lock make e2e-kind).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH="$root/.breakwater/node/bin:$root/node_modules/.bin:$PATH"

cluster=${KIND_CLUSTER:-breakwater-e2e}
image=${IMAGE:-ghcr.io/breakwater-dev/breakwater:e2e}
export BREAKWATER_KIND_CLUSTER=$cluster
kind_cluster() { tools/kindNode/kind-cluster.sh "$@"; }

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

# Fail fast, before building anything, when the host cannot run kind.
docker=0
if docker info >/dev/null 2>&1; then
  docker=1
elif ! command -v podman >/dev/null 2>&1; then
  fail "make e2e-kind needs a container engine for kind's node: a running Docker (docker info) or podman"
fi

helm=$(tools/cluster/build-helm.sh)
if [[ -n "${BREAKWATER_KUBECTL:-}" ]]; then
  kubectl=$BREAKWATER_KUBECTL
else
  kubectl="$(tools/cluster/build-binaries.sh kubectl)/kubectl"
fi

# A live one is somebody's; a dead one (listed, its node gone with a reboot or a killed run)
# `up` deletes and creates anew.
if [[ "$(kind_cluster status)" == running ]]; then
  fail "a kind cluster named $cluster runs already; take it down (BREAKWATER_KIND_CLUSTER=$cluster tools/kindNode/kind-cluster.sh down) or set KIND_CLUSTER"
fi

started=$(now)
cleanup() {
  local status=$?
  if [[ "${KEEP_CLUSTER:-}" == "1" ]]; then
    say "kept kind cluster $cluster (KEEP_CLUSTER=1): KUBECONFIG=${kubeconfig:-}; BREAKWATER_KIND_CLUSTER=$cluster tools/kindNode/kind-cluster.sh down removes it"
  else
    say "taking kind cluster $cluster down"
    kind_cluster down || status=1
  fi
  say "make e2e-kind: exit $status after $(($(now) - started))s"
  exit "$status"
}
trap cleanup EXIT

say "building $image"
step=$(now)
if ((docker)); then
  CONTAINER_TOOL=docker IMAGE_BASES=upstream scripts/image/build-image.sh "$image"
else
  CONTAINER_TOOL=podman scripts/image/build-image.sh "$image"
fi
say "image built in $(($(now) - step))s"

say "bringing up kind cluster $cluster"
step=$(now)
kubeconfig=$(kind_cluster up | tail -n 1)
say "cluster up in $(($(now) - step))s"
kind_cluster load "$image"

# BREAKWATER_POD_HOST, BREAKWATER_CLUSTER_ROUTED and BREAKWATER_KIND_CLUSTER for the suite.
eval "$(kind_cluster env "$image")"
if (($# > 0)); then
  say "running $* against the kind cluster $cluster"
  BREAKWATER_KUBECTL="$kubectl" "$@"
  exit
fi
step=$(now)
test/inCluster/install-and-run.sh --kubectl "$kubectl" --helm "$helm" --kubeconfig "$kubeconfig" \
  --image "$image" --cluster "the kind cluster $cluster" \
  ${BREAKWATER_CLUSTER_ROUTED:+--routed}
say "chart, samples and suite in $(($(now) - step))s"
