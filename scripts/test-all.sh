#!/usr/bin/env bash
# make test: the static checks (generated files, types, lint, format); the unit and integration
# projects (the integration suites on a one-node kind cluster the global setup brings up and
# takes down: kubeadm's control plane, the kubelet, containerd, kube-proxy and CoreDNS in a node
# container); then the in-cluster suite as `make e2e-kind` runs it, after installing the chart on
# a kind cluster of its own. Each runs whatever the one before gave; the last line sums them up
# the way CI reads it:
# `tests: N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0 failed=0 skipped=0 status=0
# Adds a run's `tests: N passed, N failed[, N skipped]` line to the totals (skipped counts
# jest's skipped and todo tests; a run that prints none skipped none); a run without the line
# (it broke before jest summed up) counts as one failure.
count() {
  local line
  line=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    return
  fi
  [[ "$line" =~ ^tests:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]
  passed=$((passed + BASH_REMATCH[1]))
  failed=$((failed + BASH_REMATCH[2]))
  skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
}

log=$(mktemp)
# On a machine that has never built it, kind's node image is the longest step (Kubernetes from
# its Go modules: about 15 minutes on two cores). It starts now, beside the static checks, which
# mostly keep one core busy; the cluster's `up` waits for it (the build holds a lock) and finds
# it. Warm, it answers at once. Its own process group, so that it stops with this script.
early_build=""
if [[ -z "${BREAKWATER_KUBECONFIG:-}" && "$(tools/kindNode/kind-cluster.sh status 2>/dev/null)" != running ]]; then
  mkdir -p .breakwater/logs
  setsid tools/kindNode/kind-cluster.sh node-image >.breakwater/logs/node-image.log 2>&1 &
  early_build=$!
fi
stop_early_build() {
  if [[ -n "$early_build" ]] && kill -0 "$early_build" 2>/dev/null; then
    kill -- "-$early_build" 2>/dev/null || true
    wait "$early_build" 2>/dev/null || true
  fi
}
trap 'rm -f "$log"; stop_early_build' EXIT

if ! make --no-print-directory verify-generated typecheck lint format-check; then
  echo
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
if [[ -n "$early_build" ]] && kill -0 "$early_build" 2>/dev/null; then
  echo ">> kind's node image is still building (.breakwater/logs/node-image.log); the cluster's set-up waits for it"
fi

export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning"
jest --ci --selectProjects unit integration 2>&1 | tee "$log" || status=1
count "$log"

echo ">> the in-cluster suite on kind after a chart install (make e2e-kind)"
test/kind/e2e.sh 2>&1 | tee "$log" || status=1
count "$log"

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
