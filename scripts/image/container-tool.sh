#!/usr/bin/env bash
# Prints the container tool `make image` builds with: $CONTAINER_TOOL when set (docker or
# podman), else docker when `docker info` reaches an engine (a docker binary without a daemon
# does not count), else podman when installed.
set -euo pipefail

case "${CONTAINER_TOOL:-}" in
  docker | podman) echo "$CONTAINER_TOOL"; exit 0 ;;
  '') ;;
  *) echo "container-tool: CONTAINER_TOOL=$CONTAINER_TOOL; set it to docker or podman" >&2; exit 1 ;;
esac
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; exit 0; fi
if command -v podman >/dev/null 2>&1; then echo podman; exit 0; fi
echo "container-tool: no container tool: \`docker info\` reaches no engine and podman is not installed." >&2
echo "  Start Docker, or install podman and buildah (apt-get install podman buildah runc; make tools does)." >&2
exit 1
