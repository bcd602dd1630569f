import type { Clock } from '../../platform/src/time/clock.ts';

/**
 * The simulated provider's side of a rate limit (requests, input or output tokens per minute),
 * not the runtime's guard (runtime/src/guard/tokenBucket.ts): a bucket of `perMinute` tokens that refills continuously. A full bucket admits a cost
 * larger than itself and goes into debt, so one oversized request is slowed, not refused
 * forever.
 */
export class ProviderRateBucket {
  readonly capacity: number;
  readonly #perMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(perMinute: number, clock: Clock) {
    if (!(perMinute > 0)) throw new RangeError(`perMinute must be > 0, got ${perMinute}`);
    this.capacity = perMinute;
    this.#perMs = perMinute / 60_000;
    this.#clock = clock;
    this.#tokens = perMinute;
    this.#updatedAt = clock.now();
  }

  /** Whole tokens left now (never negative). */
  remaining(): number {
    this.#refill();
    return Math.max(0, Math.floor(this.#tokens));
  }

  /** Milliseconds until `cost` can be taken; 0 when it can be taken now. */
  msUntilAvailable(cost: number): number {
    this.#refill();
    const missing = Math.min(cost, this.capacity) - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil(missing / this.#perMs);
  }

  /** Milliseconds until the bucket is full again. */
  msUntilFull(): number {
    return this.msUntilAvailable(this.capacity);
  }

  /** Takes `cost` tokens; callers check msUntilAvailable(cost) first. */
  take(cost: number): void {
    this.#refill();
    this.#tokens -= cost;
  }

  #refill(): void {
    const now = this.#clock.now();
    if (now <= this.#updatedAt) return;
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#updatedAt) * this.#perMs);
    this.#updatedAt = now;
  }
}
