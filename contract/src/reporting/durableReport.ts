/**
 * The `breakwater.dev/durable-runs` pod annotation: what this runtime process has seen of
 * durable runs (AgentDeployment `spec.durability`) and whether it reaches the journal's store.
 * The operator folds the counts into the agent's run ledger (operator/src/status/runLedger.ts),
 * so a gone pod's counts stay in `status.runs`, and turns the store's state into the
 * DurabilityStoreAvailable condition. Absent while the agent has no durability; emptied when it
 * drops it.
 *
 *   {"active":2,"resumed":1,"diverged":0,"replayed":7,
 *    "store":{"state":"Unavailable","reason":"Unreachable","message":"connect ECONNREFUSED …","since":"…"}}
 *
 * `resumed`, `diverged` and `replayed` count from zero in each process (its `started` is in
 * `breakwater.dev/runtime`); `active` is the runs this process served a call of lately.
 */
import { isReportObject, readReportObject } from './reportJson.ts';

export const DURABLE_RUNS_ANNOTATION = 'breakwater.dev/durable-runs';

export type DurableStoreState = 'Available' | 'Connecting' | 'Unavailable';

/** Why a replica's calls go on unjournaled. */
export type DurableStoreReason = 'Unreachable' | 'StoreError' | 'KeyUnreadable';

export interface DurableStoreReport {
  readonly state: DurableStoreState;
  /** Set while Unavailable. */
  readonly reason?: DurableStoreReason;
  /** What the store or the connection said, shortened. */
  readonly message?: string;
  /** When it entered this state (RFC 3339). */
  readonly since: string;
}

export interface DurableReport {
  /** Runs this process served a call of in the last ACTIVE_RUN_WINDOW_MS. */
  readonly active: number;
  /** Runs whose new attempt this process began replaying (a restarted agent). */
  readonly resumed: number;
  /** Runs that asked this process for something their journal did not hold. */
  readonly diverged: number;
  /** Calls this process answered from a journal. */
  readonly replayed: number;
  readonly store: DurableStoreReport;
}

/** A run is active while a call of it came within this long. */
export const ACTIVE_RUN_WINDOW_MS = 5 * 60_000;

const MAX_MESSAGE = 200;
const STATES: readonly string[] = ['Available', 'Connecting', 'Unavailable'];
const REASONS: readonly string[] = ['Unreachable', 'StoreError', 'KeyUnreadable'];

export function encodeDurableReport(report: DurableReport | undefined): string {
  if (report === undefined) return '';
  const { store } = report;
  return JSON.stringify({
    active: report.active,
    resumed: report.resumed,
    diverged: report.diverged,
    replayed: report.replayed,
    store: {
      state: store.state,
      ...(store.reason === undefined ? {} : { reason: store.reason }),
      ...(store.message === undefined ? {} : { message: store.message.slice(0, MAX_MESSAGE) }),
      since: store.since,
    },
  });
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/** Reads an annotation value; anything malformed reads as no report rather than a wrong one. */
export function decodeDurableReport(value: string | undefined): DurableReport | undefined {
  const raw = readReportObject(value);
  if (raw === undefined) return undefined;
  const active = count(raw.active);
  const resumed = count(raw.resumed);
  const diverged = count(raw.diverged);
  const replayed = count(raw.replayed);
  const store = decodeStore(raw.store);
  if (
    active === undefined ||
    resumed === undefined ||
    diverged === undefined ||
    replayed === undefined ||
    store === undefined
  )
    return undefined;
  return { active, resumed, diverged, replayed, store };
}

function decodeStore(value: unknown): DurableStoreReport | undefined {
  if (!isReportObject(value)) return undefined;
  const s = value;
  if (typeof s.state !== 'string' || !STATES.includes(s.state)) return undefined;
  if (typeof s.since !== 'string') return undefined;
  return {
    state: s.state as DurableStoreState,
    ...(typeof s.reason === 'string' && REASONS.includes(s.reason)
      ? { reason: s.reason as DurableStoreReason }
      : {}),
    ...(typeof s.message === 'string' ? { message: s.message.slice(0, MAX_MESSAGE) } : {}),
    since: s.since,
  };
}
