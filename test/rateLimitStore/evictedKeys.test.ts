/**
 * Evictions between two checks, on a real redis-server: the store is set to evict, filled until
 * it evicts, and set back to noeviction before the runtime looks again (an outside attack did
 * this in a quarter of a second and passed a budget 1.92 times, the policy check never seeing
 * it). The next check counts the keys all the same, from INFO's evicted_keys, and warns: for
 * the rate-limit store (its metric), on each primary of a Redis Cluster, and for the journal.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { Registry } from 'prom-client';
import { systemClock } from '../../platform/src/time/clock.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import {
  EVICTION_RECHECK_MS,
  EvictionWatch,
} from '../../runtime/src/rateLimitStore/evictionPolicy.ts';
import { GuardMetrics } from '../../runtime/src/guard/metrics.ts';
import { RateLimiter } from '../../runtime/src/guard/rateLimiter.ts';
import { limiterSettings } from '../../runtime/src/guard/settingsFixture.ts';
import { DurableMetrics } from '../../runtime/src/durable/durableMetrics.ts';
import { JournalConnection } from '../../runtime/src/durable/journalConnection.ts';
import { RunActivity } from '../../runtime/src/durable/runActivity.ts';
import { createLogger } from '../../runtime/src/telemetry/logger.ts';
import { ManualClock } from '../support/manualClock.ts';
import { waitFor } from '../support/waitFor.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startRedisCluster } from '../support/redisCluster.ts';
import { redisClient } from '../../runtime/src/rateLimitStore/storeConnection.ts';

/** The commands the test sends as the store's administrator (or an attacker). */
interface Admin {
  sendCommand(args: string[]): Promise<unknown>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
}
interface Line {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisWithAdmin(): Promise<{ redis: RedisHandle; admin: Admin }> {
  const redis = await startRedis();
  cleanups.push(() => redis.remove());
  const admin = createClient({ url: `redis://${redis.address}` });
  await admin.connect();
  cleanups.push(() => {
    admin.destroy();
  });
  return { redis, admin };
}

function logger(lines: Line[]) {
  const line = (level: string) => (fields: object, message: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { warn: line('warn'), info: line('info'), error: line('error') };
}

const stat = async (admin: Admin, name: string): Promise<number> => {
  const info = String(await admin.sendCommand(['INFO']));
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
};

/**
 * What the attack did: the policy set to evict with maxmemory just above what is used, keys
 * with an expiry written until some are evicted, then everything set back. Gives the keys
 * evicted, as the server counts them.
 */
async function evictWindow(admin: Admin, tag = 'junk'): Promise<number> {
  const before = await stat(admin, 'evicted_keys');
  const used = await stat(admin, 'used_memory');
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'volatile-ttl']);
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', String(used + 256 * 1024)]);
  const filler = 'x'.repeat(1024);
  for (let i = 0; (await stat(admin, 'evicted_keys')) === before; i++) {
    const batch = Array.from({ length: 100 }, (_, j) =>
      admin.set(`${tag}:${String(i)}:${String(j)}`, filler, { PX: 30 * 86_400_000 }),
    );
    await Promise.all(batch);
  }
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
  await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
  return (await stat(admin, 'evicted_keys')) - before;
}

describe('keys evicted between two checks', () => {
  it("are counted at the next minute's re-check, with a warning, though the policy reads noeviction again", async () => {
    const { redis, admin } = await redisWithAdmin();
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    cleanups.push(() => {
      client.destroy();
    });
    const clock = new ManualClock();
    const lines: Line[] = [];
    const counted: number[] = [];
    const watch = new EvictionWatch(logger(lines), { store: 'test' }, 'budget accounts', (n) =>
      counted.push(n),
    );
    cleanups.push(() => {
      watch.stop();
    });
    // Keys already evicted before the first reading cannot be told from it: a baseline.
    await evictWindow(admin);
    watch.check(client);
    watch.recheck(clock, () => client);
    const settled = async () => {
      // Each check is one INFO on the connection: a PING after it answers once it has.
      await client.ping();
      await client.ping();
    };
    await settled();
    expect(watch.evictedKeys).toBe(0);
    const evicted = await evictWindow(admin);
    expect(evicted).toBeGreaterThan(0);
    clock.advance(EVICTION_RECHECK_MS);
    await waitFor(() => watch.evictedKeys > 0, {
      description: 'the re-check to count the evicted keys',
      timeoutMs: 5_000,
    });
    expect(watch.evictedKeys).toBe(evicted);
    expect(counted).toEqual([evicted]);
    expect(watch.policy).toBeUndefined();
    expect(lines).toEqual([
      {
        level: 'warn',
        fields: expect.objectContaining({ store: 'test', evictedKeys: evicted }) as unknown,
        message: expect.stringContaining(
          `evicted ${String(evicted)} keys since the last check`,
        ) as unknown,
      },
    ]);
    // Nothing evicted since: the next check counts nothing more.
    clock.advance(EVICTION_RECHECK_MS);
    await settled();
    await settled();
    expect(watch.evictedKeys).toBe(evicted);
    expect(lines).toHaveLength(1);
  });

  it("reach a rate limiter's rate_limiter_store_evicted_keys_total when its store reconnects", async () => {
    const { redis, admin } = await redisWithAdmin();
    const lines: Line[] = [];
    const store = new RedisStore({
      name: 'test',
      settings: {
        redis: { address: redis.address },
        waitBudgetMs: 1000,
        keyPrefix: 'breakwater:{test/evicted}',
        requests: { perSecond: 1, burst: 5 },
      },
      clock: systemClock,
      secretFiles: {
        password: join(tmpdir(), 'bw-no-password'),
        ca: join(tmpdir(), 'bw-no-ca'),
        sentinelPassword: join(tmpdir(), 'bw-no-sentinel-password'),
      },
      logger: logger(lines),
    });
    cleanups.push(() => {
      store.close();
    });
    const limiter = new RateLimiter({
      name: 'support',
      clock: systemClock,
      options: limiterSettings(),
    });
    limiter.useStore(store);
    const registry = new Registry();
    new GuardMetrics(registry).bindLimiter(limiter);
    const scraped = async () =>
      (await registry.getSingleMetric('rate_limiter_store_evicted_keys_total')?.get())?.values.find(
        (v) => v.labels['name'] === 'support',
      )?.value;
    await waitFor(() => store.available, {
      description: 'the store to connect',
      timeoutMs: 10_000,
    });
    // The check on connecting has read its baseline once the first admission is answered.
    await waitFor(async () => (await store.admit(ONE_CALL)) !== undefined, {
      description: 'the store to decide',
      timeoutMs: 10_000,
    });
    expect(await scraped()).toBe(0);
    const evicted = await evictWindow(admin);
    expect(await stat(admin, 'evicted_keys')).toBe(evicted);
    // A new connection is checked at once (a failover lands on one): the runtime's is cut.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
    await waitFor(async () => (await scraped()) === evicted, {
      description: 'the evicted keys to be counted',
      timeoutMs: 10_000,
    });
    expect(store.evicting).toBeUndefined();
    expect(lines.filter((l) => l.level === 'warn' && /evicted \d+ keys/.test(l.message))).toEqual([
      expect.objectContaining({
        fields: expect.objectContaining({ store: 'test', evictedKeys: evicted }) as unknown,
      }),
    ]);
  });
});

describe('keys evicted on a Redis Cluster between two checks', () => {
  it('are counted on whichever primary evicted them, each named by its port', async () => {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.remove());
    const client = redisClient({ cluster: { addresses: [...cluster.addresses] } }, {});
    client.on('error', () => undefined);
    await client.connect();
    cleanups.push(() => {
      client.destroy();
    });
    const clock = new ManualClock();
    const lines: Line[] = [];
    const watch = new EvictionWatch(logger(lines), { store: 'test' }, 'budget accounts');
    cleanups.push(() => {
      watch.stop();
    });
    await waitFor(() => client.isReady, {
      description: 'the cluster to connect',
      timeoutMs: 20_000,
    });
    watch.check(client);
    watch.recheck(clock, () => client);
    const shards = await cluster.shards();
    expect(shards).toHaveLength(3);
    const admins = await Promise.all(
      shards.map(async (shard) => {
        const admin = createClient({ url: `redis://${shard.primary}` });
        await admin.connect();
        cleanups.push(() => {
          admin.destroy();
        });
        return admin;
      }),
    );
    // Every primary has answered the first check (its baseline) before the first window.
    const infoCalls = async (admin: Admin) =>
      Number(
        /cmdstat_info:calls=(\d+)/.exec(
          String(await admin.sendCommand(['INFO', 'commandstats'])),
        )?.[1] ?? 0,
      );
    await waitFor(async () => (await Promise.all(admins.map(infoCalls))).every((n) => n >= 1), {
      description: 'the first check to read every primary',
      timeoutMs: 10_000,
    });
    let total = 0;
    for (const [i, shard] of shards.entries()) {
      const admin = admins[i];
      if (admin === undefined) throw new Error('no admin');
      // A hash tag whose slot this primary holds: its keys are written on it, not MOVED.
      let tag = '';
      for (let t = 0; tag === ''; t++) {
        const slot = Number(await admin.sendCommand(['CLUSTER', 'KEYSLOT', `{t${String(t)}}`]));
        if (shard.slots.some(([from, to]) => slot >= from && slot <= to)) tag = `{t${String(t)}}`;
      }
      const evicted = await evictWindow(admin, tag);
      expect(evicted).toBeGreaterThan(0);
      total += evicted;
      clock.advance(EVICTION_RECHECK_MS);
      await waitFor(() => watch.evictedKeys === total, {
        description: `the re-check to count the keys ${shard.primary} evicted`,
        timeoutMs: 10_000,
      });
      expect(lines.at(-1)?.fields).toMatchObject({
        evictedKeys: evicted,
        port: shard.primary.split(':').at(-1),
      });
    }
    expect(lines).toHaveLength(3);
    expect(watch.policy).toBeUndefined();
  });
});

describe('keys evicted from the journal store between two checks', () => {
  it('reach agent_durable_store_evicted_keys_total and the log when the journal reconnects', async () => {
    const { redis, admin } = await redisWithAdmin();
    const written: string[] = [];
    const registry = new Registry();
    const metrics = new DurableMetrics(registry);
    const journal = new JournalConnection({
      clock: systemClock,
      logger: createLogger('warn', 'test', { write: (line: string) => written.push(line) }),
      metrics,
      env: {},
      activity: new RunActivity(systemClock),
    });
    cleanups.push(() => {
      journal.close();
    });
    journal.useManifestKey(randomBytes(32));
    journal.configure({
      store: { redis: { address: redis.address } },
      encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      keyPrefix: 'breakwater:run:tests/evicted',
      retentionMs: 86_400_000,
    });
    const evictedTotal = async () => (await metrics.evictedKeys.get()).values[0]?.value;
    await waitFor(() => journal.current?.client.isReady === true, {
      description: 'the journal store to connect',
      timeoutMs: 10_000,
    });
    // The check on connecting sent its INFO first: a PING after it answers once it has.
    await journal.current?.client.ping();
    expect(await evictedTotal()).toBe(0);
    const evicted = await evictWindow(admin);
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
    await waitFor(async () => (await evictedTotal()) === evicted, {
      description: 'the evicted keys to be counted',
      timeoutMs: 10_000,
    });
    const warnings = written
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter(
        (l) => typeof l['msg'] === 'string' && l['msg'].includes('keys since the last check'),
      );
    expect(warnings).toEqual([expect.objectContaining({ store: 'journal', evictedKeys: evicted })]);
  });
});

const ONE_CALL = {
  estimate: { inputTokens: 0, outputTokens: 0 },
  localWaitMs: 0,
  maxWaitMs: 0,
} as const;
