/**
 * `acknowledge: Replicas` on a real primary and replica (runtime/src/rateLimitStore/
 * replicaAcknowledged.ts, through storeConnection.ts's redisClient): a write is answered once
 * the replica holds it; with the replica frozen (SIGSTOP) the primary still takes it, and the
 * caller hears UnacknowledgedWriteError with the primary's answer — a tool call's claim is
 * refused, a completion stands and is counted — and no write waits behind more than two WAITs
 * (the acknowledging lane's group commit), no read behind any.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { RunJournal } from '../../runtime/src/durable/runJournal.ts';
import { stepHeader } from '../../runtime/src/durable/journalEntry.ts';
import {
  isUnacknowledged,
  UnacknowledgedWriteError,
} from '../../runtime/src/rateLimitStore/replicaAcknowledged.ts';
import type { StoreCommands } from '../../runtime/src/rateLimitStore/storeCommands.ts';
import { redisClient, splitAddress } from '../../runtime/src/rateLimitStore/storeConnection.ts';
import { documentedAclRule } from '../support/documentedAcl.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { waitFor } from '../support/waitFor.ts';

const PREFIX = 'breakwater:run:tests/acknowledged';
const MATCH = 'a'.repeat(64);

let primary: RedisHandle;
let replica: RedisHandle;
let client: StoreCommands;

/** What the replica holds at `key`, read on a connection of its own. */
async function onReplica(key: string): Promise<string | null> {
  const reader = createClient({ socket: splitAddress(replica.address) });
  reader.on('error', () => undefined);
  await reader.connect();
  try {
    return await reader.get(key);
  } finally {
    reader.destroy();
  }
}

beforeAll(async () => {
  primary = await startRedis();
  replica = await startRedis({ replicaOf: primary.address });
  client = redisClient({ address: primary.address, acknowledge: 'Replicas' }, {});
  client.on('error', () => undefined);
  await client.connect();
  await waitFor(
    async () => (await client.sendCommand(['SET', 'linked', '1']).catch(() => false)) === 'OK',
    { description: 'the replica to confirm a write', timeoutMs: 10_000, intervalMs: 100 },
  );
});

afterAll(async () => {
  replica.thaw();
  client.destroy();
  await replica.remove();
  await primary.remove();
});

describe('a store whose writes a replica acknowledges', () => {
  it('answers a write once the replica holds it', async () => {
    const key = `k-${randomUUID()}`;
    await expect(client.sendCommand(['SET', key, 'v'])).resolves.toBe('OK');
    // Read at once, no waiting: WAIT already saw the replica take it.
    await expect(onReplica(key)).resolves.toBe('v');
  });

  it.each([
    { rule: 'the documented rule and +wait', extra: ' +wait', expected: 'confirmed' },
    { rule: 'the documented rule alone', extra: '', expected: 'refused naming +wait' },
  ])('as an ACL user with $rule: $expected', async ({ extra, expected }) => {
    const user = `acl-${randomUUID().slice(0, 8)}`;
    await client.sendCommand([
      'ACL',
      ...`${documentedAclRule()}${extra}`
        .replace('breakwater ', `${user} `)
        .replace('>CHANGE-ME', '>acl-pass')
        .split(/\s+/)
        .slice(1),
    ]);
    const asUser = redisClient(
      {
        address: primary.address,
        username: user,
        passwordSecretRef: { name: 'redis', key: 'password' },
        acknowledge: 'Replicas',
      },
      { password: 'acl-pass' },
    );
    asUser.on('error', () => undefined);
    await asUser.connect();
    try {
      const outcome = await asUser.sendCommand(['SET', `breakwater:${user}`, 'v']).then(
        () => 'confirmed',
        (err: unknown) =>
          isUnacknowledged(err) && err.message.includes('add +wait to its rule')
            ? 'refused naming +wait'
            : String(err),
      );
      expect(outcome).toBe(expected);
    } finally {
      asUser.destroy();
    }
  });

  describe('with the replica frozen', () => {
    beforeAll(() => {
      replica.freeze();
    });
    afterAll(() => {
      replica.thaw();
    });

    it("refuses a write no replica confirmed, carrying the primary's answer", async () => {
      const key = `n-${randomUUID()}`;
      const error = await client.sendCommand(['INCR', key]).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UnacknowledgedWriteError);
      expect(error).toMatchObject({ reply: 1, replicas: 0, code: 'STORE_UNACKNOWLEDGED' });
    });

    it("refuses a tool call's claim, and keeps a completion, counting it", async () => {
      let counted = 0;
      const journal = new RunJournal(client, PREFIX, 60_000, () => {
        counted++;
      });
      const run = randomUUID();
      let position = -1;
      const claim = await journal.claim(run, 'owner', 'tool', MATCH, 'attempt-1').then(
        () => 'answered',
        (err: unknown) => {
          if (!isUnacknowledged(err)) return String(err);
          // The primary took it: the step it placed the marker at.
          position = Number((err.reply as unknown[])[1]);
          return 'refused';
        },
      );
      const completed = await journal.complete(
        run,
        position,
        'tool',
        MATCH,
        `${stepHeader('tool', 'done', MATCH)}x`,
      );
      expect({ claim, completed, counted }).toEqual({
        claim: 'refused',
        completed: true,
        counted: 1,
      });
    });

    // An outside attack found budgeted calls held 2.4–3 s behind one WAIT per write on a shared
    // connection, then decided on a replica's share, with the primary answering at once.
    it('holds no write behind more than two WAITs, and no read behind any', async () => {
      // A client of its own: its first write finds no WAIT come back short yet.
      const fresh = redisClient({ address: primary.address, acknowledge: 'Replicas' }, {});
      fresh.on('error', () => undefined);
      await fresh.connect();
      const before = await waitCalls();
      const writes = Array.from({ length: 32 }, (_, i) =>
        fresh.sendCommand(['SET', `burst-${String(i)}-${randomUUID()}`, 'v']).then(
          () => 'confirmed',
          (err: unknown) => (isUnacknowledged(err) ? 'unconfirmed' : String(err)),
        ),
      );
      const order: string[] = [];
      const read = fresh.get('linked').then(() => order.push('read'));
      const written = Promise.all(writes).then((all) => {
        order.push('writes');
        return all;
      });
      expect(await written).toEqual(Array.from({ length: 32 }, () => 'unconfirmed'));
      await read;
      // One WAIT for the first write, one for the 31 that queued behind it, or fewer: not 32.
      expect((await waitCalls()) - before).toBeLessThanOrEqual(2);
      expect(order).toEqual(['read', 'writes']);
      fresh.destroy();
    });
  });
});

/** How many WAITs the primary has run, from its own command statistics. */
async function waitCalls(): Promise<number> {
  const admin = createClient({ socket: splitAddress(primary.address) });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    const stats = await admin.info('commandstats');
    return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    admin.destroy();
  }
}
