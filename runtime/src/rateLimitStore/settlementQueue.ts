/**
 * Budget settlements waiting to reach the store. Each rides with the replica's next admission
 * (admit.lua applies it before deciding, so a replica's own calls settle in order, and a call
 * costs one round trip, not two), or goes alone, with the others waiting, within
 * SETTLE_WITHIN_MS when no admission comes: a reservation is held that much longer for the
 * other replicas, which can only refuse early, never overspend. The store flushes the queue
 * sooner, on the next turn, when no admission of its own is waiting (RedisStore.settleBudget).
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';

export const SETTLE_WITHIN_MS = 20;
/** Settlements one admission carries at most; as many waiting go alone at once. */
export const SETTLEMENTS_PER_ADMIT = 16;
const NONE: readonly StoreBudgetSettlement[] = [];

export class SettlementQueue {
  readonly #clock: Clock;
  readonly #send: (list: StoreBudgetSettlement[]) => void;
  #waiting: StoreBudgetSettlement[] = [];
  /** When the oldest settlement waiting was pushed. */
  #oldestAt = 0;
  #timer: Cancel | undefined;
  /** A flush is due on the next turn if no admission takes the settlements first. */
  #idleFlush = false;

  /** `send` takes settlements that go alone (settle.lua). */
  constructor(clock: Clock, send: (list: StoreBudgetSettlement[]) => void) {
    this.#clock = clock;
    this.#send = send;
  }

  push(s: StoreBudgetSettlement): void {
    if (this.#waiting.length === 0) this.#oldestAt = this.#clock.now();
    this.#waiting.push(s);
    if (this.#waiting.length >= SETTLEMENTS_PER_ADMIT) {
      this.flush();
      return;
    }
    this.#arm(SETTLE_WITHIN_MS);
  }

  /**
   * The settlements an admission takes along (at most SETTLEMENTS_PER_ADMIT). The timer stays
   * armed: when it fires it waits on for what was pushed since (#due), so that a call arms
   * one timer per window instead of arming and cancelling one each (which cost more than the
   * settlement's arguments).
   */
  take(): readonly StoreBudgetSettlement[] {
    if (this.#waiting.length === 0) return NONE;
    return this.#waiting.splice(0, SETTLEMENTS_PER_ADMIT);
  }

  /**
   * Sends the waiting settlements on the next turn of the event loop if `idle` says then that
   * no admission is waiting for the store to take them along (RedisStore.settleBudget).
   */
  flushWhenIdle(idle: () => boolean): void {
    if (this.#idleFlush) return;
    this.#idleFlush = true;
    setImmediate(() => {
      this.#idleFlush = false;
      if (idle()) this.flush();
    });
  }

  /** Sends every waiting settlement now; whether there were any. */
  flush(): boolean {
    this.#cancel();
    const list = this.#waiting.splice(0);
    if (list.length > 0) this.#send(list);
    return list.length > 0;
  }

  #arm(ms: number): void {
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#due();
    }, ms);
  }

  /** Sends what has waited SETTLE_WITHIN_MS; waits on for what was pushed later. */
  #due(): void {
    if (this.#waiting.length === 0) return;
    const left = this.#oldestAt + SETTLE_WITHIN_MS - this.#clock.now();
    if (left > 0) this.#arm(left);
    else this.flush();
  }

  #cancel(): void {
    this.#timer?.();
    this.#timer = undefined;
  }
}
