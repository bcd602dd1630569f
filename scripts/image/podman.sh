#!/usr/bin/env bash
# podman as this project runs it (make image, the local node's container mode, the benchmark):
#   - with runc when it is installed: crun refuses hybrid cgroup layouts (v1 controllers with a
#     v2 unified mount), where runc works; PODMAN_RUNTIME chooses another.
#   - run/create/build with `--ulimit nofile=N:N --ulimit nproc=N:N` at this shell's hard
#     limits: podman's defaults (1048576, 4194304) are above them, and raising a limit needs
#     CAP_SYS_RESOURCE, which containers on CI machines often lack ("setrlimit … operation not
#     permitted"). nproc is capped at 32768 because podman lowers its own RLIMIT_NPROC to that
#     when it starts (strace shows the setrlimit), and a container cannot get more than podman has.
#
#   scripts/image/podman.sh <podman subcommand> [arguments...]
set -euo pipefail

runtime=${PODMAN_RUNTIME:-}
if [[ -z "$runtime" ]] && command -v runc >/dev/null 2>&1; then runtime=runc; fi
global=(${runtime:+--runtime "$runtime"})

limit() {
  local hard=$1 cap=$2
  if [[ "$hard" == unlimited || "$hard" -gt "$cap" ]]; then echo "$cap"; else echo "$hard"; fi
}
nofile=$(limit "$(ulimit -Hn)" 1048576)
nproc=$(limit "$(ulimit -Hu)" 32768)

subcommand=${1:?usage: podman.sh <subcommand> [arguments...]}
shift
case "$subcommand" in
  run | create | build)
    exec podman "${global[@]}" "$subcommand" \
      --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" "$@" ;;
  *) exec podman "${global[@]}" "$subcommand" "$@" ;;
esac
