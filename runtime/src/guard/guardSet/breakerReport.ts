/** The pod report's breaker part: what the pod annotation carries to the operator. */
import type { CircuitBreaker } from '../circuitBreaker.ts';
import type {
  BreakerReport,
  BreakerReportEntry,
} from '../../../../contract/src/reporting/breakerReport.ts';

export function breakerReport(breakers: ReadonlyMap<string, CircuitBreaker>): BreakerReport {
  const report: Record<string, BreakerReportEntry> = {};
  for (const [name, b] of breakers) {
    const snap = b.snapshot();
    const state = b.state;
    report[name] = {
      state,
      since: new Date(b.since).toISOString(),
      trips: snap.trips,
      ...(snap.lastTripAt === null ? {} : { lastTrip: new Date(snap.lastTripAt).toISOString() }),
      // Only an automatic open period is news for a replica about to start; a forced one
      // reaches it through the policy.
      ...(state === 'Open' && snap.openUntil !== undefined
        ? { openUntil: new Date(snap.openUntil).toISOString() }
        : {}),
    };
  }
  return report;
}
