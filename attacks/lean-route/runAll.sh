#!/bin/sh
# Every attack as run for REPORT.md, each one's output in runs/. From the repository's root:
#   sh attacks/lean-route/runAll.sh
set -u
export PATH=$PWD/.breakwater/node/bin:$PATH
out=attacks/lean-route/runs
mkdir -p $out
run() { name=$1; shift; echo "== $name ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"; nice node --no-warnings "$@" > $out/$name.txt 2>&1; tail -1 $out/$name.txt; }
run calls attacks/lean-route/calls.ts
run calls-traced attacks/lean-route/calls.ts --traced
run upstream attacks/lean-route/upstream.ts
run upstream-traced attacks/lean-route/upstream.ts --traced
run timeoutRecord attacks/lean-route/timeoutRecord.ts 3
run breaker attacks/lean-route/breaker.ts
run breaker-traced attacks/lean-route/breaker.ts --traced
run limits attacks/lean-route/limits.ts
run reload attacks/lean-route/reload.ts
run races attacks/lean-route/races.ts 4
run keys attacks/lean-route/keys.ts
run drain attacks/lean-route/drain.ts
