/**
 * Calls with budgets on a real redis-server behind a proxy that delays its answers (a store
 * slow but up): past the store's in-flight cap they wait for a slot and are decided by the
 * store; after a stall they go back to it once it answers within the 2 s they may wait. Never
 * on a replica's share that no other replica sees while the store answers in time
 * (docs/guarantees.md B1, B3; decision 0059). Issue 50.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import { moneyFromUsd } from '../../contract/src/spend/money.ts';
import type { StoreBudgetRequest } from '../../runtime/src/guard/rateLimitStore.ts';
import { MAX_IN_FLIGHT } from '../../runtime/src/rateLimitStore/admissionSlots.ts';
import type { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import { serverHost } from '../support/podReach.ts';
import { openRedisStore } from '../support/redisStoreOpen.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSlowProxy, type SlowProxy } from '../support/slowProxy.ts';
import { waitFor } from '../support/waitFor.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PREFIX = 'breakwater:{test/slow}';
const ACCOUNT = {
  key: 'agent:daily:0',
  limitPico: moneyFromUsd(1),
  limitTokens: undefined,
  keepUntilMs: Date.now() + 86_400_000,
  refuses: true,
};
const ESTIMATE = { inputTokens: 0, outputTokens: 0 };

const hold = (id: string): StoreBudgetRequest => ({
  accounts: [ACCOUNT],
  reservationId: id,
  leaseMs: 60_000,
  worstPico: 1_000n,
  worstTokens: 0n,
});

/** A store on redis-server through a slow proxy, connected and deciding. */
async function slowStore(
  waitBudgetMs: number,
): Promise<{ redis: RedisHandle; proxy: SlowProxy; store: RedisStore }> {
  const redis = await startRedis();
  cleanups.push(() => redis.remove());
  const proxy = await startSlowProxy(`${serverHost()}:${String(redis.port)}`);
  cleanups.push(() => proxy.close());
  const store = openRedisStore({
    redis: { address: proxy.address },
    waitBudgetMs,
    keyPrefix: PREFIX,
    requests: { perSecond: 100_000, burst: 100_000 },
  });
  cleanups.push(() => {
    store.close();
  });
  await waitFor(() => store.available, { description: 'the store', timeoutMs: 10_000 });
  return { redis, proxy, store };
}

const admit = (store: RedisStore, id?: string) =>
  store.admit({
    estimate: ESTIMATE,
    localWaitMs: 0,
    maxWaitMs: 0,
    ...(id === undefined ? {} : { budget: hold(id) }),
  });

describe('calls with budgets past the in-flight cap', () => {
  it('wait for a slot and are decided by the store; calls without budgets take the share', async () => {
    // Every answer 150 ms late: the cap fills, and no answer misses the wait budget.
    const { redis, proxy, store } = await slowStore(1_000);
    proxy.delay(150);
    const calls = MAX_IN_FLIGHT + 40;
    const budgeted = Array.from({ length: calls }, (_, i) => admit(store, `r${String(i)}`));
    // The cap is full: a call without budgets decides on the share, at once.
    expect(store.available).toBe(false);
    expect(await admit(store)).toBeUndefined();
    const answers = await Promise.all(budgeted);
    expect({
      decidedOnShare: answers.filter((a) => a === undefined).length,
      heldByStore: answers.filter((a) => a?.budget?.held === true).length,
    }).toEqual({ decidedOnShare: 0, heldByStore: calls });
    const reader = createClient({ socket: { host: serverHost(), port: redis.port } });
    await reader.connect();
    cleanups.push(() => {
      reader.destroy();
    });
    const fields = await reader.hKeys(`${PREFIX}:budget:${ACCOUNT.key}`);
    expect(fields.filter((f) => f.startsWith('lease:'))).toHaveLength(calls);
  });
});

describe('budgets on a store that stalled once, then answers slowly', () => {
  it('go back to the store once it answers within their 2 s, while the limits stay on the share', async () => {
    const { proxy, store } = await slowStore(50);
    // Frozen past 2 s: the budgets stall, on the share.
    proxy.delay(3_000);
    expect(await admit(store, 'stalled')).toBeUndefined();
    expect(store.availableForBudgets).toBe(false);
    // Then a steady 700 ms: past ten wait budgets (500 ms), within the budgets' 2 s.
    proxy.delay(700);
    await waitFor(() => store.availableForBudgets, {
      description: 'the budgets to be decided on the store again',
      timeoutMs: 15_000,
      intervalMs: 50,
    });
    expect(store.available).toBe(false);
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'Slow', budgets: 'Store' });
    expect(await admit(store, 'back')).toMatchObject({ budget: { held: true } });
  });
});
