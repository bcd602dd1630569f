#!/bin/sh
# The first batch of attack runs, two at a time; each appends a JSON line to runs.jsonl.
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PWD/.breakwater/node/bin:$PWD/node_modules/.bin:$PATH
run() { nice node --no-warnings=ExperimentalWarning attacks/store-failover/attack.ts "$@" 2>&1 | tail -1; }
run --fault kill --at 0.95 --runtimes 6 --callers 4 --perSecond 1000 --budget 0.05 --label kill95-6rt-hi &
run --fault stopReplica --acknowledge Replicas --at 0.5 --label stopReplica50-replicas
wait
run --fault kill --at 0.5 --streamed 2 --eventGapMs 60 --label kill50-streamed &
run --fault kill --at 0.9 --downAfterMs 200 --label kill90-downafter200
wait
run --fault restartOld --at 0.25 --label restartOld25 &
run --fault stop --stopMs 20000 --at 0.9 --runtimes 6 --callers 4 --perSecond 1000 --budget 0.05 --label stop20s90-6rt-hi
wait
