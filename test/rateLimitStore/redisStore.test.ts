/**
 * RedisStore against a real redis-server: exact decisions, and every way the server
 * can let it down (stopped, frozen, a wrong password, a missing Secret file) answered at once
 * with the local share, then the way back.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createClient } from '@redis/client';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import {
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE,
} from '../../contract/src/pod/runtimeEnvironment.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import type { StoreAdmission, StoreAdmitRequest } from '../../runtime/src/guard/rateLimitStore.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import {
  EVICTION_RECHECK_MS,
  EvictionWatch,
} from '../../runtime/src/rateLimitStore/evictionPolicy.ts';
import { ManualClock } from '../support/manualClock.ts';
import { waitFor } from '../support/waitFor.ts';
import { documentedAclRule } from '../support/documentedAcl.ts';
import { startRedis, type RedisHandle, type RedisOptions } from '../support/redisServer.ts';
import { startRedisCluster } from '../support/redisCluster.ts';
import type { StoreLogger } from '../../runtime/src/rateLimitStore/storeFallback.ts';

/** The most there is, where the test is about what the store decides, not how fast. */
const BUDGET_MS = 1000;
/** Where the test is about the budget. */
const SHORT_BUDGET_MS = 20;
const ONE_CALL = {
  estimate: { inputTokens: 0, outputTokens: 0 },
  localWaitMs: 0,
  maxWaitMs: 0,
} as const;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function settings(redis: RedisHandle, change: Partial<StoreSettings> = {}) {
  return {
    redis: { address: redis.address },
    waitBudgetMs: BUDGET_MS,
    keyPrefix: `breakwater:{test/${String(Math.random()).slice(2)}}`,
    requests: { perSecond: 1, burst: 5 },
    ...change,
  } satisfies StoreSettings;
}

function open(
  redis: RedisHandle,
  change: Partial<StoreSettings> = {},
  secretsDir = tmpdir(),
  logger?: StoreLogger,
): RedisStore {
  const secretFiles = {
    password: join(secretsDir, RATE_LIMIT_STORE_PASSWORD_FILE),
    ca: join(secretsDir, RATE_LIMIT_STORE_CA_FILE),
    sentinelPassword: join(secretsDir, 'sentinel-auth', 'password'),
  };
  const store = new RedisStore({
    name: 'test',
    settings: settings(redis, change),
    clock: systemClock,
    secretFiles,
    ...(logger === undefined ? {} : { logger }),
  });
  cleanups.push(() => {
    store.close();
  });
  return store;
}

async function redisServer(options: Parameters<typeof startRedis>[0] = {}) {
  const redis = await startRedis(options);
  cleanups.push(() => redis.remove());
  return redis;
}

const decides = (store: RedisStore, description: string) =>
  waitFor(() => store.available, { description, timeoutMs: 10_000, intervalMs: 20 });

/**
 * `n` admissions the store answered in its wait budget, one after another. One past its 20 ms
 * on a loaded machine is decided on the share (by no one here: it did not go), and its charge
 * given back when Redis's answer comes; the next is asked once it has.
 */
async function answered(store: RedisStore, n: number): Promise<StoreAdmission[]> {
  const answers: StoreAdmission[] = [];
  for (let tries = 0; answers.length < n && tries < 30; tries++) {
    const late = store.counters().late;
    const answer = await store.admit(ONE_CALL);
    if (answer !== undefined) {
      answers.push(answer);
      continue;
    }
    await waitFor(() => store.counters().late > late, {
      description: 'the late answer given back',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    await decides(store, 'the store to answer again');
  }
  return answers;
}

describe('the Redis store', () => {
  it('decides exactly: the burst goes, the next call is refused with the time to a token', async () => {
    const redis = await redisServer();
    const store = open(redis);
    await decides(store, 'the store to connect');
    const answers = [];
    const started = performance.now();
    for (let i = 0; i < 6; i++) answers.push(await store.admit(ONE_CALL));
    const took = performance.now() - started;
    expect(answers.slice(0, 5).every((a) => a?.charged === true && a.waitMs === 0)).toBe(true);
    expect(answers[5]).toMatchObject({ charged: false, reason: 'requests' });
    // One token a second, the first taken `took` ago (Redis's clock and ours, to the ms).
    expect(answers[5]?.waitMs).toBeGreaterThanOrEqual(1000 - took - 2);
    expect(answers[5]?.waitMs).toBeLessThanOrEqual(1000);
    expect(store.report()).toMatchObject({ state: 'Shared' });
  });

  it('falls back at once when the server stops, and goes back when it returns', async () => {
    const redis = await redisServer();
    const store = open(redis);
    await decides(store, 'the store to connect');
    await redis.stop();
    expect(await store.admit(ONE_CALL)).toBeUndefined();
    expect(store.available).toBe(false);
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'Unreachable' });
    expect(store.report().budgets).toBeUndefined();
    await redis.start();
    await decides(store, 'the store to reconnect');
    expect(await store.admit(ONE_CALL)).toMatchObject({ charged: true });
  });

  it('answers within its wait budget when the server hangs, and falls back', async () => {
    const redis = await redisServer();
    const store = open(redis, { waitBudgetMs: SHORT_BUDGET_MS });
    await decides(store, 'the store to connect');
    redis.freeze();
    const started = performance.now();
    expect(await store.admit(ONE_CALL)).toBeUndefined();
    const waited = performance.now() - started;
    // The budget, plus what a busy machine adds to a timer; frozen, Redis would never answer.
    expect(waited).toBeGreaterThanOrEqual(SHORT_BUDGET_MS - 1);
    expect(waited).toBeLessThan(SHORT_BUDGET_MS + 200);
    // A slow store still decides budgets (their calls wait for its answer): the report says so.
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'Slow', budgets: 'Store' });
    // Falling back means later calls do not wait at all.
    expect(store.available).toBe(false);
    redis.thaw();
    await decides(store, 'the store to answer again');
  });

  it('gives back what admissions answered after their wait budget charged', async () => {
    const redis = await redisServer();
    // No token comes back during the test: what the burst holds is what was given back.
    const store = open(redis, {
      waitBudgetMs: SHORT_BUDGET_MS,
      requests: { perSecond: 0.001, burst: 5 },
    });
    await decides(store, 'the store to connect');
    redis.freeze();
    const asked = await Promise.all([1, 2, 3].map(() => store.admit(ONE_CALL)));
    // Each was decided on the local share; Redis still holds the three in its queue.
    expect(asked).toEqual([undefined, undefined, undefined]);
    redis.thaw();
    await waitFor(() => store.counters().late === 3, {
      description: 'the three late answers',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    await decides(store, 'the store to answer again');
    const answers = await answered(store, 6);
    expect(answers.map((a) => a.charged)).toEqual([true, true, true, true, true, false]);
  });

  it('charges what the share let go without asking once it answers again, a late-answered call once', async () => {
    const redis = await redisServer();
    // No token comes back during the test: what the burst holds is what was charged.
    const store = open(redis, {
      waitBudgetMs: SHORT_BUDGET_MS,
      requests: { perSecond: 0.001, burst: 5 },
    });
    await decides(store, 'the store to connect');
    const share = { requests: 5, inputTokens: 0, outputTokens: 0 };
    redis.freeze();
    // Asked, unanswered in time, let go on the share (as the limiter says): its late answer
    // keeps the charge admit.lua made, and the count of calls let go leaves it out.
    const asked: StoreAdmitRequest = { ...ONE_CALL };
    expect(await store.admit(asked)).toBeUndefined();
    asked.wentOnShare = true;
    store.letGoOnShare({ estimate: ONE_CALL.estimate, share, asked });
    // Two more let go on the share without asking (the store fallen back).
    store.letGoOnShare({ estimate: ONE_CALL.estimate, share });
    store.letGoOnShare({ estimate: ONE_CALL.estimate, share });
    redis.thaw();
    await waitFor(() => store.counters().late === 1, {
      description: 'the late answer',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    await decides(store, 'the store to answer again');
    const answers = await answered(store, 3);
    // Three of the burst of five counted: the late-answered call and the two let go.
    expect(answers.map((a) => a.charged)).toEqual([true, true, false]);
  });

  it('says a cluster may evict when any primary may, not only the one a keyless INFO reaches', async () => {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.remove());
    const cases: { primary: string; evicting: string | undefined }[] = [];
    for (const primary of await cluster.primaries()) {
      const admin = createClient({ url: `redis://${primary}` });
      await admin.connect();
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', '64mb']);
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'volatile-ttl']);
      const [one] = cluster.nodes;
      if (one === undefined) throw new Error('no node');
      const store = open(one, { redis: { cluster: { addresses: [...cluster.addresses] } } });
      await waitFor(async () => (await store.admit(ONE_CALL)) !== undefined, {
        description: 'the cluster store to decide',
        timeoutMs: 20_000,
      });
      await waitFor(() => store.evicting !== undefined, {
        description: `the store to see ${primary} may evict`,
        timeoutMs: 5_000,
      }).catch(() => undefined);
      cases.push({ primary, evicting: store.evicting });
      store.close();
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
      admin.destroy();
    }
    expect(cases.map((c) => c.evicting)).toEqual(['volatile-ttl', 'volatile-ttl', 'volatile-ttl']);
  });

  it.each([
    ['volatile-ttl', '64mb', 'volatile-ttl'],
    ['noeviction', '64mb', undefined],
    ['volatile-ttl', '0', undefined],
  ])(
    'says whether the server may evict its keys: %s with maxmemory %s reads %s',
    async (policy, maxmemory, expected) => {
      const redis = await redisServer();
      const admin = createClient({ url: `redis://${redis.address}` });
      await admin.connect();
      cleanups.push(() => {
        admin.destroy();
      });
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory', maxmemory]);
      await admin.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', policy]);
      const store = open(redis);
      await decides(store, 'the store to connect');
      // Asked as the connection is ready, before the first probe on the same connection: once
      // the store has answered a call, it has answered the question too.
      await waitFor(async () => (await store.admit(ONE_CALL)) !== undefined, {
        description: 'the store to decide',
        timeoutMs: 10_000,
      });
      expect(store.evicting).toBe(expected);
    },
  );

  it("sees a maxmemory-policy changed on a running server at the next minute's re-check, both ways", async () => {
    const redis = await redisServer();
    const client = createClient({ url: `redis://${redis.address}` });
    await client.connect();
    cleanups.push(() => {
      client.destroy();
    });
    const clock = new ManualClock();
    const lines: { level: string; message: string }[] = [];
    const watch = new EvictionWatch(
      {
        warn: (_fields, message) => lines.push({ level: 'warn', message }),
        info: (_fields, message) => lines.push({ level: 'info', message }),
      },
      { store: 'test' },
      'budget accounts',
    );
    cleanups.push(() => {
      watch.stop();
    });
    watch.check(client);
    watch.recheck(clock, () => client);
    const settled = async () => {
      // Each check is one INFO on the connection: a PING after it answers once it has.
      await client.ping();
      await client.ping();
    };
    await settled();
    expect(watch.policy).toBeUndefined();
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '64mb']);
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
    clock.advance(EVICTION_RECHECK_MS - 1);
    await settled();
    expect(watch.policy).toBeUndefined();
    clock.advance(1);
    await waitFor(() => watch.policy === 'allkeys-lru', {
      description: 'the re-check to read the new policy',
      timeoutMs: 5_000,
    });
    expect(lines).toEqual([{ level: 'warn', message: expect.stringContaining('allkeys-lru') }]);
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    clock.advance(EVICTION_RECHECK_MS);
    await waitFor(() => watch.policy === undefined, {
      description: 'the re-check to read noeviction',
      timeoutMs: 5_000,
    });
    expect(lines.map((l) => l.level)).toEqual(['warn', 'info']);
    // Stopped, it asks no more.
    watch.stop();
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'volatile-ttl']);
    clock.advance(EVICTION_RECHECK_MS * 3);
    await settled();
    expect(watch.policy).toBeUndefined();
  });

  it('reports a wrong password as AuthenticationFailed and never decides', async () => {
    const redis = await redisServer({ password: 'right' });
    const dir = mkdtempSync(join(tmpdir(), 'bw-store-secret-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    mkdirSync(dirname(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE)), { recursive: true });
    writeFileSync(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE), 'wrong\n');
    const store = open(
      redis,
      {
        redis: { address: redis.address, passwordSecretRef: { name: 'redis', key: 'password' } },
      },
      dir,
    );
    const report = await waitFor(
      () => (store.report().reason === 'AuthenticationFailed' ? store.report() : undefined),
      { description: 'the store to report the wrong password', timeoutMs: 10_000 },
    );
    expect(report.message).toMatch(/WRONGPASS|invalid/i);
    expect(store.available).toBe(false);
    expect(await store.admit(ONE_CALL)).toBeUndefined();
  });

  it('picks up a corrected password from the mounted file without a restart', async () => {
    const redis = await redisServer({ password: 'right' });
    const dir = mkdtempSync(join(tmpdir(), 'bw-store-secret-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const file = join(dir, RATE_LIMIT_STORE_PASSWORD_FILE);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'wrong');
    const store = open(
      redis,
      {
        redis: { address: redis.address, passwordSecretRef: { name: 'redis', key: 'password' } },
      },
      dir,
    );
    await waitFor(() => store.report().reason === 'AuthenticationFailed', {
      description: 'the wrong password to be refused',
      timeoutMs: 10_000,
    });
    writeFileSync(file, 'right');
    await decides(store, 'the store to connect with the corrected password');
  });

  it('connects with the right password read from the mounted file', async () => {
    const redis = await redisServer({ password: 'right' });
    const dir = mkdtempSync(join(tmpdir(), 'bw-store-secret-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    mkdirSync(dirname(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE)), { recursive: true });
    writeFileSync(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE), 'right\n');
    const store = open(
      redis,
      {
        redis: { address: redis.address, passwordSecretRef: { name: 'redis', key: 'password' } },
      },
      dir,
    );
    await decides(store, 'the store to authenticate');
  });

  /** A store that authenticates as ACL user `breakwater`, made by `rule` (the documented one's form). */
  async function asAclUser(rule: string, redisOptions: RedisOptions = {}, logger?: StoreLogger) {
    const redis = await redisServer(redisOptions);
    const admin = createClient({ url: `redis://${redis.address}` });
    await admin.connect();
    cleanups.push(() => {
      admin.destroy();
    });
    await admin.sendCommand([
      'ACL',
      ...rule.replace('>CHANGE-ME', '>acl-pass').split(/\s+/).slice(1),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'bw-store-acl-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    mkdirSync(dirname(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE)), { recursive: true });
    writeFileSync(join(dir, RATE_LIMIT_STORE_PASSWORD_FILE), 'acl-pass');
    const store = open(
      redis,
      {
        keyPrefix: `breakwater:{acl/${String(Math.random()).slice(2)}}`,
        redis: {
          address: redis.address,
          username: 'breakwater',
          passwordSecretRef: { name: 'redis', key: 'password' },
        },
      },
      dir,
      logger,
    );
    return { store, admin };
  }

  it('decides under the ACL rule the docs give, exactly', async () => {
    const { store } = await asAclUser(documentedAclRule());
    await decides(store, 'the store to connect as the ACL user');
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await store.admit(ONE_CALL));
    expect(answers[0]).toMatchObject({ charged: true });
    expect(answers[5]).toMatchObject({ charged: false, reason: 'requests' });
    expect(store.report()).toMatchObject({ state: 'Shared' });
  });

  it.each([
    ['an ACL user without +info', documentedAclRule().replace(' +info', ''), []],
    ['a server with INFO renamed away', documentedAclRule(), ['INFO']],
  ])(
    'counts %s as a store that may evict, since it cannot tell, and still decides',
    async (_what, rule, disabledCommands) => {
      const warnings: string[] = [];
      const { store } = await asAclUser(
        rule,
        { disabledCommands },
        { info: () => undefined, warn: (_fields, message) => warnings.push(message) },
      );
      await decides(store, 'the store to connect as the ACL user');
      await waitFor(() => store.evicting !== undefined, {
        description: 'the store counted as one that may evict',
        timeoutMs: 10_000,
      });
      expect(store.evicting).toBe('unreadable');
      expect(warnings).toEqual([expect.stringContaining('refuses INFO')]);
      expect(await store.admit(ONE_CALL)).toMatchObject({ charged: true });
    },
  );

  it('stays on its share under an ACL user the scripts cannot work with, though PING answers', async () => {
    const { store, admin } = await asAclUser(
      'ACL SETUSER breakwater on >CHANGE-ME ~breakwater:* resetchannels -@all +ping +evalsha +eval',
    );
    await decides(store, 'the store to connect as the ACL user');
    await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
    await admin.sendCommand(['SLOWLOG', 'RESET']);
    expect(await store.admit(ONE_CALL)).toBeUndefined();
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'StoreError' });
    // Its probes are decisions that charge nothing, refused as the call was: two seen by the
    // server (beside the call), and the store still on its share.
    await waitFor(
      async () => {
        type Entry = [number, number, number, string[]];
        const log = await admin.sendCommand<Entry[]>(['SLOWLOG', 'GET', '100']);
        return log.filter(([, , , args]) => args[0]?.toUpperCase() === 'EVALSHA').length >= 3;
      },
      { description: 'two probes after the refused call', timeoutMs: 10_000, intervalMs: 20 },
    );
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'StoreError' });
    expect(store.available).toBe(false);
  });

  it('reports a Secret file that is not there as SecretMissing', async () => {
    const redis = await redisServer();
    const store = open(
      redis,
      {
        redis: { address: redis.address, passwordSecretRef: { name: 'redis', key: 'password' } },
      },
      join(tmpdir(), 'no-such-dir'),
    );
    expect(store.report()).toMatchObject({ state: 'Fallback', reason: 'SecretMissing' });
    expect(await store.admit(ONE_CALL)).toBeUndefined();
  });
});
