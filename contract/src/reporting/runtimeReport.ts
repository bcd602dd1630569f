/**
 * The `breakwater.dev/runtime` pod annotation: what a runtime process says about itself, beside
 * its breakers (`breakwater.dev/breakers`):
 *
 *   {"started":"2026-11-22T10:00:00.000Z",
 *    "override":{"state":"ForcedOpen","reason":"INC-42","until":"…","generation":7}}
 *
 * `started` tells the operator one process from the next in the same pod (a container
 * restart keeps the pod's UID but starts its trip counts from zero); `override` is the
 * CircuitBreakerPolicy override this replica applies now, with the policy generation it came
 * from, absent when none is in force (never set, Auto, or past its `until`).
 */
import { readReportObject } from './reportJson.ts';
export const RUNTIME_ANNOTATION = 'breakwater.dev/runtime';

export type ForcedState = 'ForcedOpen' | 'ForcedClosed';

export interface AppliedOverride {
  readonly state: ForcedState;
  readonly reason?: string;
  /** RFC 3339; absent when the override holds until it is changed. */
  readonly until?: string;
  /** metadata.generation of the CircuitBreakerPolicy it came from, when the runtime knows it. */
  readonly generation?: number;
}

export interface RuntimeReport {
  /** When this runtime process started (RFC 3339, milliseconds). */
  readonly started: string;
  readonly override?: AppliedOverride;
}

export function encodeRuntimeReport(report: RuntimeReport): string {
  const { started, override } = report;
  return JSON.stringify(override === undefined ? { started } : { started, override });
}

/** Reads an annotation value; undefined when absent or malformed (never trusted half-read). */
export function decodeRuntimeReport(value: string | undefined): RuntimeReport | undefined {
  const raw = readReportObject(value);
  if (raw === undefined) return undefined;
  if (typeof raw.started !== 'string') return undefined;
  const override = decodeOverride(raw.override);
  return override === undefined ? { started: raw.started } : { started: raw.started, override };
}

function decodeOverride(value: unknown): AppliedOverride | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (o.state !== 'ForcedOpen' && o.state !== 'ForcedClosed') return undefined;
  return {
    state: o.state,
    ...(typeof o.reason === 'string' ? { reason: o.reason } : {}),
    ...(typeof o.until === 'string' ? { until: o.until } : {}),
    ...(typeof o.generation === 'number' ? { generation: o.generation } : {}),
  };
}
