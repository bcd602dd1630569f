/**
 * The thawed-primary run shared by sentinelThawedPrimary.test.ts and
 * clusterThawedPrimary.test.ts (docs/guarantees.md B4): six runtime processes on one
 * RateLimitPolicy whose store is the `redis` given, four SDK callers each against a $0.05
 * budget; once half of it is billed, `fault` freezes the primary of the budget account, thaws it
 * the moment a replica answers ROLE as a primary, and names the promoted one; the load goes on
 * until the budget refuses everywhere, every runtime is back on the store, and the budget
 * account is read on the promoted primary.
 */
import { moneyToUsdNumber, parseMoney } from '../../contract/src/spend/money.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import type { RateLimitPolicySpec } from '../../contract/src/api/v1alpha1/ratelimitpolicy.ts';
import type { StoreCounters } from '../../runtime/src/rateLimitStore/storeCounters.ts';
import { PRICING, storedPico } from './budgetStoreFixture.ts';
import { billedPico, call, type Call } from './budgetedLoad.ts';
import { AGENT_NAME, ratePolicy } from './rateLimitStoreFixture.ts';
import { ask } from './redisCluster.ts';
import { startSimulator } from './simulator.ts';
import { policyDocument, standaloneRuntime, type StandaloneRuntime } from './standaloneRuntime.ts';
import { waitFor } from './waitFor.ts';

export const BUDGET_USD = '0.05';
export const LIMIT_PICO = parseMoney(BUDGET_USD);
/** Runtimes, and callers on each: the attack reproduced with six and four, not with three. */
const RUNTIMES = 6;
const CALLERS = 4;

type RedisStoreSpec = NonNullable<RateLimitPolicySpec['store']>['redis'];

/** The budget account on the server at `address`: settled, held, and the holds' leases. */
export async function heldOn(
  address: string,
): Promise<{ spent: bigint; reserved: bigint; leases: number }> {
  const keys = (await ask(address, ['KEYS', '*:budget:*'])) as string[];
  const key = keys.find((k) => !k.endsWith(':leases'));
  if (key === undefined) return { spent: 0n, reserved: 0n, leases: 0 };
  const answer = (await ask(address, ['HGETALL', key])) as string[] | Record<string, string>;
  const hash: Record<string, string> = {};
  if (Array.isArray(answer))
    for (let i = 0; i + 1 < answer.length; i += 2) hash[answer[i] ?? ''] = answer[i + 1] ?? '';
  else Object.assign(hash, answer);
  return {
    spent: storedPico(hash, 'spent'),
    reserved: storedPico(hash, 'reserved'),
    leases: Object.keys(hash).filter((field) => field.startsWith('lease:')).length,
  };
}

/** A runtime's store: Shared or Fallback, and what it counted. */
async function storeOf(r: StandaloneRuntime) {
  const view = (await r.runtime.debug('/debug/ratelimiter').catch(() => undefined)) as
    | { rateLimiter?: { store?: { report: { state: string }; counters: StoreCounters } } }
    | undefined;
  const store = view?.rateLimiter?.store;
  return store === undefined
    ? undefined
    : {
        state: store.report.state,
        resent: store.counters.resent,
        errors: store.counters.errors,
        fallbacks: store.counters.fallbacks,
      };
}

const everyOnStore = async (runtimes: readonly StandaloneRuntime[]) =>
  (await Promise.all(runtimes.map(storeOf))).every((s) => s?.state === 'Shared');

export interface ThawedPrimaryRun {
  readonly calls: readonly Call[];
  readonly billed: bigint;
  /** The budget account on the promoted primary once the calls ended. */
  readonly held: { spent: bigint; reserved: bigint; leases: number };
  /** What the run printed, for docs/guarantees.md. */
  readonly figures: Record<string, unknown>;
}

export async function thawedPrimaryRun(options: {
  /** The test file, named in the figures. */
  readonly test: string;
  readonly seed: number;
  readonly redis: RedisStoreSpec;
  /** Stopped by the test's cleanups, last first. */
  readonly cleanups: (() => Promise<void>)[];
  /**
   * Freezes the primary of the budget account (the document's keyPrefix), thaws it once a
   * replica answers ROLE as a primary, waits until that one is the primary: its address, and
   * figures of its own.
   */
  readonly fault: (doc: PolicyDocument) => Promise<{ promoted: string; figures: object }>;
  /** Where each server stands at the end (a failure says which server the runtimes ended on). */
  readonly servers: () => Promise<object>;
}): Promise<ThawedPrimaryRun> {
  const { cleanups } = options;
  const sim = await startSimulator({ seed: options.seed });
  cleanups.push(() => sim.stop());
  const policy = ratePolicy({
    requests: { perSecond: 1000, burst: 1000 },
    budgets: [{ name: 'daily', period: 'Day', usd: BUDGET_USD }],
    store: { redis: options.redis, waitBudget: '1s' },
  });
  const doc = policyDocument(sim.url, (d) => {
    // One retry, as a production policy has: in 4 of 36 runs one to three calls met a
    // "Connection error" from the simulator's keep-alive connection (not the store), which
    // with no retry failed the call; this test is about what the store keeps.
    d.retry = { ...d.retry, maxAttempts: 2 };
    d.agent = { ...d.agent, name: AGENT_NAME, namespace: 'default' };
    d.rateLimit = resolveRateLimit(policy, RUNTIMES, AGENT_NAME);
    d.pricing = PRICING.map((p) => ({ ...p }));
  });
  const runtimes: StandaloneRuntime[] = [];
  for (let i = 0; i < RUNTIMES; i++) {
    const rt = await standaloneRuntime(doc).catch(() => standaloneRuntime(doc));
    runtimes.push(rt);
    cleanups.push(() => rt.stop());
  }
  const urls = runtimes.map((r) => r.runtime.url);
  // Every runtime on the store before the load: no call is decided on a share at the start.
  await waitFor(() => everyOnStore(runtimes), {
    description: 'every runtime on the store',
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  const calls: Call[] = [];
  let running = true;
  const callers = urls.flatMap((url) =>
    Array.from({ length: CALLERS }, async () => {
      while (running) {
        calls.push(await call(url));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  // A failed wait still stops the callers.
  cleanups.push(async () => {
    running = false;
    await Promise.all(callers);
  });
  await waitFor(async () => (await billedPico(sim)) > LIMIT_PICO / 2n, {
    description: 'half the budget spent',
    timeoutMs: 60_000,
    intervalMs: 20,
  });
  const fault = await options.fault(doc);
  // The load goes on until the budget refuses every caller, or half a minute has passed.
  const until = Date.now() + 30_000;
  await waitFor(
    async () => {
      const outcomes = await Promise.all(urls.map(async (u) => (await call(u)).outcome));
      return outcomes.every((o) => o === 'budgetRefused') || Date.now() > until;
    },
    { description: 'the budget refused everywhere', timeoutMs: 60_000, intervalMs: 100 },
  );
  running = false;
  await Promise.all(callers);
  // Every call has been answered. A runtime still on its share (the load ends as soon as every
  // share refuses) keeps its settlements until it is back on the store: wait for that, then
  // the settlements they kept are sent within a second.
  await waitFor(() => everyOnStore(runtimes), {
    description: 'every runtime back on the store',
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const billed = await billedPico(sim);
  const held = await heldOn(fault.promoted);
  const figures = {
    test: options.test,
    acknowledge: options.redis.acknowledge ?? 'Primary',
    calls: calls.length,
    served: calls.filter((c) => c.outcome === 'served').length,
    failed: calls.filter((c) => c.outcome === 'failed').length,
    budgetUsd: BUDGET_USD,
    billedUsd: moneyToUsdNumber(billed),
    settledOnPromotedUsd: moneyToUsdNumber(held.spent),
    heldOnPromotedUsd: moneyToUsdNumber(held.reserved),
    leasesOnPromoted: held.leases,
    failures: calls.filter((c) => c.outcome === 'failed').map((c) => c.detail),
    promoted: fault.promoted,
    ...fault.figures,
    servers: await options.servers(),
    stores: await Promise.all(runtimes.map(storeOf)),
  };
  return { calls, billed, held, figures };
}
