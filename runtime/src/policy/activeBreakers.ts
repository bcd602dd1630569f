/**
 * Breaker transitions of whichever guard is in force, for the pod reporter: a listener is added
 * once, and hears the guard of each policy applied after it, never the one it replaced. It
 * stands apart from agentRuntime.ts because following the guard across reloads is bookkeeping
 * of its own (a subscription to drop and take again), not part of assembling the runtime.
 */

/** What is followed of a guard: its breaker transitions. */
export interface BreakerSource {
  onBreakerChange(listener: () => void): () => void;
}

export class ActiveBreakers {
  readonly #listeners = new Set<() => void>();
  #unsubscribe: (() => void) | undefined;

  /** Adds `listener`, following `inForce` (the guard in force, if any) if none is followed yet. */
  listen(listener: () => void, inForce: BreakerSource | undefined): void {
    this.#listeners.add(listener);
    this.#unsubscribe ??= inForce?.onBreakerChange(() => {
      this.#notify();
    });
  }

  /** `guard` is in force now: follow it instead, and tell every listener. */
  follow(guard: BreakerSource): void {
    this.#unsubscribe?.();
    this.#unsubscribe = guard.onBreakerChange(() => {
      this.#notify();
    });
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}
