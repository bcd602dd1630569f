/**
 * A StoreCommands that finds the primary through Redis Sentinel (`@redis/client`'s
 * createSentinel) and follows a failover: the library re-asks the sentinels when they announce
 * a new primary, or when the primary answers READONLY or drops the connection, and sends the
 * command again there.
 *
 * What it adds to the library's client is what the standalone client already does for the
 * store: it fails a command at once while no primary is connected (no offline queue), holds at
 * most `maxInFlight` commands, and keeps trying to connect forever (the library gives up on a
 * first connection after a number of attempts, then is spent; this makes a new one).
 */
import { EventEmitter } from 'node:events';
import type { RedisSentinelType } from '@redis/client';
import type { StoreCommands, StoreSetOptions } from './storeCommands.ts';

/** The library's sentinel client, as the store uses it (no modules, scripts or functions). */
export type SentinelConnection = RedisSentinelType;

export interface SentinelClientOptions {
  /** A new library client, not yet connected. */
  readonly make: () => SentinelConnection;
  /** Commands held at once; beyond this one fails at once. */
  readonly maxInFlight: number;
  /** The pause before connecting again after the `attempt`th failure (1, 2, …). */
  readonly retryDelayMs: (attempt: number) => number;
}

export class SentinelStoreClient extends EventEmitter implements StoreCommands {
  readonly #options: SentinelClientOptions;
  #sentinel: SentinelConnection | undefined;
  #open = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #inFlight = 0;

  constructor(options: SentinelClientOptions) {
    super();
    this.#options = options;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get isReady(): boolean {
    return this.#open && this.#sentinel?.isReady === true;
  }

  /** The first attempt's outcome; later attempts report through `error` and `ready`. */
  connect(): Promise<unknown> {
    this.#open = true;
    return this.#attempt();
  }

  async close(): Promise<unknown> {
    this.#stop();
    return this.#sentinel?.close();
  }

  destroy(): unknown {
    this.#stop();
    return this.#sentinel?.destroy().catch(() => undefined);
  }

  ping(): Promise<unknown> {
    return this.#run((s) => s.ping());
  }

  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#run((s) => s.evalSha(sha, options));
  }

  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> {
    return this.#run((s) => s.eval(script, options));
  }

  sendCommand(args: readonly string[]): Promise<unknown> {
    // Not read-only: the command goes to the primary.
    return this.#run((s) => s.sendCommand(false, [...args]));
  }

  get(key: string): Promise<string | null> {
    return this.#run((s) => s.get(key));
  }

  mGet(keys: string[]): Promise<(string | null)[]> {
    return this.#run((s) => s.mGet(keys));
  }

  set(key: string, value: string, options: StoreSetOptions): Promise<string | null> {
    return this.#run((s) => s.set(key, value, options));
  }

  lLen(key: string): Promise<number> {
    return this.#run((s) => s.lLen(key));
  }

  async *scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]> {
    const sentinel = this.#sentinel;
    if (sentinel === undefined || !this.isReady) throw offline();
    yield* sentinel.scanIterator(options);
  }

  /**
   * `command` on the connected primary. While none is (connecting, or the sentinels are
   * choosing a new one) it fails at once, as the standalone client without an offline queue
   * does; the caller goes on without the store and comes back when it is `ready` again.
   */
  async #run<T>(command: (sentinel: SentinelConnection) => Promise<T>): Promise<T> {
    const sentinel = this.#sentinel;
    if (sentinel === undefined || !this.isReady) throw offline();
    if (this.#inFlight >= this.#options.maxInFlight)
      throw new Error("the store client's command queue is full");
    this.#inFlight++;
    try {
      return await command(sentinel);
    } finally {
      this.#inFlight--;
    }
  }

  async #attempt(): Promise<void> {
    const sentinel = this.#options.make();
    this.#sentinel = sentinel;
    const current = () => this.#sentinel === sentinel && this.#open;
    sentinel.on('error', (err: unknown) => {
      if (current()) this.emit('error', sentinelError(err));
    });
    sentinel.on('ready', () => {
      if (current()) this.emit('ready');
    });
    try {
      await sentinel.connect();
      this.#failures = 0;
    } catch (err) {
      // The library destroyed its client when it gave up: make another one later.
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

/**
 * The library reports a sentinel connection's failure as a string with a prefix of its own,
 * then the same failure as an Error: as one Error, the store logs it once, not twice a second.
 */
export function sentinelError(err: unknown): unknown {
  if (typeof err !== 'string') return err;
  return new Error(err.replace(/^obseve client error: (?:Error: )?/, ''));
}

function offline(): Error {
  return new Error('The client is offline: no primary connected through Sentinel');
}
