/** The pod report's process part (`breakwater.dev/runtime`): when it started, the override it applies. */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type {
  AppliedOverride,
  RuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';

export function runtimeReport(
  startedMs: number,
  doc: PolicyDocument | undefined,
  now: number,
): RuntimeReport {
  const started = new Date(startedMs).toISOString();
  const override = doc === undefined ? undefined : overrideInForce(doc.circuitBreaker, now);
  return override === undefined ? { started } : { started, override };
}

/** The policy's override while it holds; none once `until` has passed, as the breakers see it. */
function overrideInForce(
  breaker: PolicyDocument['circuitBreaker'],
  now: number,
): AppliedOverride | undefined {
  const { override, policyGeneration } = breaker;
  if (override.state === 'Auto') return undefined;
  if (override.untilMs !== undefined && now >= override.untilMs) return undefined;
  return {
    state: override.state,
    ...(override.reason === undefined ? {} : { reason: override.reason }),
    ...(override.untilMs === undefined ? {} : { until: new Date(override.untilMs).toISOString() }),
    ...(policyGeneration === undefined ? {} : { generation: policyGeneration }),
  };
}
