/**
 * Leases on the runs the runtime owns, on a real redis-server (runtime/src/durable/lease.lua):
 * who may hold, renew, take over, let go of or hand over a run's lease, with every lease end
 * set by the server's own clock.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createClient, type RedisClientType } from '@redis/client';
import { RunLeases, leaseKeys } from '../../runtime/src/durable/runLeases.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { waitFor } from '../support/waitFor.ts';

const PREFIX = 'breakwater:run:tests/leases';
/** A lease that lapses within a test, for the tests that wait for one to lapse. */
const SHORT_MS = 300;
/** A lease that outlasts any test, for every other. */
const LEASE_MS = 60_000;

let redis: RedisHandle;
let client: RedisClientType;
const replica = (name: string, leaseMs = LEASE_MS) =>
  new RunLeases(client, PREFIX, name, leaseMs, (op) => op);

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: `redis://${redis.address}` });
  await client.connect();
});

afterAll(async () => {
  client.destroy();
  await redis.remove();
});

/** The server's clock (TIME), in milliseconds. */
async function serverTime(): Promise<number> {
  const [seconds, micros] = await client.sendCommand<[string, string]>(['TIME']);
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Waits until the server counts `run`'s lease lapsed. */
const lapsed = (run: string) =>
  waitFor(async () => (await replica('watcher').lapsed(100)).includes(run), {
    timeoutMs: 5_000,
    intervalMs: 25,
    description: `the lease on ${run} to lapse`,
  });

describe('a run lease in Redis', () => {
  it('is held by one replica: another can neither take nor renew it while it lasts', async () => {
    const run = randomUUID();
    expect(await replica('a').acquire(run)).toBe(true);
    expect(await replica('b').acquire(run)).toBe(false);
    expect(await replica('b').renew(run)).toBe(false);
    expect(await replica('b').takeOver(run)).toBeUndefined();
    expect(await replica('a').renew(run)).toBe(true);
  });

  it('ends at the server time plus the lease', async () => {
    const run = randomUUID();
    const before = await serverTime();
    await replica('a').acquire(run);
    const after = await serverTime();
    const ends = await client.zScore(leaseKeys(PREFIX)[0] ?? '', run);
    expect(ends).toBeGreaterThanOrEqual(before + LEASE_MS);
    expect(ends).toBeLessThanOrEqual(after + LEASE_MS);
  });

  it('once lapsed is taken over by the first replica to ask, and is then lost to its old holder', async () => {
    const run = randomUUID();
    await replica('a', SHORT_MS).acquire(run);
    await lapsed(run);

    const [b, c] = await Promise.all([replica('b').takeOver(run), replica('c').takeOver(run)]);

    expect([b, c].filter((from) => from !== undefined)).toEqual(['a']);
    expect(await replica('a').renew(run)).toBe(false);
    expect(await replica('watcher').lapsed(100)).not.toContain(run);
  });

  it('lapsed but not taken, is still its holder to renew', async () => {
    const run = randomUUID();
    await replica('a', SHORT_MS).acquire(run);
    await lapsed(run);
    expect(await replica('a').renew(run)).toBe(true);
    expect(await replica('b').takeOver(run)).toBeUndefined();
  });

  it('let go of when its run ends, is no one to take over', async () => {
    const run = randomUUID();
    await replica('a').acquire(run);
    await replica('b').release(run);
    expect(await replica('a').renew(run)).toBe(true);
    await replica('a').release(run);
    expect(await client.hGet(leaseKeys(PREFIX)[1] ?? '', run)).toBeNull();
    expect(await replica('b').takeOver(run)).toBeUndefined();
  });

  it('handed over on a graceful stop, lapses at once for another replica', async () => {
    const run = randomUUID();
    await replica('a').acquire(run);
    await replica('a').handOver(run);
    expect(await replica('watcher').lapsed(100)).toContain(run);
    expect(await replica('b').takeOver(run)).toBe('a');
  });
});
