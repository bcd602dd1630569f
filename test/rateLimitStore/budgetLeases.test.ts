/**
 * Budget leases in a real redis-server, through RedisStore: a call's hold lasts at most the
 * five-minute cap on Redis's clock, a running call's renewal moves its lease later (and brings
 * back none that was settled or lapsed), and a settlement sent alone just before the store
 * closes (a graceful stop) still reaches Redis. Issue 50.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { moneyFromUsd } from '../../contract/src/spend/money.ts';
import { createClient } from '@redis/client';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import type {
  StoreBudgetAccount,
  StoreBudgetRequest,
} from '../../runtime/src/guard/rateLimitStore.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import { serverHost } from '../support/podReach.ts';
import { startRedis } from '../support/redisServer.ts';
import { openRedisStore } from '../support/redisStoreOpen.ts';
import { waitFor } from '../support/waitFor.ts';

const FIVE_MINUTES = 5 * 60_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const redis = await startRedis();
  cleanups.push(() => redis.remove());
  const reader = createClient({ socket: { host: serverHost(), port: redis.port } });
  await reader.connect();
  cleanups.push(() => {
    reader.destroy();
  });
  const settings: StoreSettings = {
    redis: { address: redis.address },
    waitBudgetMs: 1_000,
    keyPrefix: 'breakwater:{test/leases}',
    requests: { perSecond: 1_000, burst: 1_000 },
  };
  const open = () => {
    const store = openRedisStore(settings);
    cleanups.push(() => {
      store.close();
    });
    return store;
  };
  return { redis, reader, open };
}

const ACCOUNT: StoreBudgetAccount = {
  key: 'agent:daily:0',
  limitPico: moneyFromUsd(1),
  limitTokens: undefined,
  keepUntilMs: Date.now() + 86_400_000,
  refuses: true,
};
const HASH = 'breakwater:{test/leases}:budget:agent:daily:0';

function hold(id: string, leaseMs: number): StoreBudgetRequest {
  return {
    accounts: [ACCOUNT],
    reservationId: id,
    leaseMs,
    worstPico: 1_000_000n,
    worstTokens: 0n,
  };
}

async function admit(store: RedisStore, budget: StoreBudgetRequest) {
  return store.admit({
    estimate: { inputTokens: 0, outputTokens: 0 },
    localWaitMs: 0,
    maxWaitMs: 0,
    budget,
  });
}

/** What the tests read Redis with. */
interface Reader {
  hGet(key: string, field: string): Promise<string | null>;
  sendCommand(args: string[]): Promise<unknown>;
}

async function leaseEnd(reader: Reader, id: string): Promise<number | undefined> {
  const value = await reader.hGet(HASH, `lease:${id}`);
  return value === null ? undefined : Number(value.split(':')[0]);
}

/** Redis's clock, which leases are on. */
async function serverNow(reader: Reader): Promise<number> {
  const [seconds, micros] = (await reader.sendCommand(['TIME'])) as [string, string];
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

describe('budget leases in redis-server', () => {
  it('renews a running call’s lease on Redis’s clock, and brings back none settled or lapsed', async () => {
    const { reader, open } = await setup();
    const store = open();
    await waitFor(() => store.available, { description: 'the store', timeoutMs: 10_000 });
    expect(await admit(store, hold('running', 1_000))).toMatchObject({ budget: { held: true } });
    expect(await admit(store, hold('settled', 1_000))).toMatchObject({ budget: { held: true } });
    expect(await admit(store, hold('lapsed', 1))).toMatchObject({ budget: { held: true } });
    const first = await leaseEnd(reader, 'running');
    store.settleBudget({
      accounts: [ACCOUNT],
      reservationId: 'settled',
      worstPico: 1_000_000n,
      worstTokens: 0n,
      costPico: 0n,
      costTokens: 0n,
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    store.renewBudgets([
      { accounts: [ACCOUNT], reservationId: 'running', leaseMs: FIVE_MINUTES },
      { accounts: [ACCOUNT], reservationId: 'settled', leaseMs: FIVE_MINUTES },
      { accounts: [ACCOUNT], reservationId: 'lapsed', leaseMs: FIVE_MINUTES },
    ]);
    await waitFor(async () => ((await leaseEnd(reader, 'running')) ?? 0) > (first ?? 0) + 60_000, {
      intervalMs: 10,
      description: 'the renewal',
      timeoutMs: 5_000,
    });
    const renewed = (await leaseEnd(reader, 'running')) ?? 0;
    expect(renewed - (await serverNow(reader))).toBeLessThanOrEqual(FIVE_MINUTES);
    expect(await leaseEnd(reader, 'settled')).toBeUndefined();
    // The lapsed lease is not moved: the next admission releases it.
    expect(await leaseEnd(reader, 'lapsed')).toBeLessThan(renewed - 60_000);
    await admit(store, hold('next', 1_000));
    expect(await leaseEnd(reader, 'lapsed')).toBeUndefined();
    // What is held: the running call and the next, a microdollar each.
    expect(await reader.hGet(HASH, 'reserved_micro')).toBe('2');
  });

  it('sends a settlement made just before a graceful stop, even to a server that must be sent the script', async () => {
    const { reader, open } = await setup();
    const store = open();
    await waitFor(() => store.available, { description: 'the store', timeoutMs: 10_000 });
    await admit(store, hold('a', 60_000));
    store.settleBudget({
      accounts: [ACCOUNT],
      reservationId: 'a',
      worstPico: 1_000_000n,
      worstTokens: 0n,
      costPico: 400_000n,
      costTokens: 0n,
    });
    // The replica is idle: the settlement goes alone on the next turn, then the process stops.
    await new Promise((resolve) => setImmediate(resolve));
    store.close();
    await waitFor(async () => (await reader.hGet(HASH, 'spent_pico')) === '400000', {
      description: 'the settlement to reach Redis',
      timeoutMs: 3_000,
    });
    expect(await reader.hGet(HASH, 'reserved_micro')).toBe('0');
  });
});
