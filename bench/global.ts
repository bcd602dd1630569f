/**
 * `make bench-global`: one RateLimitPolicy of 30 requests a second for an agent of three
 * runtime processes, 40 a second offered and skewed 80 % / 10 % / 10 % over the replicas, kept
 * once by the per-replica split (each replica its third) and once in Redis (exact for the
 * agent), in one run. Then the latency the Redis path adds to a call, and how long any call
 * waits for Redis when it stops answering. Writes bench/results/global.json and ends with
 *
 *   global: split_rps=S redis_rps=R target_rps=30 redis_p50_added_ms=L fallback_max_wait_ms=W
 *
 * - admitted rate: calls answered 200 per second, counted after a warm-up that spends the
 *   initial burst, so the number is the steady rate the policy allows;
 * - added latency: sequential calls (one at a time, limits far above the offer) to a replica
 *   with the store and to one without, in interleaved rounds (AB BA …) so background load
 *   lands on both alike; the median of the per-round p50s of each, then their difference;
 * - fallback wait: redis-server frozen (SIGSTOP: connections stay open and nothing answers,
 *   the worst case, worse than a refused connection) under the same load, then thawed; the
 *   longest any admission waited for the store, as each runtime measured it.
 *
 *   node --no-warnings=ExperimentalWarning bench/global.ts [--measure-ms 10000]
 *        [--warmup-ms 2000] [--rounds 8] [--calls-per-round 150] [--no-write] [--only budgets]
 *
 * Then what budgets add (bench/global/budgetCost.ts, bench/results/global-budgets.json): on the
 * Redis path against the same limits without a budget, and the in-process check per call;
 * `--only budgets` runs that part alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { PolicyDocument } from '../contract/src/policy/policyDocument.ts';
import { waitFor } from '../test/support/kube.ts';
import { startRedis } from '../test/support/redisServer.ts';
import {
  admittedPerSecond,
  agentDocument,
  call,
  offerLoad,
  ratePolicy,
  startAgent,
  type StoreAgent,
} from '../test/support/rateLimitStoreFixture.ts';
import { startSimulator } from '../test/support/simulator.ts';
import { median } from '../tools/stats/samples.ts';
import { budgetCost } from './global/budgetCost.ts';

const { values: flags } = parseArgs({
  options: {
    'measure-ms': { type: 'string', default: '10000' },
    'warmup-ms': { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '8' },
    'calls-per-round': { type: 'string', default: '150' },
    'no-write': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
if (flags.only !== undefined && flags.only !== 'budgets')
  throw new Error(`--only takes "budgets", not "${flags.only}"`);
const MEASURE_MS = Number(flags['measure-ms']);
const WARMUP_MS = Number(flags['warmup-ms']);
const ROUNDS = Number(flags.rounds);
const CALLS_PER_ROUND = Number(flags['calls-per-round']);
const TARGET_RPS = 30;
const OFFERED = [32, 4, 4] as const;
const FAR_ABOVE = { perSecond: 100_000, burst: 100_000 };

const log = (line: string): void => {
  process.stderr.write(`[bench-global] ${line}\n`);
};

interface StoreView {
  readonly store?: {
    readonly report: { readonly state: string };
    readonly counters: {
      readonly slowestAdmitMs: number;
      readonly slowestAdmitBySecond: readonly (readonly [number, number])[];
      readonly fallbacks: number;
    };
  };
  readonly counters: { readonly sharedDecisions: number; readonly fallbackDecisions: number };
  readonly limiter: {
    readonly options: { readonly requests?: { readonly replicaPerSecond: number } };
  };
}

const view = async (agent: StoreAgent, i: number): Promise<StoreView> =>
  ((await agent.replicas[i]?.runtime.debug('/debug/ratelimiter')) as { rateLimiter: StoreView })
    .rateLimiter;

/** Rewrites every replica's policy and waits until each runs it. */
async function apply(agent: StoreAgent, doc: PolicyDocument): Promise<void> {
  const perSecond = doc.rateLimit.requests?.replicaPerSecond;
  agent.writePolicy(doc);
  for (let i = 0; i < agent.replicas.length; i++) {
    await waitFor(
      async () => (await view(agent, i)).limiter.options.requests?.replicaPerSecond === perSecond,
      { description: `replica ${String(i)} to run ${String(perSecond)} rps`, timeoutMs: 20_000 },
    );
  }
}

async function storeDeciding(agent: StoreAgent): Promise<void> {
  for (let i = 0; i < agent.replicas.length; i++) {
    await waitFor(async () => (await view(agent, i)).store?.report.state === 'Shared', {
      description: `replica ${String(i)} to decide on Redis`,
      timeoutMs: 20_000,
      intervalMs: 20,
    });
  }
}

/** Decisions the store made and those the replicas' shares made, and the fallbacks, so far. */
async function decisions(agent: StoreAgent) {
  const views = await Promise.all(agent.replicas.map((_, i) => view(agent, i)));
  return {
    by_store: views.reduce((n, v) => n + v.counters.sharedDecisions, 0),
    by_fallback: views.reduce((n, v) => n + v.counters.fallbackDecisions, 0),
    fallbacks: views.reduce((n, v) => n + (v.store?.counters.fallbacks ?? 0), 0),
  };
}

type Decisions = Awaited<ReturnType<typeof decisions>>;
const since = (before: Decisions, after: Decisions): Decisions => ({
  by_store: after.by_store - before.by_store,
  by_fallback: after.by_fallback - before.by_fallback,
  fallbacks: after.fallbacks - before.fallbacks,
});

async function admittedRate(agent: StoreAgent) {
  const before = await decisions(agent);
  const calls = await offerLoad(
    agent.replicas.map((r) => r.runtime.url),
    OFFERED,
    WARMUP_MS + MEASURE_MS,
  );
  const perReplica = OFFERED.map((_, i) =>
    admittedPerSecond(
      calls.filter((c) => c.replica === i),
      WARMUP_MS,
      WARMUP_MS + MEASURE_MS,
    ),
  );
  const failed = calls.filter((c) => c.status !== 200 && c.status !== 429).length;
  return {
    admitted_rps: round(admittedPerSecond(calls, WARMUP_MS, WARMUP_MS + MEASURE_MS)),
    per_replica_rps: perReplica.map(round),
    offered: calls.length,
    other_failures: failed,
    decisions: since(before, await decisions(agent)),
  };
}

async function p50(url: string, agent: Agent): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const start = performance.now();
    const { status } = await call(url, agent);
    if (status !== 200) throw new Error(`latency call answered ${String(status)}`);
    latencies.push(performance.now() - start);
  }
  return median(latencies);
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

async function main(): Promise<void> {
  const sim = await startSimulator({ latencyMs: 2 });
  const redis = await startRedis();
  const limit = { requests: { perSecond: TARGET_RPS, burst: TARGET_RPS } };
  const store = { redis: { address: redis.address } };
  const splitDoc = agentDocument(sim.url, ratePolicy(limit));
  const redisDoc = agentDocument(sim.url, ratePolicy({ ...limit, store }));
  const waitBudgetMs = redisDoc.rateLimit.store?.waitBudgetMs ?? 0;
  const split = await startAgent(splitDoc);
  const shared = await startAgent(redisDoc);
  try {
    await storeDeciding(shared);
    log(`split: ${String(OFFERED)} rps offered for ${String(WARMUP_MS + MEASURE_MS)} ms`);
    const splitRate = await admittedRate(split);
    log(`split: ${JSON.stringify(splitRate)}`);
    log('redis: the same load');
    const redisRate = await admittedRate(shared);
    log(`redis: ${JSON.stringify(redisRate)}`);

    log('added latency: limits far above the offer, sequential calls, interleaved rounds');
    await apply(split, agentDocument(sim.url, ratePolicy({ requests: FAR_ABOVE })));
    await apply(shared, agentDocument(sim.url, ratePolicy({ requests: FAR_ABOVE, store })));
    await storeDeciding(shared);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const splitUrl = split.replicas[0]?.runtime.url ?? '';
    const redisUrl = shared.replicas[0]?.runtime.url ?? '';
    await p50(splitUrl, agent);
    await p50(redisUrl, agent);
    const splitP50: number[] = [];
    const redisP50: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        splitP50.push(await p50(splitUrl, agent));
        redisP50.push(await p50(redisUrl, agent));
      } else {
        redisP50.push(await p50(redisUrl, agent));
        splitP50.push(await p50(splitUrl, agent));
      }
    }
    agent.destroy();
    const added = median(redisP50) - median(splitP50);
    log(`p50 split ${median(splitP50).toFixed(3)} ms, redis ${median(redisP50).toFixed(3)} ms`);

    log('fallback: redis-server frozen under load, then thawed');
    await apply(shared, redisDoc);
    await storeDeciding(shared);
    const beforeFallback = await decisions(shared);
    const loadDone = offerLoad(
      shared.replicas.map((r) => r.runtime.url),
      OFFERED,
      6000,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    redis.freeze();
    const frozenAt = performance.now();
    const frozenSecond = Math.floor(Date.now() / 1000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    redis.thaw();
    const thawedAt = performance.now();
    await storeDeciding(shared);
    const recoveryMs = performance.now() - thawedAt;
    const fallbackCalls = (await loadDone).filter((c) => c.sentAtMs >= 2000 && c.sentAtMs < 4000);
    const views = await Promise.all(shared.replicas.map((_, i) => view(shared, i)));
    // The slowest admission in the seconds around the freeze (the first second it went
    // unanswered included), as each runtime measured it.
    const slowest = Math.max(
      ...views.flatMap((v) =>
        (v.store?.counters.slowestAdmitBySecond ?? [])
          .filter(([second]) => second >= frozenSecond - 1)
          .map(([, ms]) => ms),
      ),
    );
    const slowestEver = Math.max(...views.map((v) => v.store?.counters.slowestAdmitMs ?? 0));
    const fallbackDecisions = since(beforeFallback, await decisions(shared));
    log(
      `frozen for ${(thawedAt - frozenAt).toFixed(0)} ms; slowest admission ${slowest.toFixed(2)} ms`,
    );

    const results = {
      benchmark: 'global',
      date: new Date().toISOString(),
      machine: { cpus: availableParallelism(), loadavg: loadavg().map((l) => round(l)) },
      config: {
        replicas: 3,
        target_rps: TARGET_RPS,
        burst: TARGET_RPS,
        offered_rps: OFFERED,
        warmup_ms: WARMUP_MS,
        measure_ms: MEASURE_MS,
        wait_budget_ms: waitBudgetMs,
        latency_rounds: ROUNDS,
        calls_per_round: CALLS_PER_ROUND,
      },
      split: splitRate,
      redis: redisRate,
      latency: {
        split_p50_ms: round(median(splitP50), 3),
        redis_p50_ms: round(median(redisP50), 3),
        redis_p50_added_ms: round(added, 3),
        split_round_p50s_ms: splitP50.map((v) => round(v, 3)),
        redis_round_p50s_ms: redisP50.map((v) => round(v, 3)),
      },
      fallback: {
        max_wait_ms: round(slowest),
        slowest_admission_whole_run_ms: round(slowestEver),
        decisions: fallbackDecisions,
        recovery_ms: round(recoveryMs, 0),
        calls_while_frozen: fallbackCalls.length,
        admitted_while_frozen_rps: round(admittedPerSecond(fallbackCalls, 2000, 4000)),
        max_latency_while_frozen_ms: round(Math.max(...fallbackCalls.map((c) => c.latencyMs))),
      },
    };
    if (!flags['no-write']) {
      mkdirSync('bench/results', { recursive: true });
      writeFileSync('bench/results/global.json', `${JSON.stringify(results, null, 2)}\n`);
    }
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(
      `global: split_rps=${String(splitRate.admitted_rps)} redis_rps=${String(redisRate.admitted_rps)}` +
        ` target_rps=${String(TARGET_RPS)} redis_p50_added_ms=${added.toFixed(3)}` +
        ` fallback_max_wait_ms=${slowest.toFixed(2)}\n`,
    );
  } finally {
    await Promise.all([split.stop(), shared.stop()]);
    await redis.remove();
    await sim.stop();
  }
}

async function budgets(): Promise<void> {
  const results = await budgetCost({
    rounds: ROUNDS,
    callsPerRound: CALLS_PER_ROUND,
    write: !flags['no-write'],
    log,
  });
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `global budgets: redis_p50_added_ms=${String(results.redis_path.budget_p50_added_ms)}` +
      ` in_process_check_us=${String(results.in_process.budget_check_us_per_call)}\n`,
  );
}

if (flags.only !== 'budgets') await main();
await budgets();
