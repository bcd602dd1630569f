/**
 * The demo agent's pods as the demo reaches them. The local node runs each pod as a local
 * process and records the local port it gave each named container port in an annotation;
 * there is no Service routing, so the demo spreads its traffic over these URLs itself.
 */
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../platform/src/kube/kubeObject.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import { POLICY_HASH_ANNOTATION } from '../contract/src/policy/policyDocument.ts';
import { portsAnnotation } from '../tools/cluster/localNode/portAllocation.ts';
import { AGENT_LABEL } from '../contract/src/pod/podLabels.ts';
import { AGENT_NAME, DEMO_NAMESPACE } from './demoLayout.ts';

export interface AgentPod {
  readonly name: string;
  /** Ready, not being deleted, and its ports known. */
  readonly ready: boolean;
  /** `http://127.0.0.1:<port>` of the runtime's API, when the local node has given it one. */
  readonly url: string | undefined;
  /** The metrics port's base URL (`/metrics`, `/debug/*`). */
  readonly metricsUrl: string | undefined;
  /** The policy hash the runtime reported on its pod. */
  readonly policyHash: string | undefined;
}

interface Pod extends KubeObject {
  status?: { conditions?: { type: string; status: string }[] };
}

export async function agentPods(
  client: KubeClient,
  options: { readonly includeTerminating?: boolean } = {},
): Promise<AgentPod[]> {
  const { items } = await client.list<Pod>(Kinds.Pod, {
    namespace: DEMO_NAMESPACE,
    labelSelector: `${AGENT_LABEL}=${AGENT_NAME}`,
  });
  return items
    .filter(
      (pod) => options.includeTerminating === true || pod.metadata?.deletionTimestamp === undefined,
    )
    .map(describePod)
    .sort((a, b) => a.name.localeCompare(b.name));
}

function describePod(pod: Pod): AgentPod {
  const annotations = pod.metadata?.annotations ?? {};
  const ports = parsePorts(annotations[portsAnnotation]);
  const url = ports.http === undefined ? undefined : `http://127.0.0.1:${ports.http}`;
  const ready =
    pod.metadata?.deletionTimestamp === undefined &&
    url !== undefined &&
    (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    name: pod.metadata?.name ?? '',
    ready,
    url,
    metricsUrl: ports.metrics === undefined ? undefined : `http://127.0.0.1:${ports.metrics}`,
    policyHash: annotations[POLICY_HASH_ANNOTATION],
  };
}

function parsePorts(value: string | undefined): Record<string, number | undefined> {
  if (value === undefined) return {};
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(
      Object.entries(parsed).filter(
        (entry): entry is [string, number] => typeof entry[1] === 'number',
      ),
    );
  } catch {
    return {};
  }
}
