#!/usr/bin/env bash
# The inotify check of tools/kindNode/kind-cluster.sh up (issue 52 item 4):
#
#   tools/kindNode/inotify.sh WANTED   # checks fs.inotify.max_user_instances against WANTED
#
# BREAKWATER_INOTIFY_FILE (default /proc/sys/fs/inotify/max_user_instances) is the file read,
# and written as root; test/demo/inotifyCheck.test.ts points it elsewhere.
set -euo pipefail

inotify_wanted=${1:?usage: inotify.sh WANTED}
file=${BREAKWATER_INOTIFY_FILE:-/proc/sys/fs/inotify/max_user_instances}
say() { printf '>> %s\n' "$*" >&2; }

# inotify lets a process watch files for changes; each watcher is an "instance", and
# fs.inotify.max_user_instances caps them per user across the whole machine (128 on many
# distributions). The node's systemd, containerd, kubelet and control plane run as the same user
# as everything else here and need more: past the cap, they fail with "too many open files" and
# the node or its pods do not start. Raised only as root (and put back by down); else explained.
# macOS has none of this here: Docker Desktop's Linux VM has its own limits.
check_inotify() {
  local instances
  [[ -r "$file" ]] || return 0
  instances=$(cat "$file")
  ((instances < inotify_wanted)) || return 0
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "$inotify_wanted" >"$file"
    say "host: fs.inotify.max_user_instances $instances -> $inotify_wanted, as root (the node's systemd, containerd and kubelet watch more files than $instances instances allow; put back by down)"
  else
    say "host: fs.inotify.max_user_instances is $instances, below the $inotify_wanted the node's systemd, containerd and kubelet need (inotify instances watch files for changes; past the limit they fail with \"too many open files\" and the node or its pods may not start)."
    say "  Not raised: this is not root. Raise it with: sudo sysctl -w fs.inotify.max_user_instances=$inotify_wanted"
    say "  (to keep it across reboots: echo fs.inotify.max_user_instances=$inotify_wanted | sudo tee /etc/sysctl.d/99-kind.conf)"
  fi
}

check_inotify
