/** The pod report's breaker part: what the pod annotation carries to the operator. */
import type { CircuitBreaker } from '../guard/circuitBreaker.ts';
import type {
  BreakerReport,
  ReportedBreakerState,
} from '../../../contract/src/reporting/breakerAnnotation.ts';

export function breakerReport(breakers: ReadonlyMap<string, CircuitBreaker>): BreakerReport {
  const report: Record<
    string,
    { state: ReportedBreakerState; since: string; trips: number; lastTrip?: string }
  > = {};
  for (const [name, b] of breakers) {
    const snap = b.snapshot();
    report[name] = {
      state: b.state,
      since: new Date(b.since).toISOString(),
      trips: snap.trips,
      ...(snap.lastTripAt === null ? {} : { lastTrip: new Date(snap.lastTripAt).toISOString() }),
    };
  }
  return report;
}
