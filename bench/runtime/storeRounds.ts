/**
 * What the store comparisons of `bench/runtime.ts` share (acknowledgeComparison.ts,
 * storeComparison.ts): the bench's policy with rate limits and a never-exhausted USD budget per
 * agent kept in a given Redis under keys of the path's own, and one measured round of a runtime
 * process (its CPU time per call from schedstat, all threads; p50, p99 and throughput).
 */
import type { RateLimitPolicy } from '../../contract/src/api/resources.ts';
import { RATE_LIMIT_POLICY_LIMITS as RATE } from '../../contract/src/api/specLimits.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { PRIMARY_PRICE } from '../../test/support/budgetStoreFixture.ts';
import { percentile } from '../../tools/stats/samples.ts';
import { closedLoop } from './closedLoopLoad.ts';
import { cpuUs } from './processProbe.ts';

export const STORE_AGENT = 'bench-agent';

/** What a store comparison is given by bench/runtime.ts. */
export interface StoreBenchOptions {
  /** The bench's policy: backends, breaker and the limits it stays inside. */
  readonly policy: PolicyDocument;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  /** The request mix, encoded for a process on `port`. */
  readonly requests: (port: number) => Buffer[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

/** `store.redis` of a RateLimitPolicy: one of address, sentinel, cluster; and acknowledge. */
export type RedisStoreSpec = NonNullable<NonNullable<RateLimitPolicy['spec']['store']>['redis']>;

/**
 * The bench's policy with its limits (the schema's largest) and a USD budget per agent in the
 * Redis `redis` names, under keys suffixed `-<keySuffix>` (the hash tag unchanged: one slot).
 */
export function storeDocument(
  base: PolicyDocument,
  redis: RedisStoreSpec,
  keySuffix: string,
): PolicyDocument {
  const policy = openStorePolicy('bench', redis, [
    { name: 'agent-monthly', period: 'Month', usd: '999999' },
  ]);
  const rateLimit = resolveRateLimit(policy, 1, STORE_AGENT);
  const store = rateLimit.store;
  return {
    ...base,
    agent: { ...base.agent, name: STORE_AGENT, namespace: 'default' },
    pricing: [PRIMARY_PRICE],
    rateLimit: {
      ...rateLimit,
      ...(store === undefined
        ? {}
        : { store: { ...store, keyPrefix: `${store.keyPrefix}-${keySuffix}` } }),
    },
  };
}

export interface StoreRound {
  /** CPU time of the measured process per call, µs (schedstat, all threads). */
  readonly cpuUsPerCall: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rps: number;
  readonly calls: number;
  readonly errors: number;
}

/** One closed-loop round against the process `pid` listening on `port`. */
export async function measureRound(
  target: { readonly pid: number; readonly port: number; readonly requests: Buffer[] },
  options: { readonly concurrency: number; readonly roundMs: number },
): Promise<StoreRound> {
  const before = cpuUs(target.pid);
  const run = await closedLoop({
    port: target.port,
    requests: target.requests,
    concurrency: options.concurrency,
    durationMs: options.roundMs,
  });
  const calls = Math.max(1, run.requests);
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  return {
    cpuUsPerCall: (cpuUs(target.pid) - before) / calls,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    rps: run.requests / run.seconds,
    calls: run.requests,
    errors: run.errors,
  };
}

/**
 * A RateLimitPolicy that never refuses a bench's load: the schema's highest rate and burst,
 * a wide queue, `budgets` (set far above what a run spends) kept in `redis`, which answers
 * within the longest wait the schema allows (on a shared machine Redis often answers late).
 */
export function openStorePolicy(
  name: string,
  redis: RedisStoreSpec,
  budgets: NonNullable<RateLimitPolicy['spec']['budgets']>,
): RateLimitPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name, namespace: 'default', generation: 1 },
    spec: {
      scope: 'Cluster',
      requests: {
        perSecond: RATE['requests.perSecond'].maximum,
        burst: RATE['requests.burst'].maximum,
      },
      concurrency: { maxConcurrent: 256, maxQueue: 256, queueTimeout: '5s' },
      store: { redis, waitBudget: '1s' },
      budgets: [...budgets],
    },
  };
}
