/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 2: the breaker. One script of calls and waits run on the lean runtime, then the same
 * on the long one (the simulator's faults set the same way before each step): trip, calls
 * while open, retry-after / x-should-retry while open, half-open probes (one, and several at
 * once), a failed probe, recovery, streams while open. Variants: with the fallback model or
 * without, openRetryAfter None / Remaining / Bounded, Shadow mode, a count or rate window.
 * After the script, every metric series and /debug/{breakers,ratelimiter,stats}.
 *
 *   node attacks/lean-route/breaker.ts [variant ...]
 */
import {
  basePolicy,
  call,
  debugDiffs,
  FALLBACK_MODEL,
  metricDiffs,
  plain,
  plan,
  PRIMARY_MODEL,
  sleep,
  spanSeen,
  startPair,
  startSink,
  otelEnv,
  type Pair,
  type Policy,
  type Seen,
} from './harness.ts';
import type { FaultRequest } from '../../test/support/simulator.ts';

type Action =
  | {
      call: string;
      body?: Record<string, unknown>;
      fault?: FaultRequest;
      together?: number;
      settleMs?: number;
    }
  | { wait: number };

const OPEN_MS = 1500;
const down: FaultRequest = { status: 500, model: PRIMARY_MODEL };
const SCRIPT: Action[] = [
  { call: 'ok before', body: plain('Hi') },
  { call: 'primary down: trips', fault: down },
  { call: 'while open', fault: down },
  { call: 'while open, stream', body: plain('Hi', { stream: true }), fault: down },
  { call: 'while open, primary healthy again' },
  { call: 'while open, fallback by name', body: { ...plain('Hi'), model: FALLBACK_MODEL } },
  {
    call: 'count_tokens while open',
    body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }], path: 'count' },
  },
  { wait: OPEN_MS + 200 },
  { call: 'half-open probe fails', fault: down },
  { call: 'reopened', fault: down },
  { wait: OPEN_MS * 2 + 300 },
  { call: 'three at once in half-open', together: 3, body: plain('Hi'), fault: { latencyMs: 200 } },
  { call: 'after the probes' },
  { call: 'trip again: 529s', fault: { status: 529, model: PRIMARY_MODEL } },
  { call: 'open, 529 still', fault: { status: 529, model: PRIMARY_MODEL } },
  { wait: OPEN_MS * 4 + 300 },
  { call: 'half-open stream probe ok', body: plain('Hi', { stream: true }) },
  { call: 'closed again', settleMs: 500 },
];

const VARIANTS: Record<string, (p: Policy) => Policy> = {
  fallback: (p) => p,
  noFallback: (p) => ({ ...p, model: { ...p.model, fallbacks: [] } }),
  remaining: (p) => ({
    ...p,
    model: { ...p.model, fallbacks: [] },
    circuitBreaker: { ...p.circuitBreaker, openRetryAfter: 'Remaining' },
  }),
  bounded: (p) => ({
    ...p,
    model: { ...p.model, fallbacks: [] },
    circuitBreaker: { ...p.circuitBreaker, openRetryAfter: 'Bounded', openMaxRetryAfterMs: 1000 },
  }),
  shadow: (p) => ({ ...p, circuitBreaker: { ...p.circuitBreaker, mode: 'Shadow' } }),
  rate: (p) => ({
    ...p,
    circuitBreaker: {
      ...p.circuitBreaker,
      failureRate: { thresholdPercent: 50, minimumCalls: 4, window: { type: 'Count', size: 10 } },
    },
  }),
  forcedOpen: (p) => ({
    ...p,
    circuitBreaker: { ...p.circuitBreaker, override: { state: 'ForcedOpen', reason: 'attack' } },
  }),
  forcedClosed: (p) => ({
    ...p,
    circuitBreaker: { ...p.circuitBreaker, override: { state: 'ForcedClosed', reason: 'attack' } },
  }),
};

async function runScript(pair: Pair, rt: Pair['lean']): Promise<string[]> {
  const out: string[] = [];
  for (const [index, a] of SCRIPT.entries()) {
    if ('wait' in a) {
      await sleep(a.wait);
      continue;
    }
    await pair.sim.clearFaults();
    if (a.fault !== undefined) await pair.sim.setFault(a.fault);
    const isCount = a.body?.['path'] === 'count';
    const body =
      a.body === undefined
        ? plain('Hi')
        : Object.fromEntries(Object.entries(a.body).filter(([k]) => k !== 'path'));
    const o = {
      body,
      ...(isCount ? { path: '/v1/messages/count_tokens' } : {}),
      ...(traced ? { headers: { traceparent: `00-${traceOf(index)}-00f067aa0ba902b7-01` } } : {}),
    };
    const answers: Seen[] = await Promise.all(
      Array.from({ length: a.together ?? 1 }, () => call(rt, o)),
    );
    const view = answers
      .map((s) => ({
        ...s,
        body: s.body.startsWith('event:')
          ? s.body
              .split('\n')
              .filter((l) => l.startsWith('event:'))
              .join(',')
          : s.body,
      }))
      .map((s) => JSON.stringify(s))
      .sort();
    out.push(`${a.call}: ${view.join(' | ')}`);
    if (a.settleMs !== undefined) await sleep(a.settleMs);
  }
  await pair.sim.clearFaults();
  return out;
}

// --traced: spans exported to a sink each, those of each step (found by its trace id) compared.
const traced = process.argv.includes('--traced');
const traceOf = (i: number) => (i + 1).toString(16).padStart(32, 'd');
const args = process.argv.slice(2).filter((a) => a !== '--traced');
const chosen = args.length > 0 ? args : Object.keys(VARIANTS);
let total = 0;
for (const v of chosen) {
  const sinks = traced ? { lean: await startSink(), long: await startSink() } : undefined;
  const pair = await startPair(
    (url) =>
      VARIANTS[v]!(
        basePolicy(url, {
          timeoutMs: 2000,
          circuitBreaker: {
            ...basePolicy(url).circuitBreaker,
            failureThreshold: 3,
            successThreshold: 1,
            openDurationMs: OPEN_MS,
            halfOpenMaxCalls: 1,
          },
        }),
      ),
    {},
    {},
    (lean) => (sinks === undefined ? {} : otelEnv(lean ? sinks.lean : sinks.long)),
  );
  try {
    const lean = await runScript(pair, pair.lean);
    const long = await runScript(pair, pair.long);
    await sleep(600);
    const found: string[] = [];
    lean.forEach((l, i) => {
      if (l !== long[i]) found.push(`answer\n    lean ${l}\n    long ${long[i]}`);
    });
    found.push(...(await metricDiffs(pair)), ...(await debugDiffs(pair)));
    if (sinks !== undefined) {
      await sleep(1500);
      let spans = 0;
      for (const [index, a] of SCRIPT.entries()) {
        if (!('call' in a)) continue;
        const of = (sink: typeof sinks.lean) =>
          sink.spans
            .filter((x) => x.traceId === traceOf(index))
            .map((x) => JSON.stringify(spanSeen(x)))
            .sort();
        const [x, y] = [of(sinks.lean), of(sinks.long)];
        spans += x.length;
        if (JSON.stringify(x) !== JSON.stringify(y))
          found.push(
            `spans of ${a.call}:\n    lean ${x.join('\n         ')}\n    long ${y.join('\n         ')}`,
          );
      }
      console.log(
        `  spans compared: ${spans} (sinks ${sinks.lean.spans.length}, ${sinks.long.spans.length})`,
      );
    }
    total += found.length;
    console.log(`== ${v}: ${found.length} differences; plan ${JSON.stringify(await plan(pair))}`);
    for (const l of lean) console.log(`  . ${l.slice(0, 260)}`);
    for (const f of found) console.log(`  - ${f.slice(0, 2500)}`);
  } finally {
    await pair.stop();
    if (sinks !== undefined) await Promise.all([sinks.lean.close(), sinks.long.close()]);
  }
}
console.log(`total ${total}`);
