import { GROUP_VERSION, type AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { OwnerReference } from '../../../platform/src/kube/kubeObject.ts';
import { agentIdentity } from './agentIdentity.ts';

/**
 * Makes the AgentDeployment the controller of a child: garbage collection removes the child
 * with the agent, and foreground deletion waits for it.
 */
export function agentOwnerReference(agent: Readonly<AgentDeployment>): OwnerReference {
  const { name, uid } = agentIdentity(agent);
  return {
    apiVersion: GROUP_VERSION,
    kind: 'AgentDeployment',
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
