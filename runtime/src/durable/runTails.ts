/**
 * Where this replica last left each attempt of a run it served: the next position at the
 * attempt's live tail. A model call at a known tail needs no claim before it — a model call has
 * no effect to protect, nor has a tool that may be called again (idempotent or read-only) — so
 * its step is journaled in one round trip (append.lua) instead of two. Keyed by attempt: an
 * agent started again names a new one, whose first call is claimed; a call that repeats an
 * earlier request is a step of its own. Bounded: the oldest attempt is forgotten first, and a
 * forgotten one is merely claimed again.
 */
const MAX_RUNS = 10_000;

export class RunTails {
  /** The next position of each attempt, while this replica is at its live tail. */
  readonly #next = new Map<string, number | undefined>();

  /** The position a call appends at without a claim, or undefined. */
  take(attempt: string): number | undefined {
    const position = this.#next.get(attempt);
    if (position === undefined) return undefined;
    // Taken at once: a concurrent call of the same attempt finds the next position (or a conflict).
    this.#next.set(attempt, position + 1);
    return position;
  }

  /** After a claim: `position` was replayed, or claimed live (then the tail follows it). */
  claimed(attempt: string, position: number, live: boolean): void {
    this.#next.delete(attempt);
    this.#next.set(attempt, live ? position + 1 : undefined);
    if (this.#next.size > MAX_RUNS) {
      const [oldest] = this.#next.keys();
      if (oldest !== undefined) this.#next.delete(oldest);
    }
  }

  /** The attempt is not where this replica thought (or the call failed): claim from now on. */
  forget(attempt: string): void {
    if (this.#next.has(attempt)) this.#next.set(attempt, undefined);
  }
}
