/**
 * Budgets on the Redis path in `make bench-runtime` (`--only budgets` runs it alone): what a
 * USD budget per agent and a USD budget per client key add to a call's CPU time in the runtime,
 * against the same policy without them (issue 50's goal: at most 1.15 times).
 *
 * - Three runtime processes on the bench's simulator and one redis-server, with the same policy
 *   (rate limits, tokens and concurrency kept in Redis, scope Cluster, one replica), each under
 *   keys of its own: `limits`, `limits-again` (identical: the baseline's own spread) and
 *   `budgets` (the same, plus the two budgets, large enough never to refuse).
 * - The bench's closed-loop generator drives each in turn at one concurrency, in interleaved
 *   rounds (each path takes each place in the order in turn), first the request mix (plain and
 *   streamed), then streams alone. Per round and path: the runtime's CPU time per call (all its
 *   threads, schedstat: processProbe.ts `cpuUs`) and the p50 latency.
 * - The figure is the median of the per-round ratios budgets / limits; the spread is that of
 *   limits-again / limits in the same rounds. Met when the ratio is at most GOAL, or within
 *   the spread (at most the largest A/A ratio).
 * - Both budgets are checked to have counted: budget_spend_usd_total rises for each.
 */
import { writeFileSync } from 'node:fs';
import { createClient, type RedisClientType } from '@redis/client';
import { join } from 'node:path';
import type { RateLimitPolicy } from '../../contract/src/api/resources.ts';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import { RATE_LIMIT_POLICY_LIMITS as RATE } from '../../contract/src/api/specLimits.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { PRIMARY_PRICE } from '../../test/support/budgetStoreFixture.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median, percentile } from '../../tools/stats/samples.ts';
import { deciding } from '../global/budgetScenario.ts';
import { closedLoop } from './closedLoopLoad.ts';
import { cpuUs } from './processProbe.ts';

/** Issue 50: budgets may add at most 15 % to a call's CPU time on the Redis path. */
const GOAL = 1.15;
const AGENT = 'bench-agent';
/** The longest wait for the store the schema allows. */
const STORE_WAIT = '1s';
/** Far above anything a run spends: every call is admitted. */
const LARGE_USD = '999999';

export interface BudgetComparisonOptions {
  /** The bench's policy: backends, breaker and the limits it stays inside. */
  readonly policy: PolicyDocument;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  /** The request mix and the streams, encoded for a runtime on `port`. */
  readonly requests: (port: number) => Buffer[];
  readonly streams: (port: number) => Buffer[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

interface Path {
  readonly name: 'limits' | 'limits-again' | 'budgets';
  readonly runtime: RuntimeHandle;
  readonly pid: number;
  readonly port: number;
}

interface PathRound {
  readonly cpuUsPerCall: number;
  /** Scripts Redis ran per call while this path alone was loaded, and its µs in them. */
  readonly redisScriptsPerCall: number;
  readonly redisUsPerCall: number;
  /**
   * Bytes Redis read per call from every client (the runtime's scripts, mostly) and the reads
   * it took them in: what the budgets add to each admission's command, and how well the
   * runtime's client batches its commands (node-redis writes a turn's commands at once).
   */
  readonly redisBytesPerCall: number;
  readonly redisReadsPerCall: number;
  readonly p50Ms: number;
  readonly rps: number;
  readonly calls: number;
  readonly errors: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The bench's limits as a RateLimitPolicy kept in Redis; with `budgets`, the two budgets. */
function rateLimitSpec(address: string, budgets: boolean): RateLimitPolicySpec {
  return {
    scope: 'Cluster',
    requests: {
      perSecond: RATE['requests.perSecond'].maximum,
      burst: RATE['requests.burst'].maximum,
    },
    tokens: {
      inputPerMinute: RATE['tokens.inputPerMinute'].maximum,
      outputPerMinute: RATE['tokens.outputPerMinute'].maximum,
    },
    concurrency: { maxConcurrent: 256, maxQueue: 256, queueTimeout: '5s' },
    // The schema's longest wait: on this shared machine Redis often answers later than the
    // default 5 ms, and calls decided on the replica's share would not be the Redis path.
    store: { redis: { address }, waitBudget: STORE_WAIT },
    ...(budgets
      ? {
          budgets: [
            { name: 'agent-monthly', period: 'Month', usd: LARGE_USD },
            { name: 'caller-daily', period: 'Day', usd: LARGE_USD, per: 'ClientKey' },
          ],
        }
      : {}),
  };
}

/** The bench's policy with its limits in Redis under keys of `name`'s own. */
function document(base: PolicyDocument, address: string, name: Path['name']): PolicyDocument {
  const policy: RateLimitPolicy = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'bench', namespace: 'default', generation: 1 },
    spec: rateLimitSpec(address, name === 'budgets'),
  };
  const rateLimit = resolveRateLimit(policy, 1, AGENT);
  return {
    ...base,
    agent: { ...base.agent, name: AGENT, namespace: 'default' },
    pricing: [PRIMARY_PRICE],
    rateLimit: {
      ...rateLimit,
      ...(rateLimit.store === undefined
        ? {}
        : { store: { ...rateLimit.store, keyPrefix: `${rateLimit.store.keyPrefix}-${name}` } }),
    },
  };
}

/** Dollars each budget of a runtime has counted, from its scrape: its limit less what is left. */
async function spentUsd(runtime: RuntimeHandle): Promise<Record<string, number>> {
  const gauges: Record<string, { limit: number; remaining: number }> = {};
  for (const line of (await runtime.metrics()).split('\n')) {
    const metric = /^budget_(limit|remaining)_usd\{.*budget="([^"]+)".*\} (\S+)$/.exec(line);
    if (metric === null) continue;
    const [, kind, budget = '', value] = metric;
    const gauge = (gauges[budget] ??= { limit: 0, remaining: 0 });
    gauge[kind === 'limit' ? 'limit' : 'remaining'] = Number(value);
  }
  return Object.fromEntries(
    Object.entries(gauges).map(([budget, g]) => [budget, g.limit - g.remaining]),
  );
}

/** Admissions so far decided by the store and by the replica's share (the store too slow). */
async function storeDecisions(
  runtime: RuntimeHandle,
): Promise<{ store: number; fallback: number }> {
  const decided = { store: 0, fallback: 0 };
  for (const line of (await runtime.metrics()).split('\n')) {
    const m =
      /^rate_limiter_store_decisions_total\{.*decided_by="(store|fallback)".*\} (\S+)$/.exec(line);
    if (m !== null) decided[m[1] === 'store' ? 'store' : 'fallback'] += Number(m[2]);
  }
  return decided;
}

/**
 * Scripts Redis has run so far (EVALSHA: admit.lua, settle.lua, renewals) and the microseconds
 * it spent in them. Commandstats counts the commands a script runs too, so scripts alone.
 * Then the bytes it has read from its clients, and the reads (INFO stats).
 */
async function redisScripts(
  redis: RedisClientType,
): Promise<{ calls: number; us: number; bytes: number; reads: number }> {
  const info = await redis.sendCommand<string>(['INFO', 'commandstats']);
  const m = /^cmdstat_evalsha:calls=(\d+),usec=(\d+)/m.exec(info);
  const stats = await redis.sendCommand<string>(['INFO', 'stats']);
  const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
  return {
    calls: Number(m?.[1] ?? 0),
    us: Number(m?.[2] ?? 0),
    bytes: stat('total_net_input_bytes'),
    reads: stat('total_reads_processed'),
  };
}

async function measure(
  path: Path,
  requests: Buffer[],
  redis: RedisClientType,
  options: BudgetComparisonOptions,
) {
  const scriptsBefore = await redisScripts(redis);
  const before = cpuUs(path.pid);
  const run = await closedLoop({
    port: path.port,
    requests,
    concurrency: options.concurrency,
    durationMs: options.roundMs,
  });
  const used = cpuUs(path.pid) - before;
  const scripts = await redisScripts(redis);
  const calls = Math.max(1, run.requests);
  return {
    cpuUsPerCall: used / calls,
    redisScriptsPerCall: (scripts.calls - scriptsBefore.calls) / calls,
    redisUsPerCall: (scripts.us - scriptsBefore.us) / calls,
    redisBytesPerCall: (scripts.bytes - scriptsBefore.bytes) / calls,
    redisReadsPerCall: (scripts.reads - scriptsBefore.reads) / calls,
    p50Ms: percentile(
      [...run.latenciesMs].sort((a, b) => a - b),
      0.5,
    ),
    rps: run.requests / run.seconds,
    calls: run.requests,
    errors: run.errors,
  } satisfies PathRound;
}

/** Warm-up, then interleaved rounds of the three paths on one kind of load. */
async function compare(
  paths: readonly Path[],
  encode: (port: number) => Buffer[],
  redis: RedisClientType,
  options: BudgetComparisonOptions,
) {
  const requests = new Map(paths.map((p) => [p.name, encode(p.port)]));
  const decidedBefore = await Promise.all(paths.map((p) => storeDecisions(p.runtime)));
  for (const path of paths)
    await closedLoop({
      port: path.port,
      requests: requests.get(path.name) ?? [],
      concurrency: options.concurrency,
      durationMs: options.warmupMs,
    });
  const rounds = new Map<Path['name'], PathRound[]>(paths.map((p) => [p.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(r + i) % paths.length] as Path;
      rounds
        .get(path.name)
        ?.push(await measure(path, requests.get(path.name) ?? [], redis, options));
    }
  }
  const decidedAfter = await Promise.all(paths.map((p) => storeDecisions(p.runtime)));
  const fallbackShare = (name: Path['name']) => {
    const i = paths.findIndex((p) => p.name === name);
    const before = decidedBefore[i] ?? { store: 0, fallback: 0 };
    const after = decidedAfter[i] ?? before;
    const fallback = after.fallback - before.fallback;
    return round3(fallback / Math.max(1, fallback + after.store - before.store));
  };
  const of = (name: Path['name']) => rounds.get(name) ?? [];
  const ratios = (name: Path['name']) =>
    of(name).map((x, i) => x.cpuUsPerCall / (of('limits')[i]?.cpuUsPerCall ?? x.cpuUsPerCall));
  const summary = (name: Path['name']) => ({
    cpuUsPerCall: round3(median(of(name).map((x) => x.cpuUsPerCall))),
    p50Ms: round3(median(of(name).map((x) => x.p50Ms))),
    redisScriptsPerCall: round3(median(of(name).map((x) => x.redisScriptsPerCall))),
    redisUsPerCall: round3(median(of(name).map((x) => x.redisUsPerCall))),
    redisBytesPerCall: round3(median(of(name).map((x) => x.redisBytesPerCall))),
    redisReadsPerCall: round3(median(of(name).map((x) => x.redisReadsPerCall))),
    rps: round3(median(of(name).map((x) => x.rps))),
    calls: of(name).reduce((n, x) => n + x.calls, 0),
    errors: of(name).reduce((n, x) => n + x.errors, 0),
    /** Admissions the replica's share decided because the store answered too slowly. */
    fallbackShare: fallbackShare(name),
    rounds: of(name).map((x) => ({
      cpuUsPerCall: round3(x.cpuUsPerCall),
      p50Ms: round3(x.p50Ms),
      rps: round3(x.rps),
    })),
  });
  const budgetRatios = ratios('budgets');
  const spread = ratios('limits-again');
  const ratio = median(budgetRatios);
  return {
    limits: summary('limits'),
    limitsAgain: summary('limits-again'),
    budgets: summary('budgets'),
    cpuRatios: budgetRatios.map(round3),
    cpuRatio: round3(ratio),
    spreadRatios: spread.map(round3),
    spread: {
      median: round3(median(spread)),
      min: round3(Math.min(...spread)),
      max: round3(Math.max(...spread)),
    },
    p50AddedMs: round3(
      median(of('budgets').map((x, i) => x.p50Ms - (of('limits')[i]?.p50Ms ?? x.p50Ms))),
    ),
    met: ratio <= GOAL || ratio <= Math.max(...spread),
  };
}

export async function budgetComparison(options: BudgetComparisonOptions) {
  const redis = await startRedis();
  const [host = '', port = ''] = redis.address.split(':');
  const client: RedisClientType = createClient({ socket: { host, port: Number(port) } });
  await client.connect();
  const started: RuntimeHandle[] = [];
  try {
    const paths: Path[] = [];
    for (const name of ['limits', 'limits-again', 'budgets'] as const) {
      const file = join(options.dir, `budgets-${name}.json`);
      writeFileSync(file, JSON.stringify(document(options.policy, redis.address, name)));
      const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], options.env);
      started.push(runtime);
      await deciding(runtime);
      paths.push({
        name,
        runtime,
        pid: runtime.child.pid ?? 0,
        port: Number(new URL(runtime.url).port),
      });
    }
    const budgeted = paths[2] as Path;
    const spentBefore = await spentUsd(budgeted.runtime);
    const mix = await compare(paths, options.requests, client, options);
    const streams = await compare(paths, options.streams, client, options);
    const spent = await spentUsd(budgeted.runtime);
    for (const name of ['agent-monthly', 'caller-daily'])
      if (!((spent[name] ?? 0) > (spentBefore[name] ?? 0)))
        throw new Error(`budget ${name} counted nothing: ${JSON.stringify(spent)}`);
    return {
      method:
        'three runtime processes on one simulator and one redis-server, rate limits in Redis, ' +
        'each under its own keys: limits, limits-again (identical) and budgets (the same plus a ' +
        'USD budget per agent and one per ClientKey, never exhausted); closed loop at one ' +
        'concurrency, interleaved rounds with each path first in turn; cpuRatio is the median ' +
        'of per-round budgets/limits CPU time per call (schedstat, all threads), the spread ' +
        'that of limits-again/limits in the same rounds; met: cpuRatio <= goal or within the ' +
        'spread',
      goal: GOAL,
      concurrency: options.concurrency,
      rounds: options.rounds,
      roundMs: options.roundMs,
      budgets: rateLimitSpec(redis.address, true).budgets,
      spentUsd: Object.fromEntries(Object.entries(spent).map(([k, v]) => [k, round3(v)])),
      mix,
      streams,
    };
  } finally {
    client.destroy();
    await Promise.all(started.map((r) => r.stop()));
    await redis.remove();
  }
}

/** The readable table and the summary line. */
export function budgetComparisonLines(result: Awaited<ReturnType<typeof budgetComparison>>) {
  const rows = [
    '| load | path | CPU µs/call | p50 ms | Redis scripts/call | Redis µs/call | Redis bytes/call | calls/s | calls | errors | fallback |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [load, part] of [
    ['mix', result.mix],
    ['streams', result.streams],
  ] as const)
    for (const [name, path] of [
      ['limits', part.limits],
      ['limits-again', part.limitsAgain],
      ['budgets', part.budgets],
    ] as const)
      rows.push(
        `| ${load} | ${name} | ${path.cpuUsPerCall.toFixed(1)} | ${path.p50Ms.toFixed(3)} | ${path.redisScriptsPerCall.toFixed(2)} | ${path.redisUsPerCall.toFixed(1)} | ${path.redisBytesPerCall.toFixed(0)} | ${path.rps.toFixed(0)} | ${String(path.calls)} | ${String(path.errors)} | ${(path.fallbackShare * 100).toFixed(1)} % |`,
      );
  const line = (load: string, part: typeof result.mix) =>
    `runtime budgets ${load}: cpu_ratio=${part.cpuRatio.toFixed(3)} spread=${part.spread.min.toFixed(3)}..${part.spread.max.toFixed(3)} p50_added_ms=${part.p50AddedMs.toFixed(3)} ${part.met ? 'met' : 'not met'} (goal ${String(result.goal)}, ${String(result.rounds)} rounds, concurrency ${String(result.concurrency)})`;
  return `${rows.join('\n')}\n${line('mix', result.mix)}\n${line('streams', result.streams)}\n`;
}
