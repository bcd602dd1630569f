/**
 * The agent's breaker memory: which provider breakers its running replicas hold Open, and
 * until when. The operator keeps it in `status.breaker.openBreakers`; a replica that starts
 * reads it (runtime/src/cluster/openBreakersAtStart.ts) and starts those breakers Open for the rest
 * of the open time, then probes with halfOpenMaxCalls like the others, instead of sending
 * full traffic into an outage its siblings already know about.
 */
import type { OpenBreaker } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import { TOOL_BREAKER_PREFIX } from '../../../contract/src/reporting/breakerReport.ts';
import { podBreakerReport } from './breakerAggregation.ts';
import type { PodView } from './views.ts';

/** `status.breaker.openBreakers` holds at most this many (its maxItems in crds/schemas). */
export const MAX_OPEN_BREAKERS = 64;

/**
 * Per breaker, the latest `openUntil` any running replica reports or the last status recorded,
 * if still ahead of `nowMs`. The recorded ones are kept because the replicas that reported them
 * may all be gone — every pod deleted at once, or a rollout that replaced them — and the open
 * period they measured still holds for the provider. Past the limit, the ones open longest are
 * kept: they are the ones a new replica would otherwise hammer for longest.
 */
export function openBreakers(
  pods: readonly PodView[],
  nowMs: number,
  recorded: readonly OpenBreaker[] = [],
): OpenBreaker[] {
  const until = new Map<string, number>();
  for (const entry of recorded) {
    const at = Date.parse(entry.until);
    if (at > nowMs) until.set(entry.name, Math.max(at, until.get(entry.name) ?? at));
  }
  for (const pod of pods) {
    for (const [name, entry] of Object.entries(podBreakerReport(pod) ?? {})) {
      if (name.startsWith(TOOL_BREAKER_PREFIX) || entry.state !== 'Open') continue;
      const at = entry.openUntil === undefined ? NaN : Date.parse(entry.openUntil);
      if (!(at > nowMs)) continue;
      until.set(name, Math.max(at, until.get(name) ?? at));
    }
  }
  return [...until]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .slice(0, MAX_OPEN_BREAKERS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, at]) => ({ name, until: new Date(at).toISOString() }));
}
