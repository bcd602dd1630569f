/**
 * The `breakwater.dev/breakers` pod annotation: each runtime reports its breakers here and
 * the operator aggregates them into CircuitBreakerPolicy and AgentDeployment status. Kept
 * small (it rides on every pod update) and readable (on-call reads it with kubectl):
 *
 *   {"default/claude-sonnet-5-5":{"state":"Open","since":"2026-11-21T10:00:00.000Z","trips":3,"lastTrip":"…","openUntil":"…"},
 *    "tool:search":{"state":"Closed","since":"…","trips":0}}
 *
 * Provider breakers are named `<backend>/<model>`; tool breakers `tool:<name>`.
 */
import { decodeKeyedReport, encodeKeyedReport } from './keyedReport.ts';

export const BREAKERS_ANNOTATION = 'breakwater.dev/breakers';

import { REPORTED_BREAKER_STATES, type ReportedBreakerState } from '../api/vocabulary.ts';

export type { ReportedBreakerState };

export interface BreakerReportEntry {
  readonly state: ReportedBreakerState;
  /** When it entered this state (RFC 3339). */
  readonly since: string;
  /** Times it opened since the process started. */
  readonly trips: number;
  /** When it last opened (RFC 3339), if ever. */
  readonly lastTrip?: string;
  /**
   * Open only: when it lets the next probe through (RFC 3339). The operator keeps the agent's
   * latest one in its status so that a replica starting mid-outage starts Open until then.
   */
  readonly openUntil?: string;
}

export type BreakerReport = Readonly<Record<string, BreakerReportEntry>>;

export const TOOL_BREAKER_PREFIX = 'tool:';

export const providerBreakerName = (backend: string, model: string): string =>
  `${backend}/${model}`;
export const toolBreakerName = (tool: string): string => `${TOOL_BREAKER_PREFIX}${tool}`;

export function encodeBreakerReport(report: BreakerReport): string {
  return encodeKeyedReport(report);
}

const STATES: readonly string[] = REPORTED_BREAKER_STATES;

/** Reads an annotation value; anything malformed is skipped rather than trusted. */
export function decodeBreakerReport(value: string | undefined): BreakerReport {
  return decodeKeyedReport(value, (e): BreakerReportEntry | undefined => {
    if (typeof e.state !== 'string' || !STATES.includes(e.state)) return undefined;
    if (typeof e.since !== 'string' || typeof e.trips !== 'number') return undefined;
    return {
      state: e.state as ReportedBreakerState,
      since: e.since,
      trips: e.trips,
      ...(typeof e.lastTrip === 'string' ? { lastTrip: e.lastTrip } : {}),
      ...(typeof e.openUntil === 'string' ? { openUntil: e.openUntil } : {}),
    };
  });
}
