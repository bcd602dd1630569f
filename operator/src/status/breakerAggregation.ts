/**
 * From what each replica reports in its `breakwater.dev/breakers` annotation to the
 * numbers status shows. A replica counts as open when any of its provider breakers is open
 * (tool breakers are the tools' business, not the provider's); a replica that has not
 * reported yet counts as closed, which is what a fresh breaker is.
 */
import type { AutoBreakerState, BreakerState } from '../../../contract/src/api/vocabulary.ts';
import {
  TOOL_BREAKER_PREFIX,
  type BreakerReport,
} from '../../../contract/src/reporting/breakerAnnotation.ts';

/** A replica's state: ForcedOpen counts as Open, ForcedClosed as Closed. */
export type ReplicaState = AutoBreakerState;
/** Over replicas: Degraded when only some are open. */
export type AggregateState = BreakerState;

export interface ReplicaSummary {
  readonly state: ReplicaState;
  readonly trips: number;
  readonly lastTrip: string | undefined;
}

export interface BreakerAggregate {
  readonly state: AggregateState;
  readonly total: number;
  readonly open: number;
  readonly halfOpen: number;
  readonly closed: number;
  readonly trips: number;
  readonly lastTripTime: string | undefined;
}

export function summarizeReplica(report: BreakerReport): ReplicaSummary {
  let open = false;
  let halfOpen = false;
  let trips = 0;
  let lastTrip: string | undefined;
  for (const [name, entry] of Object.entries(report)) {
    if (name.startsWith(TOOL_BREAKER_PREFIX)) continue;
    if (entry.state === 'Open' || entry.state === 'ForcedOpen') open = true;
    if (entry.state === 'HalfOpen') halfOpen = true;
    trips += entry.trips;
    lastTrip = latest(lastTrip, entry.lastTrip);
  }
  return { state: open ? 'Open' : halfOpen ? 'HalfOpen' : 'Closed', trips, lastTrip };
}

export function aggregateReplicas(replicas: readonly ReplicaSummary[]): BreakerAggregate {
  let open = 0;
  let halfOpen = 0;
  let trips = 0;
  let lastTripTime: string | undefined;
  for (const replica of replicas) {
    if (replica.state === 'Open') open++;
    else if (replica.state === 'HalfOpen') halfOpen++;
    trips += replica.trips;
    lastTripTime = latest(lastTripTime, replica.lastTrip);
  }
  const total = replicas.length;
  const state: AggregateState =
    total > 0 && open === total
      ? 'Open'
      : open > 0
        ? 'Degraded'
        : halfOpen > 0
          ? 'HalfOpen'
          : 'Closed';
  return { state, total, open, halfOpen, closed: total - open - halfOpen, trips, lastTripTime };
}

/** The later of two RFC 3339 times (same format, so they compare as strings after parsing). */
function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
