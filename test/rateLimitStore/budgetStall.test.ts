/**
 * Budgets on a store that stalled once (no answer within 2 s: budgets fall back to the share,
 * decision 0059) and then answers steadily, but slower than ten wait budgets: the limits stay
 * on the share, and the budgets go back to the store, which answers within the 2 s they may
 * wait (docs/guarantees.md B1, B3). A real redis-server behind a proxy that delays its answers.
 * Issue 50.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import { moneyFromUsd } from '../../contract/src/spend/money.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import type { StoreBudgetRequest } from '../../runtime/src/guard/rateLimitStore.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import { serverHost } from '../support/podReach.ts';
import { startRedis } from '../support/redisServer.ts';
import { startSlowProxy } from '../support/slowProxy.ts';
import { waitFor } from '../support/waitFor.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const hold = (id: string): StoreBudgetRequest => ({
  accounts: [
    {
      key: 'agent:daily:0',
      limitPico: moneyFromUsd(1),
      limitTokens: undefined,
      keepUntilMs: Date.now() + 86_400_000,
      refuses: true,
    },
  ],
  reservationId: id,
  leaseMs: 60_000,
  worstPico: 1_000n,
  worstTokens: 0n,
});

describe('budgets on a store that stalled once, then answers slowly', () => {
  it('go back to the store once it answers within their 2 s, while the limits stay on the share', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.remove());
    const proxy = await startSlowProxy(`${serverHost()}:${String(redis.port)}`);
    cleanups.push(() => proxy.close());
    const settings: StoreSettings = {
      redis: { address: proxy.address },
      waitBudgetMs: 50,
      keyPrefix: 'breakwater:{test/stall}',
      requests: { perSecond: 1_000, burst: 1_000 },
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
    const estimate = { inputTokens: 0, outputTokens: 0 };
    const admit = (id: string) =>
      store.admit({ estimate, localWaitMs: 0, maxWaitMs: 0, budget: hold(id) });
    // Frozen past 2 s: the budgets stall, on the share.
    proxy.delay(3_000);
    expect(await admit('stalled')).toBeUndefined();
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
    expect(await admit('back')).toMatchObject({ budget: { held: true } });
  });
});
