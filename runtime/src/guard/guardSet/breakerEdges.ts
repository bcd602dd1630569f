/**
 * What time and the policy's on-call override do to the breakers of one agent: the soonest
 * time-driven edge (a breaker's open period ending, the override lapsing), for the GuardSet's
 * one EdgeTimer; and the primary model's breakers an override holds before any call made them.
 */
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import { providerBreakerName } from '../../../../contract/src/reporting/breakerReport.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import type { CircuitBreaker } from '../circuitBreaker.ts';

/**
 * The soonest time-driven edge: of any breaker, or the policy's override lapsing (which
 * changes what this replica reports even while it has no breaker yet).
 */
export function nextEdge(
  breakers: Iterable<CircuitBreaker>,
  doc: PolicyDocument,
  clock: Clock,
): number | undefined {
  let soonest: number | undefined;
  for (const breaker of breakers) {
    const at = breaker.nextEdgeAt();
    if (at !== undefined && (soonest === undefined || at < soonest)) soonest = at;
  }
  const { override } = doc.circuitBreaker;
  const lapses = override.state === 'Auto' ? undefined : override.untilMs;
  if (lapses !== undefined && lapses > clock.now() && (soonest === undefined || lapses < soonest))
    soonest = lapses;
  return soonest;
}

/**
 * The backends serving the primary model (`doc.model.name`) whose breakers an on-call override
 * holds and that do not exist yet: none while the override is Auto or has lapsed.
 */
export function overrideHeldBackends(
  doc: PolicyDocument,
  breakers: ReadonlyMap<string, CircuitBreaker>,
  clock: Clock,
): string[] {
  const { override } = doc.circuitBreaker;
  if (override.state === 'Auto') return [];
  if (override.untilMs !== undefined && override.untilMs <= clock.now()) return [];
  const model = doc.model.name;
  return doc.backends
    .filter(
      (b) =>
        (b.type === undefined || b.type === 'Anthropic' || b.models?.[model] !== undefined) &&
        !breakers.has(providerBreakerName(b.name, model)),
    )
    .map((b) => b.name);
}
