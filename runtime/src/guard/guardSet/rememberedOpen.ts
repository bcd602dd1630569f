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

  remember(name: string, untilMs: number): void {
    this.#untilMs.set(name, untilMs);
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
