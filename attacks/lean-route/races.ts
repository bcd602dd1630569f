/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 6: calls at once while the breaker trips, and how long answers take. Each scenario
 * runs on the lean runtime then on the long one (several rounds, a fresh pair each round);
 * compared: the multiset of answers, the simulator's count of requests it received, every
 * metric series and /debug/{breakers,ratelimiter,stats}, and for the timed scenarios each
 * answer's duration (a caller can tell a path by its latency when retry waits differ).
 *
 *   node attacks/lean-route/races.ts [rounds] [scenario ...]
 */
import {
  basePolicy,
  call,
  plain,
  PRIMARY_MODEL,
  sleep,
  snapshot,
  snapshotDiffs,
  startPair,
  type Policy,
  type Seen,
} from './harness.ts';
import type { FaultRequest } from '../../test/support/simulator.ts';

interface Scenario {
  policy: (p: Policy) => Policy;
  fault: FaultRequest[];
  n: number;
  stream?: boolean;
  staggerMs?: number;
  timed?: boolean;
}
const breaker3 = (p: Policy, extra: Record<string, unknown> = {}) =>
  ({
    ...p,
    circuitBreaker: { ...p.circuitBreaker, failureThreshold: 3, openDurationMs: 60_000, ...extra },
  }) as Policy;
const SCENARIOS: Record<string, Scenario> = {
  tripUnderLoadFallback: {
    policy: (p) => breaker3(p),
    fault: [{ status: 500, model: PRIMARY_MODEL, latencyMs: 100 }],
    n: 6,
  },
  tripUnderLoadNoFallback: {
    policy: (p) => breaker3({ ...p, model: { ...p.model, fallbacks: [] } }),
    fault: [{ status: 500, latencyMs: 100 }],
    n: 6,
  },
  tripUnderLoadStreams: {
    policy: (p) => breaker3(p),
    fault: [{ status: 529, model: PRIMARY_MODEL, latencyMs: 100, inStream: 'before-content' }],
    n: 6,
    stream: true,
  },
  tripStaggered: {
    policy: (p) => breaker3({ ...p, model: { ...p.model, fallbacks: [] } }),
    fault: [{ status: 503, latencyMs: 50 }],
    n: 8,
    staggerMs: 40,
  },
  retryAfterHonoured: {
    policy: (p) => ({ ...p, retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 3000 } }),
    fault: [{ status: 529, retryAfterSeconds: 2, count: 1 }],
    n: 1,
    timed: true,
  },
  retryAfter429: {
    policy: (p) => ({ ...p, retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 3000 } }),
    fault: [{ status: 429, retryAfterSeconds: 1, count: 1 }],
    n: 1,
    timed: true,
  },
  hangAlwaysTimeouts: {
    policy: (p) => ({ ...p, timeoutMs: 1000 }),
    fault: [{ hang: true }],
    n: 1,
    timed: true,
  },
  streamStallIdle: {
    policy: (p) => ({ ...p, streamIdleTimeoutMs: 1000, maxStreamDurationMs: 60_000 }),
    fault: [{ hang: true, inStream: 'after-content' }],
    n: 1,
    stream: true,
    timed: true,
  },
};

const norm = (s: Seen) =>
  JSON.stringify({
    ...s,
    body: s.body.startsWith('event:')
      ? s.body
          .split('\n')
          .filter((l) => l.startsWith('event:') || l.includes('"error"'))
          .join(',')
      : s.body,
  });
const args = process.argv.slice(2);
const rounds = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 2;
const chosen = args.length > 0 ? args : Object.keys(SCENARIOS);
let total = 0;
for (const name of chosen) {
  const sc = SCENARIOS[name]!;
  for (let round = 0; round < rounds; round++) {
    const pair = await startPair((url) => sc.policy(basePolicy(url)));
    try {
      const results: Record<string, { answers: string[]; received: number; ms: number[] }> = {};
      const snaps = [];
      for (const way of ['lean', 'long'] as const) {
        await pair.sim.clearFaults();
        await pair.sim.resetStats();
        for (const f of sc.fault) await pair.sim.addFault(f);
        const ms: number[] = [];
        const answers = await Promise.all(
          Array.from({ length: sc.n }, async (_, i) => {
            await sleep(i * (sc.staggerMs ?? 2));
            const t0 = Date.now();
            const s = await call(pair[way], {
              body: plain('Hi', sc.stream === true ? { stream: true } : {}),
            });
            ms.push(Date.now() - t0);
            return norm(s);
          }),
        );
        const stats = (await pair.sim.stats()) as unknown as Record<string, unknown>;
        await pair.sim.clearFaults();
        await sleep(700);
        snaps.push(await snapshot(pair[way]));
        results[way] = {
          answers: answers.sort(),
          received: Number(stats['requests'] ?? stats['total'] ?? JSON.stringify(stats).length),
          ms,
        };
      }
      const found: string[] = [];
      const [a, b] = [results['lean']!, results['long']!];
      if (JSON.stringify(a.answers) !== JSON.stringify(b.answers))
        found.push(
          `answers\n    lean ${a.answers.join('\n         ')}\n    long ${b.answers.join('\n         ')}`,
        );
      if (a.received !== b.received)
        found.push(`simulator received: lean ${a.received}, long ${b.received}`);
      if (sc.timed === true) {
        const d = Math.abs(a.ms[0]! - b.ms[0]!);
        if (d > 250) found.push(`duration: lean ${a.ms[0]} ms, long ${b.ms[0]} ms`);
      }
      found.push(...snapshotDiffs(snaps[0]!, snaps[1]!));
      total += found.length;
      console.log(
        `== ${name} round ${round}: ${found.length} differences; statuses ${a.answers.map((x) => (JSON.parse(x) as Seen).status).join(',')}; ms lean ${a.ms.join(',')} long ${b.ms.join(',')}`,
      );
      for (const f of found) console.log(`  - ${f.slice(0, 2500)}`);
    } finally {
      await pair.stop();
    }
  }
}
console.log(`total ${total}`);
