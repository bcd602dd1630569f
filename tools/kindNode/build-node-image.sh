#!/usr/bin/env bash
# Builds a kind node image on this machine without any registry (issue 37; docs/decisions/0036),
# and prints its name, localhost/breakwater/kind-node:<kubernetes version>-<inputs hash>:
#
#   1. root       Debian 12 root (mmdebstrap, minbase) with systemd, containerd, runc, the CNI
#                 plugins and iptables from Debian's packages, cached as a tar
#   2. binaries   kubelet, kubeadm, kubectl, the control plane, CoreDNS and crictl from the Go
#                 modules pinned in tools/cluster/k8s-binaries (tools/cluster/build-binaries.sh,
#                 one `go build`); pause, and the CoreDNS and busybox images
#                 (tools/cluster/build-node-images.sh)
#   3. images     kube-apiserver, kube-controller-manager, kube-scheduler, etcd (one static binary
#                 each, from scratch) and kube-proxy (on a small Debian root with iptables) as
#                 docker-archives named as `kubeadm config images list` prints them
#   4. base       buildah: the root, the binaries, tools/kindNode/node/ (entrypoint, kubelet unit
#                 and kubeadm drop-in, CNI conflist, kind's manifests), containerd's config,
#                 /kind/version
#   5. preload    the base run once under podman with its containerd started by hand: every image
#                 imported into namespace k8s.io (content only, unpacked when first used, as kind
#                 does), tagged with kubeadm's names; then `podman commit` with the entrypoint
#
# Every step prints its time. The image is named after the hash of everything that goes into it,
# so a second run finds it and returns at once; the pieces are cached in
# ~/.cache/breakwater/kind-node/. Root on Linux; needs mmdebstrap, podman, buildah and go.
#
#   tools/kindNode/build-node-image.sh          # prints the image name
#
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cluster="$repo/tools/cluster"
cache="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}"
suite=bookworm
node_packages=systemd,systemd-sysv,dbus,procps,containerd,runc,containernetworking-plugins,iptables,conntrack,iproute2,ethtool,socat,util-linux,mount,ca-certificates,kmod,busybox-static
proxy_packages=iptables,conntrack,kmod
# shellcheck source=../cluster/goModVersion.sh
source "$cluster/goModVersion.sh"
crictl_version=$(module_version "$cluster/k8s-binaries/go.mod" sigs.k8s.io/cri-tools)
k8s_version=$(module_version "$cluster/k8s-binaries/go.mod" k8s.io/kubernetes)

# The inputs' hash names the image: this script, the node's files, the pinned Go modules.
inputs_hash=$(
  {
    cat "${BASH_SOURCE[0]}" "$cluster/build-binaries.sh" "$cluster/build-node-images.sh" \
      "$cluster/k8s-binaries/go.mod" "$cluster/k8s-binaries/coredns/main.go" \
      "$cluster/node-images/pause/go.mod" "$cluster/node-images/pause/main.go"
    (cd "$here/node" && find . -type f | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-12
)
image="localhost/breakwater/kind-node:$k8s_version-$inputs_hash"
# The control-plane images change only with the binaries and kube-proxy's root.
images_cache="$cache/kind-node/images-$k8s_version-r2-$(printf '%s' "$proxy_packages" | sha256sum | cut -c1-12)"

say() { printf '>> %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
step=setup
step_started=$(now_ms)
begin() {
  step=$1
  step_started=$(now_ms)
  say "$step: $2"
}
finish() {
  local ms=$(($(now_ms) - step_started))
  say "$step: done ($((ms / 1000)).$((ms % 1000 / 100))s)"
}
fail() {
  printf 'error: kind node image, step %s: %s\n' "$step" "$*" >&2
  exit 1
}

# One build at a time: `make test` starts one early, beside its static checks, and `up` asks
# again; the second waits for the first and then finds its image.
mkdir -p "$cache/kind-node"
lock="$cache/kind-node/build.lock"
exec 9>"$lock"
if ! flock --nonblock 9; then
  say "waiting for the node image build already running (it holds $lock)"
  flock --wait 3600 9 || fail "another build has held $lock for an hour; stop it (pgrep -af build-node-image.sh)"
fi

if podman image exists "$image" 2>/dev/null; then
  say "cached: $image"
  echo "$image"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || fail "run as root: mmdebstrap and the privileged preload container need it"
for tool in mmdebstrap podman buildah go; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (make tools installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kind-node-image.XXXXXX")
builders=()
preload=""
cleanup() {
  [[ -n "$preload" ]] && podman rm --force "$preload" >/dev/null 2>&1
  for builder in "${builders[@]}"; do buildah rm "$builder" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
started_all=$(now_ms)

# A Debian root tar for the given packages, made once (the smoke test's key scheme). `slim`
# leaves out what no program reads (manuals, translations, documentation but its copyright
# files) and merges /usr by mmdebstrap's hook instead of Debian's usrmerge package, which
# brings perl: kube-proxy's root went from 188 to 84 MB, and the kubelet unpacks that image
# on the path of every cluster's first minute (its container took 13 s to create).
debian_root() {
  local packages=$1 slim=${2:-} key mirror options=()
  key="debian-$suite-r1-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
  if [[ -n "$slim" ]]; then
    key="debian-$suite-slim1-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
    options=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
      --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/doc/*'
      --dpkgopt='path-include=/usr/share/doc/*/copyright')
  fi
  if [[ ! -f "$cache/kind-node/$key/root.tar" ]]; then
    mirror=$("$repo/scripts/image/debian-mirror.sh")
    say "  mmdebstrap $packages${slim:+ (slim)} from $mirror, once"
    mkdir -p "$cache/kind-node/$key"
    nice -n 10 mmdebstrap --quiet --variant=minbase "${options[@]}" --include="$packages" "$suite" \
      "$cache/kind-node/$key/root.partial.tar" "$mirror" >&2 || fail "mmdebstrap failed"
    mv "$cache/kind-node/$key/root.partial.tar" "$cache/kind-node/$key/root.tar"
  fi
  echo "$cache/kind-node/$key/root.tar"
}

# The roots are downloads and dpkg, the Go builds compiling, downloading modules and linking: run
# side by side they fill each other's idle time (decision 0050: the cold node image and kind went
# from 1,165 to 954 s).
begin inputs "Debian $suite roots beside Kubernetes $k8s_version, CoreDNS and crictl $crictl_version; then pause"
(
  node_root=$(debian_root "$node_packages")
  proxy_root=$(debian_root "$proxy_packages" slim)
  say "  node: $node_root ($(du -m "$node_root" | cut -f1) MB); kube-proxy: $proxy_root ($(du -m "$proxy_root" | cut -f1) MB)"
  printf '%s\n%s\n' "$node_root" "$proxy_root" >"$work/roots"
  # The test image's busybox comes from the node's own root, so the host needs no busybox-static.
  mkdir -p "$work/busybox"
  tar -xf "$node_root" -C "$work/busybox" ./usr/bin/busybox
) &
roots_job=$!
# CoreDNS and crictl in the same `go build` as Kubernetes: one module, so the packages they share
# compile once (tools/cluster/pin-node-tools.sh).
(
  nice -n 10 "$cluster/build-binaries.sh" etcd kube-apiserver kube-controller-manager kube-scheduler \
    kubectl kubelet kube-proxy kubeadm coredns crictl >"$work/bin" || fail "tools/cluster/build-binaries.sh failed"
) &
binaries_job=$!
# Every job is waited for, so that none runs on after a failure (the trap removes $work).
failed=0
for job in "$roots_job" "$binaries_job"; do wait "$job" || failed=1; done
((failed == 0)) || exit 1
{ read -r node_root && read -r proxy_root; } <"$work/roots"
bin=$(<"$work/bin")
BREAKWATER_BUSYBOX="$work/busybox/usr/bin/busybox" BREAKWATER_COREDNS="$bin/coredns" \
  "$cluster/build-node-images.sh" >"$work/node-images" || fail "tools/cluster/build-node-images.sh failed"
node_images=$(<"$work/node-images")
finish

begin images "control-plane images under the names kubeadm $k8s_version asks for"
declare -A wanted=()
while read -r ref; do
  name=${ref##*/}
  wanted[${name%%:*}]=$ref
done < <("$bin/kubeadm" config images list --kubernetes-version "$k8s_version" 2>/dev/null)
for name in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns pause; do
  [[ -n "${wanted[$name]:-}" ]] || fail "kubeadm config images list printed no $name image"
done
say "  $(printf '%s ' "${wanted[@]}")"
mkdir -p "$images_cache"
static_image() {
  local name=$1 from=$2 root=${3:-} builder
  [[ -f "$images_cache/$name.tar" ]] && return 0
  builder=$(buildah from scratch)
  builders+=("$builder")
  [[ -z "$root" ]] || buildah add --quiet "$builder" "$root" / >/dev/null
  buildah copy --quiet "$builder" "$from" "/usr/local/bin/$name" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --entrypoint "[\"/usr/local/bin/$name\"]" --cmd '[]' "$builder"
  rm -f "$images_cache/$name.tar.partial.$$"
  # --rm: the working container goes with the commit (each build left five behind before).
  buildah commit --quiet --rm "$builder" "docker-archive:$images_cache/$name.tar.partial.$$:${wanted[$name]}" >/dev/null
  builders=("${builders[@]/$builder/}")
  mv "$images_cache/$name.tar.partial.$$" "$images_cache/$name.tar"
  say "  ${wanted[$name]} ($(du -m "$images_cache/$name.tar" | cut -f1) MB)"
}
for name in kube-apiserver kube-controller-manager kube-scheduler etcd; do static_image "$name" "$bin/$name"; done
static_image kube-proxy "$bin/kube-proxy" "$proxy_root"
finish

begin base "the node's root, binaries and files with buildah"
mkdir -p "$work/files/etc/containerd" "$work/files/kind" "$work/files/usr/bin" "$work/files/usr/local/bin" \
  "$work/files/opt/cni" "$work/files/etc/systemd/system/multi-user.target.wants"
cp -a "$here/node/." "$work/files/"
cp "$bin/kubelet" "$bin/kubeadm" "$bin/kubectl" "$work/files/usr/bin/"
cp "$bin/crictl" "$work/files/usr/local/bin/crictl"
ln -s /usr/lib/cni "$work/files/opt/cni/bin" # kind's node keeps the plugins there; Debian's are in /usr/lib/cni
ln -s ../kubelet.service "$work/files/etc/systemd/system/multi-user.target.wants/kubelet.service"
echo "$k8s_version" >"$work/files/kind/version"
# No CAP_SYS_RESOURCE on such hosts: the CRI plugin must not lower a container's oom_score_adj
# below its own (decision 0034). SystemdCgroup matches the kubelet's systemd driver kind sets.
cat >"$work/files/etc/containerd/config.toml" <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "${wanted[pause]}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
EOF
builder=$(buildah from scratch)
builders+=("$builder")
buildah add --quiet "$builder" "$node_root" / >/dev/null
buildah copy --quiet "$builder" "$work/files" / >/dev/null
buildah config --env container=podman --entrypoint '["sleep"]' --cmd '["infinity"]' "$builder"
base="localhost/breakwater/kind-node-base:$k8s_version-$inputs_hash"
buildah commit --quiet --rm "$builder" "$base" >/dev/null
builders=()
finish

begin preload "images into the node's containerd (namespace k8s.io), then podman commit"
preload="breakwater-kind-node-preload-$$"
"$repo/scripts/image/podman.sh" run --detach --name "$preload" --privileged \
  --tmpfs /tmp --tmpfs /run \
  --volume "$images_cache:/kind/preload/control-plane:ro" --volume "$node_images:/kind/preload/node:ro" \
  "$base" 9>&- >/dev/null || fail "podman run of $base failed" # its conmon outlives the call: not the lock
podman exec --detach "$preload" containerd >/dev/null
for ((waited = 0; waited < 30; waited++)); do
  podman exec "$preload" ctr version >/dev/null 2>&1 && break
  sleep 1
done
podman exec "$preload" ctr version >/dev/null 2>&1 || fail "containerd in the preload container did not answer in 30s"
for archive in "$images_cache"/*.tar "$node_images"/*.tar; do
  dir=control-plane
  [[ "$archive" == "$node_images"/* ]] && dir=node
  podman exec "$preload" ctr -n k8s.io images import --no-unpack --digests \
    "/kind/preload/$dir/$(basename "$archive")" >/dev/null || fail "ctr images import of $archive failed"
done
refs=$(jq -r '.pause, .coredns' "$node_images/images.json")
pause_ref=$(sed -n 1p <<<"$refs")
coredns_ref=$(sed -n 2p <<<"$refs")
podman exec "$preload" ctr -n k8s.io images tag "$pause_ref" "${wanted[pause]}" >/dev/null
podman exec "$preload" ctr -n k8s.io images tag "$coredns_ref" "${wanted[coredns]}" >/dev/null
say "  $(podman exec "$preload" ctr -n k8s.io images list --quiet | grep -vc '^sha256:') names in k8s.io"
podman exec "$preload" sh -c 'kill -TERM $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done'
podman commit --quiet \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
  --change 'STOPSIGNAL SIGRTMIN+3' "$preload" "$image" >/dev/null || fail "podman commit failed"
podman rm --force "$preload" >/dev/null
preload=""
podman rmi "$base" >/dev/null 2>&1 || true
# Earlier builds (other inputs) take 1.2 GB each: remove those no container runs on.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter reference='localhost/breakwater/kind-node'); do
  [[ "$old" == "$image" ]] && continue
  if podman rmi "$old" >/dev/null 2>&1; then say "  removed the earlier node image $old"; fi
done
finish

ms=$(($(now_ms) - started_all))
say "$image built in $((ms / 1000))s ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1 / 1048576}'))"
echo "$image"
