/**
 * One timer for the soonest of many deadlines. Breakers take their time-driven edges (Open →
 * HalfOpen, an override's `until`) lazily, on the next call or read; on an idle agent nothing
 * reads them, and the pod report — and with it `kubectl get cbp` — would say Open for as long
 * as no call came. The owner (one GuardSet per process) asks for the soonest edge of all its
 * breakers and is called back when it falls due, so a process holds at most one such timer
 * whatever its number of breakers, and none while no breaker has an edge ahead of it.
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';

/**
 * The longest single wait. Node fires a timer of more than 2^31 - 1 ms (24.8 days) at once, and
 * an override's `until` may be years away: such an edge is reached in steps.
 */
export const MAX_TIMER_STEP_MS = 24 * 60 * 60 * 1000;

export interface EdgeTimerOptions {
  readonly clock: Clock;
  /** The soonest time-driven edge now (epoch ms), or undefined when none is ahead. */
  readonly nextEdge: () => number | undefined;
  /** An edge fell due: settle whatever is due at `now` (reading a breaker's state does). */
  readonly onDue: (now: number) => void;
}

export class EdgeTimer {
  readonly #clock: Clock;
  readonly #nextEdge: () => number | undefined;
  readonly #onDue: (now: number) => void;
  #cancel: Cancel | undefined;
  #armedFor: number | undefined;

  constructor(options: EdgeTimerOptions) {
    this.#clock = options.clock;
    this.#nextEdge = options.nextEdge;
    this.#onDue = options.onDue;
  }

  /** When the armed timer fires, if one is armed (for tests and /debug). */
  get armedFor(): number | undefined {
    return this.#armedFor;
  }

  /** The edges may have moved (a state change, a new override): arm for the soonest one. */
  reschedule(): void {
    const due = this.#nextEdge();
    if (due === this.#armedFor) return;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = due;
    if (due === undefined) return;
    this.#cancel = this.#clock.setTimeout(
      () => {
        this.#fire();
      },
      Math.min(MAX_TIMER_STEP_MS, Math.max(0, due - this.#clock.now())),
    );
  }

  stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedFor = undefined;
  }

  #fire(): void {
    const now = this.#clock.now();
    this.#cancel = undefined;
    this.#armedFor = undefined;
    const due = this.#nextEdge();
    if (due !== undefined && due > now) {
      this.reschedule(); // one step of a long wait
      return;
    }
    this.#onDue(now);
    // An edge that is still due after being settled would arm a timer for now, again and
    // again: whatever does that is a bug, and a spinning process would hide it.
    const next = this.#nextEdge();
    if (next !== undefined && next <= now) return;
    this.reschedule();
  }
}
