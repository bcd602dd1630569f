#!/usr/bin/env bash
# Smoke test for a kind node image made on this machine without a registry (issue 37, item 4):
# can a Debian 12 root with systemd, containerd, runc and the CNI plugins boot as a privileged
# podman container with a private cgroup namespace, and can its containerd start containers?
#
#   1. root       Debian 12 root tarball (mmdebstrap, minbase, from apt's Debian mirror), cached
#                 in ~/.cache/breakwater/kind-node/<key>/root.tar
#   2. import     podman import as localhost/breakwater/kind-node-smoke:<key> (removed on exit)
#   3. boot       podman run --privileged --cgroupns=private with /sbin/init, /var on a volume
#                 (nested overlayfs needs a non-overlay upper dir, as kind does), the containerd
#                 CRI config and a bridge CNI config copied in; wait for systemd's
#                 `is-system-running` to say running or degraded
#   4. containerd `ctr version` answers
#   5. rootfs     `ctr run --rootfs` of a busybox tree: a container started by the node's runc
#   6. image      a busybox image assembled with buildah (no registry), `ctr images import`ed into
#                 namespace k8s.io as kind preloads images, then `ctr run`
#   7. cni        the same image with `ctr run --cni`: bridge + host-local, pings its gateway
#   8. pod        a CRI pod sandbox and container through crictl (tools/cluster/build-binaries.sh
#                 builds it once): the path the kubelet takes, with restrict_oom_score_adj
#
# Every step prints its time; the last line is `kind node smoke: PASS` or
# `kind node smoke: FAIL at <step>: <error>`. On exit the container, its volume, the imported
# image and the buildah working container are removed; only the cache stays. No host sysctl is
# changed. Root on Linux; needs mmdebstrap, podman, buildah, and go for step 8.
#
#   tools/kindNode/smoke.sh
#
# BREAKWATER_CACHE (default ~/.cache/breakwater) moves the cache; KIND_NODE_BOOT_SECONDS (90)
# bounds the wait for systemd.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=bookworm
packages=systemd,systemd-sysv,dbus,procps,containerd,runc,containernetworking-plugins,iptables,busybox-static
# shellcheck source=../cluster/goModVersion.sh
source "$repo/tools/cluster/goModVersion.sh"
crictl_version=$(module_version "$repo/tools/cluster/k8s-binaries/go.mod" sigs.k8s.io/cri-tools)
recipe=1 # bump when this script makes a different root from the same inputs
key="debian-$suite-r$recipe-$(printf '%s' "$packages" | sha256sum | cut -c1-12)"
cache="${BREAKWATER_CACHE:-$HOME/.cache/breakwater}/kind-node"
node_ref="localhost/breakwater/kind-node-smoke:$key"
image_ref="localhost/kind-node-smoke/busybox:1"
pause_ref="localhost/kind-node-smoke/pause:1"
name="breakwater-kind-node-smoke-$$"
boot_seconds=${KIND_NODE_BOOT_SECONDS:-90}

step=setup
step_started=0
timings=()
imported=""
builder=""
work=$(mktemp -d "${TMPDIR:-/tmp}/kind-node-smoke.XXXXXX")

say() { printf '>> %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
begin() {
  step=$1
  step_started=$(now_ms)
  say "$step: $2"
}
finish() {
  local ms=$(($(now_ms) - step_started))
  timings+=("$(printf '%-10s %6d.%01ds' "$step" $((ms / 1000)) $((ms % 1000 / 100)))")
  say "$step: ok ($((ms / 1000)).$((ms % 1000 / 100))s)"
}
# The verdict goes to fd 3, the script's stdout, so that it is seen from inside $(...) too.
exec 3>&1
report_timings() {
  ((${#timings[@]})) || return 0
  say "timings:"
  printf '>>   %s\n' "${timings[@]}" >&2
}
fail() {
  : >"$work/failed" # seen by cleanup also when fail ran in a $(...) subshell
  report_timings
  printf 'kind node smoke: FAIL at %s: %s\n' "$step" "$*" >&3
  exit 1
}
# Runs a command, printing its output only when it fails; the failure's last line is the error.
run() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" | tail -n 20 >&2
    fail "$(printf '%s\n' "$out" | grep . | tail -n 1)"
  fi
  printf '%s' "$out"
}
in_node() { run podman exec "$name" "$@"; }

cleanup() {
  local status=$?
  # A command that failed outside run() still ends with a verdict.
  if ((status != 0)) && [[ ! -e "$work/failed" ]]; then
    report_timings
    printf 'kind node smoke: FAIL at %s: exit status %d\n' "$step" "$status" >&3
  fi
  podman rm --force --volumes "$name" >/dev/null 2>&1 || true
  [[ -n "$builder" ]] && buildah rm "$builder" >/dev/null 2>&1
  [[ -n "$imported" ]] && podman rmi --force "$imported" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

begin host "the constraints the node has to live with"
[[ $(id -u) -eq 0 ]] || fail "run as root: mmdebstrap and a privileged podman container need it"
for tool in mmdebstrap podman buildah; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing: apt-get install $tool"
done
if capsh --has-p=cap_sys_resource 2>/dev/null; then say "  CAP_SYS_RESOURCE: present"; else say "  CAP_SYS_RESOURCE: absent (podman's default ulimits would fail)"; fi
say "  cgroups: $(if [[ -d /sys/fs/cgroup/unified ]]; then echo 'v1 (hybrid)'; elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then echo v2; else echo v1; fi)"
say "  /lib/modules: $(if [[ -d /lib/modules ]]; then echo present; else echo absent; fi)"
say "  fs.inotify.max_user_instances: $(cat /proc/sys/fs/inotify/max_user_instances)"
finish

begin root "Debian $suite root with $packages"
if [[ -f "$cache/$key/root.tar" ]]; then
  say "  cached: $cache/$key/root.tar"
else
  mirror=$("$repo/scripts/image/debian-mirror.sh")
  say "  mmdebstrap from $mirror — once, then cached in $cache/$key"
  mkdir -p "$cache/$key"
  run mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$cache/$key/root.partial.tar" "$mirror" >/dev/null
  mv "$cache/$key/root.partial.tar" "$cache/$key/root.tar"
fi
finish

begin import "podman import as $node_ref"
if ! podman image exists "$node_ref"; then
  run podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    "$cache/$key/root.tar" "$node_ref" >/dev/null
  imported=$node_ref
fi
finish

begin boot "podman run --privileged --cgroupns=private, systemd as PID 1"
mkdir -p "$work/files/etc/containerd" "$work/files/etc/cni/net.d" "$work/files/opt/cni"
ln -s /usr/lib/cni "$work/files/opt/cni/bin" # where kind's node keeps the plugins; Debian's are in /usr/lib/cni
# No CAP_SYS_RESOURCE here: the CRI plugin must not lower a container's oom_score_adj below its own.
cat >"$work/files/etc/containerd/config.toml" <<EOF
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "$pause_ref"
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
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 30\n' >"$work/files/etc/crictl.yaml"
cat >"$work/files/etc/cni/net.d/10-smoke.conflist" <<'EOF'
{
  "cniVersion": "1.0.0",
  "name": "smoke",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.244.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
# runc and ulimits within the hard limits: scripts/image/podman.sh says why.
run "$repo/scripts/image/podman.sh" create --name "$name" --privileged --cgroupns=private \
  --tmpfs /tmp --tmpfs /run --volume /var --tty \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  "$node_ref" >/dev/null
run podman cp "$work/files/." "$name:/" >/dev/null
run podman start "$name" >/dev/null
state=""
for ((waited = 0; waited < boot_seconds; waited++)); do
  state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
  case "$state" in running | degraded) break ;; esac
  ((waited % 5 == 4)) && say "  systemd: ${state:-no answer yet} after $((waited + 1))s"
  sleep 1
done
case "$state" in
  running | degraded) say "  systemd $(podman exec "$name" systemctl --version | head -n1 | awk '{print $2}'): $state" ;;
  *)
    podman exec "$name" systemctl list-jobs --no-pager >&2 || podman logs --tail 30 "$name" >&2 || true
    fail "systemd is '${state:-silent}' after ${boot_seconds}s" ;;
esac
failed=$(podman exec "$name" systemctl --failed --no-legend --plain 2>/dev/null || true)
[[ -z "$failed" ]] && say "  failed units: none" || say "  failed units: $failed"
finish

begin containerd "ctr version"
for ((waited = 0; waited < 30; waited++)); do
  podman exec "$name" ctr version >/dev/null 2>&1 && break
  sleep 1
done
version=$(in_node ctr version)
say "  $(awk '/Server:/ {s=1} s && /Version:/ {print "containerd " $2; exit}' <<<"$version")"
finish

begin rootfs "ctr run --rootfs: a busybox tree run by the node's runc"
in_node sh -c 'mkdir -p /tmp/rootfs/bin && cp /bin/busybox /tmp/rootfs/bin/ && ln -sf busybox /tmp/rootfs/bin/sh' >/dev/null
out=$(in_node ctr run --rm --rootfs /tmp/rootfs smoke-rootfs /bin/sh -c 'echo nested container says hello')
[[ "$out" == *"nested container says hello"* ]] || fail "unexpected output: $out"
say "  $out"
finish

begin image "a busybox image from buildah, ctr images import into k8s.io, ctr run"
busybox_path=./usr/bin/busybox # Debian 12 has a merged /usr
run tar -xf "$cache/$key/root.tar" -C "$work" "$busybox_path" >/dev/null
builder=$(run buildah from scratch)
run buildah copy --quiet "$builder" "$work/$busybox_path" /bin/busybox >/dev/null
mount=$(run buildah mount "$builder")
for applet in sh sleep ip ping cat; do ln -s busybox "$mount/bin/$applet"; done
run buildah umount "$builder" >/dev/null
run buildah config --env PATH=/bin --cmd '["/bin/sh"]' "$builder" >/dev/null
run buildah commit --quiet "$builder" "docker-archive:$work/busybox.tar:$image_ref" >/dev/null
# The pod sandbox image: a pause that sleeps (the real node image gets the project's pause).
run buildah config --entrypoint '["/bin/sleep", "2147483647"]' --cmd '[]' "$builder" >/dev/null
run buildah commit --quiet "$builder" "docker-archive:$work/pause.tar:$pause_ref" >/dev/null
run buildah rm "$builder" >/dev/null
builder=""
run podman cp "$work/busybox.tar" "$name:/tmp/busybox.tar" >/dev/null
run podman cp "$work/pause.tar" "$name:/tmp/pause.tar" >/dev/null
in_node ctr -n k8s.io images import --digests --snapshotter overlayfs /tmp/busybox.tar >/dev/null
in_node ctr -n k8s.io images import --digests --snapshotter overlayfs /tmp/pause.tar >/dev/null
out=$(in_node ctr -n k8s.io run --rm "$image_ref" smoke-image /bin/sh -c 'echo imported image says hello')
[[ "$out" == *"imported image says hello"* ]] || fail "unexpected output: $out"
say "  $out"
finish

begin cni "ctr run --cni: bridge + host-local, ping the gateway"
out=$(in_node ctr -n k8s.io run --rm --cni "$image_ref" smoke-cni /bin/sh -c \
  'ip -4 -o addr show eth0 && ping -c 1 -W 2 10.244.0.1')
address=$(grep -oE 'inet [0-9.]+' <<<"$out" | head -n1)
[[ "$address" == "inet 10.244.0."* && "$out" == *" 0% packet loss"* ]] || fail "no bridge address or no answer from the gateway: $out"
say "  eth0 $address/24, gateway 10.244.0.1 answers"
finish

begin pod "crictl $crictl_version: a CRI pod sandbox and a container in it"
# crictl comes from the module the node image's binaries are built from (built once, cached).
crictl="$("$repo/tools/cluster/build-binaries.sh" crictl)/crictl" || fail "tools/cluster/build-binaries.sh crictl failed"
run podman cp "$crictl" "$name:/usr/local/bin/crictl" >/dev/null
# With SystemdCgroup (kind's cgroup driver) the kubelet gives each pod a systemd slice as its parent.
cat >"$work/pod.json" <<'EOF'
{ "metadata": { "name": "smoke", "namespace": "default", "uid": "smoke-pod", "attempt": 0 },
  "log_directory": "/tmp/smoke-pod", "linux": { "cgroup_parent": "smoke.slice" } }
EOF
cat >"$work/container.json" <<EOF
{ "metadata": { "name": "hello" }, "image": { "image": "$image_ref" },
  "command": ["/bin/sh", "-c", "echo pod container says hello from \$(ip -4 -o addr show eth0 | grep -oE 'inet [0-9.]+'); sleep 2147483647"],
  "log_path": "hello.log", "linux": {} }
EOF
run podman cp "$work/pod.json" "$name:/tmp/pod.json" >/dev/null
run podman cp "$work/container.json" "$name:/tmp/container.json" >/dev/null
crictl_in_node() { in_node crictl "$@"; }
pod=$(crictl_in_node runp /tmp/pod.json)
container=$(crictl_in_node create "$pod" /tmp/container.json /tmp/pod.json)
crictl_in_node start "$container" >/dev/null
out=""
for ((waited = 0; waited < 20; waited++)); do
  out=$(crictl_in_node logs "$container")
  [[ "$out" == *"says hello"* ]] && break
  sleep 0.5
done
[[ "$out" == *"pod container says hello from inet 10.244.0."* ]] || fail "the pod's container printed: ${out:-nothing}"
say "  $out"
crictl_in_node stop --timeout 1 "$container" >/dev/null
crictl_in_node stopp "$pod" >/dev/null
crictl_in_node rmp "$pod" >/dev/null
finish

report_timings
printf 'kind node smoke: PASS\n'
