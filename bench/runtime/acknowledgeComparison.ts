/**
 * What RedisServer `acknowledge: Replicas` costs a budgeted call (`bench/runtime.ts --only
 * acknowledge`; decision 0062): every admission and settlement waits for WAIT 1 on the same
 * connection, one more round trip to a replica.
 *
 * - A redis-server and one replica of it; three runtime processes on the bench's simulator with
 *   the same policy (rate limits and a USD budget per agent in Redis, never exhausted), each
 *   under keys of its own: `primary`, `primary-again` (identical: the baseline's own spread)
 *   and `replicas` (the same, acknowledge Replicas).
 * - The bench's closed-loop generator drives each in turn, interleaved rounds (each path takes
 *   each place in the order in turn), on the request mix. Per round and path: the runtime's CPU
 *   time per call (schedstat, all threads) and the p50 latency.
 * - The figures are the medians of the per-round ratios replicas / primary (CPU) and of the
 *   per-round p50 differences; the spread is primary-again / primary in the same rounds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RateLimitPolicy } from '../../contract/src/api/resources.ts';
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

const AGENT = 'bench-agent';
const NAMES = ['primary', 'primary-again', 'replicas'] as const;
type Name = (typeof NAMES)[number];

export interface AcknowledgeComparisonOptions {
  readonly policy: PolicyDocument;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly requests: (port: number) => Buffer[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

interface Path {
  readonly name: Name;
  readonly runtime: RuntimeHandle;
  readonly pid: number;
  readonly port: number;
}

interface Round {
  readonly cpuUsPerCall: number;
  readonly p50Ms: number;
  readonly calls: number;
  readonly errors: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The bench's policy, its limits and a budget in Redis under `name`'s own keys. */
function document(base: PolicyDocument, address: string, name: Name): PolicyDocument {
  const policy: RateLimitPolicy = {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'bench', namespace: 'default', generation: 1 },
    spec: {
      scope: 'Cluster',
      requests: {
        perSecond: RATE['requests.perSecond'].maximum,
        burst: RATE['requests.burst'].maximum,
      },
      concurrency: { maxConcurrent: 256, maxQueue: 256, queueTimeout: '5s' },
      store: {
        redis: { address, ...(name === 'replicas' ? { acknowledge: 'Replicas' as const } : {}) },
        waitBudget: '1s',
      },
      budgets: [{ name: 'agent-monthly', period: 'Month', usd: '999999' }],
    },
  };
  const rateLimit = resolveRateLimit(policy, 1, AGENT);
  const store = rateLimit.store;
  return {
    ...base,
    agent: { ...base.agent, name: AGENT, namespace: 'default' },
    pricing: [PRIMARY_PRICE],
    rateLimit: {
      ...rateLimit,
      ...(store === undefined
        ? {}
        : { store: { ...store, keyPrefix: `${store.keyPrefix}-${name}` } }),
    },
  };
}

async function measure(path: Path, requests: Buffer[], options: AcknowledgeComparisonOptions) {
  const before = cpuUs(path.pid);
  const run = await closedLoop({
    port: path.port,
    requests,
    concurrency: options.concurrency,
    durationMs: options.roundMs,
  });
  const calls = Math.max(1, run.requests);
  return {
    cpuUsPerCall: (cpuUs(path.pid) - before) / calls,
    p50Ms: percentile(
      [...run.latenciesMs].sort((a, b) => a - b),
      0.5,
    ),
    calls: run.requests,
    errors: run.errors,
  } satisfies Round;
}

export async function acknowledgeComparison(options: AcknowledgeComparisonOptions) {
  const redis = await startRedis();
  const replica = await startRedis({ replicaOf: redis.address });
  const started: RuntimeHandle[] = [];
  try {
    const paths: Path[] = [];
    for (const name of NAMES) {
      const file = join(options.dir, `acknowledge-${name}.json`);
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
    const requests = new Map(paths.map((p) => [p.name, options.requests(p.port)]));
    for (const path of paths)
      await closedLoop({
        port: path.port,
        requests: requests.get(path.name) ?? [],
        concurrency: options.concurrency,
        durationMs: options.warmupMs,
      });
    const rounds = new Map<Name, Round[]>(NAMES.map((n) => [n, []]));
    for (let r = 0; r < options.rounds; r++)
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(r + i) % paths.length] as Path;
        rounds.get(path.name)?.push(await measure(path, requests.get(path.name) ?? [], options));
      }
    const of = (name: Name) => rounds.get(name) ?? [];
    const base = of('primary');
    const cpuRatios = (name: Name) =>
      of(name).map((x, i) => x.cpuUsPerCall / (base[i]?.cpuUsPerCall ?? x.cpuUsPerCall));
    const p50Added = (name: Name) => of(name).map((x, i) => x.p50Ms - (base[i]?.p50Ms ?? x.p50Ms));
    const summary = (name: Name) => ({
      cpuUsPerCall: round3(median(of(name).map((x) => x.cpuUsPerCall))),
      p50Ms: round3(median(of(name).map((x) => x.p50Ms))),
      calls: of(name).reduce((n, x) => n + x.calls, 0),
      errors: of(name).reduce((n, x) => n + x.errors, 0),
    });
    return {
      method:
        'a redis-server with one replica; three runtime processes on one simulator, rate limits ' +
        'and a never-exhausted USD budget in Redis, each under its own keys: primary, ' +
        'primary-again (identical) and replicas (acknowledge Replicas); closed loop at one ' +
        'concurrency, interleaved rounds with each path first in turn; cpuRatio is the median ' +
        'of per-round replicas/primary CPU time per call (schedstat, all threads), p50AddedMs ' +
        'the median of per-round p50 differences, the spread that of primary-again/primary',
      concurrency: options.concurrency,
      rounds: options.rounds,
      roundMs: options.roundMs,
      primary: summary('primary'),
      primaryAgain: summary('primary-again'),
      replicas: summary('replicas'),
      cpuRatios: cpuRatios('replicas').map(round3),
      cpuRatio: round3(median(cpuRatios('replicas'))),
      spreadRatios: cpuRatios('primary-again').map(round3),
      p50AddedMs: round3(median(p50Added('replicas'))),
      p50SpreadMs: round3(median(p50Added('primary-again'))),
    };
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await replica.remove();
    await redis.remove();
  }
}

export function acknowledgeComparisonLine(
  result: Awaited<ReturnType<typeof acknowledgeComparison>>,
): string {
  return `runtime acknowledge Replicas vs Primary: cpu_ratio=${result.cpuRatio.toFixed(3)} spread=${Math.min(...result.spreadRatios).toFixed(3)}..${Math.max(...result.spreadRatios).toFixed(3)} p50_added_ms=${result.p50AddedMs.toFixed(3)} (A/A ${result.p50SpreadMs.toFixed(3)}) cpu_us_per_call=${result.primary.cpuUsPerCall.toFixed(1)}→${result.replicas.cpuUsPerCall.toFixed(1)} p50_ms=${result.primary.p50Ms.toFixed(3)}→${result.replicas.p50Ms.toFixed(3)} (${String(result.rounds)} rounds, concurrency ${String(result.concurrency)})\n`;
}
