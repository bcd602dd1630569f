/**
 * R3 from the outside (docs/guarantees.md): three runtime processes on one RateLimitPolicy
 * (scope Cluster, shares) whose store is one redis-server, uneven open-loop callers, and the
 * redis-server SIGSTOPped in spells. Counts the 200s over the run against the limit plus the
 * one burst R3 allows past it.
 *
 *   export PATH=$PWD/.breakwater/node/bin:$PATH
 *   node attacks/r3-pause/pause.ts --plan short|long|mixed --seconds 30 --rates 30,5,2
 *
 * One JSON line on stdout, appended to attacks/r3-pause/runs.jsonl.
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startRedis } from '../../test/support/redisServer.ts';
import {
  agentDocument,
  offerLoad,
  ratePolicy,
  startAgent,
} from '../../test/support/rateLimitStoreFixture.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { waitFor } from '../../test/support/waitFor.ts';

const { values: opt } = parseArgs({
  options: {
    plan: { type: 'string', default: 'mixed' },
    seconds: { type: 'string', default: '30' },
    rates: { type: 'string', default: '30,5,2' },
    perSecond: { type: 'string', default: '10' },
    burst: { type: 'string', default: '10' },
    waitBudget: { type: 'string', default: '' },
    label: { type: 'string', default: '' },
  },
});
const seconds = Number(opt.seconds);
const perSecond = Number(opt.perSecond);
const burst = Number(opt.burst);
const rates = opt.rates.split(',').map(Number);

/** [startMs, lengthMs] of each spell with Redis stopped, from the load's start. */
function spells(plan: string, totalMs: number): [number, number][] {
  const short: [number, number][] = [];
  // 300 ms stopped in every second from 2 s on, for 10 s.
  for (let t = 2_000; t < 12_000 && t < totalMs; t += 1_000) short.push([t, 300]);
  const long: [number, number][] = [[Math.min(14_000, totalMs / 3), 8_000]];
  if (plan === 'short') return short;
  if (plan === 'long') return long;
  if (plan === 'jitter') {
    const out: [number, number][] = [];
    for (let t = 1_000; t < totalMs - 2_000; t += 700) out.push([t, 120 + ((t / 7) % 400)]);
    return out;
  }
  if (plan === 'flutter') {
    // Stops about as long as a wait budget, every 200 ms: admissions answered late.
    const out: [number, number][] = [];
    for (let t = 1_000, k = 0; t < totalMs - 1_000; t += 200, k++)
      out.push([t, 30 + ((k * 37) % 70)]);
    return out;
  }
  return [...short, ...long];
}

const redis = await startRedis();
const sim = await startSimulator({ latencyMs: 1 });
const store = {
  redis: { address: redis.address },
  ...(opt.waitBudget === '' ? {} : { waitBudget: opt.waitBudget }),
};
const agent = await startAgent(
  agentDocument(sim.url, ratePolicy({ requests: { perSecond, burst }, store })),
);
const urls = agent.replicas.map((r) => r.runtime.url);
try {
  for (const r of agent.replicas)
    await waitFor(
      async () =>
        (
          (await r.runtime.debug('/debug/ratelimiter')) as {
            rateLimiter: { store?: { report: { state: string } } };
          }
        ).rateLimiter.store?.report.state === 'Shared',
      { description: 'on the store', timeoutMs: 20_000, intervalMs: 50 },
    );
  const totalMs = seconds * 1000;
  const plan = spells(opt.plan, totalMs);
  const start = performance.now();
  const faults = (async () => {
    for (const [at, len] of plan) {
      const wait = at - (performance.now() - start);
      if (wait > 0) await sleep(wait);
      redis.freeze();
      await sleep(len);
      redis.thaw();
    }
  })();
  const calls = await offerLoad(urls, rates, totalMs);
  await faults;
  // Whatever the limiter keeps after the run is not counted: only calls sent in [0, totalMs).
  const served = calls.filter((c) => c.status === 200).length;
  const byStatus: Record<string, number> = {};
  for (const c of calls) byStatus[String(c.status)] = (byStatus[String(c.status)] ?? 0) + 1;
  const perReplica = urls.map(
    (_, i) => calls.filter((c) => c.replica === i && c.status === 200).length,
  );
  const limit = burst + (perSecond * totalMs) / 1000;
  const bound = limit + burst;
  // The loosest window: to the last 200's answer (every call was decided before its answer).
  const lastAnswerMs = Math.max(
    ...calls.filter((c) => c.status === 200).map((c) => c.sentAtMs + c.latencyMs),
  );
  const boundToLastAnswer = Math.floor(2 * burst + (perSecond * lastAnswerMs) / 1000);
  // What each replica says it decided where (the store, its share), after the run.
  const limiters = await Promise.all(
    agent.replicas.map(
      async (r) =>
        ((await r.runtime.debug('/debug/ratelimiter')) as { rateLimiter: { counters: unknown } })
          .rateLimiter.counters,
    ),
  );
  const line = {
    at: new Date().toISOString(),
    label: opt.label,
    plan: opt.plan,
    seconds,
    rates,
    perSecond,
    burst,
    waitBudget: opt.waitBudget || 'default',
    stoppedMs: plan.reduce((s, [, l]) => s + l, 0),
    spells: plan.length,
    offered: calls.length,
    served,
    byStatus,
    perReplica,
    limit,
    bound,
    lastAnswerMs: Math.round(lastAnswerMs),
    boundToLastAnswer,
    past: served > bound,
    pastLoosest: served > boundToLastAnswer,
    limiters,
    load: (await import('node:os')).loadavg().map((l) => l.toFixed(2)),
  };
  const text = JSON.stringify(line);
  appendFileSync(new URL('./runs.jsonl', import.meta.url), `${text}\n`);
  console.log(text);
} finally {
  redis.thaw();
  await agent.stop();
  await sim.stop();
  await redis.remove();
}
