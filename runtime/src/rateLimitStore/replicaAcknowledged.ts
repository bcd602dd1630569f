/**
 * RedisServer `acknowledge: Replicas` (decision 0062): a script or command counts as done only
 * once a replica holds it too. Each one is followed, on the same connection and in the same
 * write to the socket, by `WAIT 1 <ms>`: WAIT counts the replicas that hold everything that
 * connection wrote, so a failover between the two fails both instead of asking a new primary
 * about a write it never saw.
 *
 * Which side a write that no replica confirmed in time falls on is the caller's: a tool call's
 * claim and a run's lease are refused (`UnacknowledgedWriteError` reaches them), a budget's
 * reservation or settlement, already decided on the primary, is taken as it is and counted
 * (`acceptUnacknowledged`).
 */
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';

/** Replicas that must hold a write, and how long the primary waits for them. */
export const ACKNOWLEDGING_REPLICAS = 1;
export const ACKNOWLEDGE_TIMEOUT_MS = 500;

const WAIT = ['WAIT', String(ACKNOWLEDGING_REPLICAS), String(ACKNOWLEDGE_TIMEOUT_MS)] as const;

/** A write the primary took and no replica confirmed within ACKNOWLEDGE_TIMEOUT_MS. */
export class UnacknowledgedWriteError extends Error {
  readonly code = 'STORE_UNACKNOWLEDGED';
  /** What the primary answered: the write happened there. */
  readonly reply: unknown;
  /** Replicas that confirmed it (fewer than ACKNOWLEDGING_REPLICAS). */
  readonly replicas: number;

  constructor(reply: unknown, replicas: number, cause?: unknown) {
    super(
      `no replica confirmed the write within ${String(ACKNOWLEDGE_TIMEOUT_MS)}ms (${String(replicas)} of ${String(ACKNOWLEDGING_REPLICAS)})`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'UnacknowledgedWriteError';
    this.reply = reply;
    this.replicas = replicas;
  }
}

export function isUnacknowledged(err: unknown): err is UnacknowledgedWriteError {
  return err instanceof UnacknowledgedWriteError;
}

/**
 * How much longer than a store that answers at once `client` may take, right now, for a command
 * just sent on it: WAIT holds the connection, so every WAIT still outstanding on it (the
 * command's own among them) may add ACKNOWLEDGE_TIMEOUT_MS before the command's answer
 * arrives, and one more for a script sent again in full (NOSCRIPT, a promoted primary's empty
 * script cache). A deadline that left this out would take a store that answers, with no replica
 * linked, for one that does not (0 under `acknowledge: Primary`).
 */
export function acknowledgeAllowanceMs(client: StoreCommands): number {
  return client instanceof ReplicaAcknowledged ? (client.waiting + 1) * ACKNOWLEDGE_TIMEOUT_MS : 0;
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

/** `client`, its scripts and raw commands acknowledged by a replica before they resolve. */
export class ReplicaAcknowledged implements StoreCommands {
  readonly #inner: StoreCommands;
  #waiting = 0;

  constructor(inner: StoreCommands) {
    this.#inner = inner;
  }

  get isOpen(): boolean {
    return this.#inner.isOpen;
  }

  /** WAITs sent on the connection and not yet answered. */
  get waiting(): number {
    return this.#waiting;
  }

  get isReady(): boolean {
    return this.#inner.isReady;
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#acknowledged(this.#inner.evalSha(sha, options));
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#acknowledged(this.#inner.eval(script, options));
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    return this.#acknowledged(this.#inner.sendCommand(args));
  }

  connect(): Promise<unknown> {
    return this.#inner.connect();
  }

  close(): Promise<unknown> {
    return this.#inner.close();
  }

  destroy(): unknown {
    return this.#inner.destroy();
  }

  on(event: 'error' | 'ready', listener: (err: unknown) => void): this {
    this.#inner.on(event as 'error', listener);
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

  /** `write` (already sent), then WAIT sent right behind it on the same connection. */
  async #acknowledged(write: Promise<unknown>): Promise<unknown> {
    const wait = this.#inner.sendCommand(WAIT);
    this.#waiting++;
    const [written, waited] = await Promise.allSettled([write, wait]).finally(() => {
      this.#waiting--;
    });
    if (written.status === 'rejected') throw written.reason;
    const replicas = waited.status === 'fulfilled' ? Number(waited.value) : 0;
    if (replicas >= ACKNOWLEDGING_REPLICAS) return written.value;
    throw new UnacknowledgedWriteError(
      written.value,
      replicas,
      waited.status === 'rejected' ? waited.reason : undefined,
    );
  }
}
