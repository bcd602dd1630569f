/**
 * Where this replica last left each run it served: the attempt at the run's live tail and the
 * next position there. A model call at a known tail needs no claim before it — a model call has
 * no effect to protect, nor has a tool that may be called again (idempotent or read-only) — so
 * its step is journaled in one round trip (append.lua) instead of two. One attempt per run: the
 * run's cursor holds one, so a claim of any attempt (an agent started again names a new one)
 * ends the tail of the others here, and their next call is claimed — and refused when
 * superseded — before it goes live. A call that repeats an earlier request is a step of its
 * own. Bounded: the oldest run is forgotten first, and a forgotten one is merely claimed again.
 */
export const MAX_RUNS = 10_000;

interface Tail {
  readonly attempt: string;
  /** The next position, while this replica is at the attempt's live tail. */
  readonly next: number | undefined;
  /** The step last replayed, while the journal held more after it (the attempt is resuming). */
  readonly replayed?: number;
}

export class RunTails {
  readonly #tails = new Map<string, Tail>();

  /** The position a call of `attempt` appends at without a claim, or undefined. */
  take(run: string, attempt: string): number | undefined {
    const tail = this.#tails.get(run);
    if (tail?.attempt !== attempt || tail.next === undefined) return undefined;
    // Taken at once: a concurrent call of the same attempt finds the next position (or a conflict).
    this.#tails.set(run, { attempt, next: tail.next + 1 });
    return tail.next;
  }

  /**
   * After a claim of `attempt`: `position` was replayed, or claimed live (then the tail follows
   * it). The run's cursor is now this attempt's: any other attempt's tail here is gone.
   */
  claimed(run: string, attempt: string, position: number, live: boolean, ahead = false): void {
    this.#tails.delete(run);
    this.#tails.set(run, {
      attempt,
      next: live ? position + 1 : undefined,
      ...(!live && ahead ? { replayed: position } : {}),
    });
    if (this.#tails.size > MAX_RUNS) {
      const [oldest] = this.#tails.keys();
      if (oldest !== undefined) this.#tails.delete(oldest);
    }
  }

  /**
   * The step `attempt` last replayed here, while its journal held more after it: its next call
   * is most likely the next step the journal holds. Undefined otherwise.
   */
  replaying(run: string, attempt: string): number | undefined {
    const tail = this.#tails.get(run);
    return tail?.attempt === attempt ? tail.replayed : undefined;
  }

  /** The attempt is not where this replica thought (or the call failed): claim from now on. */
  forget(run: string, attempt: string): void {
    const tail = this.#tails.get(run);
    if (tail?.attempt === attempt) this.#tails.set(run, { ...tail, next: undefined });
  }
}
