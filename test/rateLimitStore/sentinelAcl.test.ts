/**
 * The store through Sentinel as the ACL user docs/rate-limit-store.md gives (issue 51), on
 * real processes: a primary, two replicas and three sentinels. Redis does not replicate ACLs,
 * so the guide says to create the user on every node: with it on every node the store decides
 * as that user before and after a failover, under `acknowledge: Replicas` (the rule and
 * `+wait`); with it on the first primary only, the promoted replica refuses the user and the
 * store says so (AuthenticationFailed), deciding on its share rather than failing a call.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { StoreSettings } from '../../contract/src/policy/policyDocument.ts';
import {
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE,
} from '../../contract/src/pod/runtimeEnvironment.ts';
import { systemClock } from '../../platform/src/time/clock.ts';
import { RedisStore } from '../../runtime/src/rateLimitStore/redisStore.ts';
import { documentedAclRule } from '../support/documentedAcl.ts';
import type { RedisHandle } from '../support/redisServer.ts';
import { ask, startSentinelSet, type SentinelSet } from '../support/redisSentinel.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(120_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PASSWORD = 'acl-pass';
const ONE_CALL = {
  estimate: { inputTokens: 0, outputTokens: 0 },
  localWaitMs: 0,
  maxWaitMs: 0,
} as const;

/** The guide's rule, as a user pastes it, with `+wait` for `acknowledge: Replicas`. */
async function createUser(server: RedisHandle): Promise<void> {
  const rule = `${documentedAclRule()} +wait`.replace('>CHANGE-ME', `>${PASSWORD}`);
  await ask(server.address, ['ACL', ...rule.split(/\s+/).slice(1)]);
}

/** A RedisStore on `set` through its sentinels, as the ACL user, its password in a file. */
function openStore(set: SentinelSet): RedisStore {
  const dir = mkdtempSync(join(tmpdir(), 'bw-sentinel-acl-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const password = join(dir, RATE_LIMIT_STORE_PASSWORD_FILE);
  mkdirSync(dirname(password), { recursive: true });
  writeFileSync(password, PASSWORD);
  const settings = {
    redis: {
      sentinel: { masterName: set.masterName, addresses: [...set.sentinels] },
      username: 'breakwater',
      passwordSecretRef: { name: 'redis', key: 'password' },
      acknowledge: 'Replicas',
    },
    waitBudgetMs: 1000,
    keyPrefix: `breakwater:{acl/${String(Math.random()).slice(2)}}`,
    requests: { perSecond: 1000, burst: 1000 },
  } satisfies StoreSettings;
  const store = new RedisStore({
    name: 'test',
    settings,
    clock: systemClock,
    secretFiles: {
      password,
      ca: join(dir, RATE_LIMIT_STORE_CA_FILE),
      sentinelPassword: join(dir, 'sentinel-auth', 'password'),
    },
  });
  cleanups.push(() => {
    store.close();
  });
  return store;
}

async function sentinelSet(): Promise<SentinelSet> {
  const set = await startSentinelSet();
  cleanups.push(() => set.remove());
  return set;
}

/** The store answered a call itself (not its share): `admit` gives an answer only then. */
async function decidesOnStore(store: RedisStore, description: string): Promise<void> {
  await waitFor(async () => store.available && (await store.admit(ONE_CALL)) !== undefined, {
    description,
    timeoutMs: 30_000,
    intervalMs: 50,
  });
}

describe('the store through Sentinel as the documented ACL user', () => {
  it('decides as that user on the first primary and on the promoted replica, under acknowledge: Replicas', async () => {
    const set = await sentinelSet();
    for (const server of [set.primary, ...set.replicas]) await createUser(server);
    const store = openStore(set);
    await decidesOnStore(store, 'the store to decide as the ACL user');
    expect(await store.admit(ONE_CALL)).toMatchObject({ charged: true });

    const was = set.primary.address;
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    await decidesOnStore(store, `the store to decide on the promoted ${promoted}`);
    expect(await store.admit(ONE_CALL)).toMatchObject({ charged: true });
    expect(store.report()).toMatchObject({ state: 'Shared' });
  });

  it('says AuthenticationFailed once a replica without the user is promoted, and decides on its share', async () => {
    const set = await sentinelSet();
    await createUser(set.primary);
    const store = openStore(set);
    await decidesOnStore(store, 'the store to decide as the ACL user');

    const was = set.primary.address;
    await set.primary.kill();
    const promoted = await set.waitForNewPrimary(was, 30_000);
    const report = await waitFor(
      () => (store.report().reason === 'AuthenticationFailed' ? store.report() : undefined),
      {
        description: `the promoted ${promoted} to refuse the user`,
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    expect(report.message).toMatch(/WRONGPASS|invalid username-password/i);
    expect(report.state).toBe('Fallback');
    // Decided on the share: no answer from the store, no call failed.
    expect(await store.admit(ONE_CALL)).toBeUndefined();
  });
});
