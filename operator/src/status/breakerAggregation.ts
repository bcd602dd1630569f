/**
 * From what each replica reports in its `breakwater.dev/breakers` annotation to the
 * numbers status shows. A replica counts as open when any of its provider breakers is open
 * (tool breakers are the tools' business, not the provider's). A replica that has not
 * reported yet (no annotation: its runtime is still starting) is Unknown, not Closed: it may
 * be about to start its breakers Open from the agent's memory (openBreakersStatus.ts).
 */
import type { BreakerState } from '../../../contract/src/api/vocabulary.ts';
import {
  BREAKERS_ANNOTATION,
  TOOL_BREAKER_PREFIX,
  decodeBreakerReport,
  type BreakerReport,
} from '../../../contract/src/reporting/breakerReport.ts';
import type { PodView } from './views.ts';

/** A replica's state: ForcedOpen counts as Open, ForcedClosed as Closed; Unknown until it reports. */
export type ReplicaState = Exclude<BreakerState, 'Degraded'>;
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
  readonly unknown: number;
}

/** The pod's breaker report, or undefined when its runtime has not written one yet. */
export function podBreakerReport(pod: PodView): BreakerReport | undefined {
  const raw = pod.metadata?.annotations?.[BREAKERS_ANNOTATION];
  return raw === undefined ? undefined : decodeBreakerReport(raw);
}

export function summarizeReplica(report: BreakerReport | undefined): ReplicaSummary {
  if (report === undefined) return { state: 'Unknown', trips: 0, lastTrip: undefined };
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

/**
 * Open when every replica that reported is open and none is still unknown; Degraded when
 * some are open; Unknown when replicas run and none has reported.
 */
export function aggregateReplicas(replicas: readonly ReplicaSummary[]): BreakerAggregate {
  let open = 0;
  let halfOpen = 0;
  let unknown = 0;
  for (const replica of replicas) {
    if (replica.state === 'Open') open++;
    else if (replica.state === 'HalfOpen') halfOpen++;
    else if (replica.state === 'Unknown') unknown++;
  }
  const total = replicas.length;
  const closed = total - open - halfOpen - unknown;
  const state: AggregateState =
    total > 0 && open === total
      ? 'Open'
      : open > 0
        ? 'Degraded'
        : halfOpen > 0
          ? 'HalfOpen'
          : total > 0 && unknown === total
            ? 'Unknown'
            : 'Closed';
  return { state, total, open, halfOpen, closed, unknown };
}

/** The later of two RFC 3339 times. */
export function latest(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}
