/**
 * Calls with budgets past the store's in-flight cap (MAX_IN_FLIGHT admissions waiting for
 * Redis at once) in a real redis-server behind a slow link: each waits for a slot and is
 * decided by the store, never on the replica's share, which no other replica would see
 * (docs/guarantees.md B1). Calls without budgets past the cap decide on the share at once.
 * Issue 50.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import { moneyFromUsd } from '../../contract/src/spend/money.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import type { StoreBudgetRequest } from '../../runtime/src/guard/rateLimitStore.ts';
import { MAX_IN_FLIGHT, RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import { serverHost } from '../support/podReach.ts';
import { startRedis } from '../support/redisServer.ts';
import { startSlowProxy } from '../support/slowProxy.ts';
import { waitFor } from '../support/waitFor.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PREFIX = 'breakwater:{test/slots}';
const ACCOUNT = {
  key: 'agent:daily:0',
  limitPico: moneyFromUsd(1),
  limitTokens: undefined,
  keepUntilMs: Date.now() + 86_400_000,
  refuses: true,
};

const hold = (id: string): StoreBudgetRequest => ({
  accounts: [ACCOUNT],
  reservationId: id,
  leaseMs: 60_000,
  worstPico: 1_000n,
  worstTokens: 0n,
});

describe('calls with budgets past the in-flight cap', () => {
  it('wait for a slot and are decided by the store; calls without budgets take the share', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.remove());
    // Every answer 150 ms late: the cap fills, and no answer misses the wait budget.
    const proxy = await startSlowProxy(`${serverHost()}:${String(redis.port)}`);
    cleanups.push(() => proxy.close());
    const settings: StoreSettings = {
      redis: { address: proxy.address },
      waitBudgetMs: 1_000,
      keyPrefix: PREFIX,
      requests: { perSecond: 100_000, burst: 100_000 },
    };
    const store = new RedisStore({
      name: 'agent',
      settings,
      clock: systemClock,
      secretFiles: { password: join(tmpdir(), 'none'), ca: join(tmpdir(), 'none') },
    });
    cleanups.push(() => {
      store.close();
    });
    await waitFor(() => store.available, { description: 'the store', timeoutMs: 10_000 });
    proxy.delay(150);
    const estimate = { inputTokens: 0, outputTokens: 0 };
    const calls = MAX_IN_FLIGHT + 40;
    const budgeted = Array.from({ length: calls }, (_, i) =>
      store.admit({ estimate, localWaitMs: 0, maxWaitMs: 0, budget: hold(`r${String(i)}`) }),
    );
    // The cap is full: a call without budgets decides on the share, at once.
    expect(store.available).toBe(false);
    expect(await store.admit({ estimate, localWaitMs: 0, maxWaitMs: 0 })).toBeUndefined();
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
