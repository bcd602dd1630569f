#!/bin/sh
# The files the image ships, laid out as in its /app, from a `make build` checkout: package.json,
# the programs' bundles, the entrypoint, and node_modules pruned to the packages the bundles load
# at run time and their dependencies (tools/build/pruneNodeModules.ts, as the Dockerfile's `deps`
# stage does). Hard links, so it is quick and takes no space; the checkout is left as it was.
# make test runs the suites that reach the late-loaded packages on this layout, so a package the
# image leaves out fails there first. test/imageLayout.unit.test.ts holds the links below to the
# Dockerfile's last stage.
#
#   scripts/image-layout.sh DIR
set -eu
dir=${1:?usage: scripts/image-layout.sh DIR}
rm -rf "$dir"
mkdir -p "$dir/dist/runtime" "$dir/dist/platform/src"
cp package.json "$dir/"
cp -al dist/bundle "$dir/dist/bundle"
cp -al dist/runtime/bundle "$dir/dist/runtime/bundle"
cp -al dist/platform/src/node "$dir/dist/platform/src/node"
cp -al node_modules "$dir/node_modules"
node --no-warnings=ExperimentalWarning tools/build/pruneNodeModules.ts "$dir/node_modules" dist/node-modules.json
