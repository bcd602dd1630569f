/**
 * Durable trip counts. Each runtime process counts the trips of its own breakers from zero, so
 * a sum over the pods running now falls whenever a pod restarts, is replaced or is scaled
 * away. The agent's status keeps a ledger instead: a baseline holding the trips of processes
 * that are gone, and one entry per pod present with the most trips its current process has
 * reported. Folding the pods the API server holds now into the last written ledger is pure
 * and level-triggered, so an operator that restarts reads the ledger back and goes on.
 *
 * The invariant (docs/design.md, "Trips are a ledger"): every process's trips are in exactly
 * one place — its pod's entry while the pod exists and runs that process, the baseline once
 * it does not — and the move from one to the other happens inside one status write, so no
 * crash between two writes can count a process twice or lose it. The total never decreases.
 */
import type {
  TripLedger,
  TripLedgerProcess,
} from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { latest, podBreakerReport, summarizeReplica } from './breakerAggregation.ts';
import type { PodView } from './views.ts';
import { liveProcesses } from './ledgerProcesses.ts';

/** A pod the API server holds for the agent, terminating ones included. */
export interface LedgerPod {
  readonly uid: string;
  /**
   * What its runtime reports now; undefined while it reports nothing (starting, or between
   * processes), which keeps its entry as it is.
   */
  readonly process?: {
    /** Tells one process from the next in the same pod; '' from a runtime that does not say. */
    readonly started: string;
    readonly trips: number;
    readonly lastTrip?: string;
  };
}

export interface TripTotals {
  readonly trips: number;
  readonly lastTripTime: string | undefined;
}

/** The ledger after the pods now present: gone or replaced processes move to the baseline. */
export function foldTrips(
  previous: TripLedger | undefined,
  pods: readonly LedgerPod[],
): Required<Pick<TripLedger, 'baseline' | 'processes'>> {
  let baselineTrips = previous?.baseline?.trips ?? 0;
  let baselineLast = previous?.baseline?.lastTripTime;
  const retire = (entry: TripLedgerProcess): void => {
    baselineTrips += entry.trips;
    baselineLast = latest(baselineLast, entry.lastTrip);
  };
  const entries = liveProcesses(previous?.processes, pods, retire);
  for (const pod of pods) {
    const now = pod.process;
    if (now === undefined) continue;
    const recorded = entries.get(pod.uid);
    // A process's count only grows; a smaller one (a breaker retired by a policy change took
    // its trips out of the report) keeps the high-water mark.
    const trips = Math.max(recorded?.trips ?? 0, now.trips);
    const lastTrip = latest(recorded?.lastTrip, now.lastTrip);
    entries.set(pod.uid, {
      pod: pod.uid,
      started: now.started,
      trips,
      ...(lastTrip === undefined ? {} : { lastTrip }),
    });
  }
  return {
    baseline: {
      trips: baselineTrips,
      ...(baselineLast === undefined ? {} : { lastTripTime: baselineLast }),
    },
    processes: [...entries.values()].sort((a, b) => a.pod.localeCompare(b.pod)),
  };
}

export function tripTotals(ledger: TripLedger): TripTotals {
  let trips = ledger.baseline?.trips ?? 0;
  let lastTripTime = ledger.baseline?.lastTripTime;
  for (const entry of ledger.processes ?? []) {
    trips += entry.trips;
    lastTripTime = latest(lastTripTime, entry.lastTrip);
  }
  return { trips, lastTripTime };
}

/** What the ledger needs of a pod: its UID and, once its runtime reports, its process's trips. */
export function ledgerPod(pod: PodView): LedgerPod {
  const uid = pod.metadata?.uid ?? '';
  const report = podBreakerReport(pod);
  if (report === undefined) return { uid };
  const { trips, lastTrip } = summarizeReplica(report);
  const started =
    decodeRuntimeReport(pod.metadata?.annotations?.[RUNTIME_ANNOTATION])?.started ?? '';
  return {
    uid,
    process: { started, trips, ...(lastTrip === undefined ? {} : { lastTrip }) },
  };
}
