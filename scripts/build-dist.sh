#!/bin/sh
# dist/ as `make build` and the image make it: the TypeScript compiled (tests left out), and
# the Lua scripts the rate-limit store and the journal read from beside their code.
set -eu
npx tsc -p tsconfig.build.json
find dist -name '*.test.js*' -delete
find runtime/src -name '*.lua' -exec sh -c 'mkdir -p "dist/$(dirname "$1")" && cp "$1" "dist/$1"' _ {} \;
