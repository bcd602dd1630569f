#!/usr/bin/env bash
# make test: every jest project on the local cluster, then, where this machine can run a real
# node (root on Linux), the in-cluster suite again on the upstream kubelet (test/realNode/e2e.sh).
# Both run whatever the first gave; the last line sums them up the way CI reads it:
# `tests: N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NODE_OPTIONS="--experimental-vm-modules --no-warnings=ExperimentalWarning"

passed=0 failed=0 status=0
# Adds a run's `tests: N passed, N failed[, N skipped]` line to the totals; a run without one
# (it broke before jest summed up) counts as one failure.
count() {
  local line
  line=$(grep -E '^tests: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    return
  fi
  [[ "$line" =~ ^tests:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]
  passed=$((passed + BASH_REMATCH[1]))
  failed=$((failed + BASH_REMATCH[2]))
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
jest --ci 2>&1 | tee "$log" || status=1
count "$log"

if [[ "$(uname -s)" == Linux && "$(id -u)" == 0 ]]; then
  echo ">> the in-cluster suite on the real node (make e2e-node)"
  test/realNode/e2e.sh 2>&1 | tee "$log" || status=1
  count "$log"
else
  echo ">> skipped the in-cluster suite on the real node: it needs root on Linux (make e2e-node)"
fi

echo
echo "tests: $passed passed, $failed failed"
exit "$status"
