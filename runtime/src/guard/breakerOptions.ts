/**
 * What a breaker derives from the policy document's breaker settings (`BreakerSettings`,
 * taken as they are: each setting is declared in the schema, resolved through
 * contract/src/policy/documentFields.ts and checked before a document gets here). The
 * breaker neither defaults nor checks them again.
 */
import { DOCUMENT_DEFAULTS } from '../../../contract/src/policy/generated/documentDefaults.ts';
import type {
  BreakerSettings,
  CallWindowSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import { resolveBreaker } from '../../../contract/src/policy/policyResolution.ts';
import type { BreakerOverride } from './breakerState.ts';

export type { BreakerSettings };

/** A breaker no policy configures: the schema's defaults. */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = resolveBreaker(undefined);

/** The window a slow-call rule reads when there is no failure-rate rule to share one with. */
const SLOW_CALL_WINDOW: CallWindowSettings = Object.freeze({
  type: 'Count',
  ...DOCUMENT_DEFAULTS.breaker.countWindow,
});

/** The slow-call rule reads the failure-rate rule's window and minimum, else the defaults. */
export function slowCallWindow(settings: BreakerSettings): {
  readonly window: CallWindowSettings;
  readonly minimumCalls: number;
} {
  const rate = settings.failureRate;
  return rate ?? { window: SLOW_CALL_WINDOW, ...DOCUMENT_DEFAULTS.breaker.failureRate };
}

/** The on-call switch in force; undefined when Auto. */
export function overrideOf(settings: BreakerSettings): BreakerOverride | undefined {
  const o = settings.override;
  return o.state === 'Auto'
    ? undefined
    : Object.freeze({ state: o.state, reason: o.reason ?? '', untilMs: o.untilMs });
}

/** Open time for the n-th open in a row (n ≥ 1): doubling from openDurationMs, capped. */
export function openDurationFor(settings: BreakerSettings, consecutiveOpens: number): number {
  const doubled = settings.openDurationMs * 2 ** Math.max(0, Math.min(consecutiveOpens - 1, 30));
  // No maximum: no growth.
  return Math.min(settings.maxOpenDurationMs ?? settings.openDurationMs, doubled);
}
