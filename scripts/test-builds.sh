#!/usr/bin/env bash
# What the cluster suites of `make test` need built, built side by side before they start:
# kind's node image (Kubernetes from its Go modules on a machine that has never built it: about
# 15 minutes of two cores), Breakwater's image, and helm. scripts/test-all.sh starts it niced,
# beside the static checks and the tests that need no cluster, and waits for it before the
# cluster suites; the global setup then finds all three built (the node image and helm hold a
# lock, so a build already under way elsewhere is waited for; the image's build finds podman's
# layers). The image builds beside the other two; helm waits for the node image (below).
#
#   scripts/test-builds.sh     # exits non-zero when any of the three failed (each is waited for)
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
# helm after the node image: it is pinned to the modules the cluster's binaries are built from
# (tools/cluster/pin-helm.sh), so Go's build cache then holds most of its packages. Built at the
# same time, both would compile them.
node_image_then_helm() {
  tools/kindNode/kind-cluster.sh node-image
  local built=$?
  tools/cluster/build-helm.sh >/dev/null || return 1
  return "$built"
}
run node-image+helm node_image_then_helm
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
