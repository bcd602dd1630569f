/**
 * A breaker as plain JSON: what survives a restart or a hand-over to a new breaker (a replica
 * starting while its siblings hold the breaker open takes their open period over).
 */
import type { AutoState, AutoStateName } from './breakerState.ts';
import type { CallWindow, WindowSnapshot } from './callWindow.ts';

export interface BreakerSnapshot {
  readonly version: 1;
  readonly state: AutoStateName;
  readonly since: number;
  /** Open only: when the next probe is let through. */
  readonly openUntil?: number;
  /** HalfOpen only: good probes so far. */
  readonly halfOpenSuccesses?: number;
  readonly consecutiveOpens: number;
  readonly trips: number;
  readonly lastTripAt: number | null;
  readonly consecutiveFailures: number;
  readonly failureRateWindow?: WindowSnapshot;
  readonly slowCallWindow?: WindowSnapshot;
}

/** What a snapshot is taken from. */
export interface SnapshotParts {
  readonly state: AutoState;
  readonly consecutiveOpens: number;
  readonly trips: number;
  readonly lastTripAt: number | null;
  readonly consecutiveFailures: number;
  readonly failureRateWindow: CallWindow | undefined;
  /** Only a window of the slow-call rule's own (not shared with the failure-rate rule). */
  readonly slowCallWindow: CallWindow | undefined;
}

export function snapshotOf(parts: SnapshotParts): BreakerSnapshot {
  const s = parts.state;
  return {
    version: 1,
    state: s.kind,
    since: s.since,
    ...(s.kind === 'Open' ? { openUntil: s.until } : {}),
    ...(s.kind === 'HalfOpen' ? { halfOpenSuccesses: s.successes } : {}),
    consecutiveOpens: parts.consecutiveOpens,
    trips: parts.trips,
    lastTripAt: parts.lastTripAt,
    consecutiveFailures: parts.consecutiveFailures,
    ...(parts.failureRateWindow ? { failureRateWindow: parts.failureRateWindow.snapshot() } : {}),
    ...(parts.slowCallWindow ? { slowCallWindow: parts.slowCallWindow.snapshot() } : {}),
  };
}

/** The automatic state a snapshot describes; probes in flight are not carried. */
export function stateFromSnapshot(
  snapshot: BreakerSnapshot,
  breaker: string,
  now: number,
): AutoState {
  const version: unknown = snapshot.version;
  if (version !== 1)
    throw new Error(`circuit breaker "${breaker}": unknown snapshot version ${String(version)}`);
  switch (snapshot.state) {
    case 'Closed':
      return { kind: 'Closed', since: snapshot.since };
    case 'Open':
      return { kind: 'Open', since: snapshot.since, until: snapshot.openUntil ?? now };
    case 'HalfOpen':
      return {
        kind: 'HalfOpen',
        since: snapshot.since,
        probes: 0,
        successes: snapshot.halfOpenSuccesses ?? 0,
      };
  }
}
