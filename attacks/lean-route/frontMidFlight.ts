/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: each ! reads back a value it has just read */
/**
 * The front with a request taken and its body half read: (1) the policy reloaded from lean to
 * not lean (the response cache on) before the rest of the body comes; (2) SIGTERM before the
 * rest comes. The same bytes to the lean runtime and to the long one; answers, exit codes,
 * /metrics and the plans' counters compared.
 *
 *   node attacks/lean-route/frontMidFlight.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import {
  basePolicy,
  metricDiffs,
  startPair,
  writePolicy,
  type Pair,
  type Policy,
} from './harness.ts';
import { BODY, head, raw } from './frontRaw.ts';
import type { RuntimeHandle } from '../../test/support/runtimeProcess.ts';

const half = Math.floor(BODY.length / 2);
const port = (u: string) => new URL(u).port;
const PLAN = /"(way|leanCalls|frontRequests|because)":[^,}]*/g;
const plan = async (rt: RuntimeHandle) =>
  JSON.stringify(await rt.debug('/debug/policy'))
    .match(PLAN)
    ?.join(' ') ?? 'none';
const applied = async (rt: RuntimeHandle) =>
  ((await rt.debug('/debug/policy')) as { applied: number }).applied;

/** Sends the head and half the body; `between` runs; then the rest of the body. */
function midFlight(rt: RuntimeHandle, gapMs: number) {
  const p = port(rt.url);
  return raw(rt.url, {
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length) + BODY.slice(0, half),
      gapMs,
      BODY.slice(half),
    ],
    then: 'wait',
    idleMs: 2000,
  });
}

let differ = 0;
const compare = (name: string, a: string, b: string) => {
  const same = a === b;
  if (!same) differ++;
  console.log(
    `== ${name}: ${same ? 'same' : 'DIFFER'}\n${same ? a : `-- lean\n${a}\n-- long\n${b}`}`,
  );
};

// (1) reload lean -> not lean mid-body.
{
  const pair: Pair = await startPair((sim) => basePolicy(sim));
  console.log(`before: lean ${await plan(pair.lean)}; long ${await plan(pair.long)}`);
  const before = await Promise.all([applied(pair.lean), applied(pair.long)]);
  const calls = [midFlight(pair.lean, 1500), midFlight(pair.long, 1500)];
  await sleep(200);
  const doc = JSON.parse(readFileSync(pair.files.lean, 'utf8')) as Policy;
  writePolicy(pair, {
    ...doc,
    agent: { ...doc.agent, generation: 2 },
    cache: { ...doc.cache, enabled: true },
  });
  for (let i = 0; i < 100; i++) {
    const now = await Promise.all([applied(pair.lean), applied(pair.long)]);
    if (now[0] > before[0] && now[1] > before[1]) break;
    await sleep(20);
  }
  console.log(`reloaded mid-body: lean ${await plan(pair.lean)}; long ${await plan(pair.long)}`);
  const [a, b] = await Promise.all(calls);
  compare('reload lean->cache mid-body', a!, b!);
  // And back to lean, then a request again on each.
  writePolicy(pair, { ...doc, agent: { ...doc.agent, generation: 3 } });
  await sleep(1500);
  const [c, d] = await Promise.all([midFlight(pair.lean, 10), midFlight(pair.long, 10)]);
  compare('after reload back', c, d);
  await sleep(800);
  const m = await metricDiffs(pair);
  console.log(m.join('\n'));
  console.log(`end: lean ${await plan(pair.lean)}; long ${await plan(pair.long)}`);
  await pair.stop();
  differ += m.length;
}

// (2) SIGTERM mid-body, then the rest of the body, then a second request on a new socket.
{
  const pair: Pair = await startPair((sim) => basePolicy(sim));
  const gap = Number(process.env['ATT63_GAP_MS'] ?? 600);
  const calls = [midFlight(pair.lean, gap), midFlight(pair.long, gap)];
  await sleep(200);
  pair.lean.child.kill('SIGTERM');
  pair.long.child.kill('SIGTERM');
  const [a, b] = await Promise.all(calls);
  compare(`SIGTERM mid-body, the rest ${String(gap - 200)} ms after it`, a!, b!);
  const codes = await Promise.all([pair.lean.exited, pair.long.exited]);
  console.log(`exit codes: lean ${String(codes[0])}, long ${String(codes[1])}`);
  if (codes[0] !== codes[1]) differ++;
  await pair.sim.stop();
}
console.log(`${String(differ)} differences`);
process.exit(0);
