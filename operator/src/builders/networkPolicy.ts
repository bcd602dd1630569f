import type { LabelSelector, NetworkPolicyPeer, NetworkPolicyPort } from './kubeShapes.ts';
import type { AgentDeployment, NetworkPolicySpec } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { selectorLabels } from './labels.ts';
import { METRICS_PORT_NAME } from '../../../contract/src/pod/runtimePorts.ts';
import { serviceTargetPort } from './agentContainer.ts';

// Local shapes: the client's V1NetworkPolicyIngressRule names the field `_from`, while the
// API (and server-side apply) wants `from`.
export interface NetworkPolicy extends ChildObject<'networking.k8s.io/v1', 'NetworkPolicy'> {
  spec: {
    podSelector: LabelSelector;
    policyTypes: 'Ingress'[];
    ingress: { from?: NetworkPolicyPeer[]; ports: NetworkPolicyPort[] }[];
  };
}

/**
 * Guards the agent's HTTP port: only `allowFrom` peers reach it, or pods in the agent's own
 * namespace when the list is empty. The metrics port stays open to every source, because
 * Prometheus usually runs in another namespace and the policy is about who may call the
 * agent, not who may scrape it. Kubelet probes come from the node and are not affected.
 */
export function buildNetworkPolicy(
  agent: Readonly<AgentDeployment>,
  networkPolicy: Readonly<NetworkPolicySpec>,
): NetworkPolicy {
  const allowFrom = networkPolicy.allowFrom ?? [];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(agent),
    spec: {
      podSelector: { matchLabels: selectorLabels(agentIdentity(agent).name) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: allowFrom.length === 0 ? [{ podSelector: {} }] : structuredClone(allowFrom),
          // The port the Service reaches: the agent's own with spec.agent, else the runtime's.
          ports: [{ port: serviceTargetPort(agent), protocol: 'TCP' }],
        },
        { ports: [{ port: METRICS_PORT_NAME, protocol: 'TCP' }] },
      ],
    },
  };
}
