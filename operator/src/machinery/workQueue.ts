/**
 * A work queue keyed by object: a key waiting in the queue is never queued twice, a key being
 * processed is never processed twice at once (it is queued again for after), failures back
 * off per key exponentially, and at most `concurrency` keys are processed at a time.
 */
import { systemClock, type Cancel, type Clock } from '../../../platform/src/time/clock.ts';

export interface WorkQueueOptions {
  /** Keys processed at once. @default 2 */
  readonly concurrency?: number;
  /** First retry delay after a failure. @default 100 */
  readonly backoffBaseMs?: number;
  /** Retry delays double per consecutive failure up to this. @default 60000 */
  readonly backoffMaxMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Take keys but process none until `resume()`. @default false */
  readonly paused?: boolean;
}

/** What a handler asks for after processing a key. */
export interface Outcome {
  /** Process the key again after this long even if nothing changes (periodic resync). */
  readonly requeueAfterMs?: number;
}

export type KeyHandler = (key: string) => Promise<Outcome | undefined>;

export interface QueueStats {
  readonly depth: number;
  readonly active: number;
  readonly delayed: number;
}

export class WorkQueue {
  readonly #handler: KeyHandler;
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  /** Keys added again while active: queued as soon as their current run ends. */
  readonly #dirty = new Set<string>();
  readonly #delayed = new Map<string, { at: number; cancel: Cancel }>();
  readonly #failures = new Map<string, number>();
  readonly #idleWaiters: (() => void)[] = [];
  #stopped = false;
  #paused: boolean;
  /** Called when a handler throws (for logs and the reconcile-errors metric). */
  onError: (key: string, error: unknown, failures: number) => void = () => undefined;

  constructor(handler: KeyHandler, options: WorkQueueOptions = {}) {
    this.#handler = handler;
    this.#clock = options.clock ?? systemClock;
    this.#concurrency = options.concurrency ?? 2;
    this.#backoffBaseMs = options.backoffBaseMs ?? 100;
    this.#backoffMaxMs = options.backoffMaxMs ?? 60_000;
    this.#paused = options.paused ?? false;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${this.#concurrency}`);
    }
  }

  /** Queues `key` now. Cancels a pending delayed add: new information beats a scheduled retry. */
  add(key: string): void {
    if (this.#stopped) return;
    this.#cancelDelayed(key);
    if (this.#active.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  /** Queues `key` after `ms`, unless it is queued sooner; the earlier of two delays wins. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing !== undefined && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.#clock.setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, cancel });
  }

  /** Starts processing the keys taken while paused. */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /** Consecutive failures recorded for `key` (reset by a success). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  get stats(): QueueStats {
    return { depth: this.#queue.length, active: this.#active.size, delayed: this.#delayed.size };
  }

  /** Resolves when nothing is queued or active (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work; resolves when the keys being processed are done. */
  async shutDown(): Promise<void> {
    this.#stopped = true;
    for (const { cancel } of this.#delayed.values()) cancel();
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#queued.clear();
    this.#dirty.clear();
    await this.idle();
  }

  #pump(): void {
    while (!this.#paused && this.#active.size < this.#concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift();
      if (key === undefined) break;
      this.#queued.delete(key);
      this.#active.add(key);
      void this.#process(key);
    }
    if (this.#queue.length === 0 && this.#active.size === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  async #process(key: string): Promise<void> {
    let retryAfterMs: number | undefined;
    try {
      const outcome = await this.#handler(key);
      this.#failures.delete(key);
      retryAfterMs = outcome?.requeueAfterMs;
    } catch (err) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.onError(key, err, failures);
      retryAfterMs = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** (failures - 1));
    } finally {
      this.#active.delete(key);
    }
    if (this.#dirty.delete(key)) this.add(key);
    else if (retryAfterMs !== undefined) this.addAfter(key, retryAfterMs);
    this.#pump();
  }

  #cancelDelayed(key: string): void {
    const delayed = this.#delayed.get(key);
    if (delayed === undefined) return;
    delayed.cancel();
    this.#delayed.delete(key);
  }
}
