/**
 * What every store client (standalone, Sentinel, Cluster) adds alike to `@redis/client`'s own:
 * a command fails at once while the library client is not ready (no offline queue), at most
 * `maxInFlight` are held, and a first connection that fails is tried again forever with a new
 * library client (the library gives up on a first connection after a number of attempts, and
 * its client is then spent).
 *
 * And a connection that hangs is given up. A network that drops every packet (a partition,
 * a node gone without a reset) leaves a TCP connection open and silent: the library sees no
 * error until TCP's retransmits give up, and after a 30 s cut its next retransmit came 24 s
 * after the network was back (bench/results/store-partition.json). So a command owed longer
 * than `stallMs` (a healthy store answers in milliseconds, a WAIT within half a second) means
 * the connection is dead: the library client is destroyed, failing what it still owes (every
 * caller has gone on past its own deadline already), and a new one connects.
 */
import { EventEmitter } from 'node:events';

export interface ReconnectingClientOptions<C> {
  /** A new library client, not yet connected. */
  readonly make: () => C;
  /** Commands held at once; beyond this one fails at once. */
  readonly maxInFlight: number;
  /** The pause before connecting again after the `attempt`th failure (1, 2, …). */
  readonly retryDelayMs: (attempt: number) => number;
  /** A command owed this long means a dead connection (STALL_MS unless a test says). */
  readonly stallMs?: number;
  /**
   * How long a first connection may take before it counts as failed and is tried again with a
   * new library client. The cluster's waits for every primary in its slot map, reconnecting to
   * one that is down forever; a new client reads the slot map again, without it once its
   * replica is promoted. Absent: as long as the library takes.
   */
  readonly connectWithinMs?: number;
}

/** How long a command may be owed before its connection is taken for dead. */
export const STALL_MS = 5000;
/** How often the owed commands are looked at (more often for a shorter `stallMs`). */
const STALL_CHECK_MS = 1000;

/** The error a connection given up for hanging reports. */
export class StalledConnectionError extends Error {
  constructor(stallMs: number, owed: number) {
    super(
      `no answer from the store for ${String(stallMs)}ms with ${String(owed)} command(s) owed: the connection is taken for dead (a partition, or a node gone without a reset) and made anew`,
    );
    this.name = 'StalledConnectionError';
  }
}

/** What the base needs of a library client. */
interface LibraryClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
}

export abstract class ReconnectingStoreClient<C extends LibraryClient> extends EventEmitter {
  readonly #options: ReconnectingClientOptions<C>;
  #client: C | undefined;
  #open = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #inFlight = 0;
  /** When each command still owed was sent, oldest first (a Map keeps insertion order). */
  readonly #owed = new Map<number, number>();
  #sent = 0;
  #watch: NodeJS.Timeout | undefined;

  constructor(options: ReconnectingClientOptions<C>) {
    super();
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get isReady(): boolean {
    return this.#open && this.#client?.isReady === true;
  }

  /** The first attempt's outcome; later attempts report through `error` and `ready`. */
  connect(): Promise<unknown> {
    this.#open = true;
    this.#watch ??= setInterval(
      () => {
        this.#checkStall();
      },
      Math.min(STALL_CHECK_MS, (this.#options.stallMs ?? STALL_MS) / 4),
    );
    this.#watch.unref();
    return this.#attempt();
  }

  /** The error a command gets while no library client is ready, saying what is missing. */
  protected abstract offline(): Error;

  /**
   * Subscribes to a new library client's events, re-emitted as this one's `error` and
   * `ready` while `current()` (it is still the client in use and this one is open).
   */
  protected abstract listen(client: C, current: () => boolean): void;

  /** A library client whose first connection failed; the cluster's must be destroyed. */
  protected abandon(_client: C): void {
    // The sentinel client destroyed itself when it gave up.
  }

  /** Closes a library client at once, failing what it owes: its connection hung. */
  protected abstract discard(client: C): void;

  /** Stops trying to connect; the library client, if any, for the caller to close. */
  protected stop(): C | undefined {
    this.#open = false;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#watch !== undefined) clearInterval(this.#watch);
    this.#watch = undefined;
    return this.#client;
  }

  /** The ready library client, or `offline()`. */
  protected ready(): C {
    const client = this.#client;
    if (client === undefined || !this.isReady) throw this.offline();
    return client;
  }

  /** `command` on the ready library client, within `maxInFlight`; fails at once otherwise. */
  protected async run<T>(command: (client: C) => Promise<T>): Promise<T> {
    const client = this.ready();
    if (this.#inFlight >= this.#options.maxInFlight)
      throw new Error("the store client's command queue is full");
    this.#inFlight++;
    const id = ++this.#sent;
    this.#owed.set(id, Date.now());
    try {
      return await command(client);
    } finally {
      this.#inFlight--;
      this.#owed.delete(id);
    }
  }

  /** The oldest command owed past `stallMs`: the library client is replaced. */
  #checkStall(): void {
    const oldest = this.#owed.values().next();
    const stallMs = this.#options.stallMs ?? STALL_MS;
    if (oldest.done === true || Date.now() - oldest.value < stallMs || !this.#open) return;
    const hung = this.#client;
    const owed = this.#owed.size;
    // What the hung client owes fails when it is discarded; none of it counts as owed now.
    this.#owed.clear();
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.emit('error', new StalledConnectionError(stallMs, owed));
    this.#attempt().catch((err: unknown) => {
      if (this.#open) this.emit('error', err);
    });
    if (hung !== undefined) this.discard(hung);
  }

  async #attempt(): Promise<void> {
    const client = this.#options.make();
    this.#client = client;
    this.listen(client, () => this.#client === client && this.#open);
    try {
      await this.#connectWithin(client);
      this.#failures = 0;
    } catch (err) {
      this.abandon(client);
      if (this.#client === client && this.#open) this.#retryLater();
      throw err;
    }
  }

  async #connectWithin(client: C): Promise<void> {
    const within = this.#options.connectWithinMs;
    const connecting = client.connect();
    if (within === undefined) {
      await connecting;
      return;
    }
    // Abandoned below, its own failure comes later and is no one's.
    connecting.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(this.connectTimedOut(within));
      }, within);
      timer.unref();
    });
    try {
      await Promise.race([connecting, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The error a first connection gets that took longer than `connectWithinMs`. */
  protected connectTimedOut(ms: number): Error {
    return new Error(`not connected within ${String(ms)}ms`);
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
}
