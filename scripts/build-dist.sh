#!/bin/sh
# dist/ as `make build` and the image make it: the TypeScript compiled (tests left out), the
# Lua scripts the rate-limit store and the journal read from beside their code, and the runtime
# bundled with its dependencies into dist/runtime/bundle/ (tools/build/bundleRuntime.ts), which
# `breakwater-runtime` and the image run.
set -eu
npx tsc -p tsconfig.build.json
find dist -name '*.test.js*' -delete
find runtime/src -name '*.lua' -exec sh -c 'mkdir -p "dist/$(dirname "$1")" && cp "$1" "dist/$1"' _ {} \;
node --no-warnings=ExperimentalWarning tools/build/bundleRuntime.ts dist
