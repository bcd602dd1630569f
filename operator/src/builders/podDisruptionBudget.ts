import type { PodDisruptionBudgetSpec } from './kubeShapes.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { selectorLabels } from './labels.ts';

export interface PodDisruptionBudget extends ChildObject<'policy/v1', 'PodDisruptionBudget'> {
  spec: PodDisruptionBudgetSpec;
}

/**
 * Voluntary evictions (node drains) take one agent pod at a time. maxUnavailable rather
 * than minAvailable, because it stays right while the HPA changes the replica count.
 */
export function buildPodDisruptionBudget(agent: Readonly<AgentDeployment>): PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(agent),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(agentIdentity(agent).name) },
    },
  };
}
