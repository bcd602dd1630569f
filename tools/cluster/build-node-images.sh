#!/usr/bin/env bash
# Builds the images the real node runs without pulling anything, into a cache outside the checkout:
#   pause     the sandbox image (node-images/pause: a static Go program that holds a pod's
#             namespaces and reaps zombies), containerd's sandbox_image
#   coredns   the cluster DNS: CoreDNS at the version k8s-binaries/go.mod pins, with the plugins
#             kubeadm's Corefile uses (k8s-binaries/coredns/main.go), built by build-binaries.sh
#             with the Kubernetes binaries (BREAKWATER_COREDNS names one built already)
#   busybox   a shell, nslookup, wget and httpd for tests, from Debian's busybox-static
# Each is a docker-archive made with buildah from scratch (one static binary, no base image), which
# `ctr images import` loads under its name. Later runs find them there and return at once.
#
#   tools/cluster/build-node-images.sh   # prints the directory that holds <name>.tar and images.json
#
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache; BREAKWATER_BUSYBOX (default
# /bin/busybox) names the static busybox, e.g. one taken from the kind node's Debian root;
# BREAKWATER_COREDNS the CoreDNS binary (default: build-binaries.sh coredns builds or finds it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images="$here/node-images"
# shellcheck source=goModVersion.sh
source "$here/goModVersion.sh"
coredns_version=$(module_version "$here/k8s-binaries/go.mod" github.com/coredns/coredns)
[[ -n "$coredns_version" ]] || { echo "error: no github.com/coredns/coredns version in $here/k8s-binaries/go.mod" >&2; exit 1; }
# The pause image and CoreDNS's plugin set change only with their source: named after its hash.
pause_tag=$(cat "$images/pause/go.mod" "$images/pause/main.go" | sha256sum | cut -c1-12)
coredns_tag=$coredns_version-$(cat "$here/k8s-binaries/go.mod" "$here/k8s-binaries/coredns/main.go" | sha256sum | cut -c1-8)
cache="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}/node-images-coredns-$coredns_tag-pause-$pause_tag"
busybox=${BREAKWATER_BUSYBOX:-/bin/busybox}

declare -A refs=(
  [pause]="localhost/breakwater/pause:$pause_tag"
  [coredns]="localhost/breakwater/coredns:$coredns_tag"
  [busybox]="localhost/breakwater/busybox:1"
)
order=(pause coredns busybox)

missing=()
for name in "${order[@]}"; do [[ -f "$cache/$name.tar" ]] || missing+=("$name"); done
if ((${#missing[@]} == 0)) && [[ -f "$cache/images.json" ]]; then
  echo "$cache"
  exit 0
fi

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "error: the real node's images need $1, which is not installed ($2)" >&2
  exit 1
}
need go "Go 1.26 or newer builds pause"
need buildah "apt-get install buildah"
[[ -x "$busybox" ]] && file -L "$busybox" | grep -q 'statically linked' ||
  { echo "error: the test image needs a static busybox at $busybox (BREAKWATER_BUSYBOX; tools/kindNode/build-node-image.sh takes it from the node's Debian root)" >&2; exit 1; }

mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Go builds print a heartbeat, so that minutes of compiling do not look like a hang.
build_go() {
  local name=$1 dir=$2 package=$3 hint=${4:-} started heartbeat
  started=$(date +%s)
  echo ">> building $name into $cache$hint" >&2
  (while ! read -rt 30 <> <(:); do echo ">>       still building $name ($(($(date +%s) - started))s)" >&2; done) &
  heartbeat=$!
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/$name" "$package") ||
    { kill "$heartbeat" 2>/dev/null; echo "error: go build of $name failed" >&2; exit 1; }
  kill "$heartbeat" 2>/dev/null || true
  wait "$heartbeat" 2>/dev/null || true
  echo ">> $name built in $(($(date +%s) - started))s" >&2
}

# One static binary in an image from scratch; buildah writes the archive without a daemon.
package_image() {
  local name=$1 binary=$2 entrypoint=$3 container
  container=$(buildah from scratch)
  buildah copy --quiet "$container" "$binary" "$entrypoint" >/dev/null
  buildah config --entrypoint "[\"$entrypoint\"]" --cmd '[]' "$container"
  rm -f "$cache/$name.tar.partial.$$"
  buildah commit --quiet "$container" "docker-archive:$cache/$name.tar.partial.$$:${refs[$name]}" >/dev/null
  buildah rm "$container" >/dev/null
  mv "$cache/$name.tar.partial.$$" "$cache/$name.tar"
  echo ">> image ${refs[$name]} in $cache/$name.tar" >&2
}

for name in "${missing[@]}"; do
  case "$name" in
    pause)
      build_go pause "$images/pause" .
      package_image pause "$work/pause" /pause ;;
    coredns)
      coredns=${BREAKWATER_COREDNS:-}
      [[ -n "$coredns" ]] || coredns="$("$here/build-binaries.sh" coredns)/coredns" ||
        { echo "error: tools/cluster/build-binaries.sh coredns failed" >&2; exit 1; }
      package_image coredns "$coredns" /coredns ;;
    busybox)
      # busybox finds its applets through its own name: /bin/sh is a link to it.
      container=$(buildah from scratch)
      buildah copy --quiet "$container" "$busybox" /bin/busybox >/dev/null
      mount=$(buildah mount "$container")
      for applet in sh nslookup wget httpd nc sleep cat ls ip hostname; do ln -s busybox "$mount/bin/$applet"; done
      buildah umount "$container" >/dev/null
      buildah config --entrypoint '[]' --cmd '["/bin/sh"]' --env PATH=/bin "$container"
      rm -f "$cache/busybox.tar.partial.$$"
      buildah commit --quiet "$container" "docker-archive:$cache/busybox.tar.partial.$$:${refs[busybox]}" >/dev/null
      buildah rm "$container" >/dev/null
      mv "$cache/busybox.tar.partial.$$" "$cache/busybox.tar"
      echo ">> image ${refs[busybox]} in $cache/busybox.tar" >&2 ;;
  esac
done

printf '{\n  "pause": "%s",\n  "coredns": "%s",\n  "busybox": "%s"\n}\n' \
  "${refs[pause]}" "${refs[coredns]}" "${refs[busybox]}" >"$cache/images.json"
echo "$cache"
