/**
 * A Redis Cluster on real processes (Debian's `redis-server` with cluster-enabled, formed by
 * `redis-cli --cluster create`) on loopback ports: three primaries with a replica each, started
 * and removed by the test, with what a test does to a live cluster: move one slot to another
 * primary while calls run, and kill a primary so the cluster promotes its replica.
 *
 *   const cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
 *   ... store: { redis: { cluster: { addresses: cluster.addresses } } }
 *   await cluster.migrateSlot(slot, cluster.primaries().find(...));
 *   const killed = await cluster.killPrimaryOf(slot);  // SIGKILL; its replica is promoted
 *   await cluster.waitForPromotion(slot, killed, 30_000);
 *   await cluster.remove();
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createClient } from '@redis/client';
import { startRedis, type RedisHandle } from './redisServer.ts';
import { waitFor } from './waitFor.ts';

const run = promisify(execFile);

export interface RedisCluster {
  /** host:port of every node, as `store.redis.cluster.addresses` takes them. */
  readonly addresses: readonly string[];
  readonly nodes: readonly RedisHandle[];
  /** host:port of the primary that holds `slot` now, as the nodes that are up agree. */
  primaryOf(slot: number): Promise<string>;
  /** host:port of every primary that holds slots now. */
  primaries(): Promise<string[]>;
  /** Each primary with the slot ranges it holds, as the nodes that are up agree. */
  shards(): Promise<readonly ShardView[]>;
  /** host:port of the replicas of the primary at `primary`. */
  replicasOf(primary: string): Promise<readonly string[]>;
  /**
   * Moves `slot` to the primary at `to` the way `redis-cli --cluster reshard` does: IMPORTING
   * on `to`, MIGRATING on the holder, MIGRATE its keys `batch` at a time (pausing `pauseMs`
   * between batches, so calls meet the half-moved slot), then SETSLOT NODE on every primary.
   */
  migrateSlot(
    slot: number,
    to: string,
    options?: { readonly pauseMs?: number; readonly batch?: number },
  ): Promise<void>;
  /** SIGKILLs the primary holding `slot`; its host:port. */
  killPrimaryOf(slot: number): Promise<string>;
  /** Waits until a node other than `killed` holds `slot` and the cluster is ok; its host:port. */
  waitForPromotion(slot: number, killed: string, timeoutMs: number): Promise<string>;
  /**
   * Waits until the nodes at `at` (every running one unless given: leave out a frozen one, which
   * never answers) report cluster_state:ok, as after a node started again has rejoined.
   */
  waitForOk(timeoutMs: number, at?: readonly string[]): Promise<void>;
  /** Stops every node and removes their directories. */
  remove(): Promise<void>;
}

export async function startRedisCluster(
  options: { readonly nodeTimeoutMs?: number } = {},
): Promise<RedisCluster> {
  const nodes: RedisHandle[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.remove()));
  };
  try {
    for (let i = 0; i < 6; i++)
      nodes.push(
        await startRedis({
          clusterEnabled: true,
          clusterNodeTimeoutMs: options.nodeTimeoutMs ?? 1000,
        }),
      );
    const addresses = nodes.map((n) => n.address);
    await formCluster(addresses);
    const live = () => nodes.filter((n) => n.running).map((n) => n.address);
    const clusterOk = (at: readonly string[] = live()) => clusterStateOk(at);

    const anyLive = (): string => {
      const a = live()[0];
      if (a === undefined) throw new Error('no cluster node is running');
      return a;
    };
    const primaryOf = async (slot: number): Promise<string> => {
      const shard = (await clusterShards(anyLive())).find((s) =>
        s.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      if (shard === undefined) throw new Error(`no primary holds slot ${String(slot)}`);
      return shard.primary;
    };
    return {
      addresses,
      nodes,
      primaryOf,
      primaries: async () =>
        (await clusterShards(anyLive())).filter((s) => s.slots.length > 0).map((s) => s.primary),
      shards: async () => (await clusterShards(anyLive())).filter((s) => s.slots.length > 0),
      replicasOf: async (primary) =>
        (await clusterShards(anyLive())).find((s) => s.primary === primary)?.replicas ?? [],
      migrateSlot: async (slot, to, { pauseMs = 0, batch = 10 } = {}) => {
        const from = await primaryOf(slot);
        if (from === to) return;
        const toId = String(await ask(to, ['CLUSTER', 'MYID']));
        const fromId = String(await ask(from, ['CLUSTER', 'MYID']));
        const s = String(slot);
        await ask(to, ['CLUSTER', 'SETSLOT', s, 'IMPORTING', fromId]);
        await ask(from, ['CLUSTER', 'SETSLOT', s, 'MIGRATING', toId]);
        const [host, port] = to.split(':');
        for (;;) {
          const keys = (await ask(from, [
            'CLUSTER',
            'GETKEYSINSLOT',
            s,
            String(batch),
          ])) as string[];
          if (keys.length === 0) break;
          await ask(from, ['MIGRATE', host ?? '', port ?? '', '', '0', '5000', 'KEYS', ...keys]);
          if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        }
        await ask(to, ['CLUSTER', 'SETSLOT', s, 'NODE', toId]);
        await ask(from, ['CLUSTER', 'SETSLOT', s, 'NODE', toId]);
        for (const p of await primaries(anyLive()))
          if (p !== to && p !== from) await ask(p, ['CLUSTER', 'SETSLOT', s, 'NODE', toId]);
      },
      killPrimaryOf: async (slot) => {
        const primary = await primaryOf(slot);
        const node = nodes.find((n) => n.address === primary);
        if (node === undefined) throw new Error(`no node at ${primary}`);
        await node.kill();
        return primary;
      },
      waitForPromotion: async (slot, killed, timeoutMs) => {
        let promoted = '';
        await waitFor(
          async () => {
            promoted = await primaryOf(slot).catch(() => killed);
            return promoted !== killed && (await clusterOk());
          },
          { description: `a replica of ${killed} to be promoted`, timeoutMs, intervalMs: 100 },
        );
        return promoted;
      },
      waitForOk: async (timeoutMs, at) => {
        await waitFor(() => clusterOk(at), {
          description: 'the cluster to be ok',
          timeoutMs,
          intervalMs: 100,
        });
      },
      remove,
    };
  } catch (err) {
    await remove();
    throw err;
  }

  async function primaries(at: string): Promise<string[]> {
    return (await clusterShards(at)).filter((s) => s.slots.length > 0).map((s) => s.primary);
  }
}

/**
 * Forms a cluster of three primaries with a replica each from six empty cluster-enabled nodes
 * at `addresses`, and waits until every node says `cluster_state:ok` and each primary has its
 * replica in sync: a failover needs each replica linked to its primary, on the bus and by
 * replication (the first full sync waits repl-diskless-sync-delay, 5 s by default), and a
 * replica cut off or promoted before it holds nothing at all.
 */
export async function formCluster(addresses: readonly string[]): Promise<void> {
  await run('redis-cli', [
    '--cluster',
    'create',
    ...addresses,
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  await waitFor(() => clusterStateOk(addresses), {
    description: 'every node to report cluster_state:ok',
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  await waitFor(
    async () => {
      const shards = await clusterShards(addresses[0] ?? '');
      if (!shards.every((s) => s.replicasOnline === 1)) return false;
      const infos = await Promise.all(shards.map((s) => ask(s.primary, ['INFO', 'replication'])));
      return infos.every((i) => /slave0:.*state=online/.test(String(i)));
    },
    {
      description: 'each primary to have its replica in sync',
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
}

/** Whether every node at `addresses` says `cluster_state:ok`. */
export async function clusterStateOk(addresses: readonly string[]): Promise<boolean> {
  const infos = await Promise.all(addresses.map((a) => ask(a, ['CLUSTER', 'INFO'])));
  return infos.every((i) => String(i).includes('cluster_state:ok'));
}

export interface ShardView {
  readonly primary: string;
  readonly slots: readonly (readonly [number, number])[];
  readonly replicasOnline: number;
  readonly replicas: readonly string[];
}

/** The primary among `shards` that holds `slot`. */
export function holderOf(shards: readonly ShardView[], slot: number): string | undefined {
  return shards.find((s) => s.slots.some(([from, to]) => slot >= from && slot <= to))?.primary;
}

/** The shards as the node at `at` sees them, from CLUSTER NODES. */
export async function clusterShards(at: string): Promise<ShardView[]> {
  const lines = String(await ask(at, ['CLUSTER', 'NODES']))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(' '));
  const address = (f: string[]): string => (f[1] ?? '').replace(/@.*$/, '');
  const shards: ShardView[] = [];
  for (const f of lines) {
    const flags = f[2] ?? '';
    if (!flags.includes('master') || flags.includes('fail')) continue;
    const id = f[0] ?? '';
    const members = lines.filter((r) => r[3] === id);
    const slots = f
      .slice(8)
      .filter((r) => !r.startsWith('['))
      .map((r) => {
        const [from, to] = r.split('-').map(Number);
        return [from ?? 0, to ?? from ?? 0] as const;
      });
    shards.push({
      primary: address(f),
      slots,
      replicasOnline: members.filter((r) => r[7] === 'connected' && !(r[2] ?? '').includes('fail'))
        .length,
      replicas: members.map(address),
    });
  }
  return shards;
}

/** One command on one node, on a connection of its own. */
export async function ask(address: string, command: string[]): Promise<unknown> {
  const [host, port] = address.split(':');
  const client = createClient({
    socket: {
      host: host ?? '',
      port: Number(port),
      connectTimeout: 1000,
      reconnectStrategy: false,
    },
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(command);
  } finally {
    client.destroy();
  }
}
