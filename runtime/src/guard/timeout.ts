/**
 * Per-call timeouts without a timer (or an AbortSignal) per call.
 *
 * An AbortSignal.timeout() per call costs microseconds in Node, and the Anthropic SDK
 * already arms its own timer per request from its `timeout` option. So the guard passes the
 * remaining time to the SDK (`attempt.remainingMs()`), and keeps its own deadlines in one
 * list per guard, ordered by due time, watched by a single timer armed for the earliest
 * deadline. Finishing a call unlinks it (O(1)); the timer is not cancelled when the list
 * empties, it just finds nothing due and is not re-armed, so a steady stream of calls costs
 * about one timer per timeout period and an idle guard none. An AbortSignal is created only
 * for a caller that asks for one (`attempt.signal`, e.g. a fetch-based tool).
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';

/** The policy document's `timeoutMs` (or a tool's), as it is: bounded by the schema. */
export interface TimeoutOptions {
  /** Per attempt. */
  readonly timeoutMs: number;
}

/**
 * Deadlines closer together than this share a timer firing. Not a policy setting (no schema
 * field): declared here, once.
 */
export const DEADLINE_RESOLUTION_MS = 10;

/** Something with a deadline; linked intrusively so adding and removing allocate nothing. */
export interface DeadlineEntry {
  deadlineAt: number;
  prevDeadline: DeadlineEntry | undefined;
  nextDeadline: DeadlineEntry | undefined;
  /** True while linked. */
  linked: boolean;
  /** Called (once) when the deadline passes while still linked. */
  onDeadline(): void;
}

export class DeadlineTimer {
  readonly #clock: Clock;
  readonly #resolutionMs: number;
  #head: DeadlineEntry | undefined;
  #tail: DeadlineEntry | undefined;
  #size = 0;
  #cancel: Cancel | undefined;
  /** When the armed timer fires (Infinity when none is armed). */
  #armedAt = Infinity;
  readonly #fire = () => {
    this.#cancel = undefined;
    this.#armedAt = Infinity;
    this.#expire();
  };

  constructor(clock: Clock, resolutionMs = DEADLINE_RESOLUTION_MS) {
    this.#clock = clock;
    this.#resolutionMs = resolutionMs;
  }

  get size(): number {
    return this.#size;
  }

  /** Whether a timer is armed right now (tests: an idle guard holds none once it fired). */
  get armed(): boolean {
    return this.#cancel !== undefined;
  }

  add(entry: DeadlineEntry, now: number): void {
    const at = entry.deadlineAt;
    let after = this.#tail;
    // Same timeout for every call → deadlines arrive in order: this loop does not run.
    while (after !== undefined && after.deadlineAt > at) after = after.prevDeadline;
    entry.prevDeadline = after;
    if (after === undefined) {
      entry.nextDeadline = this.#head;
      this.#head = entry;
    } else {
      entry.nextDeadline = after.nextDeadline;
      after.nextDeadline = entry;
    }
    if (entry.nextDeadline === undefined) this.#tail = entry;
    else entry.nextDeadline.prevDeadline = entry;
    entry.linked = true;
    this.#size++;
    if (at + this.#resolutionMs < this.#armedAt) this.#arm(at, now);
  }

  remove(entry: DeadlineEntry): void {
    if (!entry.linked) return;
    entry.linked = false;
    const { prevDeadline: prev, nextDeadline: next } = entry;
    if (prev === undefined) this.#head = next;
    else prev.nextDeadline = next;
    if (next === undefined) this.#tail = prev;
    else next.prevDeadline = prev;
    entry.prevDeadline = entry.nextDeadline = undefined;
    this.#size--;
  }

  #arm(at: number, now: number): void {
    this.#cancel?.();
    const delay = Math.max(this.#resolutionMs, at - now);
    this.#armedAt = now + delay;
    this.#cancel = this.#clock.setTimeout(this.#fire, delay);
  }

  #expire(): void {
    const now = this.#clock.now();
    let entry = this.#head;
    while (entry !== undefined && entry.deadlineAt <= now) {
      this.remove(entry);
      entry.onDeadline();
      entry = this.#head;
    }
    if (entry !== undefined) this.#arm(entry.deadlineAt, now);
  }
}
