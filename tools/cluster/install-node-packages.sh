#!/usr/bin/env bash
# Installs what the real node (BREAKWATER_NODE=kubelet) runs next to the kubelet, from Debian
# packages, when it is missing:
#   containerd                    the container runtime the kubelet talks CRI to (ctr comes with it)
#   runc                          the OCI runtime containerd starts containers with
#   containernetworking-plugins   bridge, host-local, portmap and loopback: the pods' network
#   iptables                      kube-proxy's Service routing and the portmap plugin
#   conntrack                     kube-proxy clears stale UDP flows with it
#   busybox-static                the shell and tools in the test image (build-node-images.sh)
# Quiet when everything is there, so the first `cluster-up` can call it every time; installs with
# apt-get otherwise (as root, or through sudo).
set -euo pipefail

declare -A package_for=([containerd]=containerd [ctr]=containerd [runc]=runc
  [iptables]=iptables [ip6tables]=iptables [conntrack]=conntrack)
plugins=(bridge host-local portmap loopback)
plugin_dir=/usr/lib/cni

missing=()
for tool in "${!package_for[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_for[$tool]}")
done
for plugin in "${plugins[@]}"; do
  [[ -x "$plugin_dir/$plugin" ]] || missing+=(containernetworking-plugins)
done
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
# One name per package, in a stable order.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | sed '/^$/d')
((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: the real node needs ${missing[*]} and there is no apt-get here; install them with" >&2
  echo "your distribution's packages (the CNI plugins in $plugin_dir)." >&2
  exit 1
fi
sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: the real node needs ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo -n)
fi

echo ">> apt-get install ${missing[*]} (the real node's container runtime, pod network and Service routing)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The package lists may be absent or stale on a fresh machine: refresh them first. The packages'
# own services are never started here: the cluster runs containerd with its own configuration.
if ! { "${sudo[@]}" apt-get update -qq &&
  "${sudo[@]}" env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "error: apt-get could not install ${missing[*]}" >&2
  exit 1
fi
for tool in "${!package_for[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is still missing after installing ${missing[*]}" >&2; exit 1; }
done
for plugin in "${plugins[@]}"; do
  [[ -x "$plugin_dir/$plugin" ]] || { echo "error: $plugin_dir/$plugin is still missing" >&2; exit 1; }
done
