/**
 * Open periods learned from the agent's other replicas (`status.breaker.openBreakers`), kept by
 * breaker name until a breaker of that name is created and takes its period over: it starts
 * Open for the rest of the open time instead of sending full traffic into an outage its
 * siblings already know about.
 */
import type { BreakerSnapshot } from '../breakerSnapshot.ts';

/** A provider breaker the agent's other replicas hold open, and until when. */
export interface RememberedOpen {
  /** `<backend>/<model>`. */
  readonly name: string;
  readonly untilMs: number;
}

export class RememberedOpenPeriods {
  readonly #untilMs = new Map<string, number>();

  /**
   * Remembers each entry still ahead of `now` whose backend is one of `backends` and whose
   * breaker is not in `existing` (one that exists has its own evidence and keeps it), and has
   * `create` make its breaker at once, so that the pod report says Open before the first call.
   */
  learn(
    entries: readonly RememberedOpen[],
    now: number,
    backends: ReadonlySet<string>,
    existing: ReadonlyMap<string, unknown>,
    create: (backend: string, model: string) => unknown,
  ): void {
    for (const { name, untilMs } of entries) {
      const slash = name.indexOf('/');
      if (untilMs <= now || slash <= 0 || existing.has(name)) continue;
      const backend = name.slice(0, slash);
      if (!backends.has(backend)) continue;
      this.#untilMs.set(name, untilMs);
      create(backend, name.slice(slash + 1));
    }
  }

  /** The snapshot a new breaker named so starts from, once; undefined when none is ahead. */
  take(name: string, now: number): BreakerSnapshot | undefined {
    const untilMs = this.#untilMs.get(name);
    if (untilMs === undefined) return undefined;
    this.#untilMs.delete(name);
    return untilMs > now ? openUntil(untilMs, now) : undefined;
  }
}

/** A snapshot that starts a fresh breaker Open until `untilMs`, as its siblings are. */
function openUntil(untilMs: number, now: number): BreakerSnapshot {
  return {
    version: 1,
    state: 'Open',
    since: now,
    openUntil: untilMs,
    // A failed probe re-opens it for the next step of the backoff, as it would its siblings.
    consecutiveOpens: 1,
    // Trips are its siblings'; counting them here would count them twice.
    trips: 0,
    lastTripAt: null,
    consecutiveFailures: 0,
  };
}
