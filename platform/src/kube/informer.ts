/**
 * A list-then-watch cache of one kind, built to keep going: it re-lists when the server
 * says the resourceVersion is gone (410), resumes the watch after a clean end, backs off
 * with jitter after errors, and restarts a watch that went silent (the watchdog), because
 * a half-open connection otherwise looks exactly like a quiet cluster.
 *
 * @kubernetes/client-node's own informer stops for good after a non-410 error; this one
 * only stops when told to.
 */
import { systemClock, type Clock } from '../time/clock.ts';
import { WakeableSleep } from '../time/wakeableSleep.ts';
import { isGone, type KubeClient, type WatchEvent } from './kubeClient.ts';
import { objectKey, type KubeObject } from './kubeObject.ts';
import type { ResourceKind } from './resourceKinds.ts';

export interface InformerHandlers<T> {
  added?(obj: T): void;
  updated?(obj: T, previous: T): void;
  deleted?(obj: T): void;
}

export type RestartReason = 'gone' | 'error' | 'stalled' | 'ended';

export interface InformerOptions {
  readonly client: KubeClient;
  readonly kind: ResourceKind;
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** @default systemClock */
  readonly clock?: Clock;
  /** The server ends each watch after this long and the informer resumes it. @default 240 */
  readonly watchTimeoutSeconds?: number;
  /** No event and no bookmark for this long means the watch is stalled. @default 2 × watchTimeoutSeconds + 30 s */
  readonly watchdogMs?: number;
  /** @default 250 */
  readonly backoffInitialMs?: number;
  /** @default 30000 */
  readonly backoffMaxMs?: number;
  /** [0, 1) source for backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Called on every restart of the list/watch loop (for logs and the watch-restarts metric). */
  readonly onRestart?: (reason: RestartReason, error: unknown) => void;
  /** Called when a handler throws; the informer carries on. */
  readonly onHandlerError?: (error: unknown) => void;
}

export interface InformerOptionsOf<T> extends InformerOptions {
  /**
   * What is kept of each object (from lists and watch events) before it is cached and handed
   * to handlers: a cache of thousands of objects need not hold fields nobody reads, such as
   * `metadata.managedFields`. Must keep `metadata.name`, `namespace` and `resourceVersion`.
   */
  readonly transform?: (obj: T) => T;
  /**
   * A secondary index: objects are also kept by the value this returns (none when
   * undefined), so `byIndex(value)` finds them without a scan, e.g. pods by the agent
   * that owns them.
   */
  readonly indexBy?: (obj: T) => string | undefined;
}

class WatchStalledError extends Error {
  constructor(ms: number) {
    super(`watch delivered nothing for ${ms} ms`);
    this.name = 'WatchStalledError';
  }
}

export class Informer<T extends KubeObject> {
  readonly #options: InformerOptionsOf<T>;
  readonly #clock: Clock;
  readonly #cache = new Map<string, T>();
  /** indexBy value → key → object. */
  readonly #index = new Map<string, Map<string, T>>();
  readonly #handlers = new Set<InformerHandlers<T>>();
  #resourceVersion = '';
  #running = false;
  #synced = false;
  #abort: AbortController | undefined;
  readonly #pause: WakeableSleep;
  #firstSync: Promise<void>;
  #resolveFirstSync: () => void = () => undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(options: InformerOptionsOf<T>) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#pause = new WakeableSleep(this.#clock);
    this.#firstSync = new Promise((resolve) => (this.#resolveFirstSync = resolve));
  }

  /** Registers handlers; returns a function that removes them. */
  on(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    return () => this.#handlers.delete(handlers);
  }

  /** Starts the loop; resolves once the first list is in the cache. */
  start(): Promise<void> {
    if (!this.#running) {
      this.#running = true;
      this.#done = this.#loop();
    }
    return this.#firstSync;
  }

  /** Stops the loop and waits for it to finish. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort?.abort();
    this.#pause.wake();
    await this.#done;
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isRunning(): boolean {
    return this.#running;
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  /** The objects whose `indexBy` value is `value` (none without an `indexBy` option). */
  byIndex(value: string): T[] {
    const entries = this.#index.get(value);
    return entries === undefined ? [] : [...entries.values()];
  }

  async #loop(): Promise<void> {
    let needList = true;
    let failures = 0;
    while (this.#running) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        await this.#watchOnce();
        failures = 0;
        this.#options.onRestart?.('ended', undefined);
      } catch (err) {
        if (!this.#isRunning()) break;
        if (isGone(err)) {
          needList = true;
          this.#options.onRestart?.('gone', err);
          continue;
        }
        // A stalled watch may have missed events: list again rather than trust the cache.
        if (err instanceof WatchStalledError) needList = true;
        this.#options.onRestart?.(err instanceof WatchStalledError ? 'stalled' : 'error', err);
        await this.#pause.sleep(this.#backoff(failures++));
      }
    }
  }

  async #relist(): Promise<void> {
    // stop() aborts a list in flight too: an API server that accepts and never answers would
    // otherwise hold stop() for as long as the client waits for an answer.
    const abort = new AbortController();
    this.#abort = abort;
    const { items, resourceVersion } = await this.#options.client.list<T>(this.#options.kind, {
      namespace: this.#options.namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
      signal: abort.signal,
    });
    this.#abort = undefined;
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      this.#upsert(key, this.#options.transform?.(item) ?? item);
    }
    for (const [key, old] of [...this.#cache]) {
      if (seen.has(key)) continue;
      this.#remove(key, old);
      this.#emit((h) => h.deleted?.(old));
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveFirstSync();
    }
  }

  async #watchOnce(): Promise<void> {
    const abort = new AbortController();
    this.#abort = abort;
    if (!this.#running) abort.abort(); // stop() came while the list was in flight
    const timeoutSeconds = this.#options.watchTimeoutSeconds ?? 240;
    const watchdogMs = this.#options.watchdogMs ?? timeoutSeconds * 2000 + 30_000;
    let lastHeard = this.#clock.now();
    let stalledAt: number | undefined;
    const stalled = (): boolean => stalledAt !== undefined;
    let cancelWatchdog = (): void => undefined;
    const armWatchdog = (): void => {
      cancelWatchdog = this.#clock.setTimeout(() => {
        if (this.#clock.now() - lastHeard >= watchdogMs) {
          stalledAt = this.#clock.now();
          abort.abort();
        } else {
          armWatchdog();
        }
      }, watchdogMs);
    };
    armWatchdog();
    try {
      await this.#options.client.watch<T>(
        this.#options.kind,
        {
          namespace: this.#options.namespace,
          labelSelector: this.#options.labelSelector,
          fieldSelector: this.#options.fieldSelector,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds,
        },
        (event) => {
          lastHeard = this.#clock.now();
          this.#apply(event);
        },
        abort.signal,
      );
    } finally {
      cancelWatchdog();
      this.#abort = undefined;
    }
    if (stalled()) throw new WatchStalledError(watchdogMs);
  }

  #apply(event: WatchEvent<T>): void {
    const rv = event.object.metadata?.resourceVersion;
    if (rv !== undefined) this.#resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const full = {
      apiVersion: this.#options.kind.apiVersion,
      kind: this.#options.kind.kind,
      ...event.object,
    };
    const obj = this.#options.transform?.(full) ?? full;
    const key = objectKey(obj);
    if (event.type === 'DELETED') {
      const old = this.#cache.get(key);
      if (old !== undefined) this.#remove(key, old);
      this.#emit((h) => h.deleted?.(old ?? obj));
      return;
    }
    this.#upsert(key, obj);
  }

  #upsert(key: string, obj: T): void {
    const old = this.#cache.get(key);
    if (old !== undefined) this.#unindex(key, old);
    this.#cache.set(key, obj);
    const value = this.#options.indexBy?.(obj);
    if (value !== undefined) {
      let entries = this.#index.get(value);
      if (entries === undefined) this.#index.set(value, (entries = new Map<string, T>()));
      entries.set(key, obj);
    }
    if (old === undefined) this.#emit((h) => h.added?.(obj));
    else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      this.#emit((h) => h.updated?.(obj, old));
    }
  }

  #remove(key: string, old: T): void {
    this.#cache.delete(key);
    this.#unindex(key, old);
  }

  #unindex(key: string, old: T): void {
    const value = this.#options.indexBy?.(old);
    if (value === undefined) return;
    const entries = this.#index.get(value);
    entries?.delete(key);
    if (entries?.size === 0) this.#index.delete(value);
  }

  #emit(call: (handlers: InformerHandlers<T>) => void): void {
    for (const handlers of this.#handlers) {
      try {
        call(handlers);
      } catch (err) {
        this.#options.onHandlerError?.(err);
      }
    }
  }

  /** Full jitter: a random wait in [0, min(max, initial × 2^failures)). */
  #backoff(failures: number): number {
    const initial = this.#options.backoffInitialMs ?? 250;
    const max = this.#options.backoffMaxMs ?? 30_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(failures, 20));
    return Math.floor((this.#options.random ?? Math.random)() * ceiling) + 1;
  }
}
