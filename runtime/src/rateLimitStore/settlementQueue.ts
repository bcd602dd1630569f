/**
 * Budget settlements waiting to reach the store. Each rides with the replica's next admission
 * (admit.lua applies it before deciding, so a replica's own calls settle in order, and a call
 * costs one round trip, not two), or goes alone, with the others waiting, within
 * SETTLE_WITHIN_MS when no admission comes: a reservation is held that much longer for the
 * other replicas, which can only refuse early, never overspend.
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { StoreBudgetSettlement } from '../guard/rateLimitStore.ts';

export const SETTLE_WITHIN_MS = 20;
/** Settlements one admission carries at most; as many waiting go alone at once. */
export const SETTLEMENTS_PER_ADMIT = 16;

export class SettlementQueue {
  readonly #clock: Clock;
  readonly #send: (list: StoreBudgetSettlement[]) => void;
  #waiting: StoreBudgetSettlement[] = [];
  #timer: Cancel | undefined;

  /** `send` takes settlements that go alone (settle.lua). */
  constructor(clock: Clock, send: (list: StoreBudgetSettlement[]) => void) {
    this.#clock = clock;
    this.#send = send;
  }

  push(s: StoreBudgetSettlement): void {
    this.#waiting.push(s);
    if (this.#waiting.length >= SETTLEMENTS_PER_ADMIT) {
      this.flush();
      return;
    }
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, SETTLE_WITHIN_MS);
  }

  /** The settlements an admission takes along (at most SETTLEMENTS_PER_ADMIT). */
  take(): StoreBudgetSettlement[] {
    const taken = this.#waiting.splice(0, SETTLEMENTS_PER_ADMIT);
    if (this.#waiting.length === 0) this.#cancel();
    return taken;
  }

  /** Sends every waiting settlement now; whether there were any. */
  flush(): boolean {
    this.#cancel();
    const list = this.#waiting.splice(0);
    if (list.length > 0) this.#send(list);
    return list.length > 0;
  }

  #cancel(): void {
    this.#timer?.();
    this.#timer = undefined;
  }
}
