/**
 * What the operator tests read and write in the cluster: apply manifests as a user would
 * (kubectl, server-side), read objects through the API directly (cheap enough to poll), find
 * an agent's pods and their addresses, and call a runtime pod.
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../contract/src/api/resources.ts';
import { HttpKubeClient } from '../../platform/src/kube/httpKubeClient.ts';
import { isPodReady } from '../../operator/src/status/agentStatus.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import {
  POLICY_CONFIGMAP_KEY,
  POLICY_HASH_ANNOTATION,
  policyConfigMapName,
  type PolicyDocument,
} from '../../contract/src/policy/policyDocument.ts';
import {
  BREAKERS_ANNOTATION,
  decodeBreakerReport,
  type BreakerReport,
} from '../../contract/src/reporting/breakerReport.ts';
import { MODEL } from './agentFixtures.ts';
import { kubeConfig, kubectl } from './kube.ts';

/** The field manager of everything the tests apply (the operator's is breakwater-operator). */
export const TEST_FIELD_MANAGER = 'breakwater-e2e';
const AGENT_LABEL = 'breakwater.dev/agent';

let client: HttpKubeClient | undefined;

/** A client for the test cluster (the runtime's own, so reads cost no process). */
export function api(): HttpKubeClient {
  client ??= new HttpKubeClient(kubeConfig());
  return client;
}

/** `kubectl apply --server-side` of objects into a namespace, as a user or Argo CD would. */
export async function applyObjects(namespace: string, ...objects: object[]): Promise<void> {
  await kubectl(
    [
      'apply',
      '--server-side',
      '--force-conflicts',
      `--field-manager=${TEST_FIELD_MANAGER}`,
      '-n',
      namespace,
      '-f',
      '-',
    ],
    { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) },
  );
}

/** A JSON merge patch, as `kubectl patch --type merge` sends it. */
export async function mergePatch(
  namespace: string,
  resource: string,
  patch: object,
): Promise<void> {
  await kubectl([
    'patch',
    '-n',
    namespace,
    resource,
    '--type',
    'merge',
    '-p',
    JSON.stringify(patch),
  ]);
}

/**
 * `kubectl get <resource>` as the row a user reads: each header → its cell, cut at the header's
 * column so that an empty cell stays empty.
 */
export async function kubectlRow(
  namespace: string,
  resource: string,
): Promise<Record<string, string>> {
  const { stdout } = await kubectl(['get', '-n', namespace, resource]);
  const [header = '', row = ''] = stdout.trimEnd().split('\n');
  const columns = [...header.matchAll(/\S+/g)];
  return Object.fromEntries(
    columns.map((column, i) => [
      column[0],
      row.slice(column.index, columns[i + 1]?.index ?? row.length).trim(),
    ]),
  );
}

export const getAgent = (namespace: string, name: string): Promise<AgentDeployment | undefined> =>
  api().get<AgentDeployment>(Kinds.AgentDeployment, namespace, name);
export const getBreakerPolicy = (
  namespace: string,
  name: string,
): Promise<CircuitBreakerPolicy | undefined> =>
  api().get<CircuitBreakerPolicy>(Kinds.CircuitBreakerPolicy, namespace, name);
export const getRateLimitPolicy = (
  namespace: string,
  name: string,
): Promise<RateLimitPolicy | undefined> =>
  api().get<RateLimitPolicy>(Kinds.RateLimitPolicy, namespace, name);

export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

export function condition(
  obj: { status?: { conditions?: readonly ConditionView[] } } | undefined,
  type: string,
): ConditionView | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

/** Status says Ready=True for the agent's current generation. */
export function isReadyAgent(agent: AgentDeployment | undefined): boolean {
  const ready = condition(agent, 'Ready');
  return (
    agent !== undefined &&
    ready?.status === 'True' &&
    agent.status?.observedGeneration === agent.metadata.generation
  );
}

/** A container as far as the tests read it: its name and its named ports. */
interface ContainerView {
  name: string;
  ports?: { name?: string; containerPort: number }[];
}

export interface PodView extends KubeObject {
  spec?: { containers?: ContainerView[]; initContainers?: ContainerView[] };
  status?: {
    podIP?: string;
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; restartCount: number; containerID?: string }[];
  };
}

/** The agent's pods that are not being deleted. */
export async function agentPods(namespace: string, agent: string): Promise<PodView[]> {
  const { items } = await api().list<PodView>(Kinds.Pod, {
    namespace,
    labelSelector: `${AGENT_LABEL}=${agent}`,
  });
  return items.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
}

/** The operator's own readiness test, so the tests wait for what status counts. */
export { isPodReady };

export const podPolicyHash = (pod: PodView): string | undefined =>
  pod.metadata?.annotations?.[POLICY_HASH_ANNOTATION];

export const podBreakers = (pod: PodView): BreakerReport =>
  decodeBreakerReport(pod.metadata?.annotations?.[BREAKERS_ANNOTATION]);

/**
 * `http://<pod IP>:<port>` of one of the pod's named container ports: the real node's pod
 * network is routed from this machine (the runtime's port is in `initContainers` when it runs
 * as a native sidecar).
 */
export function podUrl(pod: PodView, name: 'http' | 'metrics'): string {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const port = containers.flatMap((c) => c.ports ?? []).find((p) => p.name === name);
  const ip = pod.status?.podIP;
  if (port === undefined || ip === undefined || ip === '')
    throw new Error(`pod ${pod.metadata?.name ?? '?'} has no address or no port named ${name}`);
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${String(port.containerPort)}`;
}

export const podHttpUrl = (pod: PodView): string => podUrl(pod, 'http');

/** The pod's Prometheus exposition, from its `metrics` port. */
export async function scrapePod(pod: PodView): Promise<string> {
  const response = await fetch(`${podUrl(pod, 'metrics')}/metrics`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`scrape of ${pod.metadata?.name ?? '?'}: ${response.status}`);
  return response.text();
}

/** One small Messages API call to a runtime at `url`, with a client key if given; resolves with the HTTP status. */
export async function sendMessage(url: string, clientKey?: string): Promise<number> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      ...(clientKey === undefined ? {} : { 'x-api-key': clientKey }),
    },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'ping' }],
    }),
    signal: AbortSignal.timeout(15_000),
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Calls the runtime at `url` until its breaker answers 503 (open) or `maxCalls` is reached;
 * the simulator must be failing. Resolves with the statuses seen.
 */
export async function callUntilOpen(url: string, maxCalls = 30): Promise<number[]> {
  const statuses: number[] = [];
  while (statuses.length < maxCalls) {
    const status = await sendMessage(url);
    statuses.push(status);
    if (status === 503) break;
  }
  return statuses;
}

/** Names of the objects of one kind in a namespace, optionally by label. */
export async function names(
  kind: ResourceKind,
  namespace: string,
  labelSelector?: string,
): Promise<string[]> {
  const { items } = await api().list<KubeObject>(kind, { namespace, labelSelector });
  return items.map((item) => item.metadata?.name ?? '').sort();
}

/** Whether a namespaced object exists. */
export async function exists(
  kind: ResourceKind,
  namespace: string,
  name: string,
): Promise<boolean> {
  return (await api().get(kind, namespace, name)) !== undefined;
}

interface ConfigMapView extends KubeObject {
  data?: Record<string, string>;
}

/** The resolved policy the operator wrote for an agent (ConfigMap `<agent>-policy`). */
export async function appliedPolicyDocument(
  namespace: string,
  agent: string,
): Promise<PolicyDocument | undefined> {
  const cm = await api().get<ConfigMapView>(Kinds.ConfigMap, namespace, policyConfigMapName(agent));
  const text = cm?.data?.[POLICY_CONFIGMAP_KEY];
  return text === undefined ? undefined : (JSON.parse(text) as PolicyDocument);
}
