#!/bin/sh
# dist/ as `make build` and the image make it: the TypeScript compiled (tests left out), the
# Lua scripts the rate-limit store and the journal read from beside their code, and each program
# bundled with its dependencies (tools/build/bundlePrograms.ts): the runtime into
# dist/runtime/bundle/, the operator, the simulator and the kubectl plugin into dist/bundle/,
# which package.json's binaries and the image run; dist/node-modules.json names the packages
# they still load from node_modules.
set -eu
npx tsc -p tsconfig.build.json
find dist -name '*.test.js*' -delete
find runtime/src -name '*.lua' -exec sh -c 'mkdir -p "dist/$(dirname "$1")" && cp "$1" "dist/$1"' _ {} \;
node --no-warnings=ExperimentalWarning tools/build/bundlePrograms.ts dist
