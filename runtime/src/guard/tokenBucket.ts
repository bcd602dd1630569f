/**
 * A token bucket: `capacity` tokens, refilled continuously at `perSecond`. Time comes in
 * as an argument (the caller read the clock once for the whole guard). Tokens may go
 * negative: a reservation (onLimit: Wait) takes them ahead of time, and later callers see
 * the debt as a longer wait, which keeps waiters in arrival order.
 */
export class TokenBucket {
  #perMs: number;
  #capacity: number;
  #tokens: number;
  #last: number;

  constructor(perSecond: number, capacity: number, now: number) {
    this.#perMs = perSecond / 1000;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#last = now;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Tokens in the bucket at `now` (negative while reservations are outstanding). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /**
   * Milliseconds until `n` tokens are there (0: now). A request larger than the bucket
   * waits for a full bucket rather than forever.
   */
  waitFor(n: number, now: number): number {
    this.#refill(now);
    const need = n <= this.#capacity ? n : this.#capacity;
    const missing = need - this.#tokens;
    return missing <= 0 ? 0 : Math.ceil(missing / this.#perMs);
  }

  /** Takes `n` when they are there; otherwise takes nothing and says how long to wait. */
  tryTake(n: number, now: number): number {
    const wait = this.waitFor(n, now);
    if (wait === 0) this.#tokens -= n;
    return wait;
  }

  /** Takes `n` unconditionally (the bucket may go into debt). */
  take(n: number): void {
    this.#tokens -= n;
  }

  /** Gives back tokens that were taken for a call that never went out. Never above capacity. */
  refund(n: number): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + n);
  }

  /**
   * New rate and capacity. The tokens earned so far at the old rate are kept (capped at the
   * new capacity): a policy update is not a free burst, nor a penalty.
   */
  reconfigure(perSecond: number, capacity: number, now: number): void {
    this.#refill(now);
    this.#perMs = perSecond / 1000;
    this.#capacity = capacity;
    this.#tokens = Math.min(this.#tokens, capacity);
  }

  #refill(now: number): void {
    const elapsed = now - this.#last;
    if (elapsed <= 0) return;
    this.#last = now;
    const tokens = this.#tokens + elapsed * this.#perMs;
    this.#tokens = tokens < this.#capacity ? tokens : this.#capacity;
  }
}
