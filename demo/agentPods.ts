/**
 * The demo agent's pods as the demo reaches them, each on its own, so the demo spreads its
 * traffic over the replicas itself and can tell each one's answers apart: at their own addresses
 * on the node's pod network where this machine routes it (the routes reach), else at the loopback
 * ports demo/portForwarder.ts forwards to them (the port-forward reach; demo/reach.ts).
 */
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../platform/src/kube/kubeObject.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import { POLICY_HASH_ANNOTATION } from '../contract/src/policy/policyDocument.ts';
import { AGENT_LABEL } from '../contract/src/pod/podLabels.ts';
import { AGENT_NAME, DEMO_NAMESPACE } from './demoLayout.ts';
import { readForwards, type ForwardMap } from './portForwards.ts';

export interface AgentPod {
  readonly name: string;
  /** Ready, not being deleted, and its address known. */
  readonly ready: boolean;
  /**
   * `http://<pod IP>:<port>` of the runtime's API once the pod has an address; in the
   * port-forward reach `http://127.0.0.1:<local port>` once its forward listens.
   */
  readonly url: string | undefined;
  /** The metrics port's base URL (`/metrics`, `/debug/*`). */
  readonly metricsUrl: string | undefined;
  /** The policy hash the runtime reported on its pod. */
  readonly policyHash: string | undefined;
}

interface Pod extends KubeObject {
  spec?: { containers?: { ports?: { name?: string; containerPort: number }[] }[] };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

export async function agentPods(
  client: KubeClient,
  options: {
    readonly includeTerminating?: boolean;
    /** The port-forward reach's map file (demo/portForwards.ts); absent: the routes reach. */
    readonly forwardsFile?: string | undefined;
  } = {},
): Promise<AgentPod[]> {
  const forwards =
    options.forwardsFile === undefined ? undefined : await readForwards(options.forwardsFile);
  const { items } = await client.list<Pod>(Kinds.Pod, {
    namespace: DEMO_NAMESPACE,
    labelSelector: `${AGENT_LABEL}=${AGENT_NAME}`,
  });
  return items
    .filter(
      (pod) => options.includeTerminating === true || pod.metadata?.deletionTimestamp === undefined,
    )
    .map((pod) => describePod(pod, forwards))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function describePod(pod: Pod, forwards: ForwardMap | undefined): AgentPod {
  const forward = forwards?.[pod.metadata?.name ?? ''];
  const local = (port: number | undefined): string | undefined =>
    port === undefined ? undefined : `http://127.0.0.1:${String(port)}`;
  const url = forwards === undefined ? portUrl(pod, 'http') : local(forward?.http);
  const ready =
    pod.metadata?.deletionTimestamp === undefined &&
    url !== undefined &&
    (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    name: pod.metadata?.name ?? '',
    ready,
    url,
    metricsUrl: forwards === undefined ? portUrl(pod, 'metrics') : local(forward?.metrics),
    policyHash: pod.metadata?.annotations?.[POLICY_HASH_ANNOTATION],
  };
}

/** The base URL of one of the pod's named container ports, at the pod's address. */
function portUrl(pod: Pod, name: string): string | undefined {
  const ip = pod.status?.podIP;
  const port = (pod.spec?.containers ?? [])
    .flatMap((c) => c.ports ?? [])
    .find((p) => p.name === name)?.containerPort;
  if (ip === undefined || ip === '' || port === undefined) return undefined;
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${String(port)}`;
}
