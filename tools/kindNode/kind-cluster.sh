#!/usr/bin/env bash
# A one-node kind cluster on the node image built here (issue 37; docs/decisions/0036).
#
#   tools/kindNode/kind-cluster.sh up       # node image (cached), host prepared, kind create cluster,
#                                           # CoreDNS and a test pod Running; prints the kubeconfig
#   tools/kindNode/kind-cluster.sh node-image # the node image up uses, built (once) when it must be
#   tools/kindNode/kind-cluster.sh load REF # an image from podman's storage into the node (kind load image-archive)
#   tools/kindNode/kind-cluster.sh check    # CoreDNS available and a busybox pod Running
#   tools/kindNode/kind-cluster.sh status   # running, dead (listed, its node gone: up recreates it) or absent
#   tools/kindNode/kind-cluster.sh env [IMAGE] # `export` lines for the integration suites on this cluster
#   tools/kindNode/kind-cluster.sh exec CMD...  # a command in the node (crictl, the static pods' manifests)
#   tools/kindNode/kind-cluster.sh down     # kind delete cluster, then the host put back as up found it
#
# What `up` changes on the host, and `down` puts back (and then checks, failing if anything differs):
#   - /lib/modules, which kind's podman provider bind-mounts, is created empty when missing;
#   - fs.inotify.max_user_instances is raised to 512 when lower and this is root (128 is shared by
#     every process of a user; the node's systemd, containerd, kubelet and control plane need more
#     than that leaves); not root, it is explained with the command that raises it, and not raised;
#   - the sysctls a privileged node's kubelet and kube-proxy write and that are not namespaced
#     (vm.overcommit_memory, kernel.panic, ...) are read before and written back after;
#   - routes to the pod and Service networks through the node, so that this machine reaches pods
#     and Services as a client inside the cluster would (tests call pods by their IP). Only with
#     BREAKWATER_REACH=routes, the default as root on Linux; with BREAKWATER_REACH=port-forward (the
#     default otherwise: no root, or macOS, where container addresses are not routable) no route
#     is made, and the demo reaches pods through kubectl port-forward (demo/portForwards.ts);
#   - the podman network `kind` (and its iptables rules) is removed when up created it.
# Hold /tmp/bw-cluster.lock from up to down (one cluster per host): flock /tmp/bw-cluster.lock ...
#
# BREAKWATER_KIND_STATE (default .breakwater/kind/<cluster>) holds the kubeconfig and what up changed;
# BREAKWATER_KIND_CLUSTER (default breakwater) names the cluster; KIND_NODE_IMAGE, when set, is the
# node image; unset, it is kind's upstream one (pinned by digest) where Docker runs and can pull
# it, else the one built here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
name=${BREAKWATER_KIND_CLUSTER:-breakwater}
state=${BREAKWATER_KIND_STATE:-$repo/.breakwater/kind/$name}
kubeconfig="$state/kubeconfig"
kind() { "$here/kind.sh" "$@"; }
# kind v0.33.0's node image for Kubernetes 1.36, as its release notes list it (by digest: an
# image built for another kind release may not boot under this one). Used where Docker runs and
# the registry answers; elsewhere the node image is built here (build-node-image.sh).
UPSTREAM_NODE_IMAGE=kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed
# kubectl of the cluster's own version (the one the node image holds), from the build cache.
kubectl() { "$("$repo/tools/cluster/build-binaries.sh" kubectl)/kubectl" --kubeconfig "$kubeconfig" "$@"; }
say() { printf '>> %s\n' "$*" >&2; }
fail() {
  printf 'error: kind cluster: %s\n' "$*" >&2
  exit 1
}
# macOS's date has no %N (it prints N) and macOS has no timeout(1): seconds there, and no limit.
now_ms() {
  local ns
  ns=$(date +%s%N)
  [[ "$ns" == *N ]] && ns=$(($(date +%s) * 1000000000))
  echo $((ns / 1000000))
}
with_timeout() { if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi; }
elapsed() { local ms=$(($(now_ms) - $1)); echo "$((ms / 1000)).$((ms % 1000 / 100))s"; }

inotify_wanted=512
# How this machine reaches pods: routes (through the node; root on Linux) or port-forward.
reach_mode() {
  case "${BREAKWATER_REACH:-}" in
    routes | port-forward) echo "$BREAKWATER_REACH" ;;
    '') if [[ "$(uname -s)" == Linux && "$(id -u)" -eq 0 ]]; then echo routes; else echo port-forward; fi ;;
    *) fail "BREAKWATER_REACH=$BREAKWATER_REACH: routes or port-forward" ;;
  esac
}
pod_subnet=10.244.0.0/16     # kind's defaults, written into the kind config so that the routes match
service_subnet=10.96.0.0/16
# Global (not per network namespace) sysctls that a privileged node's kubelet or kube-proxy may write.
global_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max
  fs.inotify.max_user_instances fs.inotify.max_user_watches)

sysctl_file() { echo "/proc/sys/${1//.//}"; }
read_sysctls() {
  local key
  for key in "${global_sysctls[@]}"; do
    [[ -r "$(sysctl_file "$key")" ]] && printf '%s=%s\n' "$key" "$(tr -s '\t ' ' ' <"$(sysctl_file "$key")")"
  done
  return 0
}
# Chains and rules per table, without counters: `nat :CNI-HOSTPORT-DNAT -`, `nat -A OUTPUT ...`.
read_iptables() {
  local table
  for table in filter nat mangle raw; do
    iptables-save -t "$table" 2>/dev/null | grep -E '^[:-]' | sed -E 's/ \[[0-9]+:[0-9]+\]$//' | sed "s/^/$table /"
  done | LC_ALL=C sort
}
# podman's CNI portmap plugin, for the port kind publishes (the API server's), leaves its
# CNI-HOSTPORT-* chains and the jumps to them behind. They are removed when up found none and no
# other container publishes a port through them now (CNI-HOSTPORT-DNAT is empty).
restore_hostport_chains() {
  local line table rule chain
  grep -q '^nat :CNI-HOSTPORT-DNAT' "$state/host/iptables" && return 0
  iptables -t nat -S CNI-HOSTPORT-DNAT >/dev/null 2>&1 || return 0
  [[ "$(iptables -t nat -S CNI-HOSTPORT-DNAT | grep -c '^-A')" == 0 ]] || return 0
  while IFS= read -r line; do
    table=${line%% *}
    rule=${line#* }
    [[ "$rule" == -A* && "$rule" == *CNI-HOSTPORT* ]] || continue
    eval "iptables -t $table ${rule/#-A /-D }" 2>/dev/null || true
  done < <(LC_ALL=C comm -13 "$state/host/iptables" <(read_iptables))
  for chain in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
    iptables -t nat -F "$chain" 2>/dev/null && iptables -t nat -X "$chain" 2>/dev/null || true
  done
  say "host: removed the CNI-HOSTPORT chains podman's portmap plugin left"
}
# podman's CNI firewall plugin, for the network kind, adds CNI-FORWARD (jumped to from FORWARD)
# and CNI-ADMIN, and leaves them behind when the network goes. They are removed when up found
# neither and they hold nothing but the jump from one to the other (no container uses them).
restore_firewall_chains() {
  grep -qE '^filter :CNI-(FORWARD|ADMIN) ' "$state/host/iptables" && return 0
  iptables -S CNI-FORWARD >/dev/null 2>&1 || return 0
  [[ "$(iptables -S CNI-FORWARD | grep '^-A' | grep -v -c -- '-j CNI-ADMIN$')" == 0 ]] || return 0
  [[ "$(iptables -S CNI-ADMIN 2>/dev/null | grep -c '^-A')" == 0 ]] || return 0
  while iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null; do :; done
  iptables -F CNI-FORWARD && iptables -X CNI-FORWARD
  iptables -X CNI-ADMIN 2>/dev/null || true
  say "host: removed the CNI-FORWARD and CNI-ADMIN chains podman's firewall plugin left"
}
cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$name"; }
# kind lists a cluster by its node container, and podman can report a node "running" whose
# processes are gone (a reboot, or a session whose processes were all killed): only a command
# run in the node tells a live one.
node_answers() { with_timeout 20 "$(engine)" exec "$name-control-plane" true >/dev/null 2>&1; }
status() {
  if ! cluster_exists; then echo absent; elif node_answers; then echo running; else echo dead; fi
}

prepare_host() {
  mkdir -p "$state"
  # What the host was like is recorded once, by the first up after a down.
  if [[ ! -d "$state/host" ]]; then
    mkdir -p "$state/host.partial"
    read_sysctls >"$state/host.partial/sysctls"
    read_iptables >"$state/host.partial/iptables"
    podman network exists kind && touch "$state/host.partial/network-existed"
    [[ -e /lib/modules ]] || touch "$state/host.partial/lib-modules-created"
    mv "$state/host.partial" "$state/host"
  fi
  if [[ ! -e /lib/modules && "$(uname -s)" == Linux ]]; then
    mkdir /lib/modules || fail "kind's podman provider mounts /lib/modules, which is missing and could not be made (not root?)"
    say "host: created an empty /lib/modules (kind's podman provider mounts it)"
  fi
  "$here/inotify.sh" "$inotify_wanted"
}


restore_host() {
  [[ -d "$state/host" ]] || { say "host: nothing recorded by up, nothing to put back"; return 0; }
  local line key value now differences=()
  while IFS= read -r line; do
    key=${line%%=*}
    value=${line#*=}
    now=$(tr -s '\t ' ' ' <"$(sysctl_file "$key")")
    if [[ "$now" != "$value" ]]; then
      say "host: $key $now -> $value"
      printf '%s\n' "$value" >"$(sysctl_file "$key")" || differences+=("could not write $key back to $value")
    fi
  done <"$state/host/sysctls"
  if [[ ! -f "$state/host/network-existed" ]] && podman network exists kind; then
    if [[ -z "$(podman ps -a --filter network=kind --quiet)" ]]; then
      podman network rm kind >/dev/null && say "host: removed the podman network kind"
    else
      differences+=("the podman network kind still has containers: $(podman ps -a --filter network=kind --format '{{.Names}}' | tr '\n' ' ')")
    fi
  fi
  restore_hostport_chains
  restore_firewall_chains
  if [[ -f "$state/host/lib-modules-created" && -d /lib/modules ]]; then
    rmdir /lib/modules 2>/dev/null && say "host: removed the empty /lib/modules" ||
      differences+=("/lib/modules is no longer empty; left in place")
  fi
  # The check: what up recorded and what the host has now.
  if ! diff <(cat "$state/host/sysctls") <(read_sysctls) >"$state/sysctls.diff"; then
    differences+=("sysctls differ: $(tr '\n' ' ' <"$state/sysctls.diff")")
  fi
  if ! diff "$state/host/iptables" <(read_iptables) >"$state/iptables.diff"; then
    differences+=("iptables rules differ ($(grep -c '^[<>]' "$state/iptables.diff") lines, $state/iptables.diff)")
  fi
  if [[ -f "$state/host/lib-modules-created" && -e /lib/modules ]]; then
    differences+=("/lib/modules exists")
  fi
  if routed; then
    differences+=("a route to $pod_subnet or $service_subnet is still there")
  fi
  if ((${#differences[@]})); then
    printf 'error: the host is not as up found it:\n' >&2
    printf '  - %s\n' "${differences[@]}" >&2
    return 1
  fi
  rm -rf "$state/host" "$state/sysctls.diff" "$state/iptables.diff"
  say "host: as up found it (sysctls, iptables, /lib/modules, the podman network)"
}

# The node's container engine: podman here, docker where kind found a Docker engine.
engine() {
  if command -v podman >/dev/null 2>&1 && podman container exists "$name-control-plane" 2>/dev/null; then echo podman; else echo docker; fi
}
node_address() { "$(engine)" inspect "$name-control-plane" --format '{{(index .NetworkSettings.Networks "kind").IPAddress}}'; }
# This machine's address on the node's network: where pods reach servers a test starts here. On
# macOS (Docker Desktop) the network lives in a VM whose gateway is not this machine: Docker
# Desktop's name for the host is.
host_address() {
  if [[ "$(uname -s)" == Darwin ]]; then echo host.docker.internal; return 0; fi
  "$(engine)" inspect "$name-control-plane" --format '{{(index .NetworkSettings.Networks "kind").Gateway}}'; }

route_to_node() {
  local node subnet
  node=$(node_address) || fail "no address of $name-control-plane on the podman network kind"
  for subnet in "$pod_subnet" "$service_subnet"; do
    ip route replace "$subnet" via "$node"
  done
  say "host: routes to $pod_subnet and $service_subnet via the node at $node (until down)"
}

# Whether this machine routes the pod or the Service network (not on macOS: no ip there).
routed() {
  command -v ip >/dev/null 2>&1 || return 1
  ip route show "$pod_subnet" | grep -q . || ip route show "$service_subnet" | grep -q .
}

unroute() {
  command -v ip >/dev/null 2>&1 || return 0
  local subnet
  for subnet in "$pod_subnet" "$service_subnet"; do
    ip route show "$subnet" | grep -q . && ip route del "$subnet" && say "host: removed the route to $subnet"
  done
  return 0
}

check() {
  local started
  started=$(now_ms)
  kubectl wait --for=condition=Ready node --all --timeout=120s >/dev/null || fail "the node is not Ready"
  kubectl delete pod breakwater-kind-check --ignore-not-found --wait=true >/dev/null
  # A pod is refused until the controller-manager has made the namespace's default
  # ServiceAccount, which can come after the node is Ready.
  local tries=0
  until kubectl get serviceaccount default >/dev/null 2>&1; do
    ((++tries <= 240)) || fail "the default ServiceAccount of namespace default did not appear in 120 s"
    sleep 0.5
  done
  # The node image built here preloads a busybox for this pod; kind's upstream one does not, and
  # where it runs a registry answers. The pod starts while CoreDNS is waited for below.
  local check_image=localhost/breakwater/busybox:1 pull=Never
  if node_exec crictl version >/dev/null 2>&1 && ! node_exec crictl inspecti "$check_image" >/dev/null 2>&1; then
    check_image=docker.io/library/busybox:1.37 pull=IfNotPresent
  fi
  kubectl run breakwater-kind-check --image "$check_image" --image-pull-policy="$pull" \
    --restart=Never --command -- sleep 3600 >/dev/null
  # kubeadm's two CoreDNS replicas on one node add nothing but a CPU request (100m) the suites'
  # pods need: the control plane's pods already ask for 750m of the node's two CPUs.
  kubectl -n kube-system scale deployment/coredns --replicas=1 >/dev/null
  # CoreDNS starts beside kube-proxy. A replica whose first list of the API (through the Service
  # address 10.96.0.1) came before kube-proxy's rules backs off and is not Ready for about half a
  # minute (35 s of the 40 s this check took, measured). Once kube-proxy runs, a replica that is
  # not Ready yet is replaced: the new one reaches the API at once.
  kubectl -n kube-system rollout status daemonset/kube-proxy --timeout=120s >/dev/null ||
    fail "kube-proxy did not start: $(kubectl -n kube-system get pods -l k8s-app=kube-proxy --no-headers 2>&1 | tr '\n' ' ')"
  local available
  available=$(kubectl -n kube-system get deployment/coredns -o jsonpath='{.status.availableReplicas}')
  if ((${available:-0} < 1)); then
    kubectl -n kube-system rollout restart deployment/coredns >/dev/null
  fi
  kubectl -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null ||
    fail "CoreDNS did not become available: $(kubectl -n kube-system get pods -l k8s-app=kube-dns --no-headers 2>&1 | tr '\n' ' ')"
  if ! kubectl wait --for=condition=Ready pod/breakwater-kind-check --timeout=120s >/dev/null; then
    kubectl describe pod breakwater-kind-check | tail -n 15 >&2
    fail "the test pod did not become Ready"
  fi
  say "check: node Ready, CoreDNS available, a test pod Running at $(kubectl get pod breakwater-kind-check -o jsonpath='{.status.podIP}') ($(elapsed "$started"))"
  kubectl delete pod breakwater-kind-check --wait=false >/dev/null
}

# The node image `up` uses, printed: KIND_NODE_IMAGE; kind's own (pinned by digest) where Docker
# runs and can pull it; else the one built here. kind itself is built (once) beside it.
node_image() {
  local image
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    image=$KIND_NODE_IMAGE
  elif docker info >/dev/null 2>&1 && with_timeout 300 docker pull "$UPSTREAM_NODE_IMAGE" >&2; then
    image=$UPSTREAM_NODE_IMAGE
  else
    "$here/kind.sh" --path >/dev/null &
    local kind_job=$!
    image=$("$here/build-node-image.sh") || { wait "$kind_job"; fail "the node image did not build"; }
    wait "$kind_job" || fail "kind did not build (tools/kindNode/kind.sh --path)"
  fi
  echo "$image"
}

up() {
  local image started config reach
  started=$(now_ms)
  reach=$(reach_mode)
  image=$(node_image)
  say "node image: $image ($(elapsed "$started"))"
  # Deleted before the host is recorded: what its node left (port forwards, firewall rules)
  # goes with it and is no part of the host as up found it.
  if cluster_exists && ! node_answers; then
    say "kind cluster $name is listed but its node does not answer (the host rebooted, or what ran it was killed): deleting it to create it anew"
    # podman's first rm of a node whose monitor was killed waits for an exit file nobody writes,
    # fails and marks it exited; kind's delete then removes it.
    "$(engine)" rm --force "$name-control-plane" >/dev/null 2>&1 || true
    kind delete cluster --name "$name" >&2 || fail "kind delete cluster failed on the dead cluster $name"
  fi
  prepare_host
  if cluster_exists; then
    say "kind cluster $name is already up"
  else
    config="$state/kind-config.yaml"
    {
      echo "# Written by tools/kindNode/kind-cluster.sh up."
      echo "kind: Cluster"
      echo "apiVersion: kind.x-k8s.io/v1alpha4"
      echo "networking:"
      echo "  ipFamily: ipv4"
      echo "  podSubnet: $pod_subnet"
      echo "  serviceSubnet: $service_subnet"
      if [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; then
        # The kubelet refuses cgroup v1 from 1.35 unless told otherwise; this host has no v2 root.
        echo "kubeadmConfigPatches:"
        echo "  - |"
        echo "    kind: KubeletConfiguration"
        echo "    apiVersion: kubelet.config.k8s.io/v1beta1"
        echo "    failCgroupV1: false"
      fi
    } >"$config"
    local create_started
    create_started=$(now_ms)
    say "kind create cluster --name $name --image $image"
    kind create cluster --name "$name" --image "$image" --config "$config" --kubeconfig "$kubeconfig" \
      --wait 0s >&2 || fail "kind create cluster failed (the node's logs: $here/kind.sh export logs --name $name)"
    say "kind create cluster: $(elapsed "$create_started")"
  fi
  kind get kubeconfig --name "$name" >"$kubeconfig"
  if [[ "$reach" == routes ]]; then
    route_to_node
  else
    say "host: no routes to $pod_subnet or $service_subnet (BREAKWATER_REACH=port-forward): pods are reached through kubectl port-forward"
  fi
  check
  say "up in $(elapsed "$started"); KUBECONFIG=$kubeconfig"
  echo "$kubeconfig"
}

load() {
  local ref=${1:?usage: kind-cluster.sh load <image ref held by podman>} dir started
  started=$(now_ms)
  # The same build (image ID, its config's digest) is in the node already: nothing to copy.
  local id
  # docker's client prints an empty line when it reaches no engine: only a digest counts.
  id=$({ docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null ||
    "$repo/scripts/image/podman.sh" image inspect --format '{{.Id}}' "$ref" 2>/dev/null; } |
    grep -oE '^(sha256:)?[0-9a-f]{64}$' | head -n 1 || true)
  id=${id#sha256:}
  if [[ -n "$id" ]] && node_exec crictl images --no-trunc "$ref" 2>/dev/null | grep -q "sha256:$id"; then
    say "$ref is in the node already (image ${id:0:12})"
    return 0
  fi
  dir=$(mktemp -d)
  # From the engine that holds it: docker where make image built with Docker, else podman.
  if docker image inspect "$ref" >/dev/null 2>&1; then
    docker save -o "$dir/image.tar" "$ref" || { rm -rf "$dir"; fail "docker save $ref failed"; }
  else
    "$repo/scripts/image/podman.sh" save --quiet --format docker-archive -o "$dir/image.tar" "$ref" >/dev/null ||
      { rm -rf "$dir"; fail "podman save $ref failed (is it built? make image)"; }
  fi
  kind load image-archive "$dir/image.tar" --name "$name" >&2 || { rm -rf "$dir"; fail "kind load image-archive $ref failed"; }
  rm -rf "$dir"
  say "loaded $ref into the node ($(elapsed "$started"))"
}

# What test/support/globalSetup.ts exports for this cluster.
print_env() {
  local image=${1:-}
  cluster_exists || fail "no kind cluster $name: tools/kindNode/kind-cluster.sh up"
  echo "export BREAKWATER_KUBECONFIG=$kubeconfig"
  echo "export BREAKWATER_POD_HOST=$(host_address)"
  # Only where this machine does route the pod network (up with BREAKWATER_REACH=routes).
  routed && echo "export BREAKWATER_CLUSTER_ROUTED=1"
  # The suites put images on the node and restart its API server through this (test/support/kindCluster.ts).
  echo "export BREAKWATER_KIND_CLUSTER=$name"
  [[ -n "$image" ]] && echo "export BREAKWATER_CHART_IMAGE=$image"
  return 0
}

node_exec() {
  (($#)) || fail "usage: kind-cluster.sh exec <command> [arguments...]"
  cluster_exists || fail "no kind cluster $name: tools/kindNode/kind-cluster.sh up"
  "$(engine)" exec "$name-control-plane" "$@"
}

down() {
  local started
  started=$(now_ms)
  if cluster_exists; then
    # podman's rm -f, which kind's delete runs, asks the node's systemd to shut down and waits up
    # to 10 s for it (21–24 s in all here); Docker's kills at once. Killed first, nothing of
    # the node outlives its namespaces (the check below reads the host), and delete takes 3 s.
    if [[ "$(engine)" == podman ]]; then
      podman kill "$name-control-plane" >/dev/null 2>&1 || true
    fi
    kind delete cluster --name "$name" >&2 || fail "kind delete cluster failed"
    say "kind delete cluster: $(elapsed "$started")"
  fi
  rm -f "$kubeconfig" "$state/kind-config.yaml"
  unroute
  restore_host
}

case "${1:-}" in
  up) up ;;
  node-image) node_image ;;
  load) shift; load "$@" ;;
  check) check ;;
  status) status ;;
  env) shift; print_env "$@" ;;
  exec) shift; node_exec "$@" ;;
  down) down ;;
  *) echo "usage: $0 up | node-image | load <image> | check | status | env [image] | exec <command...> | down" >&2; exit 2 ;;
esac
