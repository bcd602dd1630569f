#!/usr/bin/env bash
# Makes the Redis image the cluster suites run a store in pods from (a primary, replicas and
# sentinels), on a machine that reaches no image registry, the way build-bases.sh makes the
# bases: from Debian bookworm's redis-server and redis-sentinel packages (mmdebstrap, from apt's
# Debian mirror; its policy-rc.d keeps the packages' scripts from starting a server), laid out
# as distroless lays out an image — redis-server and redis-sentinel, the shared libraries they
# link, dash as /bin/sh (a pod writes the config file sentinel rewrites), the user nonroot
# (65532) and nothing else: no package manager, no CA bundle of this machine. Prints
#   REDIS_IMAGE=<ref>
#
# Cached in ~/.cache/breakwater/image-bases/<key>/redis.tar, the key naming the suite and this
# recipe, and imported into the container tool's storage when missing there: the first run
# takes about a minute, later ones a second.
#
#   scripts/image/build-redis-image.sh <docker|podman>
set -euo pipefail

tool=${1:?usage: build-redis-image.sh <docker|podman>}
suite=bookworm
recipe=1 # bump when this script makes a different image from the same packages
key="debian-$suite-redis-r$recipe"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/breakwater/image-bases/$key"
ref="localhost/breakwater-redis:$key"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf '>> %s\n' "$*" >&2; }
fail() { printf 'build-redis-image: %s\n' "$*" >&2; exit 1; }

make_tarball() {
  [[ $(id -u) -eq 0 ]] || fail "mmdebstrap needs root to make the Redis image's root filesystem; run as root"
  command -v mmdebstrap >/dev/null 2>&1 || fail "mmdebstrap is missing: apt-get install mmdebstrap (scripts/ensure-tools.sh does)"
  local work mirror
  work=$(mktemp -d "${TMPDIR:-/tmp}/breakwater-redis.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  mirror=$("$here/debian-mirror.sh")
  say "mmdebstrap $suite with redis-server and redis-sentinel from $mirror — once, then cached in $cache"
  if ! mmdebstrap --variant=essential --include=redis-server,redis-sentinel "$suite" "$work/debian" "$mirror" \
    >"$work/mmdebstrap.log" 2>&1; then
    tail -n 20 "$work/mmdebstrap.log" >&2
    fail "mmdebstrap failed (log above)"
  fi
  local debian="$work/debian" root="$work/root"
  mkdir -p "$root"/{usr/bin,etc,tmp,data,home/nonroot}
  # redis-server and redis-sentinel are links to one binary that acts on the name it runs as.
  cp -L "$debian/usr/bin/redis-server" "$root/usr/bin/redis-server"
  ln -s redis-server "$root/usr/bin/redis-sentinel"
  cp -L "$debian/usr/bin/dash" "$root/usr/bin/dash"
  while read -r lib; do
    [[ -n "$lib" ]] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$debian$lib" "$root$lib"
  done < <(chroot "$debian" ldd /usr/bin/redis-server /usr/bin/dash | grep -oE '/[^ :]+\.so[^ ]*' | sort -u)
  for link in lib lib64 bin sbin; do
    if [[ -L "$debian/$link" ]]; then cp -a "$debian/$link" "$root/$link"; fi
  done
  ln -s dash "$root/usr/bin/sh"
  # What the packages were, for whoever asks the image.
  chroot "$debian" dpkg-query -W redis-server redis-sentinel redis-tools libc6 >"$root/etc/breakwater-redis-packages"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  chown 65532:65532 "$root/home/nonroot" "$root/data"
  mkdir -p "$cache.tmp"
  # Reproducible: the same files give the same tarball (names sorted, one time, numeric owners).
  tar --numeric-owner --sort=name --mtime=@0 -C "$root" -cf "$cache.tmp/redis.tar" .
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
}

if ! "$tool" image inspect "$ref" >/dev/null 2>&1; then
  started=$SECONDS
  [[ -f "$cache/redis.tar" ]] || make_tarball
  say "importing the Redis image into $tool's image storage"
  "$tool" import --quiet \
    --change "ENV PATH=/usr/bin" \
    --change "USER 65532" \
    --change "WORKDIR /data" \
    --change 'ENTRYPOINT ["/usr/bin/redis-server"]' \
    "$cache/redis.tar" "$ref" >/dev/null
  say "Redis image $ref in $((SECONDS - started)) s"
fi
echo "REDIS_IMAGE=$ref"
