/**
 * What the on-call suites share: an agent's ready pods, its breakers tripped through real
 * calls into a failing simulator, and how many calls a pod sent its provider (its own
 * `agent_llm_attempts_total`, counted where the guard let an attempt through).
 */
import { MODEL } from '../support/agentFixtures.ts';
import {
  agentPods,
  callUntilOpen,
  isPodReady,
  podHttpUrl,
  scrapePod,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';

/** The breaker every fixture agent's runtime keeps for its one backend and model. */
export const BREAKER = `default/${MODEL}`;

/** Exactly `count` ready pods of the agent, each one reporting its breakers. */
export function reportingPods(namespace: string, agent: string, count: number): Promise<PodView[]> {
  return eventually(
    async () => {
      const pods = (await agentPods(namespace, agent)).filter(isPodReady);
      return (
        pods.length === count &&
        pods.every((p) => p.metadata?.annotations?.['breakwater.dev/breakers'] !== undefined) &&
        pods
      );
    },
    { timeoutMs: 120_000, description: `${String(count)} ready, reporting pods of ${agent}` },
  );
}

/** Calls each pod until its breaker answers 503; the simulator must be failing. */
export async function tripEach(pods: readonly PodView[]): Promise<void> {
  const answers = await Promise.all(pods.map((pod) => callUntilOpen(podHttpUrl(pod))));
  for (const [i, statuses] of answers.entries()) {
    if (statuses.at(-1) !== 503)
      throw new Error(
        `pod ${pods[i]?.metadata?.name ?? '?'} never opened its breaker: ${statuses.join(',')}`,
      );
  }
}

/** Provider calls the pod's guard let through, from its metrics. */
export async function providerAttempts(pod: PodView): Promise<number> {
  const exposition = await scrapePod(pod);
  let total = 0;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith('agent_llm_attempts_total{')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
