/**
 * The bulkhead: at most `replicaMaxConcurrent` calls at once, then up to `replicaMaxQueue` waiting in
 * arrival order for at most `queueTimeoutMs` each. A freed slot goes straight to the oldest
 * waiter (newcomers cannot barge past the queue); a waiter whose caller aborts leaves the
 * queue at once.
 *
 * In Shadow mode every call goes in at once and nothing queues; a call that finds
 * `replicaMaxConcurrent + replicaMaxQueue` calls already running is counted (`shadowRejected`), being the
 * one Enforce would have turned away with a full queue. Queue timeouts are not simulated.
 */
import { BulkheadFullError, CancelledError } from './errors.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { RateLimitSettings } from '../../../contract/src/policy/policyDocument.ts';

/**
 * The policy document's concurrency settings and the policy's mode, as they are: their defaults
 * and bounds are the schema's, checked by policyValidation.ts before a document gets here.
 */
export type ConcurrencySettings = NonNullable<RateLimitSettings['concurrency']> &
  Pick<RateLimitSettings, 'mode'>;

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  cancelTimer: Cancel | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

export interface BulkheadCounters {
  readonly rejectedQueueFull: number;
  readonly rejectedQueueTimeout: number;
  /** Calls Shadow mode let in that Enforce would have turned away. */
  readonly shadowRejected: number;
}

export interface BulkheadConfig {
  readonly name: string;
  readonly clock: Clock;
  readonly options: ConcurrencySettings;
}

export class Bulkhead {
  readonly name: string;
  readonly #clock: Clock;
  #options: ConcurrencySettings;
  #max: number;
  #active = 0;
  #queued = 0;
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #rejectedQueueFull = 0;
  #rejectedQueueTimeout = 0;
  #shadowRejected = 0;
  /** Whether the last tryEnter counted a Shadow refusal (cancelEnter takes it back). */
  #lastCounted = false;

  constructor(config: BulkheadConfig) {
    this.name = config.name;
    this.#clock = config.clock;
    this.#options = config.options;
    this.#max = this.#options.replicaMaxConcurrent;
  }

  get options(): ConcurrencySettings {
    return this.#options;
  }
  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#queued;
  }

  /** Takes a slot if one is free and nobody is queued before us; in Shadow mode, always. */
  tryEnter(): boolean {
    this.#lastCounted = false;
    if (this.#active < this.#max && this.#head === undefined) {
      this.#active++;
      return true;
    }
    if (this.#options.mode === 'Enforce') return false;
    if (this.#active >= this.#max + this.#options.replicaMaxQueue) {
      this.#shadowRejected++;
      this.#lastCounted = true;
    }
    this.#active++;
    return true;
  }

  /**
   * Gives back the slot the last tryEnter took, in the same turn and before any call ran in it
   * (the guard's fast path, when the limiter cannot admit at once): as if it had not been
   * taken, its Shadow count included, so the call's later entry is counted once.
   */
  cancelEnter(): void {
    if (this.#lastCounted) this.#shadowRejected--;
    this.#lastCounted = false;
    this.release();
  }

  /** Takes a slot, queueing for one if needed. Rejects with BulkheadFullError or CancelledError. */
  enter(signal?: AbortSignal): Promise<void> {
    if (this.tryEnter()) return Promise.resolve();
    if (signal?.aborted === true) return Promise.reject(new CancelledError(signal.reason));
    if (this.#queued >= this.#options.replicaMaxQueue) {
      this.#rejectedQueueFull++;
      return Promise.reject(
        new BulkheadFullError(this.name, 'queueFull', this.#options.queueTimeoutMs),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        cancelTimer: undefined,
        signal,
        onAbort: undefined,
        prev: this.#tail,
        next: undefined,
      };
      if (this.#tail === undefined) this.#head = waiter;
      else this.#tail.next = waiter;
      this.#tail = waiter;
      this.#queued++;
      const timeoutMs = this.#options.queueTimeoutMs;
      waiter.cancelTimer = this.#clock.setTimeout(() => {
        waiter.cancelTimer = undefined;
        this.#rejectedQueueTimeout++;
        this.#leave(waiter, new BulkheadFullError(this.name, 'queueTimeout', timeoutMs));
      }, timeoutMs);
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#leave(waiter, new CancelledError(signal.reason));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /** Gives the slot back; the oldest waiter gets it. */
  release(): void {
    const waiter = this.#head;
    if (waiter !== undefined && this.#active <= this.#max) {
      // The slot changes hands: `active` stays the same.
      this.#unlink(waiter);
      waiter.resolve();
      return;
    }
    this.#active--;
  }

  counters(): BulkheadCounters {
    return {
      rejectedQueueFull: this.#rejectedQueueFull,
      rejectedQueueTimeout: this.#rejectedQueueTimeout,
      shadowRejected: this.#shadowRejected,
    };
  }

  /**
   * New limits, live. Running calls are never cut: with a lower replicaMaxConcurrent, slots are
   * handed out again only once enough calls have finished; with a higher one, waiters are
   * let in at once. Waiters already queued stay queued (a smaller replicaMaxQueue only turns new
   * arrivals away) and keep the timeout they were given. Switched to Shadow, it lets every
   * waiter in.
   */
  reconfigure(options: ConcurrencySettings): void {
    this.#options = options;
    this.#max = this.#options.replicaMaxConcurrent;
    const shadow = this.#options.mode === 'Shadow';
    while (this.#head !== undefined && (shadow || this.#active < this.#max)) {
      const waiter = this.#head;
      this.#active++;
      this.#unlink(waiter);
      waiter.resolve();
    }
  }

  #leave(waiter: Waiter, err: Error): void {
    this.#unlink(waiter);
    waiter.reject(err);
  }

  #unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.#head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.#tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.#queued--;
    waiter.cancelTimer?.();
    waiter.cancelTimer = undefined;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.onAbort = undefined;
  }
}
