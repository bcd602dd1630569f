#!/usr/bin/env bash
# Builds the OpenTelemetry Collector of builder-config.yaml (an OTLP receiver, a file
# exporter) with the collector builder, into a cache outside the checkout, and prints the
# path of the binary. Later runs find it there and return at once.
#
#   tools/collector/build-collector.sh   # prints e.g. ~/.cache/breakwater/otelcol-v0.165.0/breakwater-otelcol
#
# TEST_ASSET_OTELCOL, when set, names a collector to use instead (nothing is built).
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache.
set -euo pipefail

if [[ -n "${TEST_ASSET_OTELCOL:-}" ]]; then
  [[ -x "$TEST_ASSET_OTELCOL" ]] || { echo "error: TEST_ASSET_OTELCOL=$TEST_ASSET_OTELCOL is not an executable" >&2; exit 1; }
  echo "$TEST_ASSET_OTELCOL"
  exit 0
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config="$here/builder-config.yaml"
version=$(sed -n 's/^  version: *//p' "$config")
dir="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}/otelcol-v$version"
bin="$dir/breakwater-otelcol"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
error: the collector v$version is not cached in $dir and Go is not installed to build it.
Either install Go (1.26 or newer), or point TEST_ASSET_OTELCOL at an otelcol binary with
the otlp receiver and the file exporter.
MSG
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building the OpenTelemetry Collector v$version with the collector builder (a few minutes, once)" >&2
GOBIN="$work/bin" go install "go.opentelemetry.io/collector/cmd/builder@v$version" >&2
sed "s|output_path: ./build|output_path: $work/build|" "$config" >"$work/builder-config.yaml"
# The builder's own `go mod tidy` fetches the tests' dependencies of every component too, and
# a module proxy may refuse some of those (proxy.golang.org answers 403 for a few contrib test
# modules): the builder writes the sources and go.mod, `go mod tidy -e` resolves what it can,
# and the build needs only what the binary imports.
"$work/bin/builder" --config "$work/builder-config.yaml" --skip-compilation >&2 ||
  [[ -f "$work/build/go.mod" ]] || { echo "error: the collector builder wrote no sources" >&2; exit 1; }
(cd "$work/build" && go mod tidy -e >&2 && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o breakwater-otelcol . >&2)
mkdir -p "$dir"
# Moved into place whole, so a build cut short never leaves a binary that looks cached.
cp "$work/build/breakwater-otelcol" "$dir/.breakwater-otelcol.partial"
mv "$dir/.breakwater-otelcol.partial" "$bin"
echo "$bin"
