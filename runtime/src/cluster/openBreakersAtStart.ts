/**
 * What a replica learns at startup from its agent's status: the provider breakers the other
 * replicas hold open (`status.breaker.openBreakers`, kept by the operator from their pod
 * reports), so that it starts them Open for the rest of the open time instead of sending
 * full traffic into an outage; and what the agent has spent (spendAtStart.ts). One GET of its
 * own AgentDeployment — the Role grants `get` on that one name and nothing else — bounded in
 * time: a replica that cannot learn starts Closed, as it did before, rather than not at all.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { AgentStatusRuntimeReads } from '../../../contract/src/api/runtimeReads.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { RememberedOpen } from '../guard/guardSet/rememberedOpen.ts';

/** A replica must not wait long for the API server before it starts serving. */
export const BREAKER_MEMORY_TIMEOUT_MS = 3_000;

export function rememberedOpen(agent: AgentStatusRuntimeReads | undefined): RememberedOpen[] {
  return (agent?.status?.breaker?.openBreakers ?? [])
    .map((b) => ({ name: b.name, untilMs: Date.parse(b.until) }))
    .filter((b) => Number.isFinite(b.untilMs));
}

export async function readAgentMemory(
  client: KubeClient,
  namespace: string,
  agent: string,
  clock: Clock,
): Promise<AgentStatusRuntimeReads | undefined> {
  let cancel: () => void = () => undefined;
  const timedOut = new Promise<never>((_, reject) => {
    cancel = clock.setTimeout(() => {
      reject(new Error(`no answer in ${String(BREAKER_MEMORY_TIMEOUT_MS)} ms`));
    }, BREAKER_MEMORY_TIMEOUT_MS);
  });
  try {
    const read = client.get<AgentDeployment>(Kinds.AgentDeployment, namespace, agent);
    return await Promise.race([read, timedOut]);
  } finally {
    cancel();
  }
}
