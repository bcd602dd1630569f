#!/usr/bin/env bash
# make image: builds the Dockerfile as IMAGE with docker or podman (scripts/image/container-tool.sh
# chooses; CONTAINER_TOOL= overrides).
#
# Bases (IMAGE_BASES): `upstream` builds FROM node:24-slim and distroless/nodejs24, pulled as
# users pull them; `local` builds FROM equivalents made here from Debian's and npm's packages
# (scripts/image/build-bases.sh), for machines that reach no image registry. The default is
# upstream with docker and local with podman.
#
# A CA bundle in NODE_EXTRA_CA_CERTS (a TLS-intercepting proxy's) goes to npm as the build
# secret `ca`, never into a layer.
#
#   scripts/image/build-image.sh <image>
set -euo pipefail

image=${1:?usage: build-image.sh <image>}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/scripts/image"
tool=$("$here/container-tool.sh")
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "build-image: CONTAINER_TOOL=$tool is not installed (make tools installs podman, buildah, runc and debootstrap)" >&2
  exit 1
fi
bases=${IMAGE_BASES:-$([[ $tool == docker ]] && echo upstream || echo local)}

args=(--tag "$image")
case "$bases" in
  upstream) ;;
  local)
    while IFS='=' read -r name ref; do args+=(--build-arg "$name=$ref"); done < <("$here/build-bases.sh" "$tool") ;;
  *) echo "build-image: IMAGE_BASES=$bases; set it to upstream or local" >&2; exit 1 ;;
esac
ca=${NODE_EXTRA_CA_CERTS:-}
if [[ -n "$ca" && -s "$ca" ]]; then args+=(--secret "id=ca,src=$ca"); fi

echo ">> building $image with $tool ($bases bases)" >&2
start=$SECONDS
if [[ $tool == docker ]]; then
  # Build secrets need BuildKit (the default builder since Docker 23).
  DOCKER_BUILDKIT=1 docker build "${args[@]}" "$root"
else
  # Host networking: the build's npm install reaches the registry as this host does.
  "$here/podman.sh" build --network host --layers "${args[@]}" "$root"
fi
echo ">> built $image in $((SECONDS - start)) s" >&2
