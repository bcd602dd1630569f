/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 3: the rate limiter and the bulkhead. For each variant, a burst of N calls at once
 * on the lean runtime, then (after the bucket refills) the same burst on the long one, with
 * the same simulator latency; the answers compared as a multiset (status, headers, body),
 * then every metric series (gauges back to 0 included) and /debug/{ratelimiter,stats,breakers}.
 *
 *   node attacks/lean-route/limits.ts [variant ...]
 */
import {
  basePolicy,
  call,
  debugDiffs,
  metricDiffs,
  plain,
  plan,
  sleep,
  startPair,
  type Policy,
  type Seen,
} from './harness.ts';

interface Variant {
  rl: (p: Policy) => Policy['rateLimit'];
  n: number;
  latencyMs: number;
  stream?: boolean;
  tokens?: number;
}
const rlOf = (p: Policy, extra: Record<string, unknown>) => ({ ...p.rateLimit, ...extra });
const VARIANTS: Record<string, Variant> = {
  reject: {
    rl: (p) => rlOf(p, { requests: { replicaPerSecond: 1, replicaBurst: 2 } }),
    n: 5,
    latencyMs: 50,
  },
  rejectStream: {
    rl: (p) => rlOf(p, { requests: { replicaPerSecond: 1, replicaBurst: 2 } }),
    n: 5,
    latencyMs: 50,
    stream: true,
  },
  wait: {
    rl: (p) =>
      rlOf(p, {
        requests: { replicaPerSecond: 2, replicaBurst: 1 },
        onLimit: 'Wait',
        maxWaitMs: 1200,
      }),
    n: 5,
    latencyMs: 50,
  },
  inputTokens: {
    rl: (p) => rlOf(p, { tokens: { replicaInputPerMinute: 3000 } }),
    n: 4,
    latencyMs: 50,
    tokens: 800,
  },
  outputTokens: {
    rl: (p) => rlOf(p, { tokens: { replicaOutputPerMinute: 150 } }),
    n: 4,
    latencyMs: 50,
  },
  bulkheadFull: {
    rl: (p) =>
      rlOf(p, {
        concurrency: { replicaMaxConcurrent: 1, replicaMaxQueue: 0, queueTimeoutMs: 1000 },
      }),
    n: 4,
    latencyMs: 400,
  },
  bulkheadQueueTimeout: {
    rl: (p) =>
      rlOf(p, {
        concurrency: { replicaMaxConcurrent: 1, replicaMaxQueue: 2, queueTimeoutMs: 300 },
      }),
    n: 4,
    latencyMs: 500,
  },
  bulkheadQueueStream: {
    rl: (p) =>
      rlOf(p, {
        concurrency: { replicaMaxConcurrent: 1, replicaMaxQueue: 1, queueTimeoutMs: 300 },
      }),
    n: 3,
    latencyMs: 400,
    stream: true,
  },
  shadow: {
    rl: (p) =>
      rlOf(p, {
        requests: { replicaPerSecond: 1, replicaBurst: 1 },
        concurrency: { replicaMaxConcurrent: 1, replicaMaxQueue: 0, queueTimeoutMs: 100 },
        mode: 'Shadow',
      }),
    n: 4,
    latencyMs: 200,
  },
};

const norm = (s: Seen) =>
  JSON.stringify({
    ...s,
    body: s.body.startsWith('event:')
      ? s.body
          .split('\n')
          .filter((l) => l.startsWith('event:'))
          .join(',')
      : s.body,
  });

const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(VARIANTS);
let total = 0;
for (const name of chosen) {
  const v = VARIANTS[name]!;
  const pair = await startPair((url) => {
    const p = basePolicy(url);
    return { ...p, rateLimit: v.rl(p) };
  });
  try {
    await pair.sim.setFault({ latencyMs: v.latencyMs });
    const burst = async (rt: typeof pair.lean) => {
      const content = v.tokens === undefined ? 'Hi' : 'word '.repeat(v.tokens);
      const out = await Promise.all(
        Array.from({ length: v.n }, (_, i) =>
          sleep(i * 5).then(() =>
            call(rt, { body: plain(content, v.stream ? { stream: true } : {}) }),
          ),
        ),
      );
      return out.map(norm).sort();
    };
    const lean = await burst(pair.lean);
    const long = await burst(pair.long);
    await sleep(800);
    const found: string[] = [];
    if (JSON.stringify(lean) !== JSON.stringify(long))
      found.push(
        `answers\n    lean ${lean.join('\n         ')}\n    long ${long.join('\n         ')}`,
      );
    found.push(...(await metricDiffs(pair)), ...(await debugDiffs(pair)));
    total += found.length;
    console.log(
      `== ${name}: ${found.length} differences; statuses ${lean.map((s) => (JSON.parse(s) as Seen).status).join(',')}; plan ${JSON.stringify(await plan(pair))}`,
    );
    for (const f of found) console.log(`  - ${f.slice(0, 3000)}`);
  } finally {
    await pair.sim.clearFaults();
    await pair.stop();
  }
}
console.log(`total ${total}`);
