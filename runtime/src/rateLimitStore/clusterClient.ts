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
import { EventEmitter } from 'node:events';
import type { RedisClusterType } from '@redis/client';
import { keysBySlot, routingKey } from './clusterRouting.ts';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';
import { errorMessage } from '../../../platform/src/node/errorMessage.ts';

/** The library's cluster client, as the store uses it (no modules, scripts or functions). */
export type ClusterConnection = RedisClusterType;

export interface ClusterClientOptions {
  /** A new library client, not yet connected. */
  readonly make: () => ClusterConnection;
  /** Commands held at once; beyond this one fails at once. */
  readonly maxInFlight: number;
  /** The pause before connecting again after the `attempt`th failure (1, 2, …). */
  readonly retryDelayMs: (attempt: number) => number;
}

/** A node as the library reports it with a node's event. */
interface NodeInfo {
  readonly host?: string;
  readonly port?: number;
}

export class ClusterStoreClient extends EventEmitter implements StoreCommands {
  readonly #options: ClusterClientOptions;
  #cluster: ClusterConnection | undefined;
  #open = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #inFlight = 0;

  constructor(options: ClusterClientOptions) {
    super();
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** The slot map is known: each call has a primary to go to (which may yet be down). */
  get isReady(): boolean {
    return this.#open && this.#cluster?.isReady === true;
  }

  /** The first attempt's outcome; later attempts report through `error` and `ready`. */
  connect(): Promise<unknown> {
    this.#open = true;
    return this.#attempt();
  }

  async close(): Promise<unknown> {
    this.#stop();
    return this.#cluster?.close();
  }

  destroy(): unknown {
    this.#stop();
    this.#cluster?.destroy();
    return undefined;
  }

  /** A keyless command: any primary answers it. */
  ping(): Promise<unknown> {
    return this.#run(async (c) => {
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
    return this.#run((c) => c.sendCommand(routingKey(args), false, [...args]));
  }

  get(key: string): Promise<string | null> {
    return this.#run((c) => c.get(key));
  }

  /** One MGET per slot the keys lie in (the store's pins share one), answers in `keys`' order. */
  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.#run(async (c) => {
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
    return this.#run((c) => c.set(key, value, options));
  }

  lLen(key: string): Promise<number> {
    return this.#run((c) => c.lLen(key));
  }

  /**
   * SCAN on every primary in turn: each holds its own slots' keys. A key seen twice (a slot
   * moving between two primaries while the scan passes) is yielded once.
   */
  async *scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    const cluster = this.#cluster;
    if (cluster === undefined || !this.isReady) throw offline();
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

  async #run<T>(command: (cluster: ClusterConnection) => Promise<T>): Promise<T> {
    const cluster = this.#cluster;
    if (cluster === undefined || !this.isReady) throw offline();
    if (this.#inFlight >= this.#options.maxInFlight)
      throw new Error("the store client's command queue is full");
    this.#inFlight++;
    try {
      return await command(cluster);
    } finally {
      this.#inFlight--;
    }
  }

  async #attempt(): Promise<void> {
    const cluster = this.#options.make();
    this.#cluster = cluster;
    const current = () => this.#cluster === cluster && this.#open;
    cluster.on('error', (err: unknown) => {
      if (current()) this.emit('error', err);
    });
    // A node's failure names the node; its reason is the server's words (reasonOf's root cause).
    cluster.on('node-error', (err: unknown, node: NodeInfo) => {
      if (current()) this.emit('error', nodeError(err, node));
    });
    cluster.on('connect', () => {
      if (current()) this.emit('ready');
    });
    // A node connected again (a restarted primary, a promoted replica): the store probes it.
    cluster.on('node-ready', () => {
      if (current() && cluster.isReady) this.emit('ready');
    });
    try {
      await cluster.connect();
      this.#failures = 0;
    } catch (err) {
      cluster.destroy();
      if (current()) this.#retryLater();
      throw err;
    }
  }

  #retryLater(): void {
    const delay = this.#options.retryDelayMs(++this.#failures);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#open) return;
      this.#attempt().catch((err: unknown) => {
        if (this.#open) this.emit('error', err);
      });
    }, delay);
    this.#retry.unref();
  }

  #stop(): void {
    this.#open = false;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
  }
}

const scriptArgs = (options: { keys: string[]; arguments: string[] }): string[] => [
  String(options.keys.length),
  ...options.keys,
  ...options.arguments,
];

/** A node's error, its message prefixed with the node's address, the server's error its cause. */
export function nodeError(err: unknown, node: NodeInfo | undefined): Error {
  const message = errorMessage(err);
  const where = node?.host === undefined ? 'a cluster node' : `${node.host}:${String(node.port)}`;
  return new Error(`${where}: ${message}`, { cause: err });
}

function offline(): Error {
  return new Error('The client is offline: the cluster slot map is not known');
}
