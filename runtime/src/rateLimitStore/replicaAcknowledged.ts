/**
 * RedisServer `acknowledge: Replicas` (decision 0062): a script or command counts as done only
 * once a replica holds it too. The writes a promise rests on go out on connections of their
 * own, the acknowledging lanes (acknowledgingLane.ts): one per primary, each batch of writes
 * followed by one WAIT on the same connection to the same node. A standalone server or a
 * Sentinel set has one primary; on a cluster each write goes to the lane of the primary that
 * owns its key's slot, so one node's replica cut does not make another node's writes
 * unconfirmed. Reads, pins and everything else go on the other connection.
 *
 * Which side a write that no replica confirmed in time falls on is the caller's: a tool call's
 * claim and a run's lease are refused (`UnacknowledgedWriteError` reaches them), a budget's
 * reservation or settlement, already decided on the primary, is taken as it is and counted
 * (`acceptUnacknowledged`).
 */
import { AcknowledgingLane } from './acknowledgingLane.ts';
import { routingKey } from './clusterRouting.ts';
import type { CommandSender } from './luaScripts.ts';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';
import { ACKNOWLEDGE_TIMEOUT_MS, isUnacknowledged } from './unacknowledgedWrite.ts';

export {
  ACKNOWLEDGE_TIMEOUT_MS,
  ACKNOWLEDGING_REPLICAS,
  isUnacknowledged,
  PROBE_EVERY_MS,
  UnacknowledgedWriteError,
} from './unacknowledgedWrite.ts';

/** The primaries the lanes send to, on connections of their own. */
export interface AcknowledgingNodes {
  /** The primary a write routed by `key` lands on, named the same for every key it owns. */
  nodeFor(key: string | undefined): string;
  /** The connection to the primary owning `key` that a batch and its WAIT go out on. */
  connectionFor(key: string | undefined): CommandSender | Promise<CommandSender>;
  /**
   * The connection to the primary at `address`, where an `ASK` sends a write whose slot is being
   * moved (a cluster's; absent where there are no slots).
   */
  readonly askedTo?: (address: string) => CommandSender | Promise<CommandSender>;
  /** Starts connecting; reconnects by itself. Its failures are the store's, reported elsewhere. */
  connect(): void;
  /**
   * Hears each time a lane's connection is made ready (a Sentinel set's lane follows a
   * failover on its own, not with `inner`): the writes it took lately are sent again there
   * (recentSettlements.ts). Absent: the lanes' readiness is `inner`'s.
   */
  readonly onReady?: (listener: () => void) => void;
  close(): Promise<unknown>;
  destroy(): unknown;
}

/**
 * One primary (a standalone server, a Sentinel set's): the lane is `lane`, a second client to
 * the same server made the same way; until it is ready, batches and their WAIT go on `inner`.
 */
export function onePrimary(lane: StoreCommands, inner: StoreCommands): AcknowledgingNodes {
  return {
    nodeFor: () => 'primary',
    connectionFor: () => (lane.isReady ? lane : inner),
    connect: () => {
      lane.on('error', () => undefined);
      lane.connect().catch(() => undefined);
    },
    close: () => lane.close().catch(() => undefined),
    destroy: () => lane.destroy(),
    onReady: (listener) => {
      lane.on('ready', listener);
    },
  };
}

/**
 * How much longer than a store that answers at once `client` may take for a command: the WAIT
 * of the batch on the lane ahead of it, its own, and as much again for a script sent in full
 * after NOSCRIPT (a promoted primary's empty script cache). A deadline that left this out
 * would take a store that answers, with no replica linked, for one that does not (0 under
 * `acknowledge: Primary`).
 */
export function acknowledgeAllowanceMs(client: StoreCommands): number {
  return client instanceof ReplicaAcknowledged ? 4 * ACKNOWLEDGE_TIMEOUT_MS : 0;
}

/** `write`'s reply, also when no replica confirmed it: then `shortfall` hears of it. */
export function acceptUnacknowledged<T>(write: Promise<T>, shortfall: () => void): Promise<T> {
  return write.catch((err: unknown) => {
    if (!isUnacknowledged(err)) throw err;
    shortfall();
    return err.reply as T;
  });
}

/** Logs the first write no replica confirmed, then every hundredth. */
export function logShortfall(
  logger: { warn(fields: object, message: string): void } | undefined,
  count: number,
  store: string,
): void {
  if (count !== 1 && count % 100 !== 0) return;
  logger?.warn(
    { store, unacknowledged: count },
    'writes no replica confirmed in time: taken on the primary alone, lost if it fails over before a replica has them',
  );
}

/**
 * `inner`, with its scripts and raw commands acknowledged by a replica before they resolve,
 * through the lane of the primary each one lands on.
 */
export class ReplicaAcknowledged implements StoreCommands {
  readonly #inner: StoreCommands;
  readonly #nodes: AcknowledgingNodes;
  readonly #now: () => number;
  /** Each primary's lane, by the name `nodes` gives it (a cluster's: its address). */
  readonly #lanes = new Map<string, AcknowledgingLane>();

  constructor(inner: StoreCommands, nodes: AcknowledgingNodes, now: () => number = Date.now) {
    this.#inner = inner;
    this.#nodes = nodes;
    this.#now = now;
  }

  get isOpen(): boolean {
    return this.#inner.isOpen;
  }

  get isReady(): boolean {
    return this.#inner.isReady;
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.sendCommand(['EVALSHA', sha, ...scriptArgs(options)]);
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.sendCommand(['EVAL', script, ...scriptArgs(options)]);
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    const key = routingKey(args);
    return this.#laneOf(key).write(args, key);
  }

  connect(): Promise<unknown> {
    // The lanes connect (and reconnect) by themselves; until they are, writes WAIT on `inner`.
    this.#nodes.connect();
    return this.#inner.connect();
  }

  async close(): Promise<unknown> {
    await this.#nodes.close();
    return this.#inner.close();
  }

  destroy(): unknown {
    this.#nodes.destroy();
    return this.#inner.destroy();
  }

  on(event: 'error' | 'ready', listener: (err: unknown) => void): this {
    this.#inner.on(event as 'error', listener);
    // The lane, made ready on a primary of its own, is where the writes go.
    if (event === 'ready')
      this.#nodes.onReady?.(() => {
        listener(undefined);
      });
    return this;
  }

  once(event: 'error' | 'ready', listener: (err: unknown) => void): this {
    this.#inner.once(event as 'error', listener);
    return this;
  }

  ping(): Promise<unknown> {
    return this.#inner.ping();
  }

  get(key: string): Promise<string | null> {
    return this.#inner.get(key);
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.#inner.mGet(keys);
  }

  // A cache pin is a hint, not a promise: it is not waited on.
  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.#inner.set(key, value, options);
  }

  lLen(key: string): Promise<number> {
    return this.#inner.lLen(key);
  }

  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    return this.#inner.scanIterator(options);
  }

  #laneOf(key: string | undefined): AcknowledgingLane {
    const node = this.#nodes.nodeFor(key);
    let lane = this.#lanes.get(node);
    if (lane === undefined) {
      lane = new AcknowledgingLane({
        batch: (k) => this.#nodes.connectionFor(k),
        askedTo: this.#nodes.askedTo,
        direct: this.#inner,
        now: this.#now,
      });
      this.#lanes.set(node, lane);
    }
    return lane;
  }
}

const scriptArgs = (options: { keys: string[]; arguments: string[] }): string[] => [
  String(options.keys.length),
  ...options.keys,
  ...options.arguments,
];
