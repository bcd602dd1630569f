#!/bin/sh
# The runs of REPORT.md, one after another; each appends a JSON line to runs.jsonl.
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PWD/.breakwater/node/bin:$PWD/node_modules/.bin:$PATH
run() { nice node --no-warnings=ExperimentalWarning attacks/r3-pause/pause.ts "$@" 2>&1 | tail -1; }
run --plan short --seconds 20 --label short
run --plan long --seconds 30 --label long
run --plan jitter --seconds 40 --label jitter
run --plan jitter --seconds 40 --waitBudget 20ms --label jitter-wb20
run --plan mixed --seconds 40 --rates 12,4,3 --waitBudget 20ms --label mixed-wb20-near
run --plan jitter --seconds 40 --rates 6,4,1 --label jitter-allnear
run --plan flutter --seconds 40 --label flutter
run --plan flutter --seconds 40 --waitBudget 50ms --label flutter-wb50
run --plan flutter --seconds 40 --rates 8,5,1 --waitBudget 50ms --label flutter-wb50-near
run --plan jitter --seconds 40 --label jitter-again
# Repeats of the plan that went past (jitter-again), with the loosest window recorded.
run --plan jitter --seconds 40 --label jitter-r1
run --plan jitter --seconds 40 --label jitter-r2
run --plan jitter --seconds 40 --label jitter-r3
run --plan jitter --seconds 80 --label jitter-80s
run --plan jitter --seconds 40 --waitBudget 1s --label jitter-wb1s
