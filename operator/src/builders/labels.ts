/**
 * Labels every child of an AgentDeployment carries, and the subset that selects its pods.
 * The selector is immutable on a Deployment, so it holds only what can never change for
 * the life of the agent: its name.
 */
import { AGENT_LABEL } from '../../../contract/src/pod/podLabels.ts';

export { AGENT_LABEL };
export const APP_NAME = 'breakwater-agent';
export const MANAGED_BY = 'breakwater';

export type Labels = Record<string, string>;

export function commonLabels(agentName: string): Labels {
  return {
    'app.kubernetes.io/name': APP_NAME,
    'app.kubernetes.io/instance': agentName,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [AGENT_LABEL]: agentName,
  };
}

export function selectorLabels(agentName: string): Labels {
  return { [AGENT_LABEL]: agentName };
}

/** The selector in string form, as `status.selector` (scale subresource, HPA) wants it. */
export function selectorString(agentName: string): string {
  return Object.entries(selectorLabels(agentName))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}
