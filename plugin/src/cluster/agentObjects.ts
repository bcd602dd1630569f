/**
 * The objects the commands read about an agent: its AgentDeployment, its pods (by the agent
 * label the operator puts on them) and the CircuitBreakerPolicy it names. A name that does
 * not exist is an error that says which object, in which namespace.
 */
import type { AgentDeployment, CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { AGENT_LABEL } from '../../../contract/src/pod/podLabels.ts';
import type { PluginKube } from './pluginKube.ts';

/** The parts of a Pod the commands read. */
export interface PodObject extends KubeObject {
  spec?: {
    nodeName?: string;
    containers?: {
      name: string;
      ports?: { name?: string; containerPort: number }[];
    }[];
    /** With spec.agent the runtime is one of these, a native sidecar. */
    initContainers?: {
      name: string;
      ports?: { name?: string; containerPort: number }[];
    }[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
    /** The runtime's, when it is a native sidecar beside the team's agent. */
    initContainerStatuses?: ContainerStatus[];
  };
}

interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { reason?: string; exitCode?: number; message?: string };
  };
}

/** An error about a named object, which the plugin prints as it is. */
export class ObjectError extends Error {
  override readonly name = 'ObjectError';
}

export async function agentsIn(
  kube: PluginKube,
  namespace: string | undefined,
  name?: string,
): Promise<AgentDeployment[]> {
  if (name !== undefined) return [await agentNamed(kube, namespace ?? 'default', name)];
  const { items } = await kube.list<AgentDeployment>(Kinds.AgentDeployment, { namespace });
  return items.sort(byNamespaceAndName);
}

export async function agentNamed(
  kube: PluginKube,
  namespace: string,
  name: string,
): Promise<AgentDeployment> {
  const agent = await kube.get<AgentDeployment>(Kinds.AgentDeployment, namespace, name);
  if (agent === undefined)
    throw new ObjectError(
      `agentdeployment.breakwater.dev/${name} not found in namespace ${namespace}`,
    );
  return agent;
}

export async function policyNamed(
  kube: PluginKube,
  namespace: string,
  name: string,
): Promise<CircuitBreakerPolicy> {
  const policy = await kube.get<CircuitBreakerPolicy>(Kinds.CircuitBreakerPolicy, namespace, name);
  if (policy === undefined)
    throw new ObjectError(
      `circuitbreakerpolicy.breakwater.dev/${name} not found in namespace ${namespace}`,
    );
  return policy;
}

/** The agent's pods that are not being deleted, by name. */
export async function podsOf(kube: PluginKube, agent: AgentDeployment): Promise<PodObject[]> {
  const { items } = await kube.list<PodObject>(Kinds.Pod, {
    namespace: agent.metadata.namespace,
    labelSelector: `${AGENT_LABEL}=${agent.metadata.name ?? ''}`,
  });
  return items.filter((p) => p.metadata?.deletionTimestamp === undefined).sort(byNamespaceAndName);
}

export function isPodReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  return key(a).localeCompare(key(b));
}
