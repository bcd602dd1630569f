/**
 * Where this replica last left each run it served: the next position at the run's live tail,
 * and the match of the current attempt's first step. A model call at a known tail needs no
 * claim before it — a model call has no effect to protect, nor has a tool that may be called
 * again (idempotent or read-only) — so its step is journaled in one round trip (append.lua)
 * instead of two. A call that repeats the attempt's first request may be
 * a restarted agent starting over, and is always claimed. Bounded: the oldest run is forgotten
 * first, and a forgotten run is merely claimed again.
 */
const MAX_RUNS = 10_000;

interface Tail {
  /** The match of the step at position 0, when this replica saw it. */
  first?: string;
  /** The next position, while this replica is at the run's live tail. */
  next?: number;
}

export class RunTails {
  readonly #runs = new Map<string, Tail>();

  /** The position a model call with `match` appends at without a claim, or undefined. */
  take(run: string, match: string): number | undefined {
    const tail = this.#runs.get(run);
    if (tail?.next === undefined || tail.first === undefined || tail.first === match)
      return undefined;
    const position = tail.next;
    // Taken at once: a concurrent call of the same run finds the next position (or a conflict).
    tail.next = position + 1;
    return position;
  }

  /** After a claim: `position` was replayed, or claimed live (then the tail follows it). */
  claimed(run: string, position: number, match: string, live: boolean): void {
    const tail = this.#runs.get(run) ?? {};
    this.#runs.delete(run);
    if (position === 0) tail.first = match;
    if (live) tail.next = position + 1;
    else delete tail.next;
    this.#runs.set(run, tail);
    if (this.#runs.size > MAX_RUNS) {
      const [oldest] = this.#runs.keys();
      if (oldest !== undefined) this.#runs.delete(oldest);
    }
  }

  /** The run is not where this replica thought (or the call failed): claim from now on. */
  forget(run: string): void {
    const tail = this.#runs.get(run);
    if (tail !== undefined) delete tail.next;
  }
}
