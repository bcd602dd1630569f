/**
 * A StoreCommands on a Redis Cluster (`@redis/client`'s createCluster). Every call of a store
 * user names keys of one hash slot (test/rateLimitStore/keySlots.test.ts holds that), so each
 * goes whole to the primary of its first key's slot; the library follows MOVED and ASK, and
 * asks the nodes for the slot map again when a node has been reconnecting for a while, which is
 * how a promoted replica is found without a restart. A script is run by SHA on the node its
 * slot lives on and sent whole where that node answers NOSCRIPT (luaScripts.ts), so it ends up
 * loaded on every node it runs on, a promoted replica included.
 *
 * What it adds to the library's client is what sentinelClient.ts adds to its own: commands
 * fail at once while the slot map is unknown, at most `maxInFlight` are held, and a first
 * connection that finds no node is tried again forever with a new client.
 */
import type { RedisClusterType } from '@redis/client';
import { keySlot, keysBySlot, routingKey } from './clusterRouting.ts';
import type { CommandSender } from './luaScripts.ts';
import { ReconnectingStoreClient, type ReconnectingClientOptions } from './reconnectingClient.ts';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';

/** The library's cluster client, as the store uses it (no modules, scripts or functions). */
export type ClusterConnection = RedisClusterType;

export type ClusterClientOptions = ReconnectingClientOptions<ClusterConnection>;

/** A node as the library reports it with a node's event. */
interface NodeInfo {
  readonly host?: string;
  readonly port?: number;
}

export class ClusterStoreClient
  extends ReconnectingStoreClient<ClusterConnection>
  implements StoreCommands
{
  /**
   * The nodes of the library client in use whose connection failed and has not been ready
   * since, with their last error: what a first connection that timed out names.
   */
  #failing = new Map<string, string>();
  /**
   * The previous library client's, kept when a new one starts: a new attempt may time out
   * before it has tried the node that is down (the library reaches it after the slot map), and
   * the node that failed seconds ago is still the one to name.
   */
  #failedBefore = new Map<string, string>();

  async close(): Promise<unknown> {
    return this.stop()?.close();
  }

  destroy(): unknown {
    this.stop()?.destroy();
    return undefined;
  }

  /** A keyless command: any primary answers it. */
  ping(): Promise<unknown> {
    return this.run(async (c) => {
      const masters = c.masters;
      const node = masters[Math.floor(Math.random() * masters.length)];
      if (node === undefined) throw offline();
      return (await c.nodeClient(node)).ping();
    });
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.sendCommand(['EVALSHA', sha, ...scriptArgs(options)]);
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.sendCommand(['EVAL', script, ...scriptArgs(options)]);
  }

  /** To the primary of the command's first key's slot (not read-only: never a replica). */
  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.run((c) => c.sendCommand(routingKey(args), false, [...args]));
  }

  /** The address of the primary of `key`'s slot (a keyless command's: the first), as known now. */
  primaryOf(key: string | undefined): string {
    const cluster = this.ready();
    const node = key === undefined ? cluster.masters[0] : cluster.slots[keySlot(key)]?.master;
    if (node === undefined) throw offline();
    return node.address;
  }

  /**
   * The connection to the primary of `key`'s slot itself: what is sent on it goes to that node
   * in the order sent and is never redirected, so a MOVED or ASK fails the command there.
   */
  async primaryConnection(key: string | undefined): Promise<CommandSender> {
    const cluster = this.ready();
    if (key !== undefined) return this.#watched(await cluster.getNodeClientForKey(key, false));
    const node = cluster.masters[0];
    if (node === undefined) throw offline();
    return this.#watched(await cluster.nodeClient(node));
  }

  /** The connection to the node at `address` (as an ASK or MOVED names it), never redirected. */
  async nodeConnection(address: string): Promise<CommandSender> {
    let node = this.ready().nodeByAddress.get(address);
    // A replica promoted since the slot map was read is not in it (replicas are not kept): the
    // MOVED that named it is learning the map again (refreshSlotOf), so wait for that once.
    if (node === undefined && this.#relearning !== undefined) {
      await this.#relearning;
      node = this.ready().nodeByAddress.get(address);
    }
    // A node the map still lacks: the write fails, as it did before redirects were followed.
    if (node === undefined)
      throw new Error(`${address}: not a node in the slot map this client read`);
    return this.#watched(await this.ready().nodeClient(node));
  }

  /**
   * `node`'s commands, each owed on this client's stall watch as its own are: a node that hangs
   * gives up this whole client (failing what it owes) and a new one connects.
   */
  #watched(node: CommandSender): CommandSender {
    return { sendCommand: (args) => this.run(() => node.sendCommand([...args])) };
  }

  /**
   * Learns the slot map again where `key`'s slot moved: a read that follows MOVED (the library
   * reads the map again before it sends the read on), done when the map is.
   */
  refreshSlotOf(key: string): void {
    const relearning = this.run((c) => c.sendCommand(key, false, ['EXISTS', key])).then(
      () => undefined,
      () => undefined,
    );
    this.#relearning = relearning;
    void relearning.then(() => {
      if (this.#relearning === relearning) this.#relearning = undefined;
    });
  }

  /** The slot map being learnt again after a MOVED, while it is. */
  #relearning: Promise<void> | undefined;

  get(key: string): Promise<string | null> {
    return this.run((c) => c.get(key));
  }

  /** One MGET per slot the keys lie in (the store's pins share one), answers in `keys`' order. */
  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.run(async (c) => {
      const values = new Array<string | null>(keys.length).fill(null);
      await Promise.all(
        keysBySlot(keys).map(async (group) => {
          const reply = await c.sendCommand<(string | null)[]>(group.keys[0], false, [
            'MGET',
            ...group.keys,
          ]);
          group.at.forEach((i, j) => (values[i] = reply[j] ?? null));
        }),
      );
      return values;
    });
  }

  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.run((c) => c.set(key, value, options));
  }

  lLen(key: string): Promise<number> {
    return this.run((c) => c.lLen(key));
  }

  /**
   * SCAN on every primary in turn: each holds its own slots' keys. A key seen twice (a slot
   * moving between two primaries while the scan passes) is yielded once.
   */
  async *scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    const cluster = this.ready();
    const seen = new Set<string>();
    for (const master of [...cluster.masters]) {
      const node = await cluster.nodeClient(master);
      for await (const keys of node.scanIterator(options)) {
        const fresh = keys.filter((k) => !seen.has(k));
        fresh.forEach((k) => seen.add(k));
        if (fresh.length > 0) yield fresh;
      }
    }
  }

  /** Each primary of the slot map as now known, on this client's stall watch. */
  async servers(): Promise<CommandSender[]> {
    const cluster = this.ready();
    return Promise.all(
      [...cluster.masters].map(async (m) => this.#watched(await cluster.nodeClient(m))),
    );
  }

  protected override connectTimedOut(ms: number): Error {
    return new Error(
      connectTimedOutMessage(ms, this.#failing.size > 0 ? this.#failing : this.#failedBefore),
    );
  }

  /** The slot map is not known (yet): no call has a primary to go to. */
  protected offline(): Error {
    return offline();
  }

  protected listen(cluster: ClusterConnection, current: () => boolean): void {
    if (this.#failing.size > 0) this.#failedBefore = this.#failing;
    this.#failing = new Map();
    cluster.on('error', (err: unknown) => {
      if (current()) this.emit('error', err);
    });
    // A node's failure names the node; its reason is the server's words (reasonOf's root cause).
    cluster.on('node-error', (err: unknown, node: NodeInfo) => {
      if (!current()) return;
      this.#failing.set(nodeAddress(node), errorMessage(err));
      this.emit('error', nodeError(err, node));
    });
    cluster.on('connect', () => {
      if (!current()) return;
      this.#failedBefore.clear();
      this.emit('ready');
    });
    // A node connected again (a restarted primary, a promoted replica): the store probes it.
    cluster.on('node-ready', (node: NodeInfo) => {
      if (!current()) return;
      this.#failing.delete(nodeAddress(node));
      this.#failedBefore.delete(nodeAddress(node));
      if (cluster.isReady) this.emit('ready');
    });
  }

  protected override abandon(cluster: ClusterConnection): void {
    cluster.destroy();
  }

  protected discard(cluster: ClusterConnection): void {
    cluster.destroy();
  }
}

const scriptArgs = (options: { keys: string[]; arguments: string[] }): string[] => [
  String(options.keys.length),
  ...options.keys,
  ...options.arguments,
];

/** A node's error, its message prefixed with the node's address, the server's error its cause. */
export function nodeError(err: unknown, node: NodeInfo | undefined): Error {
  return new Error(`${nodeAddress(node)}: ${errorMessage(err)}`, { cause: err });
}

const nodeAddress = (node: NodeInfo | undefined): string =>
  node?.host === undefined ? 'a cluster node' : `${node.host}:${String(node.port)}`;

/**
 * A first connection that took too long, naming the nodes that failed meanwhile and what
 * each said: the store's state (StoreAvailable, DurabilityStoreAvailable) keeps the last
 * error, and this one must name the primary that is down as well as the node's own did.
 */
export function connectTimedOutMessage(ms: number, failing: ReadonlyMap<string, string>): string {
  const nodes = [...failing].map(([address, message]) => `${address} (${message})`);
  const down =
    nodes.length === 0
      ? 'a primary of the slot map does not answer'
      : nodes.length === 1
        ? `primary ${nodes.join('')} of the slot map does not answer`
        : `primaries ${nodes.join(', ')} of the slot map do not answer`;
  return `${down}: not connected within ${String(ms)}ms; reading the slot map again until the cluster promotes a replica in its place or the node is back`;
}

function offline(): Error {
  return new Error('The client is offline: the cluster slot map is not known');
}
