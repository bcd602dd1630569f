#!/usr/bin/env bash
# What `make e2e-kind` (test/kind/e2e.sh) does once
# their cluster runs with the image on its node: install the chart into breakwater-system,
# watching breakwater-samples; apply the sample agents and wait until the operator brings them
# up Ready; then run the in-cluster suite against the cluster through its kubeconfig. The
# caller owns the cluster and takes it down.
#
#   test/inCluster/install-and-run.sh --kubectl <path> --helm <path> --kubeconfig <file> \
#     --image <image> --cluster <words for the messages> [--routed]
#
#   --routed           this machine routes the pod network and the Service addresses (the real
#                      node), and the suite reaches pods that way (test/inCluster/clusterReach.ts)
#   E2E_TESTS          jest path patterns to run    (default test/inCluster/)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export PATH="$root/.breakwater/node/bin:$root/node_modules/.bin:$PATH"

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

kubectl='' helm='' kubeconfig='' image='' cluster='' routed=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kubectl) kubectl=${2:?--kubectl needs a path}; shift 2 ;;
    --helm) helm=${2:?--helm needs a path}; shift 2 ;;
    --kubeconfig) kubeconfig=${2:?--kubeconfig needs a file}; shift 2 ;;
    --image) image=${2:?--image needs an image}; shift 2 ;;
    --cluster) cluster=${2:?--cluster needs words for the messages}; shift 2 ;;
    --routed) routed=1; shift ;;
    *) fail "install-and-run.sh: unknown argument $1" ;;
  esac
done
for required in kubectl helm kubeconfig image cluster; do
  [[ -n "${!required}" ]] || fail "install-and-run.sh: --$required is missing"
done

tests=${E2E_TESTS:-test/inCluster/}
namespace=breakwater-system
samples=breakwater-samples

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

# They have shown what they show; on a two-CPU node their CPU requests (100m a pod) would keep
# the suite's own pods from being scheduled (kind runs the control plane there too).
# Their pods drain before they go (terminationGracePeriodSeconds): wait for the pods, not for
# the namespace's finalization, which took more than two minutes on kind.
say "deleting the sample agents"
k delete namespace "$samples" --wait=false
k -n "$samples" wait --for=delete pod --all --timeout=5m

say "running the suite ($tests) against $cluster"
if [[ $routed == 1 ]]; then export BREAKWATER_CLUSTER_ROUTED=1; fi
# The suite takes the cluster from BREAKWATER_KUBECONFIG and starts no cluster of its own;
# BREAKWATER_CHART_IMAGE tells it which image the nodes have (it installs its own release).
BREAKWATER_KUBECONFIG="$kubeconfig" \
  BREAKWATER_KUBECTL="$kubectl" \
  BREAKWATER_CHART_IMAGE="$image" \
  NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning" \
  jest --ci --selectProjects integration --testPathPatterns "$tests"
