/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 4: policy reloads, between calls and while calls are in flight. Each scenario's
 * script (calls, reloads, calls started before a reload and answered after) runs on the lean
 * runtime, then on the long one, the simulator's faults set the same way before each step;
 * the answers are compared step by step (status, headers, body; streams as their events),
 * then every metric series, /debug/{breakers,ratelimiter,stats} and each runtime's plan.
 *
 *   node attacks/lean-route/reload.ts [scenario ...]
 */
import { writeFileSync } from 'node:fs';
import {
  basePolicy,
  call,
  snapshot,
  snapshotDiffs,
  type Snapshot,
  FALLBACK_MODEL,
  plain,
  plan,
  PRIMARY_MODEL,
  sleep,
  startPair,
  type CallOptions,
  type Pair,
  type Policy,
  type Seen,
} from './harness.ts';
import type { FaultRequest } from '../../test/support/simulator.ts';
import type { RuntimeHandle } from '../../test/support/runtimeProcess.ts';

type Step =
  | { call: string; o?: CallOptions; fault?: FaultRequest; settleMs?: number }
  | { reload: (p: Policy) => Policy }
  /** A call started, then after `afterMs` the reload, then the call's answer awaited. */
  | {
      inflight: string;
      o?: CallOptions;
      fault?: FaultRequest;
      afterMs: number;
      reload: (p: Policy) => Policy;
    };

const MAPPED = 'claude-mapped-7';
const second = (p: Policy) =>
  ({ ...p, backends: [...p.backends, { ...p.backends[0]!, name: 'second' }] }) as Policy;
const oneBackend = (p: Policy) => ({ ...p, backends: [p.backends[0]!] }) as Policy;
const withMap = (p: Policy) =>
  ({ ...p, backends: [{ ...p.backends[0]!, models: { [PRIMARY_MODEL]: MAPPED } }] }) as Policy;
const noMap = (p: Policy) =>
  ({ ...p, backends: [{ ...p.backends[0]!, models: undefined }] }) as Policy;
const cacheOn = (p: Policy) => ({ ...p, cache: { ...p.cache, enabled: true } }) as Policy;
const cacheOff = (p: Policy) => ({ ...p, cache: { ...p.cache, enabled: false } }) as Policy;
const budgets = (p: Policy) =>
  ({
    ...p,
    pricing: [PRIMARY_MODEL, FALLBACK_MODEL].map((model) => ({
      model,
      inputMicroUsdPerMTok: 3_000_000,
      outputMicroUsdPerMTok: 15_000_000,
      cacheWrite5mMicroUsdPerMTok: 3_750_000,
      cacheWrite1hMicroUsdPerMTok: 6_000_000,
      cacheReadMicroUsdPerMTok: 300_000,
    })),
    rateLimit: {
      ...p.rateLimit,
      spend: {
        timeZone: 'UTC',
        shareOf: 1,
        budgets: [
          {
            name: 'day',
            period: 'Day',
            limitMicroUsd: 1_000_000,
            per: 'Agent',
            onExhausted: 'Refuse',
            warnAtPercent: 80,
            waitForHeldMs: 0,
          },
        ],
      },
    },
  }) as Policy;
const noBudgets = (p: Policy) => {
  const { pricing: _, ...rest } = p;
  const { spend: __, ...rl } = rest.rateLimit as Policy['rateLimit'] & { spend?: unknown };
  return { ...rest, rateLimit: rl } as Policy;
};
const slow = (ms: number): FaultRequest => ({ latencyMs: ms, count: 1 });
const bare: CallOptions = {
  body: {
    model: PRIMARY_MODEL,
    messages: [{ role: 'user', content: 'Tell me something long please' }],
  },
};
const stream: CallOptions = { body: plain('Stream it', { stream: true, max_tokens: 40 }) };

const SCENARIOS: Record<string, Step[]> = {
  modelMap: [
    { reload: withMap },
    { call: 'primary, mapped on the backend' },
    { call: 'primary, stream', o: stream },
    { call: 'the mapped id by name', o: { body: { ...plain('Hi'), model: MAPPED } } },
    { call: 'the fallback by name', o: { body: { ...plain('Hi'), model: FALLBACK_MODEL } } },
    { call: 'mapped id down: falls back', fault: { status: 500, model: MAPPED } },
    {
      call: 'count_tokens, mapped',
      o: {
        path: '/v1/messages/count_tokens',
        body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }] },
      },
    },
    { reload: noMap },
    { call: 'map removed' },
    { reload: withMap },
    { call: 'map back' },
  ],
  maxTokens: [
    { call: 'max_tokens absent, policy 64', o: bare },
    { reload: (p) => ({ ...p, model: { ...p.model, maxTokens: 3 } }) },
    { call: 'max_tokens absent, policy 3', o: bare },
    {
      call: 'max_tokens 50 asked, policy 3',
      o: { body: plain('Tell me something long please', { max_tokens: 50 }) },
    },
    { reload: (p) => ({ ...p, model: { ...p.model, maxTokens: 64, temperature: 0.1 } }) },
    { call: 'temperature set by policy', o: bare },
  ],
  systemPrompt: [
    { call: 'system A' },
    {
      reload: (p) => ({
        ...p,
        systemPrompt: 'You are a very different and much longer system prompt. '.repeat(20),
      }),
    },
    { call: 'system B' },
    { call: 'caller system too', o: { body: plain('Hi', { system: 'caller says' }) } },
  ],
  addBackendInflight: [
    {
      inflight: 'slow call across the reload to two backends',
      fault: slow(900),
      afterMs: 300,
      reload: second,
    },
    { call: 'two backends, 1' },
    { call: 'two backends, 2' },
    {
      inflight: 'slow stream across the reload back to one',
      o: stream,
      fault: slow(900),
      afterMs: 300,
      reload: oneBackend,
    },
    { call: 'one backend again' },
  ],
  streamInflight: [
    {
      inflight: 'stream with slow events across a reload to two backends',
      o: { body: plain('Stream it', { stream: true, max_tokens: 60 }) },
      afterMs: 80,
      reload: second,
    },
    { reload: oneBackend },
    {
      inflight: 'stream failing after content across a reload',
      o: stream,
      fault: { status: 529, count: 1, inStream: 'after-content' },
      afterMs: 30,
      reload: (p) => ({ ...p, retry: { ...p.retry, maxAttempts: 1 } }),
    },
  ],
  cacheInflight: [
    { inflight: 'slow call across cache on', fault: slow(900), afterMs: 300, reload: cacheOn },
    { call: 'cache on, first', o: { body: plain('Cache me') } },
    { call: 'cache on, again', o: { body: plain('Cache me') } },
    { reload: cacheOff },
    { call: 'cache off', o: { body: plain('Cache me') } },
  ],
  budgetsInflight: [
    { inflight: 'slow call across budgets on', fault: slow(900), afterMs: 300, reload: budgets },
    { call: 'budgets on' },
    { inflight: 'slow call across budgets off', fault: slow(900), afterMs: 300, reload: noBudgets },
    { call: 'budgets off' },
  ],
  breakerSettings: [
    {
      call: 'primary fails x3, falls back',
      fault: { status: 500, model: PRIMARY_MODEL, count: 3 },
    },
    { reload: (p) => ({ ...p, circuitBreaker: { ...p.circuitBreaker, failureThreshold: 4 } }) },
    {
      call: 'one more primary failure after threshold lowered',
      fault: { status: 500, model: PRIMARY_MODEL, count: 1 },
    },
    { call: 'next', fault: { status: 500, model: PRIMARY_MODEL, count: 3 } },
    { call: 'open now?' },
    {
      reload: (p) => ({
        ...p,
        circuitBreaker: { ...p.circuitBreaker, failureThreshold: 4, openDurationMs: 1000 },
      }),
    },
    { call: 'after openDuration changed' },
    { reload: (p) => ({ ...p, model: { ...p.model, fallbacks: [] } }) },
    { call: 'fallback removed while open' },
  ],
  retryTimeoutInflight: [
    {
      inflight: 'hanging call across timeoutMs 30s → 1s',
      fault: { hang: true, count: 1 },
      afterMs: 200,
      reload: (p) => ({ ...p, timeoutMs: 1000 }),
    },
    { call: 'hang with 1 s timeout', fault: { hang: true, count: 1 } },
    {
      inflight: '529s across maxAttempts 3 → 1',
      fault: { status: 529, count: 2, latencyMs: 300 },
      afterMs: 150,
      reload: (p) => ({ ...p, retry: { ...p.retry, maxAttempts: 1 } }),
    },
    { call: 'one 529, one attempt', fault: { status: 529, count: 1 } },
  ],
  limiterInflight: [
    {
      inflight: 'slow call across a rate limit tightened to 1/s burst 1',
      fault: slow(600),
      afterMs: 200,
      reload: (p) => ({
        ...p,
        rateLimit: { ...p.rateLimit, requests: { replicaPerSecond: 1, replicaBurst: 1 } },
      }),
    },
    { call: 'limited 1' },
    { call: 'limited 2' },
    {
      inflight: 'slow call across a bulkhead of 1',
      fault: slow(600),
      afterMs: 1100,
      reload: (p) => ({
        ...p,
        rateLimit: {
          ...p.rateLimit,
          concurrency: { replicaMaxConcurrent: 1, replicaMaxQueue: 0, queueTimeoutMs: 100 },
        },
      }),
    },
    { call: 'after', settleMs: 1000 },
  ],
};

let generation = 1;
let current: Policy;
async function reload(rt: RuntimeHandle, file: string, to: Policy): Promise<void> {
  const before = ((await rt.debug('/debug/policy')) as { applied: number }).applied;
  generation += 1;
  current = { ...to, agent: { ...to.agent, generation } };
  writeFileSync(file, JSON.stringify(current));
  for (let i = 0; i < 200; i++) {
    const d = (await rt.debug('/debug/policy')) as { applied: number; rejected: number };
    if (d.applied > before) return;
    await sleep(25);
  }
  throw new Error(
    `policy not applied: ${JSON.stringify(await rt.debug('/debug/policy')).slice(0, 400)}`,
  );
}

const view = (s: Seen) =>
  JSON.stringify({
    ...s,
    body: s.body.startsWith('event:')
      ? s.body
          .split('\n')
          .filter((l) => l.startsWith('event:') || l.includes('"error"') || l.includes('usage'))
          .join(',')
      : s.body,
  });

async function runScript(
  pair: Pair,
  which: 'lean' | 'long',
  steps: Step[],
  start: Policy,
): Promise<string[]> {
  const rt = pair[which];
  const file = pair.files[which];
  current = start;
  generation = 1;
  const out: string[] = [];
  for (const s of steps) {
    await pair.sim.clearFaults();
    if ('call' in s || 'inflight' in s) if (s.fault !== undefined) await pair.sim.setFault(s.fault);
    if ('call' in s) {
      out.push(`${s.call}: ${view(await call(rt, s.o ?? { body: plain('Hi') }))}`);
      if (s.settleMs !== undefined) await sleep(s.settleMs);
    } else if ('inflight' in s) {
      const pending = call(rt, s.o ?? { body: plain('Hi') });
      await sleep(s.afterMs);
      await reload(rt, file, s.reload(current));
      out.push(`${s.inflight}: ${view(await pending)}`);
    } else {
      await reload(rt, file, s.reload(current));
      out.push(
        `reload → ${JSON.stringify(((await rt.debug('/debug/policy')) as { messagesRoute: unknown }).messagesRoute)}`,
      );
    }
  }
  await pair.sim.clearFaults();
  await sleep(700);
  snaps[which] = await snapshot(rt);
  return out;
}
const snaps: Partial<Record<'lean' | 'long', Snapshot>> = {};

const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(SCENARIOS);
let total = 0;
for (const name of chosen) {
  let start!: Policy;
  const pair = await startPair((url) => (start = basePolicy(url, {})), {
    firstTokenMs: 40,
    eventGapMs: 20,
  });
  try {
    const lean = await runScript(pair, 'lean', SCENARIOS[name]!, start);
    const long = await runScript(pair, 'long', SCENARIOS[name]!, start);
    const found: string[] = [];
    lean.forEach((l, i) => {
      if (l !== long[i] && !l.startsWith('reload'))
        found.push(`answer\n    lean ${l}\n    long ${long[i]}`);
    });
    found.push(...snapshotDiffs(snaps.lean!, snaps.long!));
    total += found.length;
    console.log(
      `== ${name}: ${found.length} differences; plan ${JSON.stringify(await plan(pair))}`,
    );
    for (const l of lean) console.log(`  . ${l.slice(0, 300)}`);
    for (const f of found) console.log(`  - ${f.slice(0, 3000)}`);
  } finally {
    await pair.stop();
  }
}
console.log(`total ${total}`);
