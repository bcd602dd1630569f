/** What the demo waits for in the cluster: its agent ready, an old namespace gone. */
import type { AgentDeployment, CircuitBreakerPolicy } from '../contract/src/api/resources.ts';
import type { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import type { KubeObject } from '../platform/src/kube/kubeObject.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import { agentPods } from './agentPods.ts';
import { AGENT_NAME, BREAKER_POLICY_NAME, DEMO_NAMESPACE, REPLICAS } from './demoLayout.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { waitFor } from './waitFor.ts';

/** Waits until every replica is ready, has the policy applied and reaches its HTTP port. */
export async function waitForAgent(
  client: HttpKubeClient,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const agent = await client.get<AgentDeployment>(
        Kinds.AgentDeployment,
        DEMO_NAMESPACE,
        AGENT_NAME,
      );
      const breaker = await client.get<CircuitBreakerPolicy>(
        Kinds.CircuitBreakerPolicy,
        DEMO_NAMESPACE,
        BREAKER_POLICY_NAME,
      );
      const pods = await agentPods(client);
      const ready = agent?.status?.readyReplicas ?? 0;
      const applied = agent?.status?.policy?.appliedReplicas ?? 0;
      const reachable = pods.filter((p) => p.ready).length;
      const now = `${ready}/${REPLICAS} ready, policy on ${applied}/${REPLICAS}, breaker ${breaker?.status?.state ?? 'unknown'}`;
      if (now !== last) {
        progress(`${AGENT_NAME}: ${now}`);
        last = now;
      }
      return (
        ready === REPLICAS &&
        applied === REPLICAS &&
        reachable === REPLICAS &&
        breaker?.status?.state === 'Closed'
      );
    },
    { what: `AgentDeployment ${AGENT_NAME} to be ready`, timeoutMs: 180_000, signal },
  );
}

export async function waitForNamespaceGone(
  client: HttpKubeClient,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<void> {
  const namespace = await client.get<KubeObject & { status?: { phase?: string } }>(
    Kinds.Namespace,
    undefined,
    DEMO_NAMESPACE,
  );
  if (namespace?.status?.phase !== 'Terminating') return;
  progress(`namespace ${DEMO_NAMESPACE} from an earlier run is still terminating; waiting`);
  await waitFor(
    async () => (await client.get(Kinds.Namespace, undefined, DEMO_NAMESPACE)) === undefined,
    { what: `namespace ${DEMO_NAMESPACE} to be deleted`, timeoutMs: 120_000, signal },
  );
}
