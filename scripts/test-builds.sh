#!/usr/bin/env bash
# What the cluster suites of `make test` need built before their cluster comes up, built side
# by side: kind's node image (Kubernetes, CoreDNS and crictl from their Go modules on a machine
# that has never built them: about 11 minutes of two cores) and Breakwater's image.
# scripts/test-all.sh starts it niced, beside the static checks and the tests that need no
# cluster, and waits for it before the cluster suites; the global setup then finds both built
# (the node image holds a lock, so a build already under way elsewhere is waited for; the
# image's build finds podman's layers). helm is not among them: the global setup builds it
# beside `kind create cluster`, which leaves the cores mostly idle, after the node image, whose
# compiled packages it shares (decision 0052).
#
#   scripts/test-builds.sh     # exits non-zero when either failed (each is waited for)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/.breakwater/node/bin:$PWD/node_modules/.bin:$PATH"

# The image the suites load, as tools/cluster/projectImage.ts names it.
image=${BREAKWATER_IMAGE:-ghcr.io/breakwater-dev/breakwater:$(node -p 'require("./package.json").version')}

started=$(date +%s)
pids=() names=()
run() {
  local name=$1
  shift
  ("$@" 2>&1 | sed -u "s/^/[$name] /") &
  pids+=("$!") names+=("$name")
}
run node-image tools/kindNode/kind-cluster.sh node-image
run image scripts/image/build-image.sh "$image"

status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo ">> ${names[$i]}: build failed" >&2
    status=1
  fi
done
echo ">> builds for the cluster suites done in $(($(date +%s) - started)) s (status $status)"
exit "$status"
