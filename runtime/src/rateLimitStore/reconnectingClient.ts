/**
 * What the Sentinel and Cluster store clients add alike to `@redis/client`'s own: a command
 * fails at once while the library client is not ready (no offline queue, as the standalone
 * client is set up), at most `maxInFlight` are held, and a first connection that fails is
 * tried again forever with a new library client (the library gives up on a first connection
 * after a number of attempts, and its client is then spent).
 */
import { EventEmitter } from 'node:events';

export interface ReconnectingClientOptions<C> {
  /** A new library client, not yet connected. */
  readonly make: () => C;
  /** Commands held at once; beyond this one fails at once. */
  readonly maxInFlight: number;
  /** The pause before connecting again after the `attempt`th failure (1, 2, …). */
  readonly retryDelayMs: (attempt: number) => number;
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

  /** Stops trying to connect; the library client, if any, for the caller to close. */
  protected stop(): C | undefined {
    this.#open = false;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    this.#retry = undefined;
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
    try {
      return await command(client);
    } finally {
      this.#inFlight--;
    }
  }

  async #attempt(): Promise<void> {
    const client = this.#options.make();
    this.#client = client;
    this.listen(client, () => this.#client === client && this.#open);
    try {
      await client.connect();
      this.#failures = 0;
    } catch (err) {
      this.abandon(client);
      if (this.#client === client && this.#open) this.#retryLater();
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
}
