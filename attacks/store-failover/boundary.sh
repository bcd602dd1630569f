#!/bin/sh
# A failover across a Day budget's midnight: the budget in America/Anchorage (UTC-9 in
# November), whose midnight is 09:00:00 UTC. Started at 08:59:15 UTC, the primary SIGKILLed at
# 08:59:59 UTC, so the promotion (about 2.5 s) and the time on shares straddle the new period.
# $1: the fault (kill, blipEarly); $2: the UTC time to fault at; $3: the zone.
cd "$(dirname "$0")/../.." || exit 1
export PATH=$PWD/.breakwater/node/bin:$PWD/node_modules/.bin:$PATH
nice node --no-warnings=ExperimentalWarning attacks/store-failover/attack.ts --fault "${1:-kill}" \
  --at 0.3 --timeZone "${3:-America/Anchorage}" --faultAtUtc "${2:-08:59:59.000}" \
  --label "boundary-${1:-kill}-${3:-America/Anchorage}" 2>&1 | tail -1
