#!/usr/bin/env bash
# Assembles the two base root filesystems from a debootstrapped Debian tree, a Node binary and
# an unpacked npm package, and writes them as <out>/build.tar and <out>/runtime.tar (see
# build-bases.sh for what each stands in for).
#
#   assemble-bases.sh <debian-root> <node-binary> <npm-package-dir> <out-dir>
set -euo pipefail

debian=${1:?debian root} node=${2:?node binary} npm=${3:?npm package} out=${4:?out dir}
mkdir -p "$out"

# The build base: node:24-slim's layout (node and npm under /usr/local).
install -D -m 0755 "$node" "$debian/usr/local/bin/node"
mkdir -p "$debian/usr/local/lib/node_modules"
cp -a "$npm" "$debian/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$debian/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$debian/usr/local/bin/npx"
# Nothing of apt's caches in an image.
rm -rf "$debian/var/cache/apt/archives/"*.deb "$debian/var/lib/apt/lists/"*
tar --numeric-owner -C "$debian" -cf "$out/build.tar" .

# The runtime base: only what Node needs to run, laid out as distroless lays it out.
runtime="$out/runtime"
mkdir -p "$runtime"/{nodejs/bin,etc/ssl/certs,tmp,home/nonroot,root,usr/share}
install -m 0755 "$node" "$runtime/nodejs/bin/node"
# The shared libraries Node links, and the dynamic loader, resolved inside the Debian tree.
while read -r lib; do
  [[ -n "$lib" ]] || continue
  mkdir -p "$runtime$(dirname "$lib")"
  cp -L "$debian$lib" "$runtime$lib"
done < <(chroot "$debian" ldd /usr/local/bin/node | grep -oE '/[^ ]+' | sort -u)
# /lib64 and /lib are symlinks into /usr on bookworm (merged /usr): keep them so.
for link in lib lib64 bin sbin; do
  if [[ -L "$debian/$link" ]]; then cp -a "$debian/$link" "$runtime/$link"; fi
done
cp -L "$debian/etc/ssl/certs/ca-certificates.crt" "$runtime/etc/ssl/certs/ca-certificates.crt"
cp -a "$debian/usr/share/zoneinfo" "$runtime/usr/share/zoneinfo"
cp -a "$debian/etc/nsswitch.conf" "$runtime/etc/nsswitch.conf"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$runtime/etc/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$runtime/etc/group"
chmod 1777 "$runtime/tmp"
chown 65532:65532 "$runtime/home/nonroot"
chmod 0700 "$runtime/root"
tar --numeric-owner -C "$runtime" -cf "$out/runtime.tar" .
