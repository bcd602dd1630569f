/**
 * The acknowledging lanes of `acknowledge: Replicas` on a Redis Cluster (decision 0062), on real
 * processes: six redis-server nodes in cluster mode (test/support/redisCluster.ts), written to
 * through the runtime's own client (storeConnection.ts's redisClient):
 * - a slot moved to another primary key by key while writes of its keys run: a write of a key
 *   already moved meets ASK on its primary, and the lane sends it again behind ASKING on the
 *   target's own connection with a WAIT there; none fails for ASK, and every write confirmed is
 *   on the target's replica once the move is done.
 * - a slot's primary killed, its replica promoted and the old primary back as the new one's
 *   replica, with no write in between: the lane's slot map still names the old primary, which
 *   answers MOVED to a node the map knew only as a replica; the lane learns the map again and
 *   sends the write there, confirmed by the old primary now its replica (an outside attack
 *   resumed a durable run through such a MOVED: the claim failed, the call went on live, and a
 *   confirmed step's tool ran twice).
 * The figures are printed for docs/guarantees.md (B4, D1).
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createClient } from '@redis/client';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import { isUnacknowledged } from '../../runtime/src/rateLimitStore/replicaAcknowledged.ts';
import type { StoreCommands } from '../../runtime/src/rateLimitStore/storeCommands.ts';
import {
  messageOf,
  redisClient,
  splitAddress,
} from '../../runtime/src/rateLimitStore/storeConnection.ts';
import {
  clusterShards,
  holderOf,
  startRedisCluster,
  type RedisCluster,
} from '../support/redisCluster.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(180_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const NODE_TIMEOUT_MS = 1000;
/** Keys of the moving slot, written before the move so that MIGRATE carries them a few at a time. */
const KEYS = 100;
const WRITERS = 6;
/** Longer than any write the lane owes on a store that answers (two WAITs and a script resent). */
const WRITE_DEADLINE_MS = 3000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function replicasClient(cluster: RedisCluster): StoreCommands {
  const client = redisClient(
    { cluster: { addresses: [...cluster.addresses] }, acknowledge: 'Replicas' },
    {},
  );
  client.on('error', () => undefined);
  cleanups.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  client.connect().catch(() => undefined);
  return client;
}

/** A hash tag whose slot `primary` holds, and KEYS list keys under it. */
async function keysOn(cluster: RedisCluster, primary: string) {
  const shards = await cluster.shards();
  let tag = 0;
  while (holderOf(shards, keySlot(`{lane-${String(tag)}}`)) !== primary) tag++;
  const name = `{lane-${String(tag)}}`;
  return {
    slot: keySlot(name),
    keys: Array.from({ length: KEYS }, (_, i) => `${name}:${String(i)}`),
  };
}

type Written = { confirmed: true } | { unconfirmed: true } | { failed: string };

/** RPUSH `value` onto `key` through the lane, within WRITE_DEADLINE_MS. */
async function push(client: StoreCommands, key: string, value: string): Promise<Written> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Written>((resolve) => {
    timer = setTimeout(() => {
      resolve({ failed: `no answer within ${String(WRITE_DEADLINE_MS)}ms` });
    }, WRITE_DEADLINE_MS);
  });
  const written = client.sendCommand(['RPUSH', key, value]).then(
    (): Written => ({ confirmed: true }),
    (err: unknown): Written =>
      isUnacknowledged(err) ? { unconfirmed: true } : { failed: messageOf(err) },
  );
  try {
    return await Promise.race([written, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** WRITERS loops pushing numbered values onto random `keys` until `stop()`. */
function writers(client: StoreCommands, keys: readonly string[]) {
  const confirmed: [string, string][] = [];
  const failed = new Map<string, number>();
  let unconfirmed = 0;
  let sent = 0;
  let running = true;
  const loops = Array.from({ length: WRITERS }, async () => {
    while (running) {
      const key = keys[Math.floor(Math.random() * keys.length)] ?? '';
      const value = String(++sent);
      const outcome = await push(client, key, value);
      if ('confirmed' in outcome) confirmed.push([key, value]);
      else if ('unconfirmed' in outcome) unconfirmed++;
      else {
        // Told apart by the reply's kind (ASK, MOVED, TRYAGAIN…), not its slot or address.
        const kind = outcome.failed.replace(/\d+/g, 'N');
        failed.set(kind, (failed.get(kind) ?? 0) + 1);
        // A write refused at once (no connection yet) settles without I/O: without a turn of
        // the event loop here the loops would starve every timer, the test's own included.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { confirmed, failed, unconfirmed };
    },
  };
}

/** The writes among `written` the node at `address` lacks. */
async function lackedOn(address: string, written: readonly [string, string][]): Promise<number> {
  const client = createClient({ socket: splitAddress(address) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.sendCommand(['READONLY']);
    const lists = new Map<string, Set<string>>();
    for (const key of new Set(written.map(([k]) => k)))
      lists.set(key, new Set(await client.lRange(key, 0, -1)));
    return written.filter(([k, v]) => lists.get(k)?.has(v) !== true).length;
  } finally {
    client.destroy();
  }
}

describe('the acknowledging lanes on a Redis Cluster', () => {
  it('follows ASK while a slot moves and MOVED after: no write fails for a redirect, every confirmed one is on the target’s replica', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const [from, to] = await cluster.primaries();
    const { slot, keys } = await keysOn(cluster, from ?? '');
    const client = replicasClient(cluster);
    await waitFor(async () => 'confirmed' in (await push(client, keys[0] ?? '', 'first')), {
      description: 'a write confirmed',
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    for (const key of keys) await push(client, key, 'before');
    const writing = writers(client, keys);
    await pause(500);
    const startedAt = Date.now();
    // Five keys at a time, a pause between: writes meet the slot half moved.
    await cluster.migrateSlot(slot, to ?? '', { pauseMs: 50, batch: 5 });
    const migrationMs = Date.now() - startedAt;
    await pause(500);
    const tally = await writing.stop();
    const targetReplica = (await cluster.replicasOf(to ?? ''))[0] ?? '';
    await waitFor(async () => (await lackedOn(targetReplica, tally.confirmed)) === 0, {
      description: `every confirmed write on ${targetReplica}`,
      timeoutMs: 5_000,
      intervalMs: 100,
    }).catch(() => undefined);
    const figures = {
      test: 'test/rateLimitStore/clusterLanes.test.ts',
      scenario: 'slot moved under acknowledge: Replicas',
      migrationMs,
      confirmed: tally.confirmed.length,
      unconfirmed: tally.unconfirmed,
      failed: Object.fromEntries(tally.failed),
      lackedOnTargetReplica: await lackedOn(targetReplica, tally.confirmed),
    };
    console.log(`cluster lanes figures: ${JSON.stringify(figures)}`);
    expect({
      onTarget: (await cluster.primaryOf(slot)) === to,
      confirmed: figures.confirmed > 0,
      // ASK while the slot is half moved; MOVED once it has, until the lane learns the map.
      failedForRedirect: [...tally.failed]
        .filter(([kind]) => kind.startsWith('ASK') || kind.startsWith('MOVED'))
        .reduce((n, [, c]) => n + c, 0),
      lackedOnTargetReplica: figures.lackedOnTargetReplica,
    }).toEqual({ onTarget: true, confirmed: true, failedForRedirect: 0, lackedOnTargetReplica: 0 });
  });

  it('follows MOVED to a replica promoted while its primary was frozen, confirmed by the old primary now its replica', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const [primary = ''] = await cluster.primaries();
    const { slot, keys } = await keysOn(cluster, primary);
    const key = keys[0] ?? '';
    const client = replicasClient(cluster);
    await waitFor(async () => 'confirmed' in (await push(client, key, 'before')), {
      description: 'a write confirmed',
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    // Frozen, its connections stay open and owe nothing (no write is sent meanwhile), so the
    // lane keeps its slot map; its replica is promoted meanwhile.
    const frozen = cluster.nodes.find((n) => n.address === primary);
    const other = cluster.addresses.find((a) => a !== primary) ?? '';
    frozen?.freeze();
    let promoted = '';
    try {
      await waitFor(
        async () => {
          promoted = holderOf(await clusterShards(other), slot) ?? primary;
          return promoted !== primary;
        },
        { description: `a replica of ${primary} promoted`, timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      frozen?.thaw();
    }
    // The old primary back, as the promoted one's replica, in sync: a WAIT there can count it.
    await waitFor(
      async () => {
        const shard = (await clusterShards(promoted)).find((s) => s.primary === promoted);
        return shard?.replicas.includes(primary) === true && shard.replicasOnline === 1;
      },
      { description: `${primary} a replica of ${promoted}`, timeoutMs: 30_000, intervalMs: 100 },
    );
    await cluster.waitForOk(30_000);
    const after = await push(client, key, 'after');
    console.log(`cluster lanes after a promotion: ${JSON.stringify({ primary, promoted, after })}`);
    expect(after).toEqual({ confirmed: true });
    expect(await lackedOn(primary, [[key, 'after']])).toBe(0);
  });

  it('gives up a frozen primary’s connections on the stall watch and reaches its promoted replica while it stays frozen', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: NODE_TIMEOUT_MS });
    cleanups.push(() => cluster.remove());
    const [primary = ''] = await cluster.primaries();
    const { slot, keys } = await keysOn(cluster, primary);
    const key = keys[0] ?? '';
    const client = replicasClient(cluster);
    await waitFor(async () => 'confirmed' in (await push(client, key, 'before')), {
      description: 'a write confirmed',
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    // Frozen under writes: the lane's connection to it owes them and gets no answer, nor a
    // reset (a hung node, a partition). Only the stall watch gives it up; until then every
    // write of its slots waits on it, though its replica is promoted after about two seconds.
    const load = writers(client, keys);
    await pause(500);
    const frozen = cluster.nodes.find((n) => n.address === primary);
    const other = cluster.addresses.find((a) => a !== primary) ?? '';
    const frozenAt = Date.now();
    frozen?.freeze();
    let answered: Written | undefined;
    let promoted = primary;
    let backMs = -1;
    try {
      // Answered again by the promoted replica (unconfirmed: its only replica is the frozen
      // node), the node frozen all the while.
      answered = await waitFor(
        async () => {
          const written = await push(client, key, 'probe');
          return 'failed' in written ? undefined : written;
        },
        { description: 'a write answered while the primary is frozen', timeoutMs: 30_000 },
      );
      backMs = Date.now() - frozenAt;
      promoted = holderOf(await clusterShards(other), slot) ?? primary;
    } finally {
      frozen?.thaw();
    }
    const tally = await load.stop();
    const figures = {
      backMs,
      answered,
      promoted,
      failed: Object.fromEntries(tally.failed),
      unconfirmed: tally.unconfirmed,
    };
    console.log(`cluster lanes, a primary frozen under writes: ${JSON.stringify(figures)}`);
    expect(promoted).not.toBe(primary);
    expect(answered).toBeDefined();
  });
});
