#!/usr/bin/env bash
# make test: the unit and integration projects (the integration suites on the local cluster and
# its real node: the upstream kubelet, containerd, CNI, kube-proxy and CoreDNS); then, where a
# real node can run (root on Linux), the node's own up/down cycle (jest project node-cycle,
# which needs no other node running) and the in-cluster suite as `make e2e-kind` runs it,
# after installing the chart on a node of its own. Each runs whatever the one before gave; the
# last line sums them up the way CI reads it: `tests: N passed, N failed, N skipped`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning"

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
trap 'rm -f "$log"' EXIT
jest --ci --selectProjects unit integration 2>&1 | tee "$log" || status=1
count "$log"

if [[ "$(uname -s)" == Linux && "$(id -u)" == 0 ]]; then
  echo ">> the real node's up/down cycle (jest project node-cycle)"
  jest --ci --selectProjects node-cycle 2>&1 | tee "$log" || status=1
  count "$log"
  echo ">> the in-cluster suite on kind after a chart install (make e2e-kind)"
  test/kind/e2e.sh 2>&1 | tee "$log" || status=1
  count "$log"
else
  echo ">> skipped the real node's cycle and make e2e-kind: they need root on Linux"
fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
